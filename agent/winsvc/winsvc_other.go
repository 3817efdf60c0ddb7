//go:build !windows

package winsvc

import (
	"context"
	"errors"
)

// RunAsService does nothing outside Windows: handled is false and the caller runs the agent itself.
func RunAsService(name string, run func(ctx context.Context) error) (handled bool, err error) {
	return false, nil
}

// Install returns errors.ErrUnsupported outside Windows (use the install package's systemd plan).
func Install(name, exePath string, args []string) error { return errors.ErrUnsupported }

// Uninstall returns errors.ErrUnsupported outside Windows.
func Uninstall(name string) error { return errors.ErrUnsupported }

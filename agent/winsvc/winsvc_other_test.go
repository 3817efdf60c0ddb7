//go:build !windows

package winsvc

import (
	"context"
	"errors"
	"testing"
)

func TestStubOutsideWindows(t *testing.T) {
	handled, err := RunAsService("zhizhi-agent", func(context.Context) error { t.Error("run called"); return nil })
	if handled || err != nil {
		t.Errorf("RunAsService = %v, %v", handled, err)
	}
	if !errors.Is(Install("x", "/x", nil), errors.ErrUnsupported) || !errors.Is(Uninstall("x"), errors.ErrUnsupported) {
		t.Error("Install/Uninstall must be unsupported")
	}
}

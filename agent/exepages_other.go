//go:build !linux

package agent

// DropExecutablePages does nothing outside Linux.
func DropExecutablePages() (int64, error) { return 0, nil }

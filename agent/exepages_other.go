//go:build !linux

package agent

// AdviseExecutableRandom does nothing outside Linux.
func AdviseExecutableRandom() (int64, error) { return 0, nil }

// DropExecutablePages does nothing outside Linux.
func DropExecutablePages() (int64, error) { return 0, nil }

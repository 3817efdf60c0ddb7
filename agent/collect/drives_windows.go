//go:build windows

package collect

import (
	"context"
	"fmt"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"golang.org/x/sys/windows"
)

var drives driveCache

// listPartitions lists the fixed drives only (gopsutil's disk.Partitions on Windows ignores its argument,
// includes network drives and can hang on a dead one). The list is cached for driveListTTL; all is ignored.
func listPartitions(_ context.Context, _ bool) ([]disk.PartitionStat, error) {
	return drives.get(time.Now(), func() ([]disk.PartitionStat, error) {
		mask, err := windows.GetLogicalDrives()
		if err != nil {
			return nil, fmt.Errorf("list drives: %w", err)
		}
		return fixedDrives(mask, driveTypeOf, volumeFS), nil
	})
}

func driveTypeOf(root string) uint32 {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return 0
	}
	return windows.GetDriveType(p)
}

func volumeFS(root string) string {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return ""
	}
	buf := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeInformation(p, nil, 0, nil, nil, nil, &buf[0], uint32(len(buf))); err != nil {
		return ""
	}
	return windows.UTF16ToString(buf)
}

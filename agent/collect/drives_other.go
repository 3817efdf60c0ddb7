//go:build !windows

package collect

import (
	"context"

	"github.com/shirou/gopsutil/v4/disk"
)

// listPartitions lists mounts through gopsutil; all=false keeps only the kernel's real filesystem types.
func listPartitions(ctx context.Context, all bool) ([]disk.PartitionStat, error) {
	return disk.PartitionsWithContext(ctx, all)
}

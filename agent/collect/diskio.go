package collect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"

	"zhizhi/agent/wire"
)

// diskState holds the previous counters per device.
type diskState struct {
	prev map[string]disk.IOCountersStat
}

// skipDiskPrefixes are virtual or stacked block devices. Their traffic is also counted on the physical disks
// beneath them (device-mapper/LVM, md RAID) or is not disk traffic at all (loop, ram, zram, floppy, optical,
// network block devices), so reporting them would count bytes twice in the per-host sums.
var skipDiskPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "fd", "sr", "nbd", "drbd"}

// wholeDisks keeps the physical whole disks among the device names: virtual and stacked devices are dropped,
// and so is a partition (sda1, nvme0n1p1, mmcblk0p2) whenever its parent disk is listed too.
func wholeDisks(names []string) []string {
	present := make(map[string]bool, len(names))
	for _, n := range names {
		present[n] = true
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if slices.ContainsFunc(skipDiskPrefixes, func(p string) bool { return strings.HasPrefix(n, p) }) {
			continue
		}
		if parent, ok := partitionParent(n); ok && present[parent] {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// partitionParent returns the disk a partition name belongs to: "sda1" -> "sda", "nvme0n1p1" -> "nvme0n1".
func partitionParent(name string) (string, bool) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i == 0 {
		return "", false
	}
	base := name[:i]
	// nvme0n1p1, mmcblk0p1, loop0p1: the parent ends in a digit and a "p" separates the partition number.
	if strings.HasSuffix(base, "p") && len(base) > 1 && base[len(base)-2] >= '0' && base[len(base)-2] <= '9' {
		return base[:len(base)-1], true
	}
	return base, true
}

// collectDisk reports per-device deltas since the previous cycle; nil on the first cycle. A device seen for
// the first time is reported from the next cycle on.
func (c *Collector) collectDisk(ctx context.Context) ([]wire.DiskIO, error) {
	cur, err := c.src.IOCounters(ctx)
	if err != nil {
		return nil, fmt.Errorf("disk io counters: %w", err)
	}
	prev := c.disk.prev
	c.disk.prev = cur
	if prev == nil {
		return nil, nil
	}
	names := make([]string, 0, len(cur))
	for n := range cur {
		names = append(names, n)
	}
	out := make([]wire.DiskIO, 0, len(names))
	for _, n := range wholeDisks(names) {
		p, ok := prev[n]
		if !ok {
			continue
		}
		q := cur[n]
		out = append(out, wire.DiskIO{
			Device:     n,
			ReadBytes:  counterDelta(q.ReadBytes, p.ReadBytes),
			WriteBytes: counterDelta(q.WriteBytes, p.WriteBytes),
			Reads:      counterDelta(q.ReadCount, p.ReadCount),
			Writes:     counterDelta(q.WriteCount, p.WriteCount),
		})
	}
	return out, nil
}

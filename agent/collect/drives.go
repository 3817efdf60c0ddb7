package collect

import (
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
)

// driveFixed is Windows' DRIVE_FIXED drive type (GetDriveTypeW).
const driveFixed = 3

// driveListTTL is how long a Windows drive list is reused: drives come and go rarely, and listing them touches
// every drive letter, which can stall on a dead mapped or removable drive.
const driveListTTL = 5 * time.Minute

// fixedDrives turns a GetLogicalDrives bit mask into the fixed (local) drives, asking driveType for each
// letter's type and fsType for its filesystem. Network, removable, CD-ROM and RAM drives are left out, so a
// dead network share is never statted.
func fixedDrives(mask uint32, driveType func(root string) uint32, fsType func(root string) string) []disk.PartitionStat {
	var out []disk.PartitionStat
	for i := range 26 {
		if mask&(1<<i) == 0 {
			continue
		}
		root := string(rune('A'+i)) + `:\`
		if driveType(root) != driveFixed {
			continue
		}
		out = append(out, disk.PartitionStat{Device: root[:2], Mountpoint: root, Fstype: fsType(root)})
	}
	return out
}

// driveCache keeps the last drive list for driveListTTL.
type driveCache struct {
	mu   sync.Mutex
	at   time.Time
	list []disk.PartitionStat
}

// get returns the cached list while it is fresh, else the result of list (which is cached when it succeeds).
func (c *driveCache) get(now time.Time, list func() ([]disk.PartitionStat, error)) ([]disk.PartitionStat, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && now.Sub(c.at) < driveListTTL {
		return append([]disk.PartitionStat(nil), c.list...), nil
	}
	l, err := list()
	if err != nil {
		return nil, err
	}
	c.list, c.at = l, now
	return append([]disk.PartitionStat(nil), l...), nil
}

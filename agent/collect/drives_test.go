package collect

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
)

func TestFixedDrives(t *testing.T) {
	// C: fixed, D: CD-ROM (5), E: fixed, Z: network (4), R: removable (2).
	types := map[string]uint32{`C:\`: driveFixed, `D:\`: 5, `E:\`: driveFixed, `Z:\`: 4, `R:\`: 2}
	mask := uint32(1<<('C'-'A') | 1<<('D'-'A') | 1<<('E'-'A') | 1<<('Z'-'A') | 1<<('R'-'A'))
	var asked []string
	got := fixedDrives(mask, func(root string) uint32 { return types[root] }, func(root string) string {
		asked = append(asked, root)
		return "NTFS"
	})
	want := []disk.PartitionStat{{Device: "C:", Mountpoint: `C:\`, Fstype: "NTFS"}, {Device: "E:", Mountpoint: `E:\`, Fstype: "NTFS"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The volume of a network or removable drive is never touched.
	if !reflect.DeepEqual(asked, []string{`C:\`, `E:\`}) {
		t.Fatalf("filesystem asked for %v", asked)
	}
}

func TestDriveCache(t *testing.T) {
	var c driveCache
	calls := 0
	list := func() ([]disk.PartitionStat, error) {
		calls++
		return []disk.PartitionStat{{Mountpoint: `C:\`}}, nil
	}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, time.Minute, driveListTTL - time.Second} {
		if l, err := c.get(t0.Add(at), list); err != nil || len(l) != 1 {
			t.Fatal(l, err)
		}
	}
	if calls != 1 {
		t.Fatalf("listed %d times within the TTL", calls)
	}
	if _, err := c.get(t0.Add(driveListTTL), list); err != nil || calls != 2 {
		t.Fatalf("not refreshed after the TTL: calls %d, %v", calls, err)
	}
	// A failed listing is reported and not cached; the caller keeps its previous list.
	boom := errors.New("boom")
	if _, err := c.get(t0.Add(3*driveListTTL), func() ([]disk.PartitionStat, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if l, err := c.get(t0.Add(3*driveListTTL), list); err != nil || len(l) != 1 || calls != 3 {
		t.Fatalf("after a failure: %v %v calls %d", l, err, calls)
	}
}

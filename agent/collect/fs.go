package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/disk"

	"zhizhi/agent/wire"
)

// defaultSkipTypes are pseudo, read-only image and network filesystem types skipped unless included.
var defaultSkipTypes = map[string]bool{
	// pseudo and memory filesystems
	"proc": true, "sysfs": true, "tmpfs": true, "devtmpfs": true, "devpts": true, "devfs": true, "cgroup": true,
	"cgroup2": true, "overlay": true, "overlayfs": true, "aufs": true, "autofs": true, "debugfs": true,
	"tracefs": true, "securityfs": true, "pstore": true, "bpf": true, "mqueue": true, "hugetlbfs": true,
	"fusectl": true, "configfs": true, "binfmt_misc": true, "nsfs": true, "ramfs": true, "efivarfs": true,
	"rpc_pipefs": true, "selinuxfs": true, "nfsd": true, "none": true, "shm": true,
	// read-only images: always 100% used
	"squashfs": true, "iso9660": true, "udf": true, "erofs": true,
	// network filesystems: statfs can hang, and their space is not this host's
	"nfs": true, "nfs4": true, "cifs": true, "smb": true, "smb2": true, "smb3": true, "smbfs": true,
	"ceph": true, "glusterfs": true, "9p": true, "afs": true, "lustre": true, "gpfs": true, "davfs": true,
	"ncpfs": true, "coda": true, "beegfs": true,
}

// defaultSkipMounts are container runtime and snap mount points skipped unless included.
var defaultSkipMounts = []string{
	"/var/lib/docker/**", "/var/lib/containerd/**", "/run/containerd/**", "/var/lib/kubelet/**",
	"/var/lib/containers/**", "/run/docker/**", "/run/k3s/**", "/snap/**",
}

// matchGlob reports whether name matches pattern: path.Match syntax, plus a trailing "/**" that matches
// everything below a directory at any depth (not the directory itself: a dedicated /var/lib/docker disk is
// real, the container mounts under it are not).
func matchGlob(pattern, name string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/**"); ok {
		// match the leading components of name against dir, requiring at least one more component
		for i := 1; i < len(name); i++ {
			if name[i] == '/' && i+1 < len(name) {
				if m, _ := path.Match(dir, name[:i]); m {
					return true
				}
			}
		}
		return false
	}
	m, _ := path.Match(pattern, name)
	return m
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchGlob(p, name) {
			return true
		}
	}
	return false
}

func hasFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// keepMount decides whether a mount is reported: the configured excludes win, then the configured includes,
// then the default skips (pseudo, container, network and "fuse.*" user-space filesystems).
func (cfg *Config) keepMount(p disk.PartitionStat) bool {
	if matchAny(cfg.FSExcludeMounts, p.Mountpoint) || hasFold(cfg.FSExcludeTypes, p.Fstype) {
		return false
	}
	if matchAny(cfg.FSIncludeMounts, p.Mountpoint) || hasFold(cfg.FSIncludeTypes, p.Fstype) {
		return true
	}
	t := strings.ToLower(p.Fstype)
	if defaultSkipTypes[t] || strings.HasPrefix(t, "cgroup") || strings.HasPrefix(t, "fuse.") {
		return false
	}
	return !matchAny(defaultSkipMounts, p.Mountpoint)
}

// selectMounts filters parts with keepMount and keeps one mount per device: the shortest mount point (the
// first one listed on a tie), so bind mounts and repeated mounts are counted once. Order is preserved.
func (cfg *Config) selectMounts(parts []disk.PartitionStat) []disk.PartitionStat {
	out := make([]disk.PartitionStat, 0, len(parts))
	byDev := make(map[string]int, len(parts))
	for _, p := range parts {
		if !cfg.keepMount(p) {
			continue
		}
		if i, ok := byDev[p.Device]; ok && p.Device != "" {
			if len(p.Mountpoint) < len(out[i].Mountpoint) {
				out[i] = p
			}
			continue
		}
		byDev[p.Device] = len(out)
		out = append(out, p)
	}
	return out
}

// statfsResult is what one Usage call returned.
type statfsResult struct {
	u   *disk.UsageStat
	err error
}

// mountProbe remembers a mount whose statfs did not return in time.
type mountProbe struct {
	inflight chan statfsResult // the outstanding call, nil when none
	since    time.Time         // when the outstanding call started
	retryAt  time.Time         // do not call again before this time
}

// fsState tracks hung mounts across cycles so that no mount ever has two outstanding statfs calls, and the
// mount listing itself (which can hang on Windows with a dead mapped drive).
type fsState struct {
	log    *slog.Logger
	probes map[string]*mountProbe

	partsInflight chan partsResult     // an outstanding Partitions call, nil when none
	lastParts     []disk.PartitionStat // the last successful listing
}

type partsResult struct {
	parts []disk.PartitionStat
	err   error
}

// partitions lists mounts under timeout. While a call is outstanding (it timed out in an earlier cycle) no new
// one is started and the previous listing is used, with an error saying so.
func (st *fsState) partitions(ctx context.Context, src FSSource, all bool, timeout time.Duration) ([]disk.PartitionStat, error) {
	if st.partsInflight != nil {
		select {
		case <-st.partsInflight:
			st.partsInflight = nil
		default:
			return st.lastParts, errors.New("mount listing still hung; using the previous list")
		}
	}
	ch := make(chan partsResult, 1)
	go func() {
		var r partsResult
		defer func() {
			if rec := recover(); rec != nil {
				r = partsResult{err: fmt.Errorf("panic: %v", rec)}
			}
			ch <- r
		}()
		r.parts, r.err = src.Partitions(context.WithoutCancel(ctx), all)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		st.lastParts = r.parts
		return r.parts, nil
	case <-timer.C:
		st.partsInflight = ch
		st.log.Warn("listing mounts timed out", "timeout", timeout)
		return st.lastParts, fmt.Errorf("mount listing timed out after %s; using the previous list", timeout)
	case <-ctx.Done():
		st.partsInflight = ch
		return nil, ctx.Err()
	}
}

func newFSState(log *slog.Logger) *fsState {
	return &fsState{log: log, probes: make(map[string]*mountProbe)}
}

// fsError lists the mounts skipped or timed out in one cycle.
type fsError struct{ problems []string }

func (e *fsError) Error() string { return strings.Join(e.problems, "; ") }

func (c *Collector) collectFS(ctx context.Context, now time.Time) ([]wire.Filesystem, error) {
	all := len(c.cfg.FSIncludeMounts) > 0 || len(c.cfg.FSIncludeTypes) > 0 // includes may name nodev types
	st := c.fs
	var problems []string
	parts, err := st.partitions(ctx, c.src, all, c.cfg.StatfsTimeout)
	if err != nil {
		if parts == nil {
			return nil, fmt.Errorf("partitions: %w", err)
		}
		problems = append(problems, err.Error())
	}
	mounts := c.cfg.selectMounts(parts)

	type pending struct {
		p  disk.PartitionStat
		ch chan statfsResult
	}
	calls := make([]pending, 0, len(mounts))
	for _, p := range mounts {
		pr := st.probes[p.Mountpoint]
		if pr != nil && pr.inflight != nil {
			select {
			case <-pr.inflight:
				pr.inflight = nil
				st.log.Info("statfs returned after timeout", "mount", p.Mountpoint, "hung_for", now.Sub(pr.since))
			default:
				problems = append(problems, fmt.Sprintf("%s: statfs hung since %s", p.Mountpoint,
					pr.since.UTC().Format(time.RFC3339)))
				continue
			}
		}
		if pr != nil && now.Before(pr.retryAt) {
			problems = append(problems, fmt.Sprintf("%s: skipped after statfs timeout until %s", p.Mountpoint,
				pr.retryAt.UTC().Format(time.RFC3339)))
			continue
		}
		ch := make(chan statfsResult, 1)
		src, mp := c.src, p.Mountpoint
		go func() {
			var r statfsResult
			defer func() {
				if rec := recover(); rec != nil {
					r = statfsResult{err: fmt.Errorf("panic: %v", rec)}
				}
				ch <- r
			}()
			// The call gets its own context: a hung statfs ignores cancellation anyway, and the result of a
			// late call is only used to learn that the mount answers again.
			r.u, r.err = src.Usage(context.WithoutCancel(ctx), mp)
		}()
		calls = append(calls, pending{p, ch})
	}

	timer := time.NewTimer(c.cfg.StatfsTimeout)
	defer timer.Stop()
	expired, cancelled := false, false
	out := make([]wire.Filesystem, 0, len(calls))
	for _, call := range calls {
		mp := call.p.Mountpoint
		var r statfsResult
		got := false
		if !expired && !cancelled {
			select {
			case r = <-call.ch:
				got = true
			case <-timer.C:
				expired = true
			case <-ctx.Done():
				cancelled = true
			}
		} else {
			select {
			case r = <-call.ch:
				got = true
			default:
			}
		}
		if !got {
			pr := st.probes[mp]
			if pr == nil {
				pr = &mountProbe{}
				st.probes[mp] = pr
			}
			pr.inflight, pr.since = call.ch, now
			if cancelled {
				problems = append(problems, fmt.Sprintf("%s: %v", mp, ctx.Err()))
				continue
			}
			pr.retryAt = now.Add(StatfsRetryAfter)
			st.log.Warn("statfs timed out; skipping mount", "mount", mp, "timeout", c.cfg.StatfsTimeout,
				"retry_after", StatfsRetryAfter)
			problems = append(problems, fmt.Sprintf("%s: statfs timeout after %s", mp, c.cfg.StatfsTimeout))
			continue
		}
		delete(st.probes, mp)
		if r.err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", mp, r.err))
			continue
		}
		if f, ok := toFilesystem(call.p, r.u); ok {
			out = append(out, f)
		}
	}
	// Forget mounts that are gone, unless a call is still outstanding (it must not be started twice).
	for mp, pr := range st.probes {
		if slices.ContainsFunc(mounts, func(p disk.PartitionStat) bool { return p.Mountpoint == mp }) {
			continue
		}
		if pr.inflight != nil {
			select {
			case <-pr.inflight:
			default:
				continue
			}
		}
		delete(st.probes, mp)
	}
	if len(problems) > 0 {
		return out, &fsError{problems}
	}
	return out, nil
}

// toFilesystem converts one statfs answer; filesystems of zero size are not reported.
func toFilesystem(p disk.PartitionStat, u *disk.UsageStat) (wire.Filesystem, bool) {
	if u == nil || u.Total == 0 {
		return wire.Filesystem{}, false
	}
	used := min(u.Used, u.Total)
	// Like df: used / (used + available to users), since the root reserve is not usable.
	return wire.Filesystem{
		Mount:         p.Mountpoint,
		Device:        p.Device,
		FSType:        p.Fstype,
		TotalBytes:    u.Total,
		UsedBytes:     used,
		FreeBytes:     u.Free,
		UsedPct:       pct(float64(used), float64(used+u.Free)),
		InodesUsedPct: pct(float64(u.InodesUsed), float64(u.InodesTotal)),
	}, true
}

package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"zhizhi/agent/wire"
)

// HostFacts reads the slow-changing facts about the host. It can take tens of milliseconds (host.Info may exec
// lsb_release): call it at start and rarely after that, never per cycle. On a partial failure it returns
// what it could read together with an error naming what it could not.
func (c *Collector) HostFacts(ctx context.Context) (wire.HostFacts, error) {
	f := wire.HostFacts{AgentVersion: c.cfg.AgentVersion, OS: runtime.GOOS, Arch: kernelArch(runtime.GOARCH)}
	var errs []error
	if info, err := c.src.HostInfo(ctx); err != nil {
		errs = append(errs, fmt.Errorf("host info: %w", err))
	} else if info != nil {
		f.Hostname = info.Hostname
		if info.OS != "" {
			f.OS = info.OS
		}
		f.Platform = info.Platform
		f.PlatformVersion = info.PlatformVersion
		f.Kernel = info.KernelVersion
		if info.KernelArch != "" {
			f.Arch = info.KernelArch
		}
		f.Virtualization = info.VirtualizationSystem
		f.VirtRole = info.VirtualizationRole
		f.BootTime = int64(info.BootTime)
	}
	if f.Hostname == "" {
		if h, err := os.Hostname(); err == nil {
			f.Hostname = h
		}
	}
	if infos, err := c.src.CPUInfo(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cpu info: %w", err))
	} else {
		for _, ci := range infos {
			if m := strings.TrimSpace(ci.ModelName); m != "" {
				f.CPUModel = m
				break
			}
		}
	}
	if n, err := c.src.LogicalCPUs(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cpu count: %w", err))
	} else {
		f.CPUCores = n
	}
	if f.CPUCores <= 0 {
		f.CPUCores = runtime.NumCPU()
	}
	if m, err := c.src.VirtualMemory(ctx); err != nil {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	} else if m != nil {
		f.MemTotalBytes = m.Total
	}
	return f, errors.Join(errs...)
}

// kernelArch maps a Go architecture to the name uname reports, used when the kernel's own is unknown.
func kernelArch(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "loong64":
		return "loongarch64"
	case "386":
		return "i686"
	}
	return goarch
}

//go:build !linux

package collect

import (
	"context"
	"net/netip"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
)

// IOCounters reads block-device counters through gopsutil.
func (s *psSource) IOCounters(ctx context.Context) (map[string]disk.IOCountersStat, error) {
	return disk.IOCountersWithContext(s.ctx(ctx))
}

// SwapMemory reads swap totals through gopsutil.
func (s *psSource) SwapMemory(ctx context.Context) (*mem.SwapMemoryStat, error) {
	return mem.SwapMemoryWithContext(s.ctx(ctx))
}

// ProcCount counts process ids.
func (s *psSource) ProcCount(ctx context.Context) (int, error) {
	pids, err := process.PidsWithContext(s.ctx(ctx))
	return len(pids), err
}

// Sessions counts logged-in users where gopsutil can list them.
func (s *psSource) Sessions(ctx context.Context) (int, error) {
	users, err := host.UsersWithContext(s.ctx(ctx))
	if err != nil {
		return 0, err
	}
	return len(users), nil
}

// TCPConns lists TCP sockets through gopsutil.
func (s *psSource) TCPConns(ctx context.Context) ([]TCPConn, error) {
	cs, err := net.ConnectionsWithoutUidsWithContext(s.ctx(ctx), "tcp")
	if err != nil {
		return nil, err
	}
	out := make([]TCPConn, 0, len(cs))
	for _, c := range cs {
		var st TCPState
		switch c.Status {
		case "ESTABLISHED":
			st = TCPEstablished
		case "LISTEN":
			st = TCPListen
		default:
			continue
		}
		out = append(out, TCPConn{State: st, Local: addrPort(c.Laddr), Remote: addrPort(c.Raddr)})
	}
	return out, nil
}

func addrPort(a net.Addr) netip.AddrPort {
	ip, _ := netip.ParseAddr(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"golang.org/x/sys/unix"
)

// IOCounters parses /proc/diskstats. gopsutil's disk.IOCounters also looks up every device's serial number
// and label in udev and sysfs on each call, which the collector does not need and which triples the cost.
func (s *psSource) IOCounters(ctx context.Context) (map[string]disk.IOCountersStat, error) {
	path := hostPath(s.ctx(ctx), common.HostProcEnvKey, "/proc", "diskstats")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	m, err := parseDiskstats(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// parseDiskstats reads the cumulative read and write counts and bytes of each device in /proc/diskstats
// ("major minor name reads merged sectors ms writes merged sectors ms ..."; a sector is 512 bytes).
func parseDiskstats(r io.Reader) (map[string]disk.IOCountersStat, error) {
	out := make(map[string]disk.IOCountersStat, 16)
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		if len(f) < 14 {
			return out, fmt.Errorf("line %d: %d fields, want at least 14", line, len(f))
		}
		var v [4]uint64
		for i, col := range [4]int{3, 5, 7, 9} {
			n, err := strconv.ParseUint(string(f[col]), 10, 64)
			if err != nil {
				return out, fmt.Errorf("line %d: field %d: %w", line, col+1, err)
			}
			v[i] = n
		}
		name := string(f[2])
		out[name] = disk.IOCountersStat{Name: name, ReadCount: v[0], ReadBytes: v[1] * 512, WriteCount: v[2],
			WriteBytes: v[3] * 512}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}

// SwapMemory reads swap totals with sysinfo(2); gopsutil also parses /proc/vmstat for paging counters the
// collector does not report.
func (s *psSource) SwapMemory(context.Context) (*mem.SwapMemoryStat, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return nil, fmt.Errorf("sysinfo: %w", err)
	}
	unit := uint64(si.Unit)
	if unit == 0 {
		unit = 1
	}
	total, free := uint64(si.Totalswap)*unit, uint64(si.Freeswap)*unit
	return &mem.SwapMemoryStat{Total: total, Free: free, Used: total - min(free, total)}, nil
}

// ProcCount counts the numeric entries of /proc: far cheaper than listing processes.
func (s *psSource) ProcCount(ctx context.Context) (int, error) {
	dir := hostPath(s.ctx(ctx), common.HostProcEnvKey, "/proc")
	f, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(512)
		for _, name := range names {
			if isDigits(name) {
				n++
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read %s: %w", dir, err)
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Sessions counts USER_PROCESS records in utmp. Without a utmp file (systems that track sessions only in
// systemd-logind) it reports 0 rather than letting gopsutil exec loginctl on every cycle.
func (s *psSource) Sessions(ctx context.Context) (int, error) {
	ctx = s.ctx(ctx)
	utmp := hostPath(ctx, common.HostVarEnvKey, "/var", "run", "utmp")
	if _, err := os.Stat(utmp); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	users, err := host.UsersWithContext(ctx)
	if err != nil {
		return 0, err
	}
	return len(users), nil
}

// TCPConns lists ESTABLISHED and LISTEN TCP sockets. gopsutil's net.Connections (every variant) walks
// /proc/PID/fd of every process to find socket owners, which the collector does not need. The kernel's
// sock_diag netlink dump is used (one dump for both families, about 0.23 ms here); reading /proc/net/tcp{,6} costs
// about 2 ms per file here, since the kernel rescans its socket hash table on every read, so it is the
// fallback, and the path taken when HOST_PROC points elsewhere (fixture trees, a mounted host /proc).
func (s *psSource) TCPConns(ctx context.Context) ([]TCPConn, error) {
	ctx = s.ctx(ctx)
	if hostPath(ctx, common.HostProcEnvKey, "/proc") == "/proc" {
		s.mu.Lock()
		if s.nlBuf == nil {
			s.nlBuf = make([]byte, 64*1024)
		}
		out, err := tcpConnsNetlinkAll(nil, s.nlBuf)
		if err != nil { // a kernel that refuses the TCPDIAG_GETSOCK request: one dump per family
			out, err = tcpConnsNetlink(nil, unix.AF_INET, s.nlBuf)
			if err == nil {
				out, err = tcpConnsNetlink(out, unix.AF_INET6, s.nlBuf)
				if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ENOENT) { // IPv6 disabled
					err = nil
				}
			}
		}
		s.mu.Unlock()
		if err == nil {
			return out, nil
		}
	}
	return tcpConnsProc(ctx)
}

// tcpConnsProc parses /proc/net/tcp and /proc/net/tcp6.
func tcpConnsProc(ctx context.Context) ([]TCPConn, error) {
	var out []TCPConn
	for _, name := range [...]string{"tcp", "tcp6"} {
		path := hostPath(ctx, common.HostProcEnvKey, "/proc", "net", name)
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && name == "tcp6" { // IPv6 disabled
				continue
			}
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		out, err = parseProcNetTCP(out, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return out, nil
}

// parseProcNetTCP appends the ESTABLISHED and LISTEN sockets of a /proc/net/tcp{,6} table to dst. Sockets in
// other states are skipped: the collector does not count them.
func parseProcNetTCP(dst []TCPConn, r io.Reader) ([]TCPConn, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 { // header
			continue
		}
		// "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 ..."
		b := sc.Bytes()
		var f [4][]byte
		n := 0
		for n < 4 {
			b = bytes.TrimLeft(b, " ")
			if len(b) == 0 {
				break
			}
			i := bytes.IndexByte(b, ' ')
			if i < 0 {
				i = len(b)
			}
			f[n], b = b[:i], b[i:]
			n++
		}
		if n < 4 {
			return dst, fmt.Errorf("line %d: too few fields", line)
		}
		var st TCPState
		switch string(f[3]) {
		case "01":
			st = TCPEstablished
		case "0A":
			st = TCPListen
		default:
			continue
		}
		local, err := parseHexAddrPort(f[1])
		if err != nil {
			return dst, fmt.Errorf("line %d: local address: %w", line, err)
		}
		remote, err := parseHexAddrPort(f[2])
		if err != nil {
			return dst, fmt.Errorf("line %d: remote address: %w", line, err)
		}
		dst = append(dst, TCPConn{State: st, Local: local, Remote: remote})
	}
	if err := sc.Err(); err != nil {
		return dst, fmt.Errorf("line %d: %w", line+1, err)
	}
	return dst, nil
}

// parseHexAddrPort decodes the kernel's "ADDR:PORT" form: ADDR is the address as 32-bit words printed in host
// byte order (8 hex digits for IPv4, 32 for IPv6), PORT is 4 hex digits.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", b)
	}
	hexAddr, hexPort := b[:i], b[i+1:]
	port, err := strconv.ParseUint(string(hexPort), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", hexPort, err)
	}
	var raw [16]byte
	if len(hexAddr) != 8 && len(hexAddr) != 32 {
		return netip.AddrPort{}, fmt.Errorf("address %q: bad length", hexAddr)
	}
	n, err := hex.Decode(raw[:], hexAddr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", hexAddr, err)
	}
	// Each 4-byte group is a native-endian u32 holding network-order bytes.
	for w := 0; w < n; w += 4 {
		v := binary.BigEndian.Uint32(raw[w:])
		binary.NativeEndian.PutUint32(raw[w:], v)
	}
	var addr netip.Addr
	if n == 4 {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		addr = netip.AddrFrom16(raw).Unmap()
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

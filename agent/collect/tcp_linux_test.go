package collect

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"unsafe"

	psnet "github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sys/unix"
)

func TestParseInetDiagMsg(t *testing.T) {
	msg := func(family, state uint8, sport, dport uint16, src, dst netip.Addr) []byte {
		b := make([]byte, inetDiagMsgLen)
		b[0], b[1] = family, state
		binary.BigEndian.PutUint16(b[4:], sport)
		binary.BigEndian.PutUint16(b[6:], dport)
		s, d := src.AsSlice(), dst.AsSlice()
		copy(b[8:], s)
		copy(b[24:], d)
		return b
	}
	a := netip.MustParseAddr
	f := func(b []byte, want TCPConn, wantOK bool) {
		t.Helper()
		got, ok := parseInetDiagMsg(b)
		if ok != wantOK || got != want {
			t.Fatalf("got %+v %v, want %+v %v", got, ok, want, wantOK)
		}
	}
	f(msg(unix.AF_INET, tcpEstablished, 22, 50000, a("10.0.0.1"), a("10.0.0.2")),
		TCPConn{TCPEstablished, netip.MustParseAddrPort("10.0.0.1:22"), netip.MustParseAddrPort("10.0.0.2:50000")}, true)
	f(msg(unix.AF_INET6, tcpListen, 80, 0, a("::"), a("::")),
		TCPConn{TCPListen, netip.MustParseAddrPort("[::]:80"), netip.MustParseAddrPort("[::]:0")}, true)
	f(msg(unix.AF_INET6, tcpEstablished, 443, 1234, a("::ffff:10.0.0.1"), a("2001:db8::9")),
		TCPConn{TCPEstablished, netip.MustParseAddrPort("10.0.0.1:443"),
			netip.MustParseAddrPort("[2001:db8::9]:1234")}, true)
	f(msg(unix.AF_INET, 6 /* TIME_WAIT */, 22, 1, a("10.0.0.1"), a("10.0.0.2")), TCPConn{}, false)
	f(msg(unix.AF_INET, tcpEstablished, 22, 1, a("10.0.0.1"), a("10.0.0.2"))[:40], TCPConn{}, false)
}

// TestNetlinkMatchesProc checks on this machine that the sock_diag dump and /proc/net/tcp{,6} agree on the
// listening sockets (established ones may come and go between the two reads).
func TestNetlinkMatchesProc(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Close()

	buf := make([]byte, 64*1024)
	nl, err := tcpConnsNetlink(nil, unix.AF_INET, buf)
	if err != nil {
		t.Fatal(err)
	}
	if nl, err = tcpConnsNetlink(nl, unix.AF_INET6, buf); err != nil {
		t.Fatal(err)
	}
	all, err := tcpConnsNetlinkAll(nil, buf)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := tcpConnsProc(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	listening := func(cs []TCPConn) []string {
		var out []string
		for _, c := range cs {
			if c.State == TCPListen {
				out = append(out, c.Local.String())
			}
		}
		slices.Sort(out)
		return out
	}
	a, b, c := listening(nl), listening(proc), listening(all)
	if !slices.Contains(a, ln.Addr().String()) || !slices.Equal(a, b) || !slices.Equal(a, c) {
		t.Fatalf("listening sockets: netlink %q, /proc %q, netlink one walk %q, want all to hold %s", a, b, c, ln.Addr())
	}
	// Both see the connection from both ends.
	for name, cs := range map[string][]TCPConn{"netlink": nl, "netlink one walk": all, "proc": proc} {
		in := TCPConn{TCPEstablished, netip.MustParseAddrPort(sv.LocalAddr().String()),
			netip.MustParseAddrPort(sv.RemoteAddr().String())}
		out := TCPConn{TCPEstablished, in.Remote, in.Local}
		if !slices.Contains(cs, in) || !slices.Contains(cs, out) {
			t.Fatalf("%s: missing %+v or %+v in %+v", name, in, out, cs)
		}
	}
}

// BenchmarkTCPConns compares the ways of listing TCP sockets on this machine.
func BenchmarkTCPConns(b *testing.B) {
	buf := make([]byte, 64*1024)
	b.Run("netlink", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cs, err := tcpConnsNetlink(nil, unix.AF_INET, buf)
			if err == nil {
				_, err = tcpConnsNetlink(cs, unix.AF_INET6, buf)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("netlink-one-walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tcpConnsNetlinkAll(nil, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("procfile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tcpConnsProc(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gopsutil", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := psnet.ConnectionsWithoutUidsWithContext(context.Background(), "tcp"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The dump request asks the kernel for ESTABLISHED (1) and LISTEN (10) TCP sockets only: the request bytes
// carry the states bitmask 1<<1 | 1<<10 at offset 20 of inet_diag_req_v2 (after the 16-byte nlmsghdr).
func TestInetDiagRequestBytes(t *testing.T) {
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := inetDiagRequest(family)
		raw := (*[unsafe.Sizeof(req)]byte)(unsafe.Pointer(&req))[:]
		if len(raw) != 16+56 {
			t.Fatalf("request is %d bytes, want 72 (nlmsghdr 16 + inet_diag_req_v2 56)", len(raw))
		}
		le := binary.NativeEndian
		if got := le.Uint32(raw[0:]); got != 72 {
			t.Errorf("nlmsg_len %d, want 72", got)
		}
		if got := le.Uint16(raw[4:]); got != 20 {
			t.Errorf("nlmsg_type %d, want SOCK_DIAG_BY_FAMILY (20)", got)
		}
		if got := le.Uint16(raw[6:]); got != unix.NLM_F_REQUEST|unix.NLM_F_DUMP {
			t.Errorf("nlmsg_flags %#x, want REQUEST|DUMP", got)
		}
		if raw[16] != family || raw[17] != unix.IPPROTO_TCP {
			t.Errorf("family/protocol %d/%d, want %d/%d", raw[16], raw[17], family, unix.IPPROTO_TCP)
		}
		if got, want := le.Uint32(raw[20:]), uint32(1<<1|1<<10); got != want {
			t.Errorf("idiag_states %#x, want %#x (ESTABLISHED|LISTEN only)", got, want)
		}
		for i, b := range raw[24:] {
			if b != 0 {
				t.Fatalf("inet_diag_sockid byte %d = %d, want no socket filter", i, b)
			}
		}
	}
}

// The one-walk request is struct inet_diag_req (60 bytes) with type TCPDIAG_GETSOCK (18), family AF_UNSPEC at
// offset 16 and the states bitmask 1<<1 | 1<<10 at offset 68.
func TestInetDiagCompatRequestBytes(t *testing.T) {
	req := inetDiagCompatRequest()
	raw := (*[unsafe.Sizeof(req)]byte)(unsafe.Pointer(&req))[:]
	le := binary.NativeEndian
	if len(raw) != 16+60 || le.Uint32(raw[0:]) != 76 {
		t.Fatalf("request is %d bytes, nlmsg_len %d, want 76 (nlmsghdr 16 + inet_diag_req 60)", len(raw), le.Uint32(raw[0:]))
	}
	if got := le.Uint16(raw[4:]); got != 18 {
		t.Errorf("nlmsg_type %d, want 18 (TCPDIAG_GETSOCK)", got)
	}
	if got := le.Uint16(raw[6:]); got != unix.NLM_F_REQUEST|unix.NLM_F_DUMP {
		t.Errorf("nlmsg_flags %#x, want NLM_F_REQUEST|NLM_F_DUMP", got)
	}
	if raw[16] != unix.AF_UNSPEC {
		t.Errorf("idiag_family %d, want AF_UNSPEC", raw[16])
	}
	if got := le.Uint32(raw[68:]); got != 1<<1|1<<10 {
		t.Errorf("idiag_states %#x, want %#x", got, 1<<1|1<<10)
	}
}

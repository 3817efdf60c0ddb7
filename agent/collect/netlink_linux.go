package collect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inetDiagReq is struct inet_diag_req_v2 behind its netlink header (linux/inet_diag.h).
type inetDiagReq struct {
	hdr      unix.NlMsghdr
	family   uint8
	protocol uint8
	ext      uint8
	pad      uint8
	states   uint32
	id       [48]byte // struct inet_diag_sockid, zero: no filter
}

// inetDiagCompatReq is the older struct inet_diag_req behind its netlink header (linux/inet_diag.h), sent
// with type TCPDIAG_GETSOCK.
type inetDiagCompatReq struct {
	hdr    unix.NlMsghdr
	family uint8
	srcLen uint8
	dstLen uint8
	ext    uint8
	id     [48]byte // struct inet_diag_sockid, zero: no filter
	states uint32
	dbs    uint32
}

const (
	tcpDiagGetSock   = 18 // TCPDIAG_GETSOCK
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpEstablished   = 1
	tcpListen        = 10
	inetDiagMsgLen   = 72 // sizeof(struct inet_diag_msg)
)

// tcpConnsNetlink asks the kernel for the ESTABLISHED and LISTEN TCP sockets of one address family through
// sock_diag, the interface ss(8) uses. The kernel filters by state, and the dump costs a fraction of reading
// /proc/net/tcp, whose seq_file walks the whole socket hash table again for every read.
func tcpConnsNetlink(dst []TCPConn, family uint8, buf []byte) ([]TCPConn, error) {
	req := inetDiagRequest(family)
	return netlinkDump(dst, (*[unsafe.Sizeof(req)]byte)(unsafe.Pointer(&req))[:], buf)
}

// tcpConnsNetlinkAll is tcpConnsNetlink for IPv4 and IPv6 at once. Every dump walks the kernel's whole TCP
// established hash table (262,144 buckets on this 24 GiB machine, shared by both families), which is most of
// the dump's cost; the TCPDIAG_GETSOCK request dumps both families (AF_UNSPEC) in one walk: 0.23 ms instead of
// 0.46 ms for two SOCK_DIAG_BY_FAMILY dumps here, the same sockets.
func tcpConnsNetlinkAll(dst []TCPConn, buf []byte) ([]TCPConn, error) {
	req := inetDiagCompatRequest()
	return netlinkDump(dst, (*[unsafe.Sizeof(req)]byte)(unsafe.Pointer(&req))[:], buf)
}

// netlinkDump sends the inet_diag dump request raw and appends the sockets of the answer to dst.
func netlinkDump(dst []TCPConn, raw []byte, buf []byte) ([]TCPConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return dst, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, raw, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return dst, fmt.Errorf("netlink send: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return dst, fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return dst, fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return dst, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno < 0 {
						return dst, fmt.Errorf("netlink: %w", syscall.Errno(-errno))
					}
				}
				return dst, errors.New("netlink: error message")
			}
			c, ok := parseInetDiagMsg(m.Data)
			if ok {
				dst = append(dst, c)
			}
		}
	}
}

// inetDiagRequest is the dump request for the TCP sockets of family in the ESTABLISHED and LISTEN states
// only (idiag_states bitmask): the kernel skips every other socket (TIME_WAIT, CLOSE_WAIT …) itself.
func inetDiagRequest(family uint8) inetDiagReq {
	req := inetDiagReq{family: family, protocol: unix.IPPROTO_TCP, states: 1<<tcpEstablished | 1<<tcpListen}
	req.hdr.Len = uint32(unsafe.Sizeof(req))
	req.hdr.Type = sockDiagByFamily
	req.hdr.Flags = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
	req.hdr.Seq = 1
	return req
}

// inetDiagCompatRequest is the TCPDIAG_GETSOCK dump request for the TCP sockets of both families in the
// ESTABLISHED and LISTEN states (the kernel treats this request as AF_UNSPEC).
func inetDiagCompatRequest() inetDiagCompatReq {
	req := inetDiagCompatReq{family: unix.AF_UNSPEC, states: 1<<tcpEstablished | 1<<tcpListen}
	req.hdr.Len = uint32(unsafe.Sizeof(req))
	req.hdr.Type = tcpDiagGetSock
	req.hdr.Flags = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
	req.hdr.Seq = 1
	return req
}

// parseInetDiagMsg decodes the state and endpoints of one struct inet_diag_msg.
func parseInetDiagMsg(b []byte) (TCPConn, bool) {
	if len(b) < inetDiagMsgLen {
		return TCPConn{}, false
	}
	var st TCPState
	switch b[1] {
	case tcpEstablished:
		st = TCPEstablished
	case tcpListen:
		st = TCPListen
	default:
		return TCPConn{}, false
	}
	sport, dport := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	var src, dstIP netip.Addr
	switch b[0] {
	case unix.AF_INET:
		src, dstIP = netip.AddrFrom4([4]byte(b[8:12])), netip.AddrFrom4([4]byte(b[24:28]))
	case unix.AF_INET6:
		src, dstIP = netip.AddrFrom16([16]byte(b[8:24])).Unmap(), netip.AddrFrom16([16]byte(b[24:40])).Unmap()
	default:
		return TCPConn{}, false
	}
	return TCPConn{State: st, Local: netip.AddrPortFrom(src, sport), Remote: netip.AddrPortFrom(dstIP, dport)}, true
}

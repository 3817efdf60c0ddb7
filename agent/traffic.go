package agent

import (
	"context"
	"net"
	"sync/atomic"
)

// segmentOverhead estimates the TCP/IPv4 header bytes (20 + 20 + 12 of options) that travel with each read or
// write on a connection. The analyzer subtracts the agent's own traffic from a host's network use, so an
// estimate on the high side keeps a host that only talks to zhizhi from looking busy.
const segmentOverhead = 52

// trafficCounter counts the bytes of the agent's own connections to the server.
type trafficCounter struct{ n atomic.Uint64 }

// dialer wraps a DialContext so that every connection it makes is counted.
func (c *trafficCounter) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// The handshake's SYN, SYN-ACK and ACK.
		c.n.Add(3 * segmentOverhead)
		return &countingConn{Conn: conn, n: &c.n}, nil
	}
}

// Total returns the bytes counted so far.
func (c *trafficCounter) Total() uint64 { return c.n.Load() }

type countingConn struct {
	net.Conn
	n *atomic.Uint64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.n.Add(uint64(n) + segmentOverhead)
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.n.Add(uint64(n) + segmentOverhead)
	}
	return n, err
}

package collect

import (
	"context"
	"fmt"
	"net/netip"

	"zhizhi/agent/wire"
)

// inboundKey identifies an inbound connection across cycles.
type inboundKey struct {
	localPort uint16
	remote    netip.AddrPort
}

// connState keeps the inbound connections of the previous cycle; the two maps are swapped and reused.
type connState struct {
	prev, cur map[inboundKey]struct{}
	have      bool
	ports     map[uint16]struct{}
}

// collectConns counts ESTABLISHED TCP connections, the listening ports, the inbound connections (established
// on a listening port) and the inbound ones not seen in the previous cycle (0 on the first cycle).
func (c *Collector) collectConns(ctx context.Context) (*wire.Conns, error) {
	conns, err := c.src.TCPConns(ctx)
	if err != nil {
		return nil, fmt.Errorf("tcp connections: %w", err)
	}
	st := &c.conns
	if st.ports == nil {
		st.ports = make(map[uint16]struct{})
		st.prev = make(map[inboundKey]struct{})
		st.cur = make(map[inboundKey]struct{})
	}
	clear(st.ports)
	clear(st.cur)
	for _, cn := range conns {
		if cn.State == TCPListen {
			st.ports[cn.Local.Port()] = struct{}{}
		}
	}
	out := &wire.Conns{Listening: len(st.ports)}
	for _, cn := range conns {
		if cn.State != TCPEstablished {
			continue
		}
		out.Established++
		if _, ok := st.ports[cn.Local.Port()]; !ok {
			continue
		}
		out.Inbound++
		k := inboundKey{cn.Local.Port(), cn.Remote}
		if _, dup := st.cur[k]; dup {
			continue
		}
		st.cur[k] = struct{}{}
		if _, seen := st.prev[k]; st.have && !seen {
			out.NewInbound++
		}
	}
	st.prev, st.cur = st.cur, st.prev
	st.have = true
	return out, nil
}

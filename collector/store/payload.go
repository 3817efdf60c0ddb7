package store

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"zhizhi/agent/wire"
)

// Raw sample payloads are the sample's JSON, deflated with a preset dictionary of a typical sample (small JSON
// documents compress poorly on their own). The first byte names the encoding so the dictionary can evolve:
// a new dictionary gets a new byte, and payloadDictV1 must never change.
const (
	payloadJSON    byte = 0 // plain JSON follows
	payloadFlateV1 byte = 1 // deflate with payloadDictV1 follows
)

const payloadDictV1 = `{"seq":1,"ts":"2026-01-01T00:00:00Z","interval_s":15,"cpu":{"busy_pct":1.5,"user_pct":1,"system_pct":0.5,` +
	`"iowait_pct":0.1,"steal_pct":0},"load":{"load1":0.1,"load5":0.2,"load15":0.3},"mem":{"total_bytes":8000000000,` +
	`"used_bytes":2000000000,"available_bytes":6000000000,"used_pct":25},"swap":{"total_bytes":1000000000,"used_bytes":0,` +
	`"used_pct":0},"fs":[{"mount":"/","device":"/dev/sda1","fstype":"ext4","total_bytes":100000000000,` +
	`"used_bytes":50000000000,"free_bytes":50000000000,"used_pct":50,"inodes_used_pct":3},{"mount":"/boot",` +
	`"device":"/dev/sda2","fstype":"xfs","total_bytes":1000000000,"used_bytes":100000000,"free_bytes":900000000,` +
	`"used_pct":10,"inodes_used_pct":1},{"mount":"/data","device":"/dev/mapper/vg-data","fstype":"ext4"}],` +
	`"disk":[{"device":"sda","read_bytes":1,"write_bytes":2,"reads":3,"writes":4},{"device":"nvme0n1","read_bytes":1}],` +
	`"net":[{"iface":"eth0","rx_bytes":1,"tx_bytes":2,"rx_packets":3,"tx_packets":4,"rx_errors":0,"tx_errors":0},` +
	`{"iface":"ens192","rx_bytes":1}],"conns":{"established":1,"inbound":2,"new_inbound":3,"listening":4},` +
	`"sessions":3,"procs":180,"uptime_s":123456,"errors":{"fs":"timeout"}}`

var (
	flateWriters = sync.Pool{New: func() any {
		w, err := flate.NewWriterDict(nil, flate.BestSpeed, []byte(payloadDictV1))
		if err != nil {
			panic(err) // only for an invalid level
		}
		return w
	}}
	flateReaders = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), []byte(payloadDictV1)) }}
)

// encodePayload returns the stored form of a sample's JSON.
func encodePayload(js []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(js)/2 + 16)
	buf.WriteByte(payloadFlateV1)
	w := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(js); err != nil {
		return nil, fmt.Errorf("compress sample: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress sample: %w", err)
	}
	return buf.Bytes(), nil
}

// decodePayload decodes a stored payload into s.
func decodePayload(p []byte, s *wire.Sample) error {
	if len(p) == 0 {
		return fmt.Errorf("empty payload")
	}
	var js []byte
	switch p[0] {
	case payloadJSON:
		js = p[1:]
	case payloadFlateV1:
		r := flateReaders.Get().(io.ReadCloser)
		defer flateReaders.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(p[1:]), []byte(payloadDictV1)); err != nil {
			return fmt.Errorf("decompress sample: %w", err)
		}
		var err error
		js, err = io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("decompress sample: %w", err)
		}
	default:
		return fmt.Errorf("unknown payload encoding %d", p[0])
	}
	*s = wire.Sample{}
	if err := json.Unmarshal(js, s); err != nil {
		return fmt.Errorf("decode sample: %w", err)
	}
	return nil
}

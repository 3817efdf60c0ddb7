package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
)

// HeaderSize is the number of bytes each record occupies on disk in addition to its payload.
const HeaderSize = 20

// MaxRecordBytes is the largest payload a record may carry.
const MaxRecordBytes = 1 << 20

const (
	recordMagic  uint32 = 0x3152535a // "ZSR1" little-endian
	stateMagic   uint32 = 0x5453535a // "ZSST" little-endian
	stateVersion uint32 = 1
	stateSize           = 4 + 4 + 5*8 + 4
	stateName           = "state"
	stateTmpName        = "state.tmp"
	lockName            = "lock"
	segExt              = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record layout (little-endian): magic u32 | payload length u32 | seq u64 | CRC32C(header[0:16] + payload) u32.

// appendRecord appends the encoded record for seq and data to dst.
func appendRecord(dst []byte, seq uint64, data []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, recordMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	crc := crc32.Update(0, castagnoli, dst[start:start+16])
	crc = crc32.Update(crc, castagnoli, data)
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, data...)
}

// header is a decoded record header.
type header struct {
	length uint32
	seq    uint64
	crc    uint32
}

// parseHeader decodes b (HeaderSize bytes) and checks the magic and the length bound.
func parseHeader(b []byte) (header, error) {
	if m := binary.LittleEndian.Uint32(b[0:]); m != recordMagic {
		return header{}, fmt.Errorf("bad magic %#08x", m)
	}
	h := header{
		length: binary.LittleEndian.Uint32(b[4:]),
		seq:    binary.LittleEndian.Uint64(b[8:]),
		crc:    binary.LittleEndian.Uint32(b[16:]),
	}
	if h.length > MaxRecordBytes {
		return header{}, fmt.Errorf("length %d over limit %d", h.length, MaxRecordBytes)
	}
	return h, nil
}

// loadHeader reads (with read) and decodes the header of the record at off in a segment of size valid bytes,
// checking that header and payload lie inside the segment.
func loadHeader(hb *[HeaderSize]byte, off, size int64, read func([]byte) error) (header, error) {
	if size-off < HeaderSize {
		return header{}, fmt.Errorf("partial header: %d bytes", size-off)
	}
	if err := read(hb[:]); err != nil {
		return header{}, fmt.Errorf("read header: %w", err)
	}
	h, err := parseHeader(hb[:])
	if err != nil {
		return header{}, err
	}
	if off+h.size() > size {
		return header{}, fmt.Errorf("short payload: %d of %d bytes", size-off-HeaderSize, h.length)
	}
	return h, nil
}

// verify reports whether the checksum in h matches the raw header hb and the payload.
func (h header) verify(hb, payload []byte) bool {
	crc := crc32.Update(0, castagnoli, hb[:16])
	return crc32.Update(crc, castagnoli, payload) == h.crc
}

// size is the on-disk size of the record.
func (h header) size() int64 { return HeaderSize + int64(h.length) }

// state is what the spool persists besides the segments.
type state struct {
	acked       uint64 // highest seq acknowledged by the server
	dropThrough uint64 // every seq <= dropThrough was deleted by the cap
	dropped     uint64 // cumulative records lost (cap or corruption)
	lastSeq     uint64 // highest seq known durable in a segment when the state was written
	lossThrough uint64 // missing seqs <= lossThrough were already counted in dropped
}

// floor is the highest seq that is no longer pending.
func (st state) floor() uint64 { return max(st.acked, st.dropThrough) }

func (st state) marshal() []byte {
	b := make([]byte, stateSize)
	binary.LittleEndian.PutUint32(b[0:], stateMagic)
	binary.LittleEndian.PutUint32(b[4:], stateVersion)
	for i, v := range []uint64{st.acked, st.dropThrough, st.dropped, st.lastSeq, st.lossThrough} {
		binary.LittleEndian.PutUint64(b[8+8*i:], v)
	}
	binary.LittleEndian.PutUint32(b[stateSize-4:], crc32.Checksum(b[:stateSize-4], castagnoli))
	return b
}

func unmarshalState(b []byte) (state, error) {
	if len(b) != stateSize {
		return state{}, fmt.Errorf("size %d, want %d", len(b), stateSize)
	}
	if crc32.Checksum(b[:stateSize-4], castagnoli) != binary.LittleEndian.Uint32(b[stateSize-4:]) {
		return state{}, errors.New("checksum mismatch")
	}
	if m := binary.LittleEndian.Uint32(b[0:]); m != stateMagic {
		return state{}, fmt.Errorf("bad magic %#08x", m)
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != stateVersion {
		return state{}, fmt.Errorf("unknown version %d", v)
	}
	var v [5]uint64
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(b[8+8*i:])
	}
	return state{acked: v[0], dropThrough: v[1], dropped: v[2], lastSeq: v[3], lossThrough: v[4]}, nil
}

// writeState replaces dir/state atomically and durably: write a temporary file, fsync, rename, fsync the directory.
func writeState(dir string, st state) error {
	tmp := filepath.Join(dir, stateTmpName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: write state: %w", err)
	}
	_, err = f.Write(st.marshal())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, stateName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("spool: write state: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory so that file creations, renames and removals in it are durable.
// Windows cannot fsync a directory; NTFS journals metadata itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// segmentName is the file name of the segment whose first record has seq first.
func segmentName(first uint64) string { return fmt.Sprintf("%020d%s", first, segExt) }

package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"zhizhi/agent/wire"
)

var (
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool sync.Pool // *gzip.Reader
)

// maxPooledBuffer keeps one huge batch from pinning its buffer in the pool.
const maxPooledBuffer = 1 << 20

// Decode reads one batch from r, the request body as sent with the given Content-Encoding ("gzip", "identity"
// or ""). It enforces lim's size and depth limits and decodes strictly: unknown fields, wrong types and trailing
// data are errors naming the field path. Errors wrap ErrTooLarge or ErrUnsupportedEncoding, or are a
// *FieldError; a failing r yields its own error.
func Decode(r io.Reader, contentEncoding string, lim Limits) (*wire.Batch, error) {
	lim = lim.WithDefaults()
	body := &capReader{r: r, left: lim.MaxBodyBytes, err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBodyBytes)}
	var src io.Reader = body
	switch enc := strings.ToLower(strings.TrimSpace(contentEncoding)); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := getGzip(body)
		if err != nil {
			return nil, body.explain(err)
		}
		defer gzipPool.Put(zr)
		src = zr
	default:
		return nil, fmt.Errorf("%w: %q (use gzip or identity)", ErrUnsupportedEncoding, contentEncoding)
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			bufPool.Put(buf)
		}
	}()
	n, err := buf.ReadFrom(io.LimitReader(src, lim.MaxDecodedBytes+1))
	if err != nil {
		return nil, body.explain(err)
	}
	if n > lim.MaxDecodedBytes {
		return nil, fmt.Errorf("%w: more than %d bytes after decompression", ErrTooLarge, lim.MaxDecodedBytes)
	}
	return decodeJSON(buf.Bytes(), lim.MaxDepth)
}

// explain turns an error met while reading through c: the size limit, a failure of the body itself, or else
// (the body was read fine) the decompressor's rejection of it.
func (c *capReader) explain(err error) error {
	switch {
	case errors.Is(err, ErrTooLarge):
		return err
	case c.readErr != nil:
		return fmt.Errorf("read body: %w", c.readErr)
	}
	return &FieldError{Msg: "invalid gzip body: " + err.Error()}
}

func getGzip(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipPool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzipPool.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

// capReader reads at most left bytes from r and fails with err past them. It remembers a failure of r.
type capReader struct {
	r       io.Reader
	left    int64
	err     error
	readErr error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, c.err
		}
		if err != nil && err != io.EOF {
			c.readErr = err
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	return n, err
}

// decodeJSON decodes one batch from data strictly.
func decodeJSON(data []byte, maxDepth int) (*wire.Batch, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FieldError{Msg: "empty body: expected a JSON batch"}
	}
	if off := tooDeep(data, maxDepth); off >= 0 {
		return nil, &FieldError{Msg: fmt.Sprintf("JSON nested deeper than %d levels (at byte %d)", maxDepth, off)}
	}
	b := new(wire.Batch)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(b)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return nil, &FieldError{Msg: fmt.Sprintf("unexpected data after the batch (at byte %d)", dec.InputOffset())}
		}
		return b, nil
	}
	// Slow path: walk the document against the schema to name the exact field.
	if fe := locate(data); fe != nil {
		return nil, fe
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return nil, &FieldError{Field: ute.Field, Msg: fmt.Sprintf("expected %s, got %s", jsonKindOf(ute.Type.Kind().String()), ute.Value)}
	}
	return nil, &FieldError{Msg: "invalid batch: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// tooDeep returns the offset of the first bracket nested deeper than max, or -1.
func tooDeep(data []byte, max int) int {
	depth := 0
	inStr, esc := false, false
	for i, c := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return i
			}
		case '}', ']':
			depth--
		}
	}
	return -1
}

func jsonKindOf(goKind string) string {
	switch goKind {
	case "float32", "float64", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "number"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return goKind
}

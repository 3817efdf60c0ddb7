package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"zhizhi/agent/wire"
)

// The schema walker runs only after the fast decoder failed: it re-reads the document token by token against
// the shape of wire.Batch and reports the first problem with its full path (array indexes included), which
// encoding/json's errors lack.

type kind uint8

const (
	kObject kind = iota
	kMap
	kArray
	kString
	kTime
	kFloat
	kInt
	kUint
	kBool
)

func (k kind) String() string {
	switch k {
	case kObject, kMap:
		return "object"
	case kArray:
		return "array"
	case kString:
		return "string"
	case kTime:
		return "RFC 3339 timestamp string"
	case kFloat, kInt, kUint:
		return "number"
	}
	return "boolean"
}

type node struct {
	kind   kind
	bits   int
	fields map[string]*node // kObject
	elem   *node            // kArray, kMap
}

var batchSchema = schemaOf(reflect.TypeFor[wire.Batch]())

func schemaOf(t reflect.Type) *node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return &node{kind: kTime}
	}
	switch t.Kind() {
	case reflect.Struct:
		n := &node{kind: kObject, fields: map[string]*node{}}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			n.fields[name] = schemaOf(f.Type)
		}
		return n
	case reflect.Map:
		return &node{kind: kMap, elem: schemaOf(t.Elem())}
	case reflect.Slice, reflect.Array:
		return &node{kind: kArray, elem: schemaOf(t.Elem())}
	case reflect.String:
		return &node{kind: kString}
	case reflect.Float32, reflect.Float64:
		return &node{kind: kFloat, bits: t.Bits()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &node{kind: kInt, bits: t.Bits()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &node{kind: kUint, bits: t.Bits()}
	case reflect.Bool:
		return &node{kind: kBool}
	}
	panic("ingest: unsupported type in wire schema: " + t.String())
}

// field returns the schema of key in an object, matching case-insensitively like encoding/json.
func (n *node) field(key string) *node {
	if c, ok := n.fields[key]; ok {
		return c
	}
	for name, c := range n.fields {
		if strings.EqualFold(name, key) {
			return c
		}
	}
	return nil
}

type walker struct {
	dec  *json.Decoder
	path []byte
}

// locate returns the first problem in data against the batch schema, or nil when it finds none.
func locate(data []byte) *FieldError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &walker{dec: dec}
	if fe := w.value(batchSchema); fe != nil {
		return fe
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Msg: fmt.Sprintf("unexpected data after the batch (at byte %d)", dec.InputOffset())}
	}
	return nil
}

func (w *walker) fail(format string, args ...any) *FieldError {
	return &FieldError{Field: string(w.path), Msg: fmt.Sprintf(format, args...)}
}

func (w *walker) token() (json.Token, *FieldError) {
	tok, err := w.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, w.fail("unexpected end of JSON")
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, w.fail("invalid JSON at byte %d: %s", se.Offset, se.Error())
		}
		return nil, w.fail("invalid JSON at byte %d: %s", w.dec.InputOffset(), strings.TrimPrefix(err.Error(), "json: "))
	}
	return tok, nil
}

func (w *walker) value(n *node) *FieldError {
	tok, fe := w.token()
	if fe != nil {
		return fe
	}
	switch t := tok.(type) {
	case nil:
		return nil // encoding/json leaves the Go value as it is
	case json.Delim:
		switch t {
		case '{':
			if n.kind != kObject && n.kind != kMap {
				return w.fail("expected %s, got object", n.kind)
			}
			return w.object(n)
		case '[':
			if n.kind != kArray {
				return w.fail("expected %s, got array", n.kind)
			}
			return w.array(n)
		}
		return w.fail("invalid JSON: unexpected %q", t)
	case string:
		switch n.kind {
		case kString:
			return nil
		case kTime:
			if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
				return w.fail("expected RFC 3339 timestamp, got %q", truncate(t, 64))
			}
			return nil
		}
		return w.fail("expected %s, got string", n.kind)
	case json.Number:
		return w.number(n, t)
	case bool:
		if n.kind != kBool {
			return w.fail("expected %s, got boolean", n.kind)
		}
		return nil
	}
	return w.fail("unexpected token %v", tok)
}

func (w *walker) number(n *node, num json.Number) *FieldError {
	s := string(num)
	var err error
	switch n.kind {
	case kFloat:
		_, err = strconv.ParseFloat(s, n.bits)
	case kInt:
		_, err = strconv.ParseInt(s, 10, n.bits)
	case kUint:
		_, err = strconv.ParseUint(s, 10, n.bits)
	default:
		return w.fail("expected %s, got number", n.kind)
	}
	if err != nil {
		want := "a number"
		switch n.kind {
		case kInt:
			want = "an integer"
		case kUint:
			want = "a non-negative integer"
		}
		return w.fail("expected %s in range, got %s", want, truncate(s, 64))
	}
	return nil
}

func (w *walker) object(n *node) *FieldError {
	base := len(w.path)
	for w.dec.More() {
		tok, fe := w.token()
		if fe != nil {
			return fe
		}
		key, _ := tok.(string)
		w.path = w.path[:base]
		var child *node
		if n.kind == kMap {
			child = n.elem
			w.path = fmt.Appendf(w.path, "[%q]", key)
		} else {
			if base > 0 {
				w.path = append(w.path, '.')
			}
			w.path = append(w.path, key...)
			if child = n.field(key); child == nil {
				return w.fail("unknown field")
			}
		}
		if fe := w.value(child); fe != nil {
			return fe
		}
		w.path = w.path[:base]
	}
	_, fe := w.token() // '}'
	return fe
}

func (w *walker) array(n *node) *FieldError {
	base := len(w.path)
	for i := 0; w.dec.More(); i++ {
		w.path = strconv.AppendInt(append(w.path[:base], '['), int64(i), 10)
		w.path = append(w.path, ']')
		if fe := w.value(n.elem); fe != nil {
			return fe
		}
	}
	w.path = w.path[:base]
	_, fe := w.token() // ']'
	return fe
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

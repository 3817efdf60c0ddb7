package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// sections are the keys whose values are mappings of further keys.
var sections = map[string]bool{
	"spool": true, "send": true, "tls": true, "collect": true, "collect.filesystems": true,
	"collect.network": true, "metrics": true, "log": true,
}

// leaves returns the destination in r of every key that holds a value.
func leaves(r *raw) map[string]any {
	fs := &r.Collect.Filesystems
	return map[string]any{
		"server":                             &r.Server,
		"token_file":                         &r.TokenFile,
		"interval":                           &r.Interval,
		"spool.dir":                          &r.Spool.Dir,
		"spool.max_bytes":                    &r.Spool.MaxBytes,
		"send.batch_max_samples":             &r.Send.BatchMaxSamples,
		"send.replay_rate":                   &r.Send.ReplayRate,
		"send.timeout":                       &r.Send.Timeout,
		"tls.ca_file":                        &r.TLS.CAFile,
		"tls.insecure_skip_verify":           &r.TLS.InsecureSkipVerify,
		"collect.filesystems.include_mounts": &fs.IncludeMounts,
		"collect.filesystems.exclude_mounts": &fs.ExcludeMounts,
		"collect.filesystems.include_types":  &fs.IncludeTypes,
		"collect.filesystems.exclude_types":  &fs.ExcludeTypes,
		"collect.filesystems.statfs_timeout": &fs.StatfsTimeout,
		"collect.network.exclude_interfaces": &r.Collect.Network.ExcludeInterfaces,
		"metrics.listen":                     &r.Metrics.Listen,
		"log.level":                          &r.Log.Level,
		"log.format":                         &r.Log.Format,
	}
}

// decoder walks the YAML node tree into raw, recording every key's line and every structural error in v.
type decoder struct {
	v   *validator
	dst map[string]any
}

// decodeYAML fills r from data. Keys the file leaves out keep r's value; errors about keys and values go to
// v.errs, all of them. It returns an error instead when the file is not a readable YAML mapping at all.
func decodeYAML(data []byte, r *raw, v *validator) error {
	if line, msg := badText(data); line > 0 {
		return fmt.Errorf("%s:%d: %s", v.name, line, msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty or comments only
			return nil
		}
		return syntaxError(v.name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil && !(len(next.Content) == 1 && isNull(next.Content[0])):
		return fmt.Errorf("%s:%d: only one YAML document is allowed", v.name, next.Line)
	case err != nil && !errors.Is(err, io.EOF):
		return syntaxError(v.name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	top := deref(doc.Content[0])
	if !isNull(top) && top.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: the file must hold keys such as \"server: https://...\", got %s",
			v.name, top.Line, describe(top))
	}
	d := decoder{v: v, dst: leaves(r)}
	d.mapping("", top)
	return nil
}

// failAt records an error located at line.
func (d *decoder) failAt(key string, line int, format string, args ...any) {
	d.v.errs = append(d.v.errs, fmt.Errorf("%s:%d: %s: %s", d.v.name, line, key, fmt.Sprintf(format, args...)))
}

// mapping decodes the keys of n, a section (prefix) or the whole document (prefix "").
func (d *decoder) mapping(prefix string, n *yaml.Node) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.failAt(prefix, n.Line, "must hold keys (indented on the lines below), got %s", describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			name := prefix
			if name == "" {
				name = "key"
			}
			d.failAt(name, k.Line, "keys must be plain names, got %s", describe(k))
			continue
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		if first, dup := seen[key]; dup {
			d.failAt(key, k.Line, "duplicate key (first at line %d)", first)
			continue
		}
		seen[key] = k.Line
		if _, ok := d.v.keys[key]; !ok {
			d.v.keys[key] = k.Line
		}
		switch dst, ok := d.dst[key]; {
		case sections[key]:
			d.mapping(key, val)
		case !ok:
			d.failAt(key, k.Line, "unknown key")
		default:
			d.leaf(key, k.Line, deref(val), dst)
		}
	}
}

// leaf decodes the value n of key into dst.
func (d *decoder) leaf(key string, line int, n *yaml.Node, dst any) {
	switch p := dst.(type) {
	case *string:
		switch {
		case isNull(n):
			*p = ""
		case n.Kind == yaml.ScalarNode:
			*p = n.Value
		default:
			d.failAt(key, line, "must be a single value, got %s", describe(n))
		}
	case *bool:
		if n.Kind != yaml.ScalarNode || n.Decode(p) != nil {
			d.failAt(key, line, "must be true or false, got %s", describe(n))
		}
	case *[]string:
		if isNull(n) {
			*p = nil
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.failAt(key, line, "must be a list such as [a, b] or lines starting with \"- \", got %s", describe(n))
			return
		}
		out := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			if it = deref(it); it.Kind != yaml.ScalarNode || isNull(it) {
				d.failAt(key, it.Line, "list items must be single values, got %s", describe(it))
				continue
			}
			out = append(out, it.Value)
		}
		*p = out
	case *any: // a size: a byte count or text such as 64MiB
		var i int64
		switch {
		case isNull(n):
			*p = nil
		case n.Kind != yaml.ScalarNode:
			d.failAt(key, line, "must be a size such as 64MiB or a byte count, got %s", describe(n))
		case n.ShortTag() == "!!int" && n.Decode(&i) == nil:
			*p = i
		default:
			*p = n.Value
		}
	default:
		panic(fmt.Sprintf("config: no decoder for %s (%T)", key, dst))
	}
}

// deref follows an alias (*name) to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value (`key:`, `~` or `null`).
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "keys"
	}
	return "an unsupported value"
}

// syntaxError turns "yaml: line 3: message" into "name:3: message". yaml.v3 leaves the line out when the
// problem is on the first line.
func syntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if line, err := strconv.Atoi(rest[:i]); err == nil {
				return fmt.Errorf("%s:%d: %s", name, line, rest[i+2:])
			}
		}
	}
	return fmt.Errorf("%s:1: %s", name, msg)
}

// badText finds the first line holding bytes that are not UTF-8 or characters YAML forbids, which the YAML
// reader would report without a line.
func badText(data []byte) (line int, msg string) {
	line = 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return line, "the file is not UTF-8 text (save it as UTF-8)"
		case r == '\n':
			line++
		case r == '\t' || r == '\r' || r == 0x85 || (r == 0xFEFF && i == 0):
		case r < 0x20 || (r >= 0x7F && r < 0xA0) || r == 0xFFFE || r == 0xFFFF:
			return line, fmt.Sprintf("control character %U is not allowed in YAML", r)
		}
		i += size
	}
	return 0, ""
}

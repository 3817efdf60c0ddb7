package console

import (
	"html/template"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"zhizhi/collector/calendar"
	"zhizhi/server/console/i18n"
)

func nonASCII(s string) string {
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return s
		}
	}
	return ""
}

// verbs returns the fmt verbs of s in order, to compare the two languages of a message.
func verbs(s string) string {
	return strings.Join(regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`).FindAllString(s, -1), " ")
}

func TestCatalogComplete(t *testing.T) {
	for _, k := range i18n.Keys() {
		zh, _ := i18n.Lookup(i18n.ZH, k)
		en, _ := i18n.Lookup(i18n.EN, k)
		if strings.TrimSpace(zh) == "" || strings.TrimSpace(en) == "" {
			t.Errorf("catalog key %q: zh-CN %q, en %q", k, zh, en)
		}
		if verbs(zh) != verbs(en) {
			t.Errorf("catalog key %q: verbs differ: %q vs %q", k, verbs(zh), verbs(en))
		}
	}
}

// walk calls fn for every node below n.
func walk(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walk(c, fn)
			}
		}
	case *parse.ActionNode:
		walk(n.Pipe, fn)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				walk(c, fn)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *parse.IfNode:
		walk(n.Pipe, fn)
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.RangeNode:
		walk(n.Pipe, fn)
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.WithNode:
		walk(n.Pipe, fn)
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.TemplateNode:
		walk(n.Pipe, fn)
	case *parse.ChainNode:
		walk(n.Node, fn)
	}
}

// TestTemplatesUseCatalog fails on a catalog key that a template names but the catalog lacks, and on any
// non-ASCII text in a template outside the catalog (Chinese wording must come from the catalog).
func TestTemplatesUseCatalog(t *testing.T) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) < 7 {
		t.Fatalf("templates: %v %v", files, err)
	}
	literalKeys := 0
	for _, file := range files {
		src, err := fs.ReadFile(templateFS, file)
		if err != nil {
			t.Fatal(err)
		}
		set, err := template.New(file).Funcs(funcs()).Parse(string(src))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, tmpl := range set.Templates() {
			if tmpl.Tree == nil {
				continue
			}
			walk(tmpl.Tree.Root, func(n parse.Node) {
				switch n := n.(type) {
				case *parse.TextNode:
					if s := nonASCII(string(n.Text)); s != "" {
						t.Errorf("%s: non-ASCII text outside the catalog: %q", file, strings.TrimSpace(s))
					}
				case *parse.StringNode:
					if s := nonASCII(n.Text); s != "" {
						t.Errorf("%s: non-ASCII string literal outside the catalog: %q", file, s)
					}
				case *parse.CommandNode:
					if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "t" {
						if len(n.Args) < 3 {
							t.Errorf("%s: %s: t needs a language and a key", file, n)
							return
						}
						if key, ok := n.Args[2].(*parse.StringNode); ok {
							literalKeys++
							if !i18n.Has(key.Text) {
								t.Errorf("%s: catalog lacks key %q", file, key.Text)
							}
						}
					}
				}
			})
		}
	}
	if literalKeys < 50 {
		t.Errorf("found only %d catalog keys in the templates: the walk is broken", literalKeys)
	}
}

// TestDynamicKeys checks the keys templates and handlers build from values.
func TestDynamicKeys(t *testing.T) {
	var keys []string
	for _, s := range statuses {
		keys = append(keys, "status."+s)
	}
	for _, r := range roles {
		keys = append(keys, "role."+r)
	}
	for _, m := range yearMetrics {
		keys = append(keys, "metric."+m)
	}
	for _, s := range yearStats {
		keys = append(keys, "stat."+s)
	}
	for _, r := range rangeKeys {
		keys = append(keys, "range."+r)
	}
	keys = append(keys, "overview.title", "systems.title", "system.title", "host.title", "heatmap.title",
		"error.title", "error.404.title", "error.400.title")
	keys = append(keys, i18n.HolidayKeys()...)
	for _, k := range keys {
		if !i18n.Has(k) {
			t.Errorf("catalog lacks %q", k)
		}
	}
	// Every holiday name of the calendar has an English name.
	for d := time.Date(2024, 1, 1, 0, 0, 0, 0, calendar.Shanghai); d.Year() <= 2026; d = d.AddDate(0, 0, 1) {
		if _, name := calendar.Classify(d); name != "" && i18n.Holiday(i18n.EN, name) == name {
			t.Errorf("%s: holiday %q has no catalog entry", d.Format(time.DateOnly), name)
		}
	}
}

// TestScriptUsesCatalog checks console.js: every T('key') is a js.key of the catalog, every js.key is used, and
// the script has no non-ASCII text of its own.
func TestScriptUsesCatalog(t *testing.T) {
	src, err := fs.ReadFile(staticFS, "static/console.js")
	if err != nil {
		t.Fatal(err)
	}
	if s := nonASCII(string(src)); s != "" {
		for i, line := range strings.Split(string(src), "\n") {
			if nonASCII(line) != "" {
				t.Errorf("console.js:%d: non-ASCII text outside the catalog: %s", i+1, strings.TrimSpace(line))
			}
		}
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bT\('([^']*)'\)`).FindAllStringSubmatch(string(src), -1) {
		used[m[1]] = true
		if !i18n.Has(i18n.JSPrefix + m[1]) {
			t.Errorf("console.js uses T(%q) but the catalog lacks %q", m[1], i18n.JSPrefix+m[1])
		}
	}
	if len(used) < 20 {
		t.Errorf("found only %d keys in console.js", len(used))
	}
	for _, k := range i18n.Keys() {
		if name, ok := strings.CutPrefix(k, i18n.JSPrefix); ok && !used[name] {
			t.Errorf("catalog key %q is not used by console.js", k)
		}
	}
	if n := strings.Count(string(src), "T("); n != len(regexp.MustCompile(`\bT\('[^']*'\)`).FindAllString(string(src), -1))+1 {
		// +1: the definition "function T(key)". Any other T(...) call has a non-literal key the test cannot check.
		t.Errorf("console.js calls T with a non-literal key (%d calls)", n)
	}
}

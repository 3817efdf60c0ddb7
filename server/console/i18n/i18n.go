// Package i18n is the console's one message catalog (zh-CN and English) and the lookups templates and scripts use.
package i18n

import (
	"fmt"
	"sort"
	"strings"
)

// Lang is a catalog language.
type Lang string

// The catalog's languages; ZH is the default.
const (
	ZH Lang = "zh-CN"
	EN Lang = "en"
)

// Langs lists the catalog's languages, the default first.
var Langs = []Lang{ZH, EN}

// Message is one catalog entry in both languages.
type Message struct {
	ZH, EN string
}

// Normalize returns the catalog language that s names ("en", "en-US" → en; anything else → zh-CN).
func Normalize(s string) string {
	if l := strings.ToLower(strings.TrimSpace(s)); l == "en" || strings.HasPrefix(l, "en-") {
		return string(EN)
	}
	return string(ZH)
}

// Has reports whether key is in the catalog.
func Has(key string) bool {
	_, ok := catalog[key]
	return ok
}

// Keys returns every catalog key, sorted.
func Keys() []string {
	keys := make([]string, 0, len(catalog))
	for k := range catalog {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Lookup returns the text of key in lang and whether key exists in the catalog.
func Lookup(lang Lang, key string) (string, bool) {
	m, ok := catalog[key]
	if !ok {
		return "", false
	}
	if lang == EN {
		return m.EN, true
	}
	return m.ZH, true
}

// T returns the text of key in lang, formatted with args (fmt verbs) when there are any. A missing key yields
// "!key!" so it shows on the page and fails the catalog test.
func T(lang Lang, key string, args ...any) string {
	s, ok := Lookup(lang, key)
	if !ok {
		return "!" + key + "!"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// JSPrefix marks the keys console.js uses; JS passes them to the page.
const JSPrefix = "js."

// JS returns the keys with JSPrefix (prefix removed) and their text in lang, for the page's script dictionary.
func JS(lang Lang) map[string]string {
	out := make(map[string]string)
	for k := range catalog {
		if name, ok := strings.CutPrefix(k, JSPrefix); ok {
			out[name], _ = Lookup(lang, k)
		}
	}
	return out
}

// holidayKeys maps the Chinese holiday names of package calendar to catalog keys.
var holidayKeys = map[string]string{
	"元旦":      "holiday.newyear",
	"春节":      "holiday.spring",
	"清明节":     "holiday.qingming",
	"劳动节":     "holiday.labour",
	"端午节":     "holiday.dragonboat",
	"中秋节":     "holiday.midautumn",
	"国庆节":     "holiday.national",
	"国庆节、中秋节": "holiday.national_midautumn",
}

// HolidayKeys returns the catalog keys of holiday names, for tests.
func HolidayKeys() []string {
	out := make([]string, 0, len(holidayKeys))
	for _, k := range holidayKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Holiday returns the name of a statutory holiday (as package calendar spells it) in lang; unknown names are
// returned as they are.
func Holiday(lang Lang, name string) string {
	if k, ok := holidayKeys[name]; ok {
		return T(lang, k)
	}
	return name
}

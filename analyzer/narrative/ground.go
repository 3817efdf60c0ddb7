package narrative

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Fact is one number computed by Go, with the exact form in which it may appear in text.
type Fact struct {
	ID        string  `json:"id"`
	Label     string  `json:"label"` // what it measures, written by Go code (e.g. "近30天空闲天数")
	Value     float64 `json:"-"`     // raw value, for templates and sorting; never sent to the model
	Unit      string  `json:"unit,omitempty"`
	Display   string  `json:"display"`              // exactly as it must appear in Chinese text: "37.5%", "12台", "2026年3月", "1.2万"
	DisplayEN string  `json:"display_en,omitempty"` // English form; Display when empty
}

// Shown returns the display form for lang.
func (f Fact) Shown(lang Lang) string {
	if lang == EN && f.DisplayEN != "" {
		return f.DisplayEN
	}
	return f.Display
}

// Lang is an output language.
type Lang string

// Languages.
const (
	ZH Lang = "zh"
	EN Lang = "en"
)

// DefaultMaxRunes bounds a section's text when Section.MaxRunes is 0.
const DefaultMaxRunes = 800

// Ground checks a text against the facts it cites and returns the reasons it must be rejected (none: the text
// is grounded). Rules:
//   - the text is not empty and has at most maxRunes characters;
//   - every cited id names one of facts;
//   - every number in the text (see ExtractNumbers) equals a number in the Display, DisplayEN or Label of a
//     cited fact, parsed the same way and of the same kind (a percent only matches a percent, percentage
//     points only percentage points); values compare after normalisation (1.2万 = 12000, ３７．５％ = 37.5%,
//     百分之三十七点五 = 37.5%), signs are ignored;
//   - a date matches when each part it states (year, month, day) equals that part of a cited date, so "3月"
//     is allowed by a cited "2026年3月5日"; a bare year number is allowed by a cited date in that year;
//   - names (system, host, department names as sent to the model) are removed before numbers are read, so
//     digits inside them ("第3中学", "OA2.0") are not numbers.
func Ground(text string, cited []string, facts []Fact, names []string, maxRunes int) []string {
	var reasons []string
	if strings.TrimSpace(text) == "" {
		return []string{"text is empty"}
	}
	if maxRunes <= 0 {
		maxRunes = DefaultMaxRunes
	}
	if n := utf8.RuneCountInString(text); n > maxRunes {
		reasons = append(reasons, fmt.Sprintf("text too long: %d characters, limit %d", n, maxRunes))
	}
	byID := map[string]Fact{}
	for _, f := range facts {
		byID[f.ID] = f
	}
	var allowed []Number
	citedSet := map[string]bool{}
	for _, id := range cited {
		f, ok := byID[id]
		if !ok {
			reasons = append(reasons, fmt.Sprintf("unknown fact id %q", id))
			continue
		}
		citedSet[id] = true
		allowed = append(allowed, factNumbers(f)...)
	}
	for _, n := range ExtractNumbers(stripNames(text, names)) {
		if numberAllowed(n, allowed) {
			continue
		}
		r := fmt.Sprintf("number %q (%s) is not the value of any cited fact", n.Text, n.Kind)
		for _, f := range facts {
			if !citedSet[f.ID] && numberAllowed(n, factNumbers(f)) {
				r = fmt.Sprintf("number %q (%s) belongs to fact %s, which is not cited in fact_ids", n.Text, n.Kind, f.ID)
				break
			}
		}
		reasons = append(reasons, r)
	}
	return reasons
}

// factNumbers parses a fact's display forms and label literally (list-marker and ordinal rules do not apply
// to a value).
func factNumbers(f Fact) []Number {
	var out []Number
	for _, s := range []string{f.Display, f.DisplayEN, f.Label} {
		if s == "" {
			continue
		}
		sc := scanner{r: foldWidth([]rune(s)), literal: true}
		sc.run()
		out = append(out, sc.out...)
	}
	return out
}

func stripNames(text string, names []string) string {
	ns := append([]string(nil), names...)
	sort.Slice(ns, func(i, j int) bool { return len(ns[i]) > len(ns[j]) })
	for _, n := range ns {
		if strings.TrimSpace(n) != "" {
			text = strings.ReplaceAll(text, n, "〈〉")
		}
	}
	return text
}

func numberAllowed(n Number, allowed []Number) bool {
	for _, a := range allowed {
		switch {
		case n.Kind == NumDate && a.Kind == NumDate:
			if n.Year == 0 && n.Month == 0 && n.Day == 0 {
				continue
			}
			if (n.Year == 0 || n.Year == a.Year) && (n.Month == 0 || n.Month == a.Month) && (n.Day == 0 || n.Day == a.Day) {
				return true
			}
		case n.Kind == NumPlain && a.Kind == NumDate:
			if a.Year != 0 && n.Value == float64(a.Year) {
				return true
			}
		case n.Kind == NumOrdinal && (a.Kind == NumOrdinal || a.Kind == NumPlain):
			if sameValue(n.Value, a.Value) {
				return true
			}
		case n.Kind == a.Kind && n.Kind != NumDate:
			if sameValue(n.Value, a.Value) {
				return true
			}
		}
	}
	return false
}

func sameValue(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

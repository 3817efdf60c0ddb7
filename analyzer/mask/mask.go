// Package mask removes resident ID numbers, phone numbers and personal names from text before it is shown or sent anywhere.
//
// What is masked:
//   - ID numbers: any run of 15 or more digits, optionally ending in X (18-digit 居民身份证 with check digit,
//     15-digit old cards, and by the same rule bank card numbers), in ASCII or full-width digits.
//   - Mobile numbers: 1[3-9] followed by 9 digits, optionally prefixed by +86/0086/86, with spaces or dashes
//     between digit groups.
//   - Landlines: 0 + 2–3 digit area code, a dash or space (or the code in parentheses), 7–8 digits, optional
//     extension (-123).
//   - Personal names: (a) names the caller knows are persons (passed to New, e.g. fields of Kind person);
//     every occurrence is masked; (b) a heuristic for labelled names such as "姓名：张三", "联系人：李四",
//     "负责人: 王小明" (2–4 Han characters after a person label). Free-standing names that nobody marked are
//     not detected: names are open-ended and a dictionary would mask place and system names too.
//
// Digits are always matched with no digit directly before or after, so "2026年3月5日" or a 12-digit counter is
// left alone. A masked name keeps the surname (张三 → 张*, 欧阳娜娜 → 欧阳**), the usual Chinese
// desensitisation form; numbers are replaced by a bracketed token without digits in Redact, or keep a short
// prefix and suffix in Partial (for operators in the console).
package mask

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Style selects how matched identifiers are replaced.
type Style int

const (
	// Redact replaces a number by a token that contains no digits ("[身份证号]", "[手机号]", "[电话]"); use it
	// for anything that leaves the process (LLM prompts, exports).
	Redact Style = iota
	// Partial keeps a few leading and trailing characters (110101********123X, 138****8000) for operators
	// who need to recognise a record.
	Partial
)

// Tokens used by Redact.
const (
	TokenID    = "[身份证号]"
	TokenPhone = "[手机号]"
	TokenTel   = "[电话]"
)

// Masker masks text; the zero value masks numbers and labelled names only.
type Masker struct {
	names []string // known person names, longest first
	style Style
}

// New returns a Masker that also masks every occurrence of the given person names.
func New(style Style, personNames ...string) *Masker {
	m := &Masker{style: style}
	seen := map[string]bool{}
	for _, n := range personNames {
		n = strings.TrimSpace(n)
		if utf8.RuneCountInString(n) < 2 || seen[n] {
			continue
		}
		seen[n] = true
		m.names = append(m.names, n)
	}
	sort.Slice(m.names, func(i, j int) bool { return len(m.names[i]) > len(m.names[j]) })
	return m
}

// Text masks s with the Redact style and no known names.
func Text(s string) string { return (&Masker{}).Text(s) }

// Text masks ID numbers, phone numbers, known person names and labelled names in s.
func (m *Masker) Text(s string) string {
	if s == "" {
		return s
	}
	for _, n := range m.names {
		s = strings.ReplaceAll(s, n, Name(n))
	}
	s = replaceDigits(s, reMobile, func(x string) string { return m.pick(TokenPhone, maskMobile(x)) })
	s = replaceDigits(s, reID, func(x string) string { return m.pick(TokenID, keepEnds(x, 6, 4)) })
	s = replaceDigits(s, reTel, func(x string) string { return m.pick(TokenTel, keepEnds(x, 4, 2)) })
	s = reLabelled.ReplaceAllStringFunc(s, func(x string) string {
		sub := reLabelled.FindStringSubmatch(x)
		return sub[1] + sub[2] + Name(sub[3])
	})
	return s
}

func (m *Masker) pick(redact, partial string) string {
	if m.style == Partial {
		return partial
	}
	return redact
}

// Name masks a personal name: the surname is kept (two characters for common compound surnames) and the
// rest becomes '*'; a Latin-script name keeps its first letter. A one-character input becomes "*".
func Name(name string) string {
	name = strings.TrimSpace(name)
	r := []rune(name)
	if len(r) == 0 {
		return ""
	}
	if len(r) == 1 {
		return "*"
	}
	keep := 1
	if len(r) >= 3 && compoundSurnames[string(r[:2])] {
		keep = 2
	}
	if r[0] < 0x80 { // Latin script: keep the initial only
		keep = 1
	}
	var b strings.Builder
	b.WriteString(string(r[:keep]))
	for _, c := range r[keep:] {
		if unicode.IsSpace(c) {
			b.WriteRune(c)
			continue
		}
		b.WriteByte('*')
	}
	return b.String()
}

var compoundSurnames = map[string]bool{
	"欧阳": true, "司马": true, "诸葛": true, "上官": true, "东方": true, "皇甫": true, "尉迟": true,
	"公孙": true, "慕容": true, "令狐": true, "司徒": true, "夏侯": true, "长孙": true, "宇文": true,
	"轩辕": true, "端木": true, "百里": true, "呼延": true, "西门": true, "南宫": true,
}

var (
	reID     = regexp.MustCompile(`[0-9]{15,}[Xx]?`)
	reMobile = regexp.MustCompile(`(?:(?:\+|00)?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]){8}`)
	reTel    = regexp.MustCompile(`(?:\(0[0-9]{2,3}\) ?|0[0-9]{2,3}[ \-])[0-9]{7,8}(?:-[0-9]{1,5})?`)
	// reLabelled matches "label：name" for person labels; group 3 is the name.
	reLabelled = regexp.MustCompile(`(姓名|联系人|负责人|责任人|管理员|经办人|申请人|联系人员|运维人员|值班人员?|操作员|审批人|填报人)(\s*[:：]\s*)(\p{Han}{2,4})`)
)

// replaceDigits runs re over a copy of s with full-width digits and signs folded to ASCII, keeps only
// matches with no digit directly before or after, and replaces them in the original string.
func replaceDigits(s string, re *regexp.Regexp, repl func(string) string) string {
	folded, offs := fold(s)
	locs := re.FindAllStringIndex(folded, -1)
	if len(locs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0 // in original bytes
	for _, l := range locs {
		if l[0] > 0 {
			if r, _ := utf8.DecodeLastRuneInString(folded[:l[0]]); isASCIIDigit(r) {
				continue
			}
		}
		if l[1] < len(folded) {
			if r, _ := utf8.DecodeRuneInString(folded[l[1]:]); isASCIIDigit(r) || r == 'X' || r == 'x' {
				continue
			}
		}
		start, end := offs[l[0]], offs[l[1]]
		b.WriteString(s[last:start])
		b.WriteString(repl(folded[l[0]:l[1]]))
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// fold maps full-width digits, X, plus, minus, space and parentheses to ASCII; offs maps each byte offset of
// the folded string (at rune starts, and its end) to the byte offset in s.
func fold(s string) (string, []int) {
	var b strings.Builder
	offs := make([]int, 0, len(s)+1)
	for i, r := range s {
		switch {
		case r >= '０' && r <= '９':
			r = '0' + (r - '０')
		case r == 'Ｘ':
			r = 'X'
		case r == 'ｘ':
			r = 'x'
		case r == '＋':
			r = '+'
		case r == '－' || r == '—' || r == '‐' || r == '‑':
			r = '-'
		case r == '（':
			r = '('
		case r == '）':
			r = ')'
		case r == '\u3000' || r == '\u00a0':
			r = ' '
		}
		n := utf8.RuneLen(r)
		for k := 0; k < n; k++ {
			offs = append(offs, i)
		}
		b.WriteRune(r)
	}
	offs = append(offs, len(s))
	return b.String(), offs
}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

func keepEnds(x string, head, tail int) string {
	r := []rune(x)
	if len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}

func maskMobile(x string) string {
	var digits []rune
	for _, r := range x {
		if isASCIIDigit(r) {
			digits = append(digits, r)
		}
	}
	d := digits[len(digits)-11:]
	return string(d[:3]) + "****" + string(d[7:])
}

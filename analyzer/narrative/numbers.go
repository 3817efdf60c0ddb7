package narrative

import (
	"math"
	"strconv"
	"strings"
	"unicode"
)

// NumKind tells how a number found in text is to be compared.
type NumKind int

const (
	// NumPlain is a count, amount or measure ("12台", "3.5 GiB", "1.2万", "三十七天").
	NumPlain NumKind = iota
	// NumPercent is a percentage ("37.5%", "百分之三十七点五", "37.5 percent").
	NumPercent
	// NumPercentPoint is a difference in percentage points ("3个百分点", "3 percentage points").
	NumPercentPoint
	// NumDate is a calendar date or part of one ("2026年3月5日", "2026-03", "3月", "March 2026").
	NumDate
	// NumOrdinal is a rank written with 第 ("第3", "排名第三").
	NumOrdinal
)

func (k NumKind) String() string {
	switch k {
	case NumPercent:
		return "percent"
	case NumPercentPoint:
		return "percentage points"
	case NumDate:
		return "date"
	case NumOrdinal:
		return "ordinal"
	default:
		return "number"
	}
}

// Number is one number found in text. Value is the absolute, normalised value (1.2万 → 12000, 37.5% →
// 37.5); signs are dropped because direction is carried by words (上升/下降). Dates carry Year, Month and Day
// (0 when absent) instead of a Value.
type Number struct {
	Text             string
	Kind             NumKind
	Value            float64
	Year, Month, Day int
	Pos              int // rune offset in the text
}

// ExtractNumbers returns every number in text, in order. It reads ASCII and full-width digits, decimals,
// thousands separators, 万/亿/千 and thousand/million/billion multipliers, percent signs, 百分之, 个百分点,
// fractions (三分之一), dates (2026年3月5日, 2026-03-05, 2026/3/5, 3月5日, 二〇二六年, March 2026), Chinese
// numerals (三十七, 一百二十, 两台, 十五天, 三万五千) and English number words (two … ninety).
//
// Not numbers (deliberately skipped):
//   - idioms and words that contain numerals: 一些, 一般, 统一, 进一步, 一体化, 唯一, 万一, 一定, 十分 (not
//     十分钟), 千万 (must), 百姓, 第三方, 千方百计, … (see idioms);
//   - a lone 一 ("一个", "一是", "一方面", "之一", "一次") unless followed by a counting unit such as 台, 天,
//     个月, 年, 套, 个系统 — "一" is the Chinese article, so only "一台"-style counts are checked;
//   - lone unit characters with no digit (百, 千, 万, 亿 in 百姓, 千万, 万物);
//   - structural ordinals and list markers: 第一 … 第十 in Chinese numerals (but not after 排名/位列/居/排,
//     where they are ranks and checked as NumOrdinal), 一是/二是, （一）, 一、, and "1." / "1、" / "(1)" at the
//     start of a line;
//   - identifiers: digits glued to a preceding Latin letter (P95, IPv4, web-01, v2), IP addresses and
//     dotted versions (10.0.0.5, 2.0.1);
//   - the English word "one" (as in "one of", "no one").
func ExtractNumbers(text string) []Number {
	s := scanner{r: foldWidth([]rune(text))}
	s.run()
	return s.out
}

type scanner struct {
	r       []rune
	out     []Number
	literal bool // a fact's display: no list markers, structural ordinals or article 一
}

func foldWidth(r []rune) []rune {
	out := make([]rune, len(r))
	for i, c := range r {
		switch {
		case c >= '０' && c <= '９':
			c = '0' + (c - '０')
		case c == '．':
			c = '.'
		case c == '％':
			c = '%'
		case c == '／':
			c = '/'
		case c == '－' || c == '–' || c == '—':
			c = '-'
		case c == '（':
			c = '('
		case c == '）':
			c = ')'
		case c == '\u3000':
			c = ' '
		case c >= 'Ａ' && c <= 'Ｚ':
			c = 'A' + (c - 'Ａ')
		case c >= 'ａ' && c <= 'ｚ':
			c = 'a' + (c - 'ａ')
		}
		out[i] = c
	}
	return out
}

func isDigit(c rune) bool   { return c >= '0' && c <= '9' }
func isLatin(c rune) bool   { return c < 0x80 && unicode.IsLetter(c) }
func isCNDigit(c rune) bool { _, ok := cnDigits[c]; return ok }
func isCNUnit(c rune) bool  { _, ok := cnUnits[c]; return ok }
func isCNNum(c rune) bool   { return isCNDigit(c) || isCNUnit(c) || c == '点' }

var cnDigits = map[rune]int{'零': 0, '〇': 0, '○': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
var cnUnits = map[rune]float64{'十': 10, '百': 100, '千': 1000, '万': 1e4, '亿': 1e8}

// idioms are words containing numerals that are not numbers. An idiom is only recognised when the rune before
// it is not a numeral or digit (so 三十分钟 is thirty minutes, not 三 + 十分).
var idioms = []string{
	"一些", "一般", "统一", "进一步", "一体化", "唯一", "万一", "一定", "一直", "一律", "一致", "一起", "一旦",
	"一并", "一同", "一样", "一切", "一方面", "另一方面", "一向", "一贯", "一度", "一再", "逐一", "单一", "同一",
	"之一", "一线", "一流", "一把手", "一站式", "一网通办", "一网统管", "一张网", "一朵云", "一盘棋", "一揽子",
	"一次性", "一刀切", "一概", "一经", "一味", "一则", "一带", "一举", "一手", "专一", "不一", "均一",
	"十分", "十足", "万分", "千万", "万万", "百姓", "万物", "千方百计", "万无一失", "一五一十", "三令五申",
	"四面八方", "五花八门", "七嘴八舌", "九牛一毛", "一心一意", "三心二意", "举一反三", "接二连三", "独一无二",
	"不二", "三三两两", "两者", "两方面", "两个方面", "两端", "双方", "第三方", "三方", "零星", "零散", "零碎",
	"零售", "归零", "清零", "百度", "千兆", "万兆", "百兆", "四舍五入", "五湖四海", "一览", "一体", "一环",
	"七一", "八一", "五一", "十一五", "十二五", "十三五", "十四五", "十五五", "两会", "三农", "五险一金",
	"一级", "二级", "三级", "等保二级", "等保三级", "一类", "二类", "三类",
}

var idiomsByFirst = func() map[rune][]string {
	m := map[rune][]string{}
	for _, w := range idioms {
		r := []rune(w)[0]
		m[r] = append(m[r], w)
	}
	return m
}()

// idiomNotBefore lists runes that, following an idiom, make it a number after all (十分钟 = ten minutes).
var idiomNotBefore = map[string]string{"十分": "钟之", "千万": "元台个条次", "万万": "元", "一级": "", "二级": "", "三级": ""}

// loneOneUnits are the counting units after which a lone 一 is a number ("一台" = 1 server).
var loneOneUnits = []string{"台", "天", "日", "周", "个月", "月", "年", "小时", "分钟", "套", "个系统", "个部门",
	"个单位", "个乡镇", "个街道", "个业务系统", "核", "块", "%", "成", "倍", "项系统", "GB", "GiB", "TB", "TiB"}

var monthsEN = map[string]int{
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
	"september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
	"nov": 11, "dec": 12,
}

var wordsEN = map[string]float64{
	"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
	"eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
	"seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12, "zero": 0,
	"twice": 2, "half": 0.5, "quarter": 0.25,
}

func (s *scanner) at(i int) rune {
	if i < 0 || i >= len(s.r) {
		return 0
	}
	return s.r[i]
}

func (s *scanner) hasPrefix(i int, p string) bool {
	pr := []rune(p)
	if i < 0 || i+len(pr) > len(s.r) {
		return false
	}
	for k, c := range pr {
		if s.r[i+k] != c {
			return false
		}
	}
	return true
}

func (s *scanner) emit(start, end int, n Number) {
	n.Text = string(s.r[start:end])
	n.Pos = start
	s.out = append(s.out, n)
}

func (s *scanner) run() {
	i := 0
	for i < len(s.r) {
		c := s.r[i]
		if j, ok := s.idiom(i); ok {
			i = j
			continue
		}
		switch {
		case isDigit(c):
			i = s.arabic(i)
		case isCNNum(c) && c != '点':
			i = s.chinese(i)
		case isLatin(c) && !isLatin(s.at(i-1)):
			i = s.english(i)
		default:
			i++
		}
	}
}

func (s *scanner) idiom(i int) (int, bool) {
	prev := s.at(i - 1)
	if isDigit(prev) || isCNNum(prev) {
		return 0, false
	}
	best := ""
	for _, w := range idiomsByFirst[s.r[i]] {
		if len(w) > len(best) && s.hasPrefix(i, w) {
			best = w
		}
	}
	if best == "" {
		return 0, false
	}
	end := i + len([]rune(best))
	if nb, ok := idiomNotBefore[best]; ok && nb != "" && strings.ContainsRune(nb, s.at(end)) {
		return 0, false
	}
	if nb, ok := idiomNotBefore[best]; ok && nb == "" && (isDigit(s.at(end)) || isCNNum(s.at(end))) {
		return 0, false
	}
	return end, true
}

// lineStart reports whether only spaces and list punctuation stand between the start of the line and i.
func (s *scanner) lineStart(i int) bool {
	for k := i - 1; k >= 0; k-- {
		switch s.r[k] {
		case '\n':
			return true
		case ' ', '\t', '(', '#', '*', '-', '>':
			continue
		default:
			return false
		}
	}
	return true
}

// skipIdentifier consumes letters, digits, '.', '-', '_' from i.
func (s *scanner) skipIdentifier(i int) int {
	for i < len(s.r) && (isLatin(s.r[i]) || isDigit(s.r[i]) || ((s.r[i] == '.' || s.r[i] == '-' || s.r[i] == '_') && (isDigit(s.at(i+1)) || isLatin(s.at(i+1))))) {
		i++
	}
	return i
}

// digitsAt reads an ASCII digit run starting at i.
func (s *scanner) digitsAt(i int) (string, int) {
	j := i
	for j < len(s.r) && isDigit(s.r[j]) {
		j++
	}
	return string(s.r[i:j]), j
}

func (s *scanner) spaces(i int) int {
	for i < len(s.r) && s.r[i] == ' ' {
		i++
	}
	return i
}

func (s *scanner) arabic(start int) int {
	// Identifiers: P95, web-01, IPv4.
	if p := s.at(start - 1); isLatin(p) || ((p == '-' || p == '_') && isLatin(s.at(start-2))) {
		return s.skipIdentifier(start)
	}
	intPart, i := s.digitsAt(start)
	// IP addresses and dotted versions.
	if s.at(i) == '.' && isDigit(s.at(i+1)) {
		_, j := s.digitsAt(i + 1)
		if s.at(j) == '.' && isDigit(s.at(j+1)) {
			return s.skipIdentifier(start)
		}
	}
	// Dates: 2026-03-05, 2026/3/5, 2026-03.
	if len(intPart) == 4 && (s.at(i) == '-' || s.at(i) == '/') && isDigit(s.at(i+1)) {
		sep := s.at(i)
		m, j := s.digitsAt(i + 1)
		if len(m) <= 2 {
			y, _ := strconv.Atoi(intPart)
			mo, _ := strconv.Atoi(m)
			if mo >= 1 && mo <= 12 {
				n := Number{Kind: NumDate, Year: y, Month: mo}
				if s.at(j) == sep && isDigit(s.at(j+1)) {
					d, k := s.digitsAt(j + 1)
					if len(d) <= 2 {
						n.Day, _ = strconv.Atoi(d)
						j = k
					}
				}
				s.emit(start, j, n)
				return j
			}
		}
	}
	// List markers at line start: "1." "1、" "(1)".
	if !s.literal && s.lineStart(start) && len(intPart) <= 2 {
		if (s.at(i) == '.' && !isDigit(s.at(i+1))) || s.at(i) == '、' || (s.at(start-1) == '(' && s.at(i) == ')') {
			return i + 1
		}
	}
	// Thousands separators: 12,345,678.
	num := intPart
	for s.at(i) == ',' && isDigit(s.at(i+1)) {
		g, j := s.digitsAt(i + 1)
		if len(g) != 3 {
			break
		}
		num += g
		i = j
	}
	if s.at(i) == '.' && isDigit(s.at(i+1)) {
		frac, j := s.digitsAt(i + 1)
		num += "." + frac
		i = j
	}
	v, _ := strconv.ParseFloat(num, 64)
	return s.finish(start, i, v, len(intPart) == 4 && !strings.Contains(num, "."), false)
}

// finish handles what follows a number: date units, multipliers, percent and percentage points.
func (s *scanner) finish(start, i int, v float64, yearLike bool, chinese bool) int {
	j := s.spaces(i)
	isInt := v == math.Trunc(v)
	ordinal := s.at(start-1) == '第'
	// Chinese dates.
	if !ordinal && s.at(j) == '年' && yearLike && v >= 1900 && v <= 2199 {
		n := Number{Kind: NumDate, Year: int(v)}
		k := j + 1
		if mo, d, e, ok := s.monthDay(s.spaces(k)); ok {
			n.Month, n.Day, k = mo, d, e
		}
		s.emit(start, k, n)
		return k
	}
	if !ordinal && s.at(j) == '月' && isInt && v >= 1 && v <= 12 && s.at(start-1) != '个' {
		if mo, d, e, ok := s.monthDay(start); ok {
			s.emit(start, e, Number{Kind: NumDate, Month: mo, Day: d})
			return e
		}
	}
	// Multipliers.
	switch {
	case s.hasPrefix(j, "万亿"):
		v *= 1e12
		i = j + 2
	case s.at(j) == '亿':
		v *= 1e8
		i = j + 1
	case s.at(j) == '万':
		v *= 1e4
		i = j + 1
	case !chinese && s.at(j) == '千' && !s.hasPrefix(j, "千瓦") && !s.hasPrefix(j, "千兆") && !s.hasPrefix(j, "千克") && !s.hasPrefix(j, "千米"):
		v *= 1e3
		i = j + 1
	default:
		for w, m := range map[string]float64{"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12} {
			if s.hasPrefixFold(j, w) && !isLatin(s.at(j+len(w))) {
				v *= m
				i = j + len(w)
			}
		}
	}
	j = s.spaces(i)
	kind := NumPlain
	switch {
	case s.at(j) == '%':
		kind, i = NumPercent, j+1
	case s.hasPrefix(j, "个百分点"):
		kind, i = NumPercentPoint, j+4
	case s.hasPrefix(j, "百分点"):
		kind, i = NumPercentPoint, j+3
	case s.hasPrefixFold(j, "percentage point"):
		kind, i = NumPercentPoint, j+len("percentage point")
	case s.hasPrefixFold(j, "pp") && !isLatin(s.at(j+2)):
		kind, i = NumPercentPoint, j+2
	case s.hasPrefixFold(j, "percent") && !isLatin(s.at(j+7)):
		kind, i = NumPercent, j+7
	case s.hasPrefix(j, "分之") && (isCNNum(s.at(j+2)) || isDigit(s.at(j+2))):
		num, e, ok := s.anyNumber(j + 2)
		if ok && v != 0 {
			s.emit(start, e, Number{Kind: NumPlain, Value: num / v})
			return e
		}
	}
	if ordinal {
		kind = NumOrdinal
		start--
	}
	s.emit(start, i, Number{Kind: kind, Value: math.Abs(v)})
	return i
}

// anyNumber parses an arabic or Chinese number (no units) at i.
func (s *scanner) anyNumber(i int) (float64, int, bool) {
	if isDigit(s.at(i)) {
		d, j := s.digitsAt(i)
		if s.at(j) == '.' && isDigit(s.at(j+1)) {
			f, k := s.digitsAt(j + 1)
			d += "." + f
			j = k
		}
		v, err := strconv.ParseFloat(d, 64)
		return v, j, err == nil
	}
	j := i
	for j < len(s.r) && isCNNum(s.r[j]) {
		j++
	}
	if j == i {
		return 0, i, false
	}
	v, ok := parseChinese(s.r[i:j])
	return v, j, ok
}

// monthDay parses "M月" with an optional "D日/号" at i.
func (s *scanner) monthDay(i int) (month, day, end int, ok bool) {
	m, j, ok := s.anyNumber(i)
	if !ok || s.at(s.spaces(j)) != '月' || m < 1 || m > 12 || m != math.Trunc(m) {
		return 0, 0, 0, false
	}
	j = s.spaces(j) + 1
	month, end = int(m), j
	if d, k, ok := s.anyNumber(s.spaces(j)); ok {
		k = s.spaces(k)
		if (s.at(k) == '日' || s.at(k) == '号') && d >= 1 && d <= 31 && d == math.Trunc(d) {
			day, end = int(d), k+1
		}
	}
	return month, day, end, true
}

func (s *scanner) hasPrefixFold(i int, p string) bool {
	if i+len(p) > len(s.r) {
		return false
	}
	return strings.EqualFold(string(s.r[i:i+len(p)]), p)
}

func (s *scanner) chinese(start int) int {
	// 百分之 N → percent.
	if s.hasPrefix(start, "百分之") {
		if v, e, ok := s.anyNumber(start + 3); ok {
			s.emit(start, e, Number{Kind: NumPercent, Value: v})
			return e
		}
	}
	j := start
	for j < len(s.r) && (isCNNum(s.r[j]) && (s.r[j] != '点' || isCNDigit(s.at(j+1)))) {
		j++
	}
	run := s.r[start:j]
	hasDigit := false
	for _, c := range run {
		if isCNDigit(c) {
			hasDigit = true
		}
	}
	if !hasDigit && !(len(run) >= 1 && run[0] == '十') {
		return j // lone 百/千/万/亿: not a number
	}
	prev, next := s.at(start-1), s.at(j)
	// Structural ordinals: 第一 … 第十, unless a rank (排名第三).
	if prev == '第' && !s.literal {
		v, _ := parseChinese(run)
		rank := false
		for _, w := range []string{"排名", "位列", "居", "排", "列", "名列"} {
			if s.hasPrefix(start-1-len([]rune(w)), w) {
				rank = true
			}
		}
		if v <= 10 && !rank {
			return j
		}
	}
	// List markers: 一是, （一）, 一、 at line start.
	if s.literal {
		v, ok := parseChinese(run)
		if !ok {
			return j
		}
		return s.finish(start, j, v, digitByDigit(run) && len(run) == 4, true)
	}
	if next == '是' && len(run) == 1 {
		return j + 1
	}
	if prev == '(' && next == ')' {
		return j + 1
	}
	if next == '、' && s.lineStart(start) {
		return j + 1
	}
	// Lone 一: the article, unless a counting unit follows.
	if len(run) == 1 && run[0] == '一' {
		k := s.spaces(j)
		counted := false
		for _, u := range loneOneUnits {
			if s.hasPrefix(k, u) {
				counted = true
				break
			}
		}
		if !counted && !s.hasPrefix(k, "个百分点") && !s.hasPrefix(k, "分之") {
			return j
		}
	}
	v, ok := parseChinese(run)
	if !ok {
		return j
	}
	return s.finish(start, j, v, digitByDigit(run) && len(run) == 4, true)
}

// digitByDigit reports whether run is written digit by digit (二〇二六) with no unit characters.
func digitByDigit(run []rune) bool {
	for _, c := range run {
		if !isCNDigit(c) {
			return false
		}
	}
	return true
}

// parseChinese converts a Chinese numeral (三十七, 一百零五, 三万五千, 二〇二六, 三十七点五) to its value.
func parseChinese(run []rune) (float64, bool) {
	if len(run) == 0 {
		return 0, false
	}
	intRun, fracRun := run, []rune(nil)
	for k, c := range run {
		if c == '点' {
			intRun, fracRun = run[:k], run[k+1:]
			break
		}
	}
	var v float64
	if len(intRun) > 1 && digitByDigit(intRun) {
		for _, c := range intRun {
			v = v*10 + float64(cnDigits[c])
		}
	} else {
		var total, section, digit float64
		for k, c := range intRun {
			if d, ok := cnDigits[c]; ok {
				digit = float64(d)
				continue
			}
			u := cnUnits[c]
			switch {
			case u >= 1e4:
				section += digit
				if u == 1e8 {
					total = (total + section) * u
				} else {
					total += section * u
				}
				section, digit = 0, 0
			default:
				if digit == 0 && (k == 0 || c == '十') {
					digit = 1
				}
				section += digit * u
				digit = 0
			}
		}
		v = total + section + digit
	}
	if len(fracRun) > 0 {
		scale := 0.1
		for _, c := range fracRun {
			d, ok := cnDigits[c]
			if !ok {
				return 0, false
			}
			v += float64(d) * scale
			scale /= 10
		}
		v = roundTo(v, len(fracRun))
	}
	return v, true
}

func roundTo(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func (s *scanner) english(start int) int {
	j := start
	for j < len(s.r) && isLatin(s.r[j]) {
		j++
	}
	word := strings.ToLower(string(s.r[start:j]))
	if mo, ok := monthsEN[word]; ok && (len(word) > 3 || s.at(j) == '.' || s.at(j) == ' ') {
		// "March 2026", "March 5, 2026", "March 5".
		n := Number{Kind: NumDate, Month: mo}
		end := j
		k := s.spaces(j)
		if word == "may" || word == "mar" || word == "dec" || word == "jan" {
			// ambiguous short words: only a date when a number follows.
			if !isDigit(s.at(k)) {
				return j
			}
		}
		if d, e := s.digitsAt(k); d != "" {
			v, _ := strconv.Atoi(d)
			if len(d) == 4 {
				n.Year, end = v, e
			} else if v >= 1 && v <= 31 {
				n.Day, end = v, e
				k2 := s.spaces(e)
				if s.at(k2) == ',' {
					k2 = s.spaces(k2 + 1)
				}
				if y, e2 := s.digitsAt(k2); len(y) == 4 {
					n.Year, _ = strconv.Atoi(y)
					end = e2
				}
			}
		}
		// "5 March 2026": merge with a preceding day number.
		if len(s.out) > 0 {
			last := &s.out[len(s.out)-1]
			if last.Kind == NumPlain && last.Pos+len([]rune(last.Text)) == start-1 && last.Value >= 1 && last.Value <= 31 && n.Day == 0 {
				n.Day = int(last.Value)
				start = last.Pos
				s.out = s.out[:len(s.out)-1]
			}
		}
		s.emit(start, end, n)
		return end
	}
	if v, ok := wordsEN[word]; ok {
		// "twenty-five"
		if s.at(j) == '-' {
			k := j + 1
			for k < len(s.r) && isLatin(s.r[k]) {
				k++
			}
			if u, ok := wordsEN[strings.ToLower(string(s.r[j+1:k]))]; ok && u < 10 {
				v += u
				j = k
			}
		}
		if v == 0.5 || v == 0.25 || word == "twice" {
			return j // "half", "quarter", "twice" read as words
		}
		return s.finish(start, j, v, false, false)
	}
	return j
}

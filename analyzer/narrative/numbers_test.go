package narrative

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// render prints numbers compactly: "12", "37.5%", "3pp", "d2026-3-5", "#3".
func render(ns []Number) string {
	var parts []string
	for _, n := range ns {
		switch n.Kind {
		case NumDate:
			parts = append(parts, fmt.Sprintf("d%d-%d-%d", n.Year, n.Month, n.Day))
		case NumPercent:
			parts = append(parts, fmt.Sprintf("%g%%", n.Value))
		case NumPercentPoint:
			parts = append(parts, fmt.Sprintf("%gpp", n.Value))
		case NumOrdinal:
			parts = append(parts, fmt.Sprintf("#%g", n.Value))
		default:
			parts = append(parts, fmt.Sprintf("%g", n.Value))
		}
	}
	return strings.Join(parts, " ")
}

func TestExtractNumbers(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := render(ExtractNumbers(in)); got != want {
			t.Errorf("ExtractNumbers(%q) = %q, want %q", in, got, want)
		}
	}
	// ASCII and full-width digits, decimals, separators, multipliers.
	f("共12台服务器", "12")
	f("共１２台，占３７．５％", "12 37.5%")
	f("CPU 37.5 %", "37.5%")
	f("存储12,345 GB", "12345")
	f("12，345", "12 345") // full-width comma is a clause separator
	f("约1.2万条", "12000")
	f("约１．２万", "12000")
	f("3亿元", "3e+08")
	f("1.5万亿", "1.5e+12")
	f("上升3个百分点", "3pp")
	f("上升3.5百分点", "3.5pp")
	f("下降-2.5%", "2.5%")
	f("3-5台", "3 5")
	f("5MB", "5")
	f("3千台", "3000")
	f("10千瓦", "10")
	// Dates.
	f("2026年3月5日", "d2026-3-5")
	f("2026年3月", "d2026-3-0")
	f("2026 年 3 月", "d2026-3-0")
	f("2026年度", "d2026-0-0")
	f("2026-03-05至2026/3/31", "d2026-3-5 d2026-3-31")
	f("2026-03", "d2026-3-0")
	f("3月5日", "d0-3-5")
	f("3月", "d0-3-0")
	f("3号", "3")
	f("3个月", "3")
	f("三个月", "3")
	f("二〇二六年三月", "d2026-3-0")
	f("二零二六年", "d2026-0-0")
	f("十二月", "d0-12-0")
	f("13月", "13")
	f("3年", "3")
	f("March 2026", "d2026-3-0")
	f("on 5 March 2026", "d2026-3-5")
	f("March 5, 2026", "d2026-3-5")
	f("in May the", "")
	f("May 2026", "d2026-5-0")
	// Chinese numerals.
	f("三十七台", "37")
	f("一百二十天", "120")
	f("一百零五", "105")
	f("两台", "2")
	f("十五天", "15")
	f("十天", "10")
	f("三万五千", "35000")
	f("一亿二千万", "1.2e+08")
	f("三十七点五", "37.5")
	f("百分之三十七点五", "37.5%")
	f("百分之37.5", "37.5%")
	f("三分之一", "0.3333333333333333")
	f("上升一个百分点", "1pp")
	f("一台服务器", "1")
	f("一年", "1")
	// Not numbers.
	f("一是加强管理，二是统一部署", "")
	f("一方面，另一方面", "")
	f("进一步推进一体化，唯一，万一，一定，一般，一些，一律", "")
	f("十分重要", "")
	f("十分钟", "10")
	f("三十分钟", "30")
	f("千万不要", "")
	f("老百姓", "")
	f("第三方服务", "")
	f("第一，第二", "")
	f("排名第三", "#3")
	f("第3名", "#3")
	f("一个系统", "1") // counted: 个系统 is a counting unit
	f("一个重要问题", "")
	f("其中之一", "")
	f("（一）总体情况", "")
	f("一、总体情况\n二、分部门情况", "")
	f("1. 总体\n2. 部门", "")
	f("(1) 总体", "")
	f("P95 CPU", "")
	f("IPv4 主机 web-01 与 10.0.0.5，版本2.0.1", "")
	f("one of the systems, no one", "")
	f("two systems and twenty-five days", "2 25")
	f("37.5 percent", "37.5%")
	f("3 percentage points", "3pp")
	f("1.2 million", "1.2e+06")
	f("", "")
}

func TestParseChinese(t *testing.T) {
	for in, want := range map[string]float64{
		"三十七": 37, "一百二十": 120, "二〇二六": 2026, "十": 10, "十五": 15, "两": 2, "一万零三": 10003,
		"三十七点五": 37.5, "零点五": 0.5, "九千九百九十九": 9999, "十万": 100000,
	} {
		got, ok := parseChinese([]rune(in))
		if !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("parseChinese(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

func FuzzExtractNumbers(f *testing.F) {
	for _, s := range []string{"共12台，占37.5%", "2026年3月5日", "百分之三十七点五", "一是统一", "1.2万", "１２．５％",
		"第三方", "三分之", "分之一", "2026-", "第", "点五", "March", "5 March", "一亿二千万", "十分钟", "12,", "(一)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range ExtractNumbers(s) {
			if math.IsNaN(n.Value) || n.Value < 0 {
				t.Fatalf("%q: bad value %v", s, n)
			}
			if n.Text == "" {
				t.Fatalf("%q: empty text for %v", s, n)
			}
		}
	})
}

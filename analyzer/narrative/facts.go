package narrative

import (
	"math"
	"strconv"
	"time"
)

// Count is a whole number of things: Count("f1", "僵尸系统数", 12, "个", "systems") displays "12个" and
// "12 systems".
func Count(id, label string, n int, unitZH, unitEN string) Fact {
	s := strconv.Itoa(n)
	return Fact{ID: id, Label: label, Value: float64(n), Unit: unitZH, Display: s + unitZH, DisplayEN: joinEN(s, unitEN)}
}

// Quantity is a measured amount with the given decimals: Quantity("f2", "可释放内存", 3.456, 1, "GiB", "GiB")
// displays "3.5GiB" and "3.5 GiB". The fact's Value is the rounded value, so text and data agree.
func Quantity(id, label string, v float64, decimals int, unitZH, unitEN string) Fact {
	r := roundTo(v, decimals)
	s := strconv.FormatFloat(r, 'f', decimals, 64)
	return Fact{ID: id, Label: label, Value: r, Unit: unitZH, Display: s + unitZH, DisplayEN: joinEN(s, unitEN)}
}

// Percent is a percentage with the given decimals: Percent("f3", "P95 CPU 使用率", 37.46, 1) displays "37.5%".
func Percent(id, label string, v float64, decimals int) Fact {
	r := roundTo(v, decimals)
	s := strconv.FormatFloat(r, 'f', decimals, 64) + "%"
	return Fact{ID: id, Label: label, Value: r, Unit: "%", Display: s, DisplayEN: s}
}

// PercentPoints is a difference of percentages: displays "3.5个百分点" and "3.5 percentage points"; the
// sign is dropped (write 上升/下降 from the sign of Value).
func PercentPoints(id, label string, v float64, decimals int) Fact {
	r := roundTo(v, decimals)
	s := strconv.FormatFloat(math.Abs(r), 'f', decimals, 64)
	return Fact{ID: id, Label: label, Value: r, Unit: "个百分点", Display: s + "个百分点", DisplayEN: s + " percentage points"}
}

// Month is a calendar month: "2026年3月" and "March 2026".
func Month(id, label string, t time.Time) Fact {
	return Fact{ID: id, Label: label, Value: float64(t.Year()*100 + int(t.Month())),
		Display:   strconv.Itoa(t.Year()) + "年" + strconv.Itoa(int(t.Month())) + "月",
		DisplayEN: t.Month().String() + " " + strconv.Itoa(t.Year())}
}

// Day is a calendar day: "2026年3月5日" and "5 March 2026".
func Day(id, label string, t time.Time) Fact {
	return Fact{ID: id, Label: label, Value: float64(t.Year()*10000 + int(t.Month())*100 + t.Day()),
		Display:   strconv.Itoa(t.Year()) + "年" + strconv.Itoa(int(t.Month())) + "月" + strconv.Itoa(t.Day()) + "日",
		DisplayEN: strconv.Itoa(t.Day()) + " " + t.Month().String() + " " + strconv.Itoa(t.Year())}
}

func joinEN(num, unit string) string {
	if unit == "" {
		return num
	}
	return num + " " + unit
}

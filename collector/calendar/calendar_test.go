package calendar

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// referenceDir is an independent copy of the holiday arrangements (NateScarlet/holiday-cn, MIT), kept outside the
// repository; the test cross-checks our own table against it.
func referenceDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ZHIZHI_HOLIDAY_CN_DIR"); d != "" {
		return d
	}
	for _, d := range []string{"../../../shared/reference/holiday-cn", "/work/shared/reference/holiday-cn"} {
		if _, err := os.Stat(filepath.Join(d, "2026.json")); err == nil {
			return d
		}
	}
	t.Fatal("holiday-cn reference not found: set ZHIZHI_HOLIDAY_CN_DIR")
	return ""
}

func TestMatchesReference(t *testing.T) {
	dir := referenceDir(t)
	for _, year := range []int{2024, 2025, 2026} {
		raw, err := os.ReadFile(filepath.Join(dir, filepathYear(year)))
		if err != nil {
			t.Fatal(err)
		}
		var ref struct {
			Year int `json:"year"`
			Days []struct {
				Name     string `json:"name"`
				Date     string `json:"date"`
				IsOffDay bool   `json:"isOffDay"`
			} `json:"days"`
		}
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatal(err)
		}
		if !Known(year) {
			t.Fatalf("year %d not in table", year)
		}
		special := map[string]bool{}
		for _, d := range ref.Days {
			day, err := time.ParseInLocation(time.DateOnly, d.Date, Shanghai)
			if err != nil {
				t.Fatal(err)
			}
			special[d.Date] = true
			kind, name := Classify(day)
			want := AdjustedWorkday
			if d.IsOffDay {
				want = Holiday
			}
			if kind != want || name != d.Name {
				t.Errorf("%s: got %v %q, reference says %v %q", d.Date, kind, name, want, d.Name)
			}
		}
		// Every other day of the year is an ordinary workday or weekend.
		for d := time.Date(year, 1, 1, 12, 0, 0, 0, Shanghai); d.Year() == year; d = d.AddDate(0, 0, 1) {
			if special[d.Format(time.DateOnly)] {
				continue
			}
			want := Workday
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				want = Weekend
			}
			if got := KindOf(d); got != want {
				t.Errorf("%s: got %v, want %v", d.Format(time.DateOnly), got, want)
			}
		}
	}
}

func filepathYear(y int) string { return strconv.Itoa(y) + ".json" }

func TestAddWorkdays(t *testing.T) {
	f := func(from string, n int, want string) {
		t.Helper()
		start, err := time.ParseInLocation("2006-01-02 15:04", from, Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		got := AddWorkdays(start, n)
		if got.Format(time.DateOnly) != want || got.Hour() != 23 {
			t.Errorf("AddWorkdays(%s, %d) = %s, want end of %s", from, n, got, want)
		}
		if n > 0 {
			if c := WorkdaysBetween(start, got); c != n {
				t.Errorf("WorkdaysBetween(%s, %s) = %d, want %d", from, got, c, n)
			}
		}
	}
	f("2026-03-02 10:00", 0, "2026-03-02")
	f("2026-03-02 10:00", 10, "2026-03-16") // two plain weeks
	// Request on Friday 2026-09-18; 20 Sep (Sunday) is an adjusted workday, 25–27 Sep and 1–7 Oct are off,
	// 10 Oct (Saturday) is an adjusted workday.
	f("2026-09-18 09:00", 1, "2026-09-20")
	f("2026-09-18 09:00", 10, "2026-10-09")
	f("2026-09-18 09:00", 11, "2026-10-10")
	// Spring Festival 2026: 15–23 Feb off, 14 and 28 Feb (Saturdays) are workdays.
	f("2026-02-13 09:00", 1, "2026-02-14")
	f("2026-02-13 09:00", 2, "2026-02-24")
	// A date given in UTC is judged by its day in China: 2026-10-09 17:00 UTC is already 10 Oct in Beijing.
	if k := KindOf(time.Date(2026, 10, 9, 17, 0, 0, 0, time.UTC)); k != AdjustedWorkday {
		t.Errorf("2026-10-10 (CST) = %v, want adjusted-workday", k)
	}
	if k := KindOf(time.Date(2023, 10, 2, 12, 0, 0, 0, Shanghai)); k != Workday || Known(2023) {
		t.Errorf("2023 falls back to the plain week: got %v, Known=%v", k, Known(2023))
	}
}

package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"zhizhi/collector/calendar"
	"zhizhi/server/console/i18n"
)

// Day kinds as the heatmap JSON encodes them.
const (
	kindWorkday  = 0
	kindWeekend  = 1
	kindHoliday  = 2
	kindAdjusted = 3
)

func dayKind(k calendar.Kind) int {
	switch k {
	case calendar.Weekend:
		return kindWeekend
	case calendar.Holiday:
		return kindHoliday
	case calendar.AdjustedWorkday:
		return kindAdjusted
	}
	return kindWorkday
}

// calendarJS is one system's year for the calendar heatmap, embedded in the system page.
type calendarJS struct {
	Year     int               `json:"year"`
	Metric   string            `json:"metric"`
	Stat     string            `json:"stat"`
	Days     []string          `json:"days"`
	Kinds    []int             `json:"kinds"`
	Holidays map[string]string `json:"holidays"` // day index → holiday name
	Values   []*float64        `json:"values"`   // null: no data
}

func dayStrings(lang string, days []time.Time) (ds []string, kinds []int, holidays map[string]string) {
	ds, kinds, holidays = make([]string, len(days)), make([]int, len(days)), make(map[string]string)
	for i, d := range days {
		ds[i] = d.In(calendar.Shanghai).Format(time.DateOnly)
		k, name := calendar.Classify(d)
		kinds[i] = dayKind(k)
		if name != "" {
			holidays[strconv.Itoa(i)] = i18n.Holiday(i18n.Lang(lang), name)
		}
	}
	return ds, kinds, holidays
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func newCalendarJS(lang string, ys yearSpec, m Matrix) *calendarJS {
	cal := &calendarJS{Year: ys.Year, Metric: ys.Metric, Stat: ys.Stat}
	cal.Days, cal.Kinds, cal.Holidays = dayStrings(lang, m.Days)
	cal.Values = make([]*float64, len(m.Days))
	if len(m.Rows) > 0 {
		for i, v := range m.Rows[0].Values {
			if i < len(cal.Values) && !math.IsNaN(v) && !math.IsInf(v, 0) {
				r := round1(v)
				cal.Values[i] = &r
			}
		}
	}
	return cal
}

type heatmapBody struct {
	yearSpec
	Years   []int
	Metrics []string
	Stats   []string
}

// heatmapJS tells console.js where to fetch the matrix.
type heatmapJS struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

func (c *Console) handleHeatmap(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	now := c.now()
	ys, err := parseYear(r.URL.Query(), now)
	if err != nil {
		return err
	}
	js := heatmapJS{Kind: "matrix", URL: fmt.Sprintf("/console/api/matrix?year=%d&metric=%s&stat=%s", ys.Year, ys.Metric, ys.Stat)}
	b := heatmapBody{yearSpec: ys, Years: years(now, ys.Year), Metrics: yearMetrics, Stats: yearStats}
	c.render(w, r, pc, http.StatusOK, "heatmap", page{Nav: "heatmap", Title: "heatmap.title", Body: b, JS: js})
	return nil
}

// handleMatrix serves GET /console/api/matrix?year=&metric=&stat= as compact JSON:
//
//	{"year":2026,"metric":"cpu","stat":"p95","days":["2026-01-01",...],"kinds":[2,1,...],
//	 "holidays":{"0":"元旦",...},"rows":[{"id":7,"system":"...","department":"..."},...],
//	 "values":[[12.5,null,...],...]}
//
// kinds: 0 workday, 1 weekend, 2 statutory holiday, 3 adjusted workday; values are rounded to one decimal,
// null where there is no data; values[i] belongs to rows[i].
func (c *Console) handleMatrix(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	ys, err := parseYear(r.URL.Query(), c.now())
	if err != nil {
		return err
	}
	m, err := c.data.Matrix(r.Context(), pc.Scope, ys.Year, chartMetrics[ys.Metric], ys.Stat)
	if err != nil {
		return fmt.Errorf("matrix %d: %w", ys.Year, err)
	}
	body, err := AppendMatrixJSON(nil, pc.Lang, ys.Year, ys.Metric, ys.Stat, m)
	if err != nil {
		return err
	}
	writeRaw(w, r, http.StatusOK, "application/json; charset=utf-8", body)
	return nil
}

// AppendMatrixJSON appends the matrix document of handleMatrix to dst. Rows whose length differs from Days
// are an error (a Data defect).
func AppendMatrixJSON(dst []byte, lang string, year int, metric, stat string, m Matrix) ([]byte, error) {
	days, kinds, holidays := dayStrings(lang, m.Days)
	head, err := json.Marshal(struct {
		Year     int               `json:"year"`
		Metric   string            `json:"metric"`
		Stat     string            `json:"stat"`
		Days     []string          `json:"days"`
		Kinds    []int             `json:"kinds"`
		Holidays map[string]string `json:"holidays"`
	}{year, metric, stat, days, kinds, holidays})
	if err != nil {
		return nil, fmt.Errorf("matrix json: %w", err)
	}
	dst = append(dst, head[:len(head)-1]...)
	dst = append(dst, `,"rows":[`...)
	for i, row := range m.Rows {
		if len(row.Values) != len(m.Days) {
			return nil, fmt.Errorf("matrix row %d (system %d) has %d values for %d days", i, row.SystemID, len(row.Values), len(m.Days))
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = strconv.AppendInt(dst, row.SystemID, 10)
		dst = append(dst, `,"system":`...)
		dst = appendJSONString(dst, row.System)
		dst = append(dst, `,"department":`...)
		dst = appendJSONString(dst, row.Department)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"values":[`...)
	for i, row := range m.Rows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		for j, v := range row.Values {
			if j > 0 {
				dst = append(dst, ',')
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				dst = append(dst, "null"...)
				continue
			}
			dst = strconv.AppendFloat(dst, round1(v), 'f', -1, 64)
		}
		dst = append(dst, ']')
	}
	return append(dst, "]}"...), nil
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeRaw(w, r, code, "application/json; charset=utf-8", body)
}

// writeRaw answers with body, gzip-compressed when it is large and the client accepts gzip.
func writeRaw(w http.ResponseWriter, r *http.Request, code int, ctype string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if len(body) > 4096 && acceptsGzip(r) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"zhizhi/agent/wire"
	"zhizhi/collector/calendar"
)

// chartMetrics maps the console's short metric names to store metric names.
var chartMetrics = map[string]string{
	"cpu":  MetricCPU,
	"mem":  MetricMem,
	"disk": MetricDisk,
	"conn": wire.MetricConnInbound,
}

// yearMetrics are the metrics the annual heatmaps offer, in menu order; yearStats likewise.
var (
	yearMetrics = []string{"cpu", "mem", "disk"}
	yearStats   = []string{StatP95, StatAvg}
)

// rangeSpec is a time range of the detail charts.
type rangeSpec struct {
	Key      string // "24h", "7d", "30d", "1y"; empty for a single day
	Day      string // YYYY-MM-DD when one day was asked for
	From, To time.Time
	Res      string
}

var rangeKeys = []string{"24h", "7d", "30d", "1y"}

// parseRange reads range (24h, 7d, 30d, 1y; default 24h) or day (YYYY-MM-DD in China Standard Time, which
// wins) at now: the last 24 h at 1-minute resolution, 7 and 30 days hourly, a year daily, a day by the minute.
func parseRange(q url.Values, now time.Time) (rangeSpec, error) {
	if v := q.Get("day"); v != "" {
		d, err := time.ParseInLocation(time.DateOnly, v, calendar.Shanghai)
		if err != nil {
			return rangeSpec{}, badParam("day", fmt.Sprintf("%q is not a date like 2026-03-01", v))
		}
		return rangeSpec{Day: v, From: d, To: d.AddDate(0, 0, 1), Res: ResMinute}, nil
	}
	key := q.Get("range")
	if key == "" {
		key = "24h"
	}
	r := rangeSpec{Key: key, To: now}
	switch key {
	case "24h":
		r.From, r.Res = now.Add(-24*time.Hour), ResMinute
	case "7d":
		r.From, r.Res = now.AddDate(0, 0, -7), ResHour
	case "30d":
		r.From, r.Res = now.AddDate(0, 0, -30), ResHour
	case "1y":
		r.From, r.Res = now.AddDate(-1, 0, 0), ResDay
	default:
		return rangeSpec{}, badParam("range", fmt.Sprintf("%q is not one of 24h, 7d, 30d, 1y", key))
	}
	return r, nil
}

// yearSpec is the year, metric and stat of an annual heatmap.
type yearSpec struct {
	Year         int
	Metric, Stat string // short metric name (cpu, mem, disk); p95 or avg
}

const minYear = 2000

// parseYear reads year (default: now's year), metric (cpu, mem, disk; default cpu) and stat (p95, avg;
// default p95).
func parseYear(q url.Values, now time.Time) (yearSpec, error) {
	thisYear := now.In(calendar.Shanghai).Year()
	y := yearSpec{Year: thisYear, Metric: "cpu", Stat: StatP95}
	if v := q.Get("year"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minYear || n > thisYear+1 {
			return y, badParam("year", fmt.Sprintf("%q is not a year from %d to %d", v, minYear, thisYear+1))
		}
		y.Year = n
	}
	if v := q.Get("metric"); v != "" {
		if _, ok := chartMetrics[v]; !ok || v == "conn" {
			return y, badParam("metric", fmt.Sprintf("%q is not one of cpu, mem, disk", v))
		}
		y.Metric = v
	}
	if v := q.Get("stat"); v != "" {
		if v != StatP95 && v != StatAvg {
			return y, badParam("stat", fmt.Sprintf("%q is not one of p95, avg", v))
		}
		y.Stat = v
	}
	return y, nil
}

// years lists the year menu: the last five years and the selected one, newest first.
func years(now time.Time, selected int) []int {
	this := now.In(calendar.Shanghai).Year()
	var out []int
	if selected > this {
		out = append(out, selected)
	}
	for y := this; y > this-5; y-- {
		out = append(out, y)
	}
	if selected <= this-5 {
		out = append(out, selected)
	}
	return out
}

func parseID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		// An id that cannot exist is an unknown page, not a bad parameter.
		return 0, &HTTPError{Code: http.StatusNotFound, Err: fmt.Errorf("bad %s %q", name, v)}
	}
	return id, nil
}

// rangeLink is one entry of the range selector.
type rangeLink struct {
	Key, URL string
	Active   bool
}

func rangeLinks(path string, q url.Values, cur rangeSpec) []rangeLink {
	out := make([]rangeLink, len(rangeKeys))
	for i, k := range rangeKeys {
		v := url.Values{}
		for name, vals := range q {
			if name != "range" && name != "day" {
				v[name] = vals
			}
		}
		v.Set("range", k)
		out[i] = rangeLink{Key: "range." + k, URL: path + "?" + v.Encode(), Active: cur.Key == k}
	}
	return out
}

// chartsJS is the page data console.js needs to draw the detail charts.
type chartsJS struct {
	Kind  string      `json:"kind"` // "system" or "host"
	Hosts []hostRef   `json:"hosts"`
	Range string      `json:"range,omitempty"`
	Day   string      `json:"day,omitempty"`
	Cal   *calendarJS `json:"calendar,omitempty"`
	// SystemID is where a click on the calendar goes.
	SystemID int64 `json:"system_id,omitempty"`
}

type hostRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type systemBody struct {
	System SystemDetail
	Hosts  []HostRow
	Ranges []rangeLink
	Range  string
	Day    string
	yearSpec
	Years   []int
	Metrics []string
	Stats   []string
}

func (c *Console) handleSystem(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	now := c.now()
	q := r.URL.Query()
	rg, err := parseRange(q, now)
	if err != nil {
		return err
	}
	ys, err := parseYear(q, now)
	if err != nil {
		return err
	}
	sys, err := c.data.System(r.Context(), pc.Scope, id)
	if err != nil {
		return fmt.Errorf("system %d: %w", id, err)
	}
	m, err := c.data.SystemYear(r.Context(), pc.Scope, id, ys.Year, chartMetrics[ys.Metric], ys.Stat)
	if err != nil {
		return fmt.Errorf("system %d year %d: %w", id, ys.Year, err)
	}
	hosts := append([]HostRow(nil), sys.Hosts...)
	slices.SortFunc(hosts, worse)
	js := chartsJS{Kind: "system", Range: rg.Key, Day: rg.Day, SystemID: id, Cal: newCalendarJS(pc.Lang, ys, m)}
	for _, h := range hosts {
		js.Hosts = append(js.Hosts, hostRef{h.ID, h.Hostname})
	}
	b := systemBody{System: sys, Hosts: hosts, Ranges: rangeLinks(r.URL.Path, q, rg), Range: rg.Key, Day: rg.Day,
		yearSpec: ys, Years: years(now, ys.Year), Metrics: yearMetrics, Stats: yearStats}
	c.render(w, r, pc, http.StatusOK, "system", page{Nav: "systems", Title: "system.title", TitleArg: sys.Name, Body: b, JS: js})
	return nil
}

type hostBody struct {
	Host   HostDetail
	Ranges []rangeLink
	Day    string
}

func (c *Console) handleHost(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rg, err := parseRange(q, c.now())
	if err != nil {
		return err
	}
	h, err := c.data.Host(r.Context(), pc.Scope, id)
	if err != nil {
		return fmt.Errorf("host %d: %w", id, err)
	}
	js := chartsJS{Kind: "host", Hosts: []hostRef{{h.ID, h.Hostname}}, Range: rg.Key, Day: rg.Day}
	b := hostBody{Host: h, Ranges: rangeLinks(r.URL.Path, q, rg), Day: rg.Day}
	c.render(w, r, pc, http.StatusOK, "host", page{Nav: "systems", Title: "host.title", TitleArg: h.Hostname, Body: b, JS: js})
	return nil
}

// seriesJSON is the answer of the console's series endpoint; its shape follows GET /api/v1/hosts/{id}/series.
type seriesJSON struct {
	HostID     int64       `json:"host_id"`
	Metric     string      `json:"metric"`
	Resolution string      `json:"resolution"`
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	Points     []pointJSON `json:"points"`
}

type pointJSON struct {
	TS  time.Time `json:"ts"`
	N   int64     `json:"n"`
	Min float64   `json:"min"`
	Avg float64   `json:"avg"`
	Max float64   `json:"max"`
	P95 *float64  `json:"p95,omitempty"`
}

// handleSeries serves GET /console/api/hosts/{id}/series?metric=cpu|mem|disk|conn&range=|day=, scoped.
func (c *Console) handleSeries(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	short := q.Get("metric")
	metric, ok := chartMetrics[short]
	if !ok {
		return badParam("metric", fmt.Sprintf("%q is not one of cpu, mem, disk, conn", short))
	}
	rg, err := parseRange(q, c.now())
	if err != nil {
		return err
	}
	s, err := c.data.Series(r.Context(), pc.Scope, id, metric, rg.Res, rg.From, rg.To)
	if err != nil {
		return fmt.Errorf("series %s of host %d: %w", metric, id, err)
	}
	out := seriesJSON{HostID: id, Metric: metric, Resolution: s.Resolution, From: rg.From, To: rg.To,
		Points: make([]pointJSON, len(s.Points))}
	for i, p := range s.Points {
		out.Points[i] = pointJSON{p.TS, p.N, p.Min, p.Avg, p.Max, p.P95}
	}
	writeJSON(w, r, http.StatusOK, out)
	return nil
}

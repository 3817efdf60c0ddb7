package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"zhizhi/agent/wire"
)

type systemJSON struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Department string    `json:"department"`
	Hosts      int       `json:"hosts"`
	LastSeen   time.Time `json:"last_seen"`
}

func (s *Server) handleSystems(w http.ResponseWriter, r *http.Request, _ caller) error {
	systems, err := s.store.Systems(r.Context())
	if err != nil {
		return fmt.Errorf("list systems: %w", err)
	}
	out := make([]systemJSON, len(systems))
	for i, sy := range systems {
		out[i] = systemJSON{sy.ID, sy.Name, sy.Department, sy.Hosts, sy.LastSeen}
	}
	writeJSON(w, http.StatusOK, struct {
		Systems []systemJSON `json:"systems"`
	}{out})
	return nil
}

// hostJSON is a host with its latest headline values, as the host list shows it.
type hostJSON struct {
	ID           int64     `json:"id"`
	AgentID      string    `json:"agent_id"`
	Hostname     string    `json:"hostname"`
	SystemID     int64     `json:"system_id"`
	System       string    `json:"system"`
	Department   string    `json:"department"`
	Status       string    `json:"status"` // online, stale, offline
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	CPUBusyPct   *float64  `json:"cpu_busy_pct"`
	MemUsedPct   *float64  `json:"mem_used_pct"`
	FSMaxUsedPct *float64  `json:"fs_max_used_pct"` // the fullest filesystem
	FSMaxMount   string    `json:"fs_max_mount,omitempty"`
	ClockSkewS   float64   `json:"clock_skew_s"`
	Dropped      uint64    `json:"dropped"`
}

// hostDetailJSON adds the host facts and the whole latest sample.
type hostDetailJSON struct {
	hostJSON
	Facts  *wire.HostFacts `json:"facts"`
	Latest *wire.Sample    `json:"latest"`
}

func (s *Server) hostView(h HostSummary, now time.Time) hostJSON {
	v := hostJSON{
		ID: h.ID, AgentID: h.AgentID, Hostname: h.Hostname, SystemID: h.SystemID, System: h.System,
		Department: h.Department, FirstSeen: h.FirstSeen, LastSeen: h.LastSeen,
		Status:     s.fresh.Status(h.LastSeen, now, sampleInterval(h.Latest)),
		ClockSkewS: h.ClockSkew.Seconds(), Dropped: h.Dropped,
	}
	if l := h.Latest; l != nil {
		if l.CPU != nil {
			v.CPUBusyPct = &l.CPU.BusyPct
		}
		if l.Memory != nil {
			v.MemUsedPct = &l.Memory.UsedPct
		}
		for i := range l.FS {
			if f := &l.FS[i]; v.FSMaxUsedPct == nil || f.UsedPct > *v.FSMaxUsedPct {
				v.FSMaxUsedPct, v.FSMaxMount = &f.UsedPct, f.Mount
			}
		}
	}
	return v
}

func (s *Server) handleHosts(w http.ResponseWriter, r *http.Request, _ caller) error {
	hosts, err := s.store.Hosts(r.Context())
	if err != nil {
		return fmt.Errorf("list hosts: %w", err)
	}
	now := s.clock()
	out := make([]hostJSON, len(hosts))
	for i, h := range hosts {
		out[i] = s.hostView(h, now)
	}
	writeJSON(w, http.StatusOK, struct {
		Hosts []hostJSON `json:"hosts"`
	}{out})
	return nil
}

func (s *Server) lookupHost(ctx context.Context, r *http.Request) (HostSummary, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return HostSummary{}, badField("id", fmt.Sprintf("%q is not a host id", raw))
	}
	h, err := s.store.Host(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return HostSummary{}, &HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("no host %d", id), Field: "id", Err: err}
	case err != nil:
		return HostSummary{}, fmt.Errorf("get host %d: %w", id, err)
	}
	return h, nil
}

func (s *Server) handleHost(w http.ResponseWriter, r *http.Request, _ caller) error {
	h, err := s.lookupHost(r.Context(), r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hostDetailJSON{s.hostView(h, s.clock()), h.Facts, h.Latest})
	return nil
}

type pointJSON struct {
	TS  time.Time `json:"ts"`
	N   int64     `json:"n"`
	Min float64   `json:"min"`
	Avg float64   `json:"avg"`
	Max float64   `json:"max"`
	P95 *float64  `json:"p95,omitempty"`
}

type seriesJSON struct {
	HostID     int64       `json:"host_id"`
	Metric     string      `json:"metric"`
	Resolution string      `json:"resolution"`
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	Points     []pointJSON `json:"points"`
}

// DefaultSeriesRange is the range of a series query without from.
const DefaultSeriesRange = 24 * time.Hour

// ValidMetric reports whether name is a metric the store keeps: a host metric or a per-mount fs series.
func ValidMetric(name string) bool {
	if mount, ok := strings.CutPrefix(name, wire.FSUsedPctPrefix); ok {
		return mount != ""
	}
	return slices.Contains(wire.HostMetrics, name)
}

func (s *Server) handleSeries(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	metric := q.Get("metric")
	switch {
	case metric == "":
		return badField("metric", "required, e.g. metric="+wire.MetricCPUBusyPct)
	case !ValidMetric(metric):
		return badField("metric", fmt.Sprintf("unknown metric %q", metric))
	}
	parse := func(name string, def time.Time) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, badField(name, fmt.Sprintf("%q is not an RFC 3339 time like 2006-01-02T15:04:05+08:00", v))
		}
		return t, nil
	}
	to, err := parse("to", s.clock())
	if err != nil {
		return err
	}
	from, err := parse("from", to.Add(-DefaultSeriesRange))
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return badField("from", "must be before to")
	}
	h, err := s.lookupHost(r.Context(), r)
	if err != nil {
		return err
	}
	series, err := s.store.Series(r.Context(), h.ID, metric, from, to)
	if err != nil {
		return fmt.Errorf("series %s of host %d: %w", metric, h.ID, err)
	}
	out := seriesJSON{HostID: h.ID, Metric: metric, Resolution: string(series.Resolution), From: from, To: to,
		Points: make([]pointJSON, len(series.Points))}
	for i, p := range series.Points {
		out.Points[i] = pointJSON{p.TS, p.N, p.Min, p.Avg, p.Max, p.P95}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, _ caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return httpErr(http.StatusServiceUnavailable, "store unavailable", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
	}{"ok"})
	return nil
}

package console

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Filter is what the overview's query parameters ask for: q (search in department, system and host names),
// dept (department id) and status.
type Filter struct {
	Q      string
	Dept   int64
	Status string
}

const maxQueryLen = 100

// ParseFilter reads the overview's query parameters; an error names the bad parameter.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	f.Q = strings.TrimSpace(q.Get("q"))
	if utf8.RuneCountInString(f.Q) > maxQueryLen || !utf8.ValidString(f.Q) {
		return f, badParam("q", fmt.Sprintf("at most %d characters", maxQueryLen))
	}
	if v := q.Get("dept"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return f, badParam("dept", fmt.Sprintf("%q is not a department id", v))
		}
		f.Dept = id
	}
	if v := q.Get("status"); v != "" {
		if !slices.Contains(statuses, v) {
			return f, badParam("status", fmt.Sprintf("%q is not one of online, stale, offline", v))
		}
		f.Status = v
	}
	return f, nil
}

func statusRank(s string) int {
	switch s {
	case StatusOffline:
		return 2
	case StatusStale:
		return 1
	}
	return 0
}

// peak is a host's highest latest value (CPU, memory, fullest disk); -1 when none is known.
func peak(h HostRow) float64 {
	p := -1.0
	for _, v := range []*float64{h.CPU, h.Mem, h.Disk} {
		if v != nil && !math.IsNaN(*v) {
			p = math.Max(p, *v)
		}
	}
	return p
}

// worse orders hosts worst first: offline before stale before online, then by highest load.
func worse(a, b HostRow) int {
	if c := cmp.Compare(statusRank(b.Status), statusRank(a.Status)); c != 0 {
		return c
	}
	if c := cmp.Compare(peak(b), peak(a)); c != 0 {
		return c
	}
	return cmp.Compare(a.Hostname, b.Hostname)
}

// ApplyFilter returns the departments, systems and hosts that f selects, worst first at every level: hosts by
// worse, systems by their worst host, departments by their worst system; ties by name. The input is not modified.
// A search matching a department or system name keeps all of its hosts.
func ApplyFilter(depts []DeptRow, f Filter) []DeptRow {
	q := strings.ToLower(f.Q)
	match := func(s string) bool { return q == "" || strings.Contains(strings.ToLower(s), q) }
	var out []DeptRow
	for _, d := range depts {
		if f.Dept != 0 && d.ID != f.Dept {
			continue
		}
		nd := DeptRow{ID: d.ID, Name: d.Name}
		for _, s := range d.Systems {
			nameHit := match(d.Name) || match(s.Name)
			ns := SystemRow{ID: s.ID, Name: s.Name}
			for _, h := range s.Hosts {
				if (f.Status == "" || h.Status == f.Status) && (nameHit || match(h.Hostname)) {
					ns.Hosts = append(ns.Hosts, h)
				}
			}
			if len(ns.Hosts) == 0 && (f.Status != "" || !nameHit) {
				continue
			}
			slices.SortFunc(ns.Hosts, worse)
			nd.Systems = append(nd.Systems, ns)
		}
		if len(nd.Systems) == 0 {
			continue
		}
		slices.SortFunc(nd.Systems, func(a, b SystemRow) int {
			if c := worseGroup(a.Hosts, b.Hosts); c != 0 {
				return c
			}
			return cmp.Compare(a.Name, b.Name)
		})
		out = append(out, nd)
	}
	slices.SortFunc(out, func(a, b DeptRow) int {
		if c := worseGroup(worstHosts(a), worstHosts(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// worseGroup compares two sorted host lists by their first (worst) host; an empty list sorts last.
func worseGroup(a, b []HostRow) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	return worse(a[0], b[0])
}

// worstHosts returns the worst host of each of d's (sorted) systems, sorted.
func worstHosts(d DeptRow) []HostRow {
	var hs []HostRow
	for _, s := range d.Systems {
		if len(s.Hosts) > 0 {
			hs = append(hs, s.Hosts[0])
		}
	}
	slices.SortFunc(hs, worse)
	return hs
}

// statusCounts counts hosts by state.
type statusCounts struct{ Online, Stale, Offline, Total int }

func (c *statusCounts) add(h HostRow) {
	c.Total++
	switch h.Status {
	case StatusOnline:
		c.Online++
	case StatusStale:
		c.Stale++
	default:
		c.Offline++
	}
}

type deptOption struct {
	ID   int64
	Name string
}

func deptOptions(depts []DeptRow) []deptOption {
	out := make([]deptOption, len(depts))
	for i, d := range depts {
		out[i] = deptOption{d.ID, d.Name}
	}
	slices.SortFunc(out, func(a, b deptOption) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

type overviewBody struct {
	Filter
	Depts       []DeptRow
	DeptOptions []deptOption
	Statuses    []string
	Counts      statusCounts
}

// overview parses the filter of r and reads the whole overview in scope.
func (c *Console) overview(r *http.Request, pc PageContext) (Filter, []DeptRow, error) {
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		return f, nil, err
	}
	all, err := c.data.Overview(r.Context(), pc.Scope)
	if err != nil {
		return f, nil, fmt.Errorf("overview: %w", err)
	}
	return f, all, nil
}

func (c *Console) handleOverview(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	f, all, err := c.overview(r, pc)
	if err != nil {
		return err
	}
	b := overviewBody{Filter: f, Depts: ApplyFilter(all, f), DeptOptions: deptOptions(all),
		Statuses: []string{StatusOnline, StatusStale, StatusOffline}}
	for _, d := range b.Depts {
		for _, s := range d.Systems {
			for _, h := range s.Hosts {
				b.Counts.add(h)
			}
		}
	}
	c.render(w, r, pc, http.StatusOK, "overview", page{Nav: "overview", Title: "overview.title", Body: b})
	return nil
}

// systemListRow is one line of the systems page.
type systemListRow struct {
	ID                            int64
	Name, Department              string
	Hosts, Online, Stale, Offline int
	Peak                          *float64
}

type systemsBody struct {
	Filter
	Rows        []systemListRow
	DeptOptions []deptOption
}

func (c *Console) handleSystems(w http.ResponseWriter, r *http.Request, pc PageContext) error {
	f, all, err := c.overview(r, pc)
	if err != nil {
		return err
	}
	b := systemsBody{Filter: f, DeptOptions: deptOptions(all)}
	for _, d := range ApplyFilter(all, f) {
		for _, s := range d.Systems {
			row := systemListRow{ID: s.ID, Name: s.Name, Department: d.Name, Hosts: len(s.Hosts)}
			var cnt statusCounts
			for _, h := range s.Hosts {
				cnt.add(h)
				if p := peak(h); p >= 0 && (row.Peak == nil || p > *row.Peak) {
					row.Peak = &p
				}
			}
			row.Online, row.Stale, row.Offline = cnt.Online, cnt.Stale, cnt.Offline
			b.Rows = append(b.Rows, row)
		}
	}
	c.render(w, r, pc, http.StatusOK, "systems", page{Nav: "systems", Title: "systems.title", Body: b})
	return nil
}

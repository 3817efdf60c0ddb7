package consolee2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"zhizhi/collector/calendar"
	"zhizhi/collector/store"
	"zhizhi/server/console/i18n"
)

// password is every test user's password.
const password = "e2e-Passw0rd-长城"

// Test users, by role.
const (
	userAdmin   = "e2e-admin"
	userAnalyst = "e2e-analyst"
	userDept    = "e2e-dept"
)

// district is a running console over the demo district and what the test knows about the district.
type district struct {
	url string
	// systems is the number of systems in the district; ownSystems those of the department user's department.
	systems, ownSystems int
	// The department user's department, one of its systems and hosts; another department and its system and host.
	ownDept, otherDept     string
	ownSystem, ownHost     int64
	otherSystem, otherHost int64
	ownDeptID              int64
}

// facts reads what the test needs from a store holding the demo district: the department user belongs to the
// first department (by name) with a system that has hosts, the other department is the last such one.
func facts(ctx context.Context, t *testing.T, st *store.Store) district {
	t.Helper()
	deps, err := st.Departments(ctx)
	if err != nil {
		t.Fatalf("departments: %v", err)
	}
	hosts, err := st.Hosts(ctx)
	if err != nil {
		t.Fatalf("hosts: %v", err)
	}
	systems, err := st.Systems(ctx)
	if err != nil {
		t.Fatalf("systems: %v", err)
	}
	var d district
	d.systems = len(systems)
	hostOf := map[int64]int64{} // system -> a host
	for _, h := range hosts {
		if _, ok := hostOf[h.SystemID]; !ok {
			hostOf[h.SystemID] = h.ID
		}
	}
	var withHosts []store.Department
	for _, dep := range deps {
		if slices.ContainsFunc(systems, func(s store.SystemSummary) bool { return s.Department == dep.Name && hostOf[s.ID] != 0 }) {
			withHosts = append(withHosts, dep)
		}
	}
	if len(withHosts) < 2 {
		t.Fatalf("the demo district has %d departments with hosts, want at least 2", len(withHosts))
	}
	own, other := withHosts[0], withHosts[len(withHosts)-1]
	d.ownDept, d.otherDept, d.ownDeptID = own.Name, other.Name, own.ID
	for _, s := range systems {
		switch {
		case s.Department == own.Name:
			d.ownSystems++
			if d.ownSystem == 0 && hostOf[s.ID] != 0 {
				d.ownSystem, d.ownHost = s.ID, hostOf[s.ID]
			}
		case s.Department == other.Name && d.otherSystem == 0 && hostOf[s.ID] != 0:
			d.otherSystem, d.otherHost = s.ID, hostOf[s.ID]
		}
	}
	return d
}

// yearDays is the number of days of year.
func yearDays(year int) int {
	return time.Date(year, 12, 31, 0, 0, 0, 0, calendar.Shanghai).YearDay()
}

func text(lang i18n.Lang, key string) string {
	s, ok := i18n.Lookup(lang, key)
	if !ok {
		panic("no catalog key " + key)
	}
	return s
}

// checkPage fails the test when the page has no demo label or the browser reported errors since the last
// check; allow404 tolerates (and counts) the browser's own reports of the page's 404 answer.
func checkPage(t *testing.T, b *browser, name string, allow404 bool) (reported404 int) {
	t.Helper()
	if !eval[bool](b, `document.querySelector('.demo-banner') !== null`) {
		t.Errorf("%s: no demo label", name)
	}
	for _, p := range b.takeProblems() {
		if allow404 && strings.Contains(p, "404") {
			reported404++
			continue
		}
		t.Errorf("%s: browser error: %s", name, p)
	}
	return reported404
}

// TestConsole walks every page of the demo district in Chromium as a bureau user and as a department's officer.
func TestConsole(t *testing.T) {
	d := startDistrict(t)
	year := time.Now().In(calendar.Shanghai).Year()
	t.Logf("demo district: %d systems; department user in %s (%d systems), other department %s",
		d.systems, d.ownDept, d.ownSystems, d.otherDept)

	t.Run("bureau", func(t *testing.T) {
		b := newBrowser(t)
		login(t, b, d.url, userAnalyst, "/")
		checkPage(t, b, "overview after signing in", false)

		// Overview, in Chinese by default; then the language switch.
		if code := b.open(d.url + "/"); code != 200 {
			t.Fatalf("overview: status %d", code)
		}
		b.screenshot("overview")
		checkPage(t, b, "overview", false)
		nav := `document.querySelector('.nav a[href="/heatmap"]').textContent.trim()`
		if got, want := eval[string](b, nav), text(i18n.ZH, "nav.heatmap"); got != want {
			t.Errorf("overview nav: %q, want Chinese %q", got, want)
		}
		if !eval[bool](b, `document.body.innerText.includes(`+jsString(d.otherDept)+`)`) {
			t.Errorf("overview: the bureau does not see department %s", d.otherDept)
		}
		b.clickAndWait("a.lang")
		if got, want := eval[string](b, nav), text(i18n.EN, "nav.heatmap"); got != want {
			t.Errorf("after the language switch: %q, want English %q", got, want)
		}
		b.screenshot("overview-en")
		checkPage(t, b, "overview (English)", false)
		b.clickAndWait("a.lang")
		if got, want := eval[string](b, nav), text(i18n.ZH, "nav.heatmap"); got != want {
			t.Errorf("after switching back: %q, want Chinese %q", got, want)
		}

		pages := []struct{ name, path string }{
			{"systems", "/systems"},
			{"system", fmt.Sprintf("/systems/%d", d.ownSystem)},
			{"host", fmt.Sprintf("/hosts/%d", d.ownHost)},
			{"findings", "/findings"},
		}
		for _, p := range pages {
			if code := b.open(d.url + p.path); code != 200 {
				t.Errorf("%s %s: status %d", p.name, p.path, code)
			}
			b.settle(p.name)
			b.screenshot(p.name)
			checkPage(t, b, p.name, false)
		}

		for _, metric := range []string{"cpu", "mem", "disk"} {
			name := "heatmap-" + metric
			if code := b.open(fmt.Sprintf("%s/heatmap?metric=%s", d.url, metric)); code != 200 {
				t.Fatalf("%s: status %d", name, code)
			}
			cells, ready := b.heatmapReady()
			if want := d.systems * yearDays(year); cells != want {
				t.Errorf("%s: %d cells, want %d systems × %d days = %d", name, cells, d.systems, yearDays(year), want)
			}
			t.Logf("%s: interactive after %.0f ms", name, ready)
			b.screenshot(name)
			checkPage(t, b, name, false)
		}
	})

	t.Run("admin", func(t *testing.T) {
		b := newBrowser(t)
		login(t, b, d.url, userAdmin, "/heatmap?metric=mem&stat=avg")
		cells, _ := b.heatmapReady()
		if want := d.systems * yearDays(year); cells != want {
			t.Errorf("heatmap: %d cells, want %d", cells, want)
		}
		checkPage(t, b, "admin heatmap", false)
	})

	t.Run("department", func(t *testing.T) {
		b := newBrowser(t)
		own := fmt.Sprintf("/systems/%d", d.ownSystem)
		login(t, b, d.url, userDept, own) // back to the page asked for
		b.settle("own system")
		checkPage(t, b, "own system", false)
		if code := b.open(d.url + "/"); code != 200 {
			t.Fatalf("overview: status %d", code)
		}
		if eval[bool](b, `document.body.innerText.includes(`+jsString(d.otherDept)+`)`) {
			t.Errorf("overview: department user sees department %s", d.otherDept)
		}
		if !eval[bool](b, `document.body.innerText.includes(`+jsString(d.ownDept)+`)`) {
			t.Errorf("overview: department user does not see their own department %s", d.ownDept)
		}
		b.screenshot("department-overview")
		checkPage(t, b, "department overview", false)

		for _, p := range []string{fmt.Sprintf("/systems/%d", d.otherSystem), fmt.Sprintf("/hosts/%d", d.otherHost)} {
			if code := b.open(d.url + p); code != 404 {
				t.Errorf("another department's %s: status %d, want 404", p, code)
			}
			if got, want := eval[string](b, `document.querySelector('main h1').textContent.trim()`), text(i18n.ZH, "error.404.title"); !strings.Contains(got, want) {
				t.Errorf("another department's %s: heading %q, want %q", p, got, want)
			}
			// The browser logs the 404 as an error: seeing it proves that the error listener works.
			if checkPage(t, b, "another department's "+p, true) == 0 {
				t.Errorf("another department's %s: the browser reported no 404 error; is the error listener deaf?", p)
			}
		}
		b.screenshot("department-404")

		if code := b.open(d.url + "/heatmap"); code != 200 {
			t.Fatalf("department heatmap: status %d", code)
		}
		cells, _ := b.heatmapReady()
		if want := d.ownSystems * yearDays(year); cells != want {
			t.Errorf("department heatmap: %d cells, want %d systems × %d days = %d", cells, d.ownSystems, yearDays(year), want)
		}
		b.screenshot("department-heatmap")
		checkPage(t, b, "department heatmap", false)
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

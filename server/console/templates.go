package console

import (
	"embed"
	"fmt"
	"html/template"
	"math"
	"time"

	"zhizhi/collector/calendar"
	"zhizhi/server/console/i18n"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageNames are the page templates; each is parsed together with layout.html and partials.html.
var pageNames = []string{"overview", "systems", "system", "host", "heatmap", "error", "login"}

func funcs() template.FuncMap {
	return template.FuncMap{
		"t":          func(l i18n.Lang, key string, args ...any) string { return i18n.T(l, key, args...) },
		"jsDict":     func(l i18n.Lang) map[string]string { return i18n.JS(l) },
		"statusKey":  func(s string) string { return "status." + s },
		"metricKey":  func(s string) string { return "metric." + s },
		"statKey":    func(s string) string { return "stat." + s },
		"roleKey":    func(s string) string { return "role." + s },
		"csrfField":  func() string { return CSRFField },
		"logoutPath": func() string { return LogoutPath },
		"meter":      meter,
		"ts":         formatTS,
		"unix":       func(sec int64) string { return formatTS(time.Unix(sec, 0)) },
		"bytes":      formatBytes,
		"skew":       formatSkew,
		"skewBad":    func(d time.Duration) bool { return d > 5*time.Second || d < -5*time.Second },
	}
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// statusKeys etc. list the values the templates turn into catalog keys, for the catalog test.
var (
	statuses = []string{StatusOffline, StatusStale, StatusOnline}
	roles    = []string{"admin", "analyst", "department"}
)

// meter renders a percentage as a small bar; nil shows a dash.
func meter(v *float64) template.HTML {
	if v == nil || math.IsNaN(*v) {
		return `<span class="muted">-</span>`
	}
	p := math.Max(0, math.Min(100, *v))
	level := "ok"
	switch {
	case p >= 90:
		level = "crit"
	case p >= 80:
		level = "high"
	case p < 5:
		level = "idle"
	}
	return template.HTML(fmt.Sprintf(`<span class="meter %s"><span style="width:%.0f%%"></span></span><span class="num">%.1f%%</span>`,
		level, p, *v))
}

// formatTS shows t in China Standard Time; the zero time shows a dash.
func formatTS(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(calendar.Shanghai).Format("2006-01-02 15:04:05")
}

func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func formatSkew(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + d.Round(time.Millisecond).String()
}

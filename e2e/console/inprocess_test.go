package consolee2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"zhizhi/collector/demo"
	"zhizhi/collector/store"
	"zhizhi/server/console"
	"zhizhi/server/consoledata"
)

// startInProcess (in-process stand-in until the binary has demo, users and the console) serves the console
// over a store holding the demo district; login sets a cookie naming the user.
func startInProcess(t *testing.T) *district {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "zhizhi.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Now()
	if _, err := demo.Load(ctx, st, demo.Options{Seed: 1}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.Logf("demo district loaded in %v", time.Since(start))
	d := facts(ctx, t, st)
	pc := func(r *http.Request) console.PageContext {
		c, err := r.Cookie("e2e_user")
		if err != nil {
			return console.PageContext{}
		}
		switch c.Value {
		case userAdmin, userAnalyst:
			return console.PageContext{User: console.User{Name: c.Value, Role: "analyst"}, Scope: console.Scope{All: true}, CSRF: "x"}
		case userDept:
			return console.PageContext{User: console.User{Name: c.Value, Role: "department", Department: d.ownDept},
				Scope: console.Scope{DepartmentID: d.ownDeptID}, CSRF: "x"}
		}
		return console.PageContext{}
	}
	c := console.New(consoledata.New(st, freshness{}, time.Now), pc, nil)
	mux := http.NewServeMux()
	for _, rt := range c.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("/", c.NotFound)
	mux.HandleFunc("GET /e2e-login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "e2e_user", Value: r.URL.Query().Get("as"), Path: "/"})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d.url = srv.URL
	d.login = func(b *browser, user string) {
		b.tb.Helper()
		b.open(d.url + "/e2e-login?as=" + user)
	}
	return &d
}

type freshness struct{}

func (freshness) Status(last, now time.Time, _ time.Duration) string {
	switch age := now.Sub(last); {
	case last.IsZero() || age > 15*time.Minute:
		return console.StatusOffline
	case age > 3*time.Minute:
		return console.StatusStale
	}
	return console.StatusOnline
}

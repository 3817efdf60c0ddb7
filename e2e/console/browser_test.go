package consolee2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// outputDir is where the screenshots go: test-output/console at the repository root (git-ignored).
func outputDir(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "test-output", "console"))
	if err != nil {
		tb.Fatalf("output dir: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("output dir: %v", err)
	}
	return dir
}

// browser is one headless Chromium tab that records every uncaught exception and every console or browser-log
// entry of level error.
type browser struct {
	tb  testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// newBrowser starts Chromium (failing the test when it is missing) with a fresh profile and a 1366×768
// window, the office screen the console is made for.
func newBrowser(tb testing.TB) *browser {
	tb.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			tb.Fatalf("Chromium is missing (%v): scripts/test.sh installs it, or run apt-get install chromium", err)
		}
		path = p
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1366, 768),
		// A browser in the bureau asks for Chinese; the console must default to it anyway.
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("accept-lang", "zh-CN,zh"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{tb: tb, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		tb.Fatalf("start Chromium %s: %v", path, err)
	}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		tb.Fatalf("listen to the browser: %v", err)
	}
	return b
}

// record runs on chromedp's reading goroutine: it only appends.
func (b *browser) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		msg += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
	case *log.EventEntryAdded:
		if ev.Entry == nil || ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
		}
		msg = "console.error: " + strings.Join(parts, " ")
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, msg)
	b.mu.Unlock()
}

// takeProblems returns the errors recorded so far and forgets them.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// do runs actions with a deadline, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.tb.Fatalf("%s: %v", what, err)
	}
}

// open navigates to url, waits for the page to load and returns the HTTP status of the answer.
func (b *browser) open(url string) int64 {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.tb.Fatalf("open %s: %v", url, err)
	}
	if resp == nil {
		b.tb.Fatalf("open %s: no response", url)
	}
	return resp.Status
}

// clickAndWait clicks the element sel selects and waits for the page that the click loads.
func (b *browser) clickAndWait(sel string) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.tb.Fatalf("click %s: %v", sel, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is true.
func (b *browser) waitFor(what, predicate string) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		b.tb.Fatalf("wait for %s (%s): %v", what, predicate, err)
	}
}

// chartsSettled is true once every chart container of the page holds an ECharts canvas (the heatmap also its
// data-ready-ms) or says that its data failed to load or that there are no systems.
const chartsSettled = `(function () {
	var d = JSON.parse(document.getElementById('i18n').textContent || '{}');
	return Array.from(document.querySelectorAll('.chart')).every(function (el) {
		var p = el.querySelector('.loading');
		if (p && (p.textContent === d.load_failed || p.textContent === d.no_systems)) { return true; }
		return el.querySelector('canvas') !== null && (el.id !== 'matrix-chart' || el.hasAttribute('data-ready-ms'));
	});
})()`

// chartsFailed counts the chart containers that say their data failed to load.
const chartsFailed = `(function () {
	var d = JSON.parse(document.getElementById('i18n').textContent || '{}');
	return Array.from(document.querySelectorAll('.chart .loading')).filter(function (p) {
		return p.textContent === d.load_failed;
	}).length;
})()`

// settle waits until every chart of the page is drawn and fails the test if one could not load its data.
func (b *browser) settle(page string) {
	b.tb.Helper()
	b.waitFor(page+" charts", chartsSettled)
	if n := eval[int](b, chartsFailed); n > 0 {
		b.tb.Errorf("%s: %d charts could not load their data", page, n)
	}
}

// heatmapReady waits for the district matrix and returns its cell count and its time to interactive.
func (b *browser) heatmapReady() (cells int, readyMS float64) {
	b.tb.Helper()
	b.waitFor("the district matrix", `document.querySelector('#matrix-chart[data-ready-ms]') !== null`)
	attrs := eval[[]string](b, `[document.getElementById('matrix-chart').getAttribute('data-cells'),
		document.getElementById('matrix-chart').getAttribute('data-ready-ms')]`)
	cells, err := strconv.Atoi(attrs[0])
	if err != nil {
		b.tb.Fatalf("data-cells %q: %v", attrs[0], err)
	}
	readyMS, err = strconv.ParseFloat(attrs[1], 64)
	if err != nil {
		b.tb.Fatalf("data-ready-ms %q: %v", attrs[1], err)
	}
	return cells, readyMS
}

// screenshot writes a full-page PNG of the current page to the output folder.
func (b *browser) screenshot(name string) string {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.tb.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(outputDir(b.tb), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.tb.Fatalf("screenshot %s: %v", name, err)
	}
	return path
}

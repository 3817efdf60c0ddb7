// Package report evaluates the fleet from the store (findings with evidence and exceptions) and writes the
// monthly zombie/overload report through the narrative service, in Markdown or HTML.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/input"
	"zhizhi/analyzer/llm"
	"zhizhi/analyzer/narrative"
	"zhizhi/collector/store"
)

// Store is what the engine reads and writes; *store.Store implements it.
type Store interface {
	input.Source
	Departments(ctx context.Context) ([]store.Department, error)
	Exceptions(ctx context.Context) ([]store.Exception, error)
	AddException(ctx context.Context, e store.Exception) (store.Exception, error)
	DeleteException(ctx context.Context, id int64) error
}

// Options configure an Engine. The zero value (with a Store) evaluates with the default thresholds at
// time.Now and writes template-only text.
type Options struct {
	// Completer writes the narrative; nil means templates only (a supported mode).
	Completer llm.Completer
	// Thresholds default to detect.DefaultThresholds().
	Thresholds *detect.Thresholds
	// Clock is the evaluation clock; nil means time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
	Input  input.Options
}

// Engine evaluates findings and writes reports.
type Engine struct {
	st    Store
	th    detect.Thresholds
	clock func() time.Time
	log   *slog.Logger
	in    input.Options
	narr  *narrative.Service
}

// New returns an engine over st. It fails on invalid thresholds.
func New(st Store, opts Options) (*Engine, error) {
	th := detect.DefaultThresholds()
	if opts.Thresholds != nil {
		th = *opts.Thresholds
	}
	if err := th.Validate(); err != nil {
		return nil, fmt.Errorf("report: thresholds: %w", err)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "report")
	return &Engine{st: st, th: th, clock: clock, log: log, in: opts.Input,
		narr: &narrative.Service{Completer: opts.Completer, Logger: log, Clock: clock}}, nil
}

// Row is one finding of one host, for listings.
type Row struct {
	HostID                   int64
	Host, System, Department string
	DepartmentID             int64
	Finding                  detect.Finding
}

// Snapshot is the fleet evaluated at At.
type Snapshot struct {
	At     time.Time
	Report detect.Report
	// Rows are every host finding except ok, most severe first.
	Rows []Row
	// DepartmentIDs maps department names to store ids.
	DepartmentIDs map[string]int64
}

// severity orders kinds for listings, most severe first.
var severity = map[detect.Kind]int{
	detect.KindComatose: 0, detect.KindZombie: 1, detect.KindOverloaded: 2, detect.KindIdleCandidate: 3,
	detect.KindUnderused: 4, detect.KindWatch: 5, detect.KindInsufficientData: 6, detect.KindOK: 7,
}

// Kinds lists the finding kinds a listing shows, most severe first.
var Kinds = []detect.Kind{detect.KindComatose, detect.KindZombie, detect.KindOverloaded, detect.KindIdleCandidate,
	detect.KindUnderused, detect.KindWatch, detect.KindInsufficientData}

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.clock() }

// Evaluate judges every host at the engine's clock.
func (e *Engine) Evaluate(ctx context.Context) (Snapshot, error) { return e.EvaluateAt(ctx, e.clock()) }

// EvaluateAt judges every host at at, with the stored exceptions.
func (e *Engine) EvaluateAt(ctx context.Context, at time.Time) (Snapshot, error) {
	hosts, err := input.Hosts(ctx, e.st, at, e.in)
	if err != nil {
		return Snapshot{}, err
	}
	stored, err := e.st.Exceptions(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("evaluate: %w", err)
	}
	// An exception that no longer validates (e.g. thresholds of a newer version) must not stop evaluation:
	// it is skipped and logged.
	var exc []detect.Exception
	for _, x := range input.Exceptions(stored) {
		if err := x.Validate(); err != nil {
			e.log.Warn("invalid stored exception skipped", "id", x.ID, "err", err)
			continue
		}
		exc = append(exc, x)
	}
	rep, err := detect.Evaluate(hosts, exc, at, e.th)
	if err != nil {
		return Snapshot{}, fmt.Errorf("evaluate: %w", err)
	}
	depts, err := e.st.Departments(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("evaluate: %w", err)
	}
	snap := Snapshot{At: at, Report: rep, DepartmentIDs: map[string]int64{}}
	for _, d := range depts {
		snap.DepartmentIDs[d.Name] = d.ID
	}
	for _, h := range rep.Hosts {
		for _, f := range h.Findings {
			if f.Kind == detect.KindOK {
				continue
			}
			snap.Rows = append(snap.Rows, Row{HostID: h.HostID, Host: h.Host, System: h.System,
				Department: h.Department, DepartmentID: snap.DepartmentIDs[h.Department], Finding: f})
		}
	}
	slices.SortStableFunc(snap.Rows, func(a, b Row) int {
		if c := boolCmp(a.Finding.Status == detect.StatusExcepted, b.Finding.Status == detect.StatusExcepted); c != 0 {
			return c
		}
		if c := cmp.Compare(severity[a.Finding.Kind], severity[b.Finding.Kind]); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Department, b.Department), cmp.Compare(a.System, b.System), cmp.Compare(a.Host, b.Host))
	})
	return snap, nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// Exceptions returns every stored exception, expired ones included.
func (e *Engine) Exceptions(ctx context.Context) ([]detect.Exception, error) {
	es, err := e.st.Exceptions(ctx)
	if err != nil {
		return nil, err
	}
	return input.Exceptions(es), nil
}

// AddException validates x with detect's rules (Created defaults to the clock; every bad field is a
// *detect.FieldError) and stores it.
func (e *Engine) AddException(ctx context.Context, x detect.Exception) (detect.Exception, error) {
	if x.Created.IsZero() {
		x.Created = e.clock()
	}
	x.ID = 0
	if err := x.Validate(); err != nil {
		return detect.Exception{}, err
	}
	st, err := e.st.AddException(ctx, input.FromDetect(x))
	if err != nil {
		return detect.Exception{}, err
	}
	return input.ToDetect(st), nil
}

// DeleteException removes exception id; the error wraps store.ErrNotFound when there is none.
func (e *Engine) DeleteException(ctx context.Context, id int64) error {
	return e.st.DeleteException(ctx, id)
}

// IsFieldError reports whether err holds a *detect.FieldError and returns the first one.
func IsFieldError(err error) (*detect.FieldError, bool) {
	var fe *detect.FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

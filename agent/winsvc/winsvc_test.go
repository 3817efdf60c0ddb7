package winsvc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func collect(status <-chan state) []state {
	var got []state
	for {
		select {
		case s := <-status:
			got = append(got, s)
		default:
			return got
		}
	}
}

func TestServeStop(t *testing.T) {
	requests := make(chan request)
	status := make(chan state, 16)
	stopped := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- serve(func(ctx context.Context) error {
			<-ctx.Done()
			close(stopped)
			return ctx.Err()
		}, requests, status, time.Minute)
	}()
	requests <- reqInterrogate
	requests <- reqStop
	if err := <-result; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("run's context was not cancelled")
	}
	want := []state{stateStartPending, stateRunning, stateRunning, stateStopPending, stateStopped}
	if got := collect(status); !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}

func TestServeRunFails(t *testing.T) {
	status := make(chan state, 16)
	boom := errors.New("bad config")
	err := serve(func(context.Context) error { return boom }, make(chan request), status, time.Minute)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := collect(status); !slices.Equal(got, []state{stateStartPending, stateRunning, stateStopped}) {
		t.Errorf("states %v", got)
	}
}

func TestServeStopGrace(t *testing.T) {
	requests := make(chan request, 1)
	requests <- reqStop
	status := make(chan state, 16)
	hung := make(chan struct{})
	defer close(hung)
	err := serve(func(context.Context) error { <-hung; return nil }, requests, status, 10*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded for a run that ignores cancellation", err)
	}
}

// TestCrossCompileWindows builds this package and the install package for windows/amd64.
func TestCrossCompileWindows(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", os.DevNull, "zhizhi/agent/winsvc", "zhizhi/agent/install")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, b)
	}
}

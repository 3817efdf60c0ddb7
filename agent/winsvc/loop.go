// Package winsvc runs zhizhi-agent as a Windows service and registers it with the service control manager;
// on other systems RunAsService reports that it did nothing and Install/Uninstall return errors.ErrUnsupported.
package winsvc

import (
	"context"
	"time"
)

// request is a control request from the service manager, reduced to what the agent reacts to.
type request int

const (
	reqInterrogate request = iota + 1
	reqStop                // Stop or Shutdown
)

// state is the service state reported to the service manager.
type state int

const (
	stateStartPending state = iota + 1
	stateRunning
	stateStopPending
	stateStopped
)

// serve runs run until it returns or a stop request arrives, which cancels its context; it reports every
// state change on status (which must be buffered or drained) and returns run's error. An interrogation is
// answered with the current state. After a stop request it waits for run at most grace.
func serve(run func(ctx context.Context) error, requests <-chan request, status chan<- state, grace time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status <- stateStartPending
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	cur := stateRunning
	status <- cur
	for {
		select {
		case err := <-done:
			status <- stateStopped
			return err
		case r := <-requests:
			switch r {
			case reqInterrogate:
				status <- cur
			case reqStop:
				cur = stateStopPending
				status <- cur
				cancel()
				var err error
				select {
				case err = <-done:
				case <-time.After(grace):
					err = context.DeadlineExceeded
				}
				status <- stateStopped
				if err == context.Canceled {
					err = nil
				}
				return err
			}
		}
	}
}

//go:build windows

package winsvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// stopGrace bounds how long a stop waits for the agent to flush its spool and return.
const stopGrace = 10 * time.Second

// RunAsService runs run as the Windows service name when the process was started by the service control
// manager, mapping Stop and Shutdown to cancelling run's context. handled is false (and nothing runs) in an
// interactive session, where the caller runs the agent in the foreground.
func RunAsService(name string, run func(ctx context.Context) error) (handled bool, err error) {
	isService, err := svc.IsWindowsService()
	if err != nil {
		return false, fmt.Errorf("detect windows service: %w", err)
	}
	if !isService {
		return false, nil
	}
	h := &handler{run: run}
	if err := svc.Run(name, h); err != nil {
		return true, fmt.Errorf("run service %s: %w", name, err)
	}
	return true, h.err
}

type handler struct {
	run func(ctx context.Context) error
	err error
}

func (h *handler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	requests := make(chan request)
	states := make(chan state, 4)
	result := make(chan error, 1)
	go func() { result <- serve(h.run, requests, states, stopGrace) }()
	for {
		select {
		case st := <-states:
			s <- toStatus(st)
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				s <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				go func() { requests <- reqStop }()
			}
		case err := <-result:
			for len(states) > 0 {
				s <- toStatus(<-states)
			}
			h.err = err
			if err != nil {
				return true, 1
			}
			return false, 0
		}
	}
}

func toStatus(st state) svc.Status {
	switch st {
	case stateStartPending:
		return svc.Status{State: svc.StartPending}
	case stateRunning:
		return svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	case stateStopPending:
		return svc.Status{State: svc.StopPending, WaitHint: uint32(stopGrace / time.Millisecond)}
	}
	return svc.Status{State: svc.Stopped}
}

// Install registers exePath (absolute) with args as the automatically started service name, restarting it
// 5 s, 30 s and 60 s after failures (the failure count resets after a day). It fails if the service exists.
func Install(name, exePath string, args []string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to service manager: %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(name); err == nil {
		s.Close()
		return fmt.Errorf("service %s already exists", name)
	}
	s, err := m.CreateService(name, exePath, mgr.Config{
		DisplayName:      "zhizhi agent",
		Description:      "Collects host resources and delivers every sample to the zhizhi server.",
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
	}, args...)
	if err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 60 * time.Second},
	}
	if err := s.SetRecoveryActions(actions, uint32((24 * time.Hour).Seconds())); err != nil {
		s.Delete()
		return fmt.Errorf("set recovery actions of %s: %w", name, err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		s.Delete()
		return fmt.Errorf("set recovery on non-crash failures of %s: %w", name, err)
	}
	return nil
}

// Uninstall stops the service name if it runs and removes it from the service manager.
func Uninstall(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("open service %s: %w", name, err)
	}
	defer s.Close()
	if st, err := s.Control(svc.Stop); err == nil {
		deadline := time.Now().Add(stopGrace + 5*time.Second)
		for st.State != svc.Stopped && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				break
			}
		}
	} else if !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stop service %s: %w", name, err)
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	return nil
}

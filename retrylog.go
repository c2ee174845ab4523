package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// retryWaves is a slog.Handler for the API client's debug records: it
// prints one line on stderr per wave of retries, so a service that stops
// answering is visible at once rather than after minutes of silence.
//
// A wave is the set of requests retrying for the same attempt number: when
// sixteen requests fail together, one line says so. A new line is printed
// when a request reaches a later attempt than any printed, or when the last
// line is older than waveGap (a fresh outage).
type retryWaves struct {
	w     io.Writer
	state *waveState
}

type waveState struct {
	mu          sync.Mutex
	lastAttempt int
	lastAt      time.Time
	now         func() time.Time
}

// waveGap separates two outages: retries that start this long after the
// last line begin a new wave even at attempt 1.
const waveGap = 10 * time.Second

func newRetryWaves(w io.Writer) *retryWaves {
	return &retryWaves{w: w, state: &waveState{now: time.Now}}
}

// retryOption makes the API client report its retry waves on stderr,
// unless --quiet.
func retryOption(quiet bool, stderr io.Writer) remote.Option {
	if quiet {
		return nil
	}
	return remote.WithLogger(slog.New(newRetryWaves(stderr)))
}

var _ slog.Handler = (*retryWaves)(nil)

func (h *retryWaves) Enabled(context.Context, slog.Level) bool { return true }
func (h *retryWaves) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *retryWaves) WithGroup(string) slog.Handler            { return h }

// Handle prints a line for the first retry of each wave. It reads only the
// attempt, the delay and the error of the record: the client logs no
// credential, and the error is shown by its cause rather than in full.
func (h *retryWaves) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "retrying request" {
		return nil
	}
	var (
		attempt int
		delay   time.Duration
		errText string
	)
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch a.Key {
		case "attempt":
			attempt = int(v.Int64())
		case "delay":
			delay = v.Duration()
		case "error":
			errText = v.String()
		}
		return true
	})
	// The lock also covers the write: requests retry from many goroutines,
	// and stderr need not be safe for concurrent writes.
	s := h.state
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if attempt <= s.lastAttempt && now.Sub(s.lastAt) <= waveGap {
		return nil
	}
	s.lastAttempt, s.lastAt = attempt, now
	_, err := fmt.Fprintf(h.w, "chatvault: retry %d in %s: %s\n", attempt, delay.Round(100*time.Millisecond), classify(errText).waiting)
	return err
}

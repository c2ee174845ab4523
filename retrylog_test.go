package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRetryWaves: many requests retrying together print one line per
// attempt number, a fresh outage prints again, and the line's hint fits
// the error.
func TestRetryWaves(t *testing.T) {
	var out bytes.Buffer
	h := newRetryWaves(&out)
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	h.state.now = func() time.Time { return now }
	log := slog.New(h).With("component", "remote")
	refused := errors.New("GET /v2/Services/IS1: dial tcp 127.0.0.1:1: connect: connection refused")
	retry := func(attempt int, err error) {
		log.Debug("retrying request", "method", "GET", "path", "/v2/Services/IS1", "attempt", attempt, "delay", 1500*time.Millisecond, "error", err)
	}
	for range 16 {
		retry(1, refused) // sixteen requests fail at once: one wave
	}
	for range 16 {
		retry(2, refused)
	}
	retry(1, refused) // a late straggler of wave 1
	log.Debug("request sent", "attempt", 9)
	log.Info("snapshot begun")
	now = now.Add(time.Minute)
	retry(1, errors.New("GET /v2/x: HTTP 429 Too Many Requests (code 20429)")) // a new outage
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("printed %d lines, want 3 (two waves, then a new outage):\n%s", len(lines), out.String())
	}
	for i, want := range []string{"retry 1 in 1.5s: no answer at --base-url", "retry 2 in 1.5s: no answer", "retry 1 in 1.5s: rate limited (429)"} {
		if !strings.HasPrefix(lines[i], "chatvault: "+want) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], "chatvault: "+want)
		}
	}
	if strings.Contains(lines[0], "rate limit") || strings.Contains(lines[2], "connection refused") {
		t.Errorf("a hint does not fit its error:\n%s", out.String())
	}
}

// TestRetryWavesConcurrent: requests retry from many goroutines at once;
// the handler's writes must not race (run with -race).
func TestRetryWavesConcurrent(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(newRetryWaves(&out))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := 1; a <= 20; a++ {
				log.Debug("retrying request", "attempt", a+g, "delay", time.Millisecond, "error", errors.New("HTTP 503"))
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(out.String(), "\n"); n < 20 || n > 27 {
		t.Errorf("printed %d lines for attempts 1 to 27 from 8 goroutines; want one per new attempt:\n%s", n, out.String())
	}
}

func TestRetryOptionQuiet(t *testing.T) {
	if retryOption(true, &bytes.Buffer{}) != nil {
		t.Error("--quiet still reports retries")
	}
	if retryOption(false, &bytes.Buffer{}) == nil {
		t.Error("retries are not reported")
	}
}

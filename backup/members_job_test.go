package backup

import (
	"context"
	"errors"
	"testing"
)

// TestFailureKeptWhenInterrupted: a channel whose messages failed
// early in the run is still named in Result.Failures when the run is
// interrupted later (before that channel's members job ended).
func TestFailureKeptWhenInterrupted(t *testing.T) {
	f := newFakeSource(4, 30)
	a := newArchive(t)
	bad, last := f.channel(0).sid, f.channel(3).sid
	f.fail = func(kind, ch string) error {
		if kind == kMessages && ch == bad {
			return apiErr(503, 0)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.pageHook = func(ch string, n int) {
		if ch == last && n == 2 {
			cancel()
		}
	}
	o := opts(f)
	o.Concurrency = 1
	res, err := Run(ctx, f, a, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	found := false
	for _, fl := range res.Failures {
		if fl.Channel == bad {
			found = true
		}
	}
	if !found {
		t.Errorf("channel %s, whose messages failed before the interruption, is not in Failures %+v", bad, res.Failures)
	}
}

// TestFailureKeptWhenAborted: the same when a later channel's
// authentication failure ends the run.
func TestFailureKeptWhenAborted(t *testing.T) {
	f := newFakeSource(4, 30)
	a := newArchive(t)
	bad, last := f.channel(0).sid, f.channel(3).sid
	f.fail = func(kind, ch string) error {
		switch {
		case kind == kMessages && ch == bad:
			return apiErr(503, 0)
		case kind == kMessages && ch == last && f.pagesSeen[ch] == 1:
			return apiErr(401, 20003)
		}
		return nil
	}
	o := opts(f)
	o.Concurrency = 1
	res, err := Run(context.Background(), f, a, o)
	if err == nil {
		t.Fatal("Run: no error")
	}
	found := false
	for _, fl := range res.Failures {
		found = found || fl.Channel == bad
	}
	if !found {
		t.Errorf("channel %s, whose messages failed before the run was stopped (%v), is not in Failures %+v", bad, err, res.Failures)
	}
}

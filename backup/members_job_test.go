package backup

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// failFirstChannel sets f up for the two tests below: the first
// channel's messages fail with 503, and the requests served after that
// wait (up to 5 s) until the run has recorded the failure, then call
// after. The last channel is the longest, so that the walks go on after
// the failure: its pages come first while it has the most left.
func failFirstChannel(t *testing.T, f *fakeSource, o *Options, after func(kind, ch string) error) (bad string) {
	t.Helper()
	bad = f.channel(0).sid
	f.postMessages(len(f.channels)-1, 200)
	var failedReq, recorded atomic.Bool
	f.fail = func(kind, ch string) error {
		if kind == kMessages && ch == bad {
			failedReq.Store(true)
			return apiErr(503, 0)
		}
		if !failedReq.Load() {
			return nil
		}
		for start := time.Now(); !recorded.Load(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Error("the channel's failure was not recorded within 5 s")
				return nil
			}
		}
		return after(kind, ch)
	}
	o.Concurrency = 1
	o.Logger = slog.New(onMessage{"channel not backed up", func() { recorded.Store(true) }})
	return bad
}

// TestFailureKeptWhenInterrupted: a channel whose messages failed
// early in the run is still named in Result.Failures when the run is
// interrupted later (before that channel's members job ended).
func TestFailureKeptWhenInterrupted(t *testing.T) {
	f := newFakeSource(4, 30)
	a := newArchive(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := opts(f)
	bad := failFirstChannel(t, f, &o, func(string, string) error { cancel(); return nil })
	res, err := Run(ctx, f, a, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	assertFailed(t, res, bad)
}

// TestFailureKeptWhenAborted: the same when an authentication failure
// ends the run.
func TestFailureKeptWhenAborted(t *testing.T) {
	f := newFakeSource(4, 30)
	a := newArchive(t)
	o := opts(f)
	bad := failFirstChannel(t, f, &o, func(string, string) error { return apiErr(401, 20003) })
	res, err := Run(context.Background(), f, a, o)
	if !errors.Is(err, remote.ErrAuthentication) {
		t.Fatalf("Run error = %v, want an authentication failure", err)
	}
	assertFailed(t, res, bad)
}

func assertFailed(t *testing.T, res Result, channel string) {
	t.Helper()
	for _, fl := range res.Failures {
		if fl.Channel == channel {
			return
		}
	}
	t.Errorf("channel %s, whose messages failed before the run was stopped, is not in Failures %+v", channel, res.Failures)
}

// onMessage is a slog.Handler that calls fn for each record whose message
// is msg.
type onMessage struct {
	msg string
	fn  func()
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.fn()
	}
	return nil
}
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onMessage) WithGroup(string) slog.Handler      { return h }

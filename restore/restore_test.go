package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

func opts(o Options) Options {
	if o.Target == "" {
		o.Target = dstSvc
	}
	return o
}

func journalOf(t *testing.T, fa *fakeArchive, source, target string) *fakeJournal {
	t.Helper()
	j, err := fa.Journal(source, target)
	if err != nil {
		t.Fatal(err)
	}
	return j.(*fakeJournal)
}

func TestOptionsValidate(t *testing.T) {
	asOf := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		o    Options
		err  string // substring; "" = valid
	}{
		{"minimal", Options{Target: dstSvc}, ""},
		{"lower-case hex", Options{Target: "IS0000000000000000000000000000abcd"}, ""},
		{"everything", Options{Target: dstSvc, Source: srcSvc, Snapshot: "3", Channels: []string{"CH00000000000000000000000000000001", "general"},
			Since: asOf, Until: asOf.Add(time.Hour), Concurrency: 64, Latency: time.Millisecond, WriteRate: 10}, ""},
		{"as of", Options{Target: dstSvc, AsOf: asOf}, ""},
		{"latest", Options{Target: dstSvc, Snapshot: "latest"}, ""},
		{"since equals until", Options{Target: dstSvc, Since: asOf, Until: asOf}, ""},
		{"missing target", Options{}, "target service is required"},
		{"target not a SID", Options{Target: "my-service"}, `target service "my-service" is not a service SID`},
		{"target wrong prefix", Options{Target: "CH00000000000000000000000000000002"}, "not a service SID"},
		{"target too short", Options{Target: "IS0000000000000000000000000000002"}, "not a service SID"},
		{"target not hex", Options{Target: "IS0000000000000000000000000000000g"}, "not a service SID"},
		{"source not a SID", Options{Target: dstSvc, Source: "IS1"}, `source service "IS1"`},
		{"snapshot and as-of", Options{Target: dstSvc, Snapshot: "2", AsOf: asOf}, "not both"},
		{"latest and as-of", Options{Target: dstSvc, Snapshot: "latest", AsOf: asOf}, "not both"},
		{"snapshot not a number", Options{Target: dstSvc, Snapshot: "newest"}, `snapshot "newest"`},
		{"snapshot zero", Options{Target: dstSvc, Snapshot: "0"}, `snapshot "0"`},
		{"snapshot negative", Options{Target: dstSvc, Snapshot: "-1"}, `snapshot "-1"`},
		{"empty channel", Options{Target: dstSvc, Channels: []string{""}}, "empty channel"},
		{"channel too long", Options{Target: dstSvc, Channels: []string{strings.Repeat("x", 257)}}, "longer than any unique name"},
		{"until before since", Options{Target: dstSvc, Since: asOf, Until: asOf.Add(-time.Second)}, "is before --since"},
		{"concurrency too high", Options{Target: dstSvc, Concurrency: 65}, "concurrency 65 is out of range"},
		{"concurrency negative", Options{Target: dstSvc, Concurrency: -1}, "concurrency -1 is out of range"},
		{"negative latency", Options{Target: dstSvc, Latency: -time.Second}, "latency -1s is negative"},
		{"negative write rate", Options{Target: dstSvc, WriteRate: -1}, "write rate -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			err := o.validate()
			if tc.err == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if o.Concurrency < 1 || o.WriteRate <= 0 || o.Progress == nil || o.Logger == nil {
					t.Errorf("defaults not filled: %+v", o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("validate: got %v, want error containing %q", err, tc.err)
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("error %v does not match ErrInvalidOptions", err)
			}
		})
	}
}

// TestInvalidOptionsSendNothing: a rejected run makes no request at all.
func TestInvalidOptionsSendNothing(t *testing.T) {
	ft := newFakeTarget(dstSvc)
	fa := newFakeArchive(genHistory(histOpts{channels: 1, messages: 2}))
	res, err := run(t.Context(), ft, fa, Options{Target: "nope"})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("got %v, want ErrInvalidOptions", err)
	}
	if ft.Requests() != 0 || res.Conflicts == nil {
		t.Errorf("requests %d, conflicts %v", ft.Requests(), res.Conflicts)
	}
}

func TestRestoreIntoEmptyService(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			snap := genHistory(histOpts{channels: 4, messages: 30, seed: 1})
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: conc}))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			want := Result{Status: StatusComplete, Target: dstSvc, Source: srcSvc, Snapshot: 1,
				ChannelsCreated: 4, Members: 12, Messages: 120}
			if res.Status != want.Status || res.Target != want.Target || res.Source != want.Source || res.Snapshot != want.Snapshot ||
				res.ChannelsCreated != want.ChannelsCreated || res.ChannelsSkipped != 0 || res.Members != want.Members ||
				res.Messages != want.Messages || res.MessagesSkipped != 0 || len(res.Conflicts) != 0 || len(res.Skipped) != 0 || len(res.Failed) != 0 {
				t.Errorf("result %+v, want %+v", res, want)
			}
			// 4 channels + 12 members + 120 messages + 8 read positions, plus reads
			if w := ft.writes.Load(); w != 4+12+120+8 {
				t.Errorf("writes %d, want %d", w, 4+12+120+8)
			}
			if res.Requests < ft.writes.Load() || res.Requests != ft.Requests() {
				t.Errorf("requests %d, fake counted %d", res.Requests, ft.Requests())
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
			b, _ := json.Marshal(res)
			if !strings.Contains(string(b), `"conflicts":[]`) || strings.Contains(string(b), `"plan"`) {
				t.Errorf("JSON result %s", b)
			}
		})
	}
}

func TestRerunMakesNoWrites(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 20, media: true, seed: 2})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap)
	first, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != StatusPartial || len(first.Skipped) != 3 || first.Messages != 57 {
		t.Fatalf("first run: %+v", first)
	}
	writes, reqs := ft.writes.Load(), ft.Requests()
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if ft.writes.Load() != writes {
		t.Errorf("rerun wrote %d times", ft.writes.Load()-writes)
	}
	// The roles are read, and each target channel once, to see that it is
	// still there: every channel is finished and unchanged.
	if ft.Requests()-reqs != 1+3 || res.Requests != 1+3 {
		t.Errorf("rerun sent %d requests (result says %d), want 4", ft.Requests()-reqs, res.Requests)
	}
	if res.ChannelsCreated != 0 || res.ChannelsSkipped != 3 || res.Members != 0 || res.Messages != 0 || res.MessagesSkipped != 57 {
		t.Errorf("rerun result %+v", res)
	}
	if res.Status != StatusPartial || len(res.Skipped) != 3 {
		t.Errorf("rerun must still report the media messages it cannot restore: %+v", res)
	}
}

func TestDryRun(t *testing.T) {
	snap := genHistory(histOpts{channels: 4, messages: 25, seed: 3})
	cases := []struct {
		name    string
		prepare func(t *testing.T, ft *fakeTarget, fa *fakeArchive) // state before the dry run
	}{
		{"empty target", func(*testing.T, *fakeTarget, *fakeArchive) {}},
		{"half restored", func(t *testing.T, ft *fakeTarget, fa *fakeArchive) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ft.onWrite = func(op string, n int64) fault {
				if n == 40 {
					cancel()
				}
				return faultNone
			}
			if _, err := run(ctx, ft, fa, opts(Options{Concurrency: 2})); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			ft.onWrite = nil
		}},
		{"killed mid-channel", func(t *testing.T, ft *fakeTarget, fa *fakeArchive) {
			killRun(t, ft, fa, 57, opts(Options{Concurrency: 1}))
		}},
		{"finished", func(t *testing.T, ft *fakeTarget, fa *fakeArchive) {
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			tc.prepare(t, ft, fa)
			writes := ft.writes.Load()
			j := journalOf(t, fa, srcSvc, dstSvc)
			puts := j.puts
			dry, err := run(t.Context(), ft, fa, opts(Options{DryRun: true, Latency: 10 * time.Millisecond, Concurrency: 2}))
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if ft.writes.Load() != writes || j.puts != puts {
				t.Fatalf("dry run wrote %d requests and %d journal entries", ft.writes.Load()-writes, j.puts-puts)
			}
			if !dry.DryRun || dry.Plan == nil {
				t.Fatalf("dry run result has no plan: %+v", dry)
			}
			real, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 2}))
			if err != nil {
				t.Fatalf("real run: %v", err)
			}
			p := dry.Plan
			if p.Channels != real.ChannelsCreated || p.Members != real.Members || p.Messages != real.Messages ||
				int64(p.Writes) != ft.writes.Load()-writes {
				t.Errorf("plan %+v, but the run created %d channels, %d members, %d messages in %d writes",
					*p, real.ChannelsCreated, real.Members, real.Messages, ft.writes.Load()-writes)
			}
			if dry.MessagesSkipped != real.MessagesSkipped {
				t.Errorf("dry run found %d messages restored, the run %d", dry.MessagesSkipped, real.MessagesSkipped)
			}
			if p.Writes > 0 && p.EstimatedSeconds <= 0 || p.Writes == 0 && p.EstimatedSeconds != 0 {
				t.Errorf("estimate %v for %d writes", p.EstimatedSeconds, p.Writes)
			}
			checkRestored(t, ft, dstSvc, j, expected(t, snap, nil))
		})
	}
}

// TestEstimateUploads: a channel's uploads add their bytes at the upload
// rate to its chain.
func TestEstimateUploads(t *testing.T) {
	cases := []struct {
		name   string
		chains []chain
		conc   int
		rate   float64
		want   float64
	}{
		{"bytes lengthen the chain", []chain{{writes: 10, bytes: 5e6}}, 8, 1e6, 10*0.1 + 5},
		{"the heavy channel is the long one", []chain{{writes: 40, bytes: 0}, {writes: 2, bytes: 8e6}}, 2, 1e6, 8 + 0.2},
		{"heavy channels share workers", []chain{{writes: 1, bytes: 3e6}, {writes: 1, bytes: 3e6}, {writes: 1, bytes: 3e6}}, 2, 1e6, 2 * 3.1},
		{"no rate: bytes cost nothing", []chain{{writes: 10, bytes: 5e6}}, 8, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writes := 0
			for _, c := range tc.chains {
				writes += c.writes
			}
			got := estimate(writes, tc.chains, tc.conc, 100*time.Millisecond, 1000, tc.rate)
			if d := got - tc.want; d > 1e-9 || d < -1e-9 {
				t.Errorf("estimate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	cases := []struct {
		name       string
		writes     int
		perChannel []int
		conc       int
		lat        time.Duration
		rate       float64
		want       float64
	}{
		{"nothing", 0, nil, 8, 50 * time.Millisecond, 25, 0},
		{"latency bound", 800, []int{100, 100, 100, 100, 100, 100, 100, 100}, 8, 50 * time.Millisecond, 25, 5},
		{"rate bound", 800, []int{100, 100, 100, 100, 100, 100, 100, 100}, 8, 10 * time.Millisecond, 25, 4},
		{"concurrency bound", 1600, []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, 4, 50 * time.Millisecond, 25, 20},
		{"one long channel", 1100, []int{1000, 100}, 8, 50 * time.Millisecond, 25, 50},
		{"fewer channels than workers", 300, []int{100, 100, 100}, 64, 50 * time.Millisecond, 100, 5},
		// The reviewer's measurement: 2,116 writes in 10 channels at
		// concurrency 8 took 16.96 s; two workers restore two channels each.
		{"more channels than workers, rate bound", 2116, []int{212, 211, 212, 211, 212, 211, 212, 211, 212, 212}, 8, 5 * time.Millisecond, 25, 422 * 0.04},
		{"more channels than workers, latency bound", 1000, []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, 4, 100 * time.Millisecond, 25, 30},
		{"longest first", 18, []int{3, 3, 5, 3, 4}, 2, 0, 1, 10},
		{"one worker adds up the chains", 60, []int{10, 20, 30}, 1, time.Millisecond, 10, 6},
		{"one channel longer than all others together", 130, []int{10, 100, 10, 10}, 2, 0, 10, 10},
		{"channels in the order they finished", 40, []int{1, 1, 1, 1, 36}, 2, 0, 1, 36},
		{"zero latency", 100, []int{50, 50}, 8, 0, 25, 2},
		{"no writes in the list", 0, []int{}, 8, time.Second, 25, 0},
		{"no workers", 10, []int{10}, 0, time.Second, 25, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chains := make([]chain, len(tc.perChannel))
			for i, w := range tc.perChannel {
				chains[i] = chain{writes: w}
			}
			got := estimate(tc.writes, chains, tc.conc, tc.lat, tc.rate, DefaultUploadRate)
			if d := got - tc.want; d > 1e-9 || d < -1e-9 {
				t.Errorf("estimate = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestUnknownOutcomes: lost responses and refused writes never duplicate or lose anything.
func TestUnknownOutcomes(t *testing.T) {
	cases := []struct {
		name string
		f    func(rng *rand.Rand) fault
	}{
		{"lost responses", func(rng *rand.Rand) fault {
			if rng.Float64() < 0.3 {
				return faultLost
			}
			return faultNone
		}},
		{"5xx without acting", func(rng *rand.Rand) fault {
			if rng.Float64() < 0.3 {
				return faultFail
			}
			return faultNone
		}},
		{"both", func(rng *rand.Rand) fault {
			switch x := rng.Float64(); {
			case x < 0.15:
				return faultLost
			case x < 0.3:
				return faultFail
			}
			return faultNone
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := genHistory(histOpts{channels: 4, messages: 40, seed: 4})
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			var mu sync.Mutex
			rng := rand.New(rand.NewPCG(9, 9))
			ft.onWrite = func(string, int64) fault {
				mu.Lock()
				defer mu.Unlock()
				return tc.f(rng)
			}
			res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 4}))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if res.Status != StatusComplete || res.ChannelsCreated != 4 || res.Members != 12 || res.Messages != 160 {
				t.Errorf("result %+v", res)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
		})
	}
}

// killRun runs a restore that is "killed" at the n-th write: the write is
// carried out, the journal loses its unsaved batch and saves nothing more.
func killRun(t *testing.T, ft *fakeTarget, fa *fakeArchive, n int64, o Options) {
	t.Helper()
	j := journalOf(t, fa, srcSvc, o.Target)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base := ft.writes.Load()
	ft.kill = func() { j.crash(); cancel() }
	seen := ft.onWrite // a test's own, which sees every write too
	ft.onWrite = func(op string, k int64) fault {
		if seen != nil {
			seen(op, k)
		}
		if k-base == n {
			return faultKill
		}
		return faultNone
	}
	_, err := run(ctx, ft, fa, o)
	ft.onWrite, ft.kill = seen, nil
	ft.mu.Lock()
	ft.killed = false // a new process
	ft.mu.Unlock()
	j.revive()
	if err == nil {
		t.Logf("run ended before write %d", n)
	}
}

// TestResumeAfterKill kills a restore at every write in turn, then checks
// that one more run completes the target with nothing duplicated or missed.
func TestResumeAfterKill(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 12, seed: 5})
	total := int64(3 + 9 + 36 + 6)
	for _, batch := range []int{3, 1 << 20} {
		for n := int64(1); n <= total; n++ {
			t.Run(fmt.Sprintf("batch %d kill at write %d", batch, n), func(t *testing.T) {
				ft := newFakeTarget(srcSvc, dstSvc)
				fa := newFakeArchive(snap)
				fa.batch = batch
				killRun(t, ft, fa, n, opts(Options{Concurrency: 2}))
				// and once more, a little later
				killRun(t, ft, fa, 3, opts(Options{Concurrency: 2}))
				res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 2}))
				if err != nil {
					t.Fatalf("final run: %v", err)
				}
				if res.Status != StatusComplete || len(res.Conflicts) != 0 {
					t.Errorf("final run %+v", res)
				}
				checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
			})
		}
	}
}

func TestInterruptSavesJournal(t *testing.T) {
	snap := genHistory(histOpts{channels: 2, messages: 30, seed: 6})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap)
	ctx, cancel := context.WithCancel(t.Context())
	ft.onWrite = func(op string, n int64) fault {
		if n == 25 {
			cancel()
		}
		return faultNone
	}
	res, err := run(ctx, ft, fa, opts(Options{Concurrency: 1}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if res.Messages == 0 || res.Snapshot != 1 || res.Conflicts == nil {
		t.Errorf("result so far %+v", res)
	}
	j := journalOf(t, fa, srcSvc, dstSvc)
	if len(j.queued) != 0 {
		t.Errorf("%d journal entries left unsaved", len(j.queued))
	}
	ft.onWrite = nil
	before := ft.writes.Load()
	res2, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	// The rerun continues: no message sent twice.
	if got := ft.writes.Load() - before; got != 2+6+60+4-int64(res.ChannelsCreated+res.Members+res.Messages) {
		t.Errorf("rerun wrote %d; first run had made %+v", got, res)
	}
	if res2.MessagesSkipped != res.Messages {
		t.Errorf("rerun skipped %d messages, the first run created %d", res2.MessagesSkipped, res.Messages)
	}
	checkRestored(t, ft, dstSvc, j, expected(t, snap, nil))
}

func TestFailuresAndFatalErrors(t *testing.T) {
	cases := []struct {
		name      string
		onWrite   func(op string, n int64) fault
		onRead    func(op string) fault
		failView  error
		wantErr   error  // nil: the run ends with a result
		wantFail  int    // channels failed
		wantInErr string // substring of the error
	}{
		{name: "auth on write", onWrite: func(op string, n int64) fault {
			if n == 5 {
				return faultAuth
			}
			return faultNone
		}, wantErr: remote.ErrAuthentication, wantInErr: "refused the credentials"},
		{name: "auth on first read", onRead: func(op string) fault { return faultAuth }, wantErr: remote.ErrAuthentication},
		{name: "message rejected", onWrite: func(op string, n int64) fault {
			if op == "CreateMessage" {
				return faultError
			}
			return faultNone
		}, wantFail: 2},
		{name: "member rejected once", onWrite: func() func(op string, n int64) fault {
			var members atomic.Int64
			return func(op string, n int64) fault {
				if op == "CreateMember" && members.Add(1) == 1 {
					return faultError
				}
				return faultNone
			}
		}(), wantFail: 1},
		{name: "never an answer", onWrite: func(op string, n int64) fault {
			if op == "CreateMessage" {
				return faultFail
			}
			return faultNone
		}, wantFail: 2},
		{name: "lookup fails after lost response", onWrite: func(op string, n int64) fault {
			if op == "CreateMessage" {
				return faultLost
			}
			return faultNone
		}, onRead: func(op string) fault {
			if op == "MessagesPage" {
				return faultError
			}
			return faultNone
		}, wantFail: 2},
		{name: "archive unreadable", failView: store.ErrCorrupt, wantErr: store.ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(genHistory(histOpts{channels: 2, messages: 5, seed: 7}))
			fa.failView = tc.failView
			ft.onWrite, ft.onRead = tc.onWrite, tc.onRead
			res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 1}))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantInErr) {
					t.Fatalf("got %v, want %v containing %q", err, tc.wantErr, tc.wantInErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(res.Failed) != tc.wantFail || res.Status != StatusPartial {
				t.Errorf("failed %+v, status %s; want %d failures", res.Failed, res.Status, tc.wantFail)
			}
			for _, f := range res.Failed {
				if f.Channel == "" || f.Error == "" {
					t.Errorf("failure without channel or reason: %+v", f)
				}
			}
			// A rerun without faults completes the restore.
			ft.onWrite, ft.onRead = nil, nil
			if res, err := run(t.Context(), ft, fa, opts(Options{})); err != nil || res.Status != StatusComplete {
				t.Fatalf("rerun: %+v, %v", res, err)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, fa.snaps[0], nil))
		})
	}
}

func TestConflicts(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 6, seed: 8})
	src := expected(t, snap, nil)
	room0 := src[snap.channels[0].SID].ch
	cases := []struct {
		name     string
		prepare  func(ft *fakeTarget)
		conflict string // reason substring; "" = none
		adopted  bool
	}{
		{"same unique name holding a message", func(ft *fakeTarget) {
			c, _ := ft.CreateChannel(t.Context(), dstSvc, remote.ChannelParams{UniqueName: room0.UniqueName})
			_, _ = ft.CreateMessage(t.Context(), dstSvc, c.SID, remote.MessageParams{Body: room0.UniqueName})
		}, "already holds 1 messages", false},
		{"same unique name, empty, different", func(ft *fakeTarget) {
			_, _ = ft.CreateChannel(t.Context(), dstSvc, remote.ChannelParams{UniqueName: room0.UniqueName})
		}, "differs from the archived channel in friendly_name", false},
		{"same unique name, empty, identical (ours, journal lost)", func(ft *fakeTarget) {
			_, _ = ft.CreateChannel(t.Context(), dstSvc, channelParams(room0))
		}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			tc.prepare(ft)
			before := ft.channelsOf(dstSvc)[0]
			res, err := run(t.Context(), ft, fa, opts(Options{}))
			if err != nil {
				t.Fatal(err)
			}
			if tc.conflict == "" {
				if len(res.Conflicts) != 0 || res.Status != StatusComplete || res.ChannelsCreated != 2 || res.ChannelsSkipped != 1 {
					t.Fatalf("result %+v", res)
				}
				checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), src)
				return
			}
			if len(res.Conflicts) != 1 || res.Status != StatusPartial || res.ChannelsCreated != 2 {
				t.Fatalf("result %+v", res)
			}
			c := res.Conflicts[0]
			if c.Channel != snap.channels[0].SID || c.UniqueName != *room0.UniqueName || !strings.Contains(c.Reason, tc.conflict) {
				t.Errorf("conflict %+v, want reason containing %q", c, tc.conflict)
			}
			after := ft.channelsOf(dstSvc)[0]
			if len(after.messages) != len(before.messages) || len(after.members) != 0 {
				t.Errorf("conflicting channel was touched: %+v", after)
			}
			// A rerun reports it again and writes nothing more.
			w := ft.writes.Load()
			res, err = run(t.Context(), ft, fa, opts(Options{}))
			if err != nil || len(res.Conflicts) != 1 || ft.writes.Load() != w {
				t.Errorf("rerun: %+v, %v, %d writes", res, err, ft.writes.Load()-w)
			}
		})
	}
}

// TestForeignMessage: someone writes into a channel while it is restored.
func TestForeignMessage(t *testing.T) {
	snap := genHistory(histOpts{channels: 1, messages: 10, seed: 9})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap)
	var n atomic.Int32
	ft.afterCreateMessage = func(ch string) {
		if n.Add(1) == 4 {
			ft.mu.Lock()
			ft.addMessage(ft.find(dstSvc, ch), remote.MessageParams{})
			ft.mu.Unlock()
		}
	}
	ft.onWrite = func(op string, k int64) fault {
		if op == "CreateMessage" && n.Load() == 4 {
			return faultLost
		}
		return faultNone
	}
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 1 || !strings.Contains(res.Conflicts[0].Reason, "did not send") || res.Status != StatusPartial {
		t.Fatalf("result %+v", res)
	}
	// After a kill, the resume check finds the foreign message too.
	ft.onWrite, ft.afterCreateMessage = nil, nil
	res, err = run(t.Context(), ft, fa, opts(Options{}))
	if err != nil || len(res.Conflicts) != 1 || !strings.Contains(res.Conflicts[0].Reason, "differs from the next archived message") {
		t.Fatalf("rerun: %+v, %v", res, err)
	}
}

func TestSelection(t *testing.T) {
	snap1 := genHistory(histOpts{channels: 3, messages: 20, seed: 10, id: 1})
	snap2 := genHistory(histOpts{channels: 4, messages: 25, seed: 11, id: 2})
	other := genHistory(histOpts{channels: 1, messages: 3, seed: 12, id: 3, service: otherSvc})
	since := t0.Add(5 * time.Minute)
	until := t0.Add(12 * time.Minute)
	cases := []struct {
		name     string
		snaps    []*fakeSnap
		o        Options
		wantSnap uint64
		channels []string // source SIDs expected restored (nil = all of the snapshot)
		keep     func(*srcMessage) bool
		err      error
		errText  string
	}{
		{name: "latest", snaps: []*fakeSnap{snap1, snap2}, wantSnap: 2},
		{name: "by id", snaps: []*fakeSnap{snap1, snap2}, o: Options{Snapshot: "1"}, wantSnap: 1},
		{name: "as of between", snaps: []*fakeSnap{snap1, snap2}, o: Options{AsOf: snap2.meta.Finished.Add(-time.Second)}, wantSnap: 1},
		{name: "as of exactly", snaps: []*fakeSnap{snap1, snap2}, o: Options{AsOf: snap2.meta.Finished}, wantSnap: 2},
		{name: "channel by SID", snaps: []*fakeSnap{snap1}, o: Options{Channels: []string{snap1.channels[1].SID}}, wantSnap: 1,
			channels: []string{snap1.channels[1].SID}},
		{name: "channel by unique name and SID, repeated", snaps: []*fakeSnap{snap1},
			o:        Options{Channels: []string{"room-2", snap1.channels[0].SID, "room-2"}},
			wantSnap: 1, channels: []string{snap1.channels[0].SID, snap1.channels[2].SID}},
		{name: "since and until", snaps: []*fakeSnap{snap1}, o: Options{Since: since, Until: until}, wantSnap: 1,
			keep: func(m *srcMessage) bool { return !m.DateCreated.Before(since) && !m.DateCreated.After(until) }},
		{name: "since only", snaps: []*fakeSnap{snap1}, o: Options{Since: since}, wantSnap: 1,
			keep: func(m *srcMessage) bool { return !m.DateCreated.Before(since) }},
		{name: "until only", snaps: []*fakeSnap{snap1}, o: Options{Until: until}, wantSnap: 1,
			keep: func(m *srcMessage) bool { return !m.DateCreated.After(until) }},
		{name: "source chosen", snaps: []*fakeSnap{snap1, other}, o: Options{Source: srcSvc}, wantSnap: 1},
		{name: "source required", snaps: []*fakeSnap{snap1, other}, err: ErrSourceRequired, errText: "choose one with --source"},
		{name: "unknown channel", snaps: []*fakeSnap{snap1}, o: Options{Channels: []string{"room-2", "nope"}},
			err: ErrUnknownChannel, errText: `channel "nope" is not in snapshot 1`},
		{name: "unknown channel SID", snaps: []*fakeSnap{snap1}, o: Options{Channels: []string{"CH000000000000000000000000000000ff"}},
			err: ErrUnknownChannel, errText: "is not in snapshot 1"},
		{name: "mistyped channel", snaps: []*fakeSnap{snap1}, o: Options{Channels: []string{"rom-2"}},
			err: ErrUnknownChannel, errText: `did you mean room-2?`},
		{name: "unknown snapshot", snaps: []*fakeSnap{snap1}, o: Options{Snapshot: "9"}, err: store.ErrNoSnapshot, errText: `snapshot "9"`},
		{name: "snapshot of another service", snaps: []*fakeSnap{snap1, other}, o: Options{Source: srcSvc, Snapshot: "3"}, err: store.ErrNoSnapshot},
		{name: "as of before everything", snaps: []*fakeSnap{snap1}, o: Options{AsOf: t0}, err: store.ErrNoSnapshot, errText: "at or before"},
		{name: "empty archive", snaps: nil, err: store.ErrNoSnapshot, errText: "run a backup first"},
		{name: "unknown target", snaps: []*fakeSnap{snap1}, o: Options{Target: otherSvc}, err: remote.ErrNotFound, errText: "target service"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(tc.snaps...)
			res, err := run(t.Context(), ft, fa, opts(tc.o))
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("got %v, want %v containing %q", err, tc.err, tc.errText)
				}
				if ft.writes.Load() != 0 {
					t.Errorf("%d writes before the error", ft.writes.Load())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Snapshot != tc.wantSnap {
				t.Errorf("restored snapshot %d, want %d", res.Snapshot, tc.wantSnap)
			}
			var snap *fakeSnap
			for _, s := range tc.snaps {
				if s.meta.ID == tc.wantSnap {
					snap = s
				}
			}
			wants := expected(t, snap, tc.keep)
			if tc.channels != nil {
				for sid := range wants {
					if !contains(tc.channels, sid) {
						delete(wants, sid)
					}
				}
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, snap.meta.Service, dstSvc), wants)
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func TestMedia(t *testing.T) {
	cases := []struct {
		name   string
		target string
	}{
		{"into another service, files not archived: skipped", dstSvc},
		{"into the source service: attached", srcSvc},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := genHistory(histOpts{channels: 2, messages: 5, media: true, seed: 13})
			// Restoring into the source service needs fresh unique names there.
			if tc.target == srcSvc {
				for i := range snap.channels {
					snap.channels[i].Raw = []byte(strings.ReplaceAll(string(snap.channels[i].Raw), `"room-`, `"copy-`))
				}
			}
			ft := newFakeTarget(srcSvc, dstSvc)
			ft.holdMedia(t, srcSvc, snap) // the source service still has its media
			fa := newFakeArchive(snap)
			res, err := run(t.Context(), ft, fa, opts(Options{Target: tc.target}))
			if err != nil {
				t.Fatal(err)
			}
			same := tc.target == srcSvc
			keep := func(m *srcMessage) bool { return same || m.media() == "" }
			checkRestored(t, ft, tc.target, journalOf(t, fa, srcSvc, tc.target), expected(t, snap, keep))
			if same {
				if len(res.Skipped) != 0 || res.Status != StatusComplete || res.Messages != 10 {
					t.Errorf("result %+v", res)
				}
				return
			}
			if len(res.Skipped) != 2 || res.Status != StatusPartial || res.Messages != 8 {
				t.Fatalf("result %+v", res)
			}
			for _, s := range res.Skipped {
				if !strings.HasPrefix(s.Message, "IM") || !strings.HasPrefix(s.Channel, "CH") || !strings.Contains(s.Reason, "media") {
					t.Errorf("skipped %+v", s)
				}
			}
		})
	}
}

// TestNewerSnapshotAppends: restoring a later snapshot into the same target
// adds what is new and reports what cannot be inserted in order.
func TestNewerSnapshotAppends(t *testing.T) {
	snap1 := genHistory(histOpts{channels: 2, messages: 10, seed: 14, id: 1})
	snap2 := genHistory(histOpts{channels: 2, messages: 15, seed: 14, id: 2})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap1, snap2)
	if _, err := run(t.Context(), ft, fa, opts(Options{Snapshot: "1"})); err != nil {
		t.Fatal(err)
	}
	res, err := run(t.Context(), ft, fa, opts(Options{Snapshot: "2"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 10 || res.MessagesSkipped != 20 || res.ChannelsSkipped != 2 || res.Status != StatusComplete {
		t.Errorf("result %+v", res)
	}
	checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap2, nil))

	// A narrower earlier run (--since) began each channel's restored range
	// later: a rerun without it leaves the older messages out as that run
	// did, counted apart, not reported as behind run after run.
	ft2 := newFakeTarget(srcSvc, dstSvc)
	fa2 := newFakeArchive(snap1)
	since := t0.Add(5 * time.Minute)
	if _, err := run(t.Context(), ft2, fa2, opts(Options{Since: since})); err != nil {
		t.Fatal(err)
	}
	older, inRange := 0, ""
	for _, c := range snap1.channels {
		for _, rec := range snap1.messages[c.SID] {
			m, err := parseMessage(rec)
			if err != nil {
				t.Fatal(err)
			}
			if m.DateCreated.Before(since) {
				older++
			} else if inRange == "" && c.SID == snap1.channels[0].SID {
				inRange = (chanState{}).indexKey(c.SID, m.Index)
			}
		}
	}
	res, err = run(t.Context(), ft2, fa2, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if older == 0 || res.Messages != 0 || len(res.Skipped) != 0 || res.Status != StatusComplete || res.MessagesBeforeRange != older {
		t.Errorf("rerun without --since: %+v, want complete with %d messages before the range", res, older)
	}
	// A message inside the range that the journal no longer holds (marked
	// as a sync's deletion leaves it) cannot be put before later ones: it
	// is behind, reported, and the run partial.
	j := journalOf(t, fa2, srcSvc, dstSvc)
	j.mu.Lock()
	j.committed[inRange] = []byte(deletedIndex)
	j.mu.Unlock()
	res, err = run(t.Context(), ft2, fa2, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 0 || len(res.Skipped) != 1 || res.Status != StatusPartial || !strings.Contains(res.Skipped[0].Reason, "cannot be inserted") {
		t.Errorf("rerun with a message behind: %+v", res)
	}
}

type countingProgress struct {
	mu                   sync.Mutex
	channels, messages   int
	doneCh, doneMessages int
	starts               int
	mediaBytes           int64
}

func (p *countingProgress) Start(c, m int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	p.channels, p.messages = c, m
}
func (p *countingProgress) ChannelDone() { p.mu.Lock(); p.doneCh++; p.mu.Unlock() }
func (p *countingProgress) MediaBytes(n int64) {
	p.mu.Lock()
	p.mediaBytes += n
	p.mu.Unlock()
}
func (p *countingProgress) Messages(n int) {
	p.mu.Lock()
	p.doneMessages += n
	p.mu.Unlock()
}

func TestProgress(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 70, seed: 15})
	for _, o := range []Options{{}, {Since: t0.Add(30 * time.Minute)}, {DryRun: true}} {
		t.Run(fmt.Sprintf("since %v dry %v", !o.Since.IsZero(), o.DryRun), func(t *testing.T) {
			p := &countingProgress{}
			o.Progress = p
			if _, err := run(t.Context(), newFakeTarget(srcSvc, dstSvc), newFakeArchive(snap), opts(o)); err != nil {
				t.Fatal(err)
			}
			if p.starts != 1 || p.channels != 3 || p.messages != 210 || p.doneCh != 3 || p.doneMessages != 210 {
				t.Errorf("progress %+v", p)
			}
		})
	}
}

func TestDiffs(t *testing.T) {
	s := func(v string) *string { return &v }
	tm := t0
	src := &srcMessage{SID: "IM1", From: s("ann"), Body: s("hi"), Attributes: s(`{"a":1,"b":[1,2]}`), DateCreated: &tm}
	base := remote.Message{From: "ann", Body: "hi", Attributes: `{"b":[1,2], "a":1}`, DateCreated: t0.Add(400 * time.Millisecond)}
	cases := []struct {
		name   string
		src    *srcMessage
		change func(m *remote.Message)
		want   string
	}{
		{"same (re-encoded attributes, sub-second date)", src, func(*remote.Message) {}, ""},
		{"from", src, func(m *remote.Message) { m.From = "bob" }, "from"},
		{"body", src, func(m *remote.Message) { m.Body = "" }, "body"},
		{"attributes", src, func(m *remote.Message) { m.Attributes = `{"a":2}` }, "attributes"},
		{"attributes not JSON", src, func(m *remote.Message) { m.Attributes = `{` }, "attributes"},
		{"date", src, func(m *remote.Message) { m.DateCreated = t0.Add(time.Second) }, "date_created"},
		{"null body is empty", &srcMessage{Body: nil}, func(m *remote.Message) { m.From, m.Body, m.Attributes = "x", "", "{}" }, ""},
		{"null body vs text", &srcMessage{Body: nil}, func(m *remote.Message) { m.Body = "x" }, "body"},
		{"media attached", &srcMessage{Media: &srcMedia{SID: "ME1"}}, func(m *remote.Message) { m.Media = &remote.Media{SID: "ME1"}; m.Body = "" }, ""},
		{"media missing", &srcMessage{Media: &srcMedia{SID: "ME1"}}, func(m *remote.Message) { m.Media = nil }, "media"},
		{"media: the same file under another SID", &srcMessage{Media: &srcMedia{SID: "ME1", Size: 3, ContentType: "image/png", Filename: "a.png"}},
			func(m *remote.Message) {
				m.Media = &remote.Media{SID: "ME2", Size: 3, ContentType: "image/png", Filename: "a.png"}
				m.Body = ""
			}, ""},
		{"media: another size", &srcMessage{Media: &srcMedia{SID: "ME1", Size: 3}}, func(m *remote.Message) { m.Media = &remote.Media{SID: "ME1", Size: 4} }, "media"},
		{"media: another content type", &srcMessage{Media: &srcMedia{SID: "ME1", ContentType: "image/png"}},
			func(m *remote.Message) { m.Media = &remote.Media{SID: "ME1", ContentType: "image/gif"} }, "media"},
		{"media: another filename", &srcMessage{Media: &srcMedia{SID: "ME1", Filename: "a.png"}},
			func(m *remote.Message) { m.Media = &remote.Media{SID: "ME1", Filename: "b.png"} }, "media"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			tc.change(&m)
			if got := messageDiff(tc.src, &m, nil); got != tc.want {
				t.Errorf("messageDiff = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		run  func() error
	}{
		{"channel not JSON", func() error { _, err := parseChannel(store.ChannelRecord{SID: "CH1", Raw: []byte("{")}); return err }},
		{"channel bad date", func() error {
			_, err := parseChannel(store.ChannelRecord{SID: "CH1", Raw: []byte(`{"date_created":"yesterday"}`)})
			return err
		}},
		{"member not JSON", func() error { _, err := parseMember(store.MemberRecord{SID: "MB1", Raw: []byte("[")}); return err }},
		{"member without identity", func() error {
			_, err := parseMember(store.MemberRecord{SID: "MB1", Raw: []byte(`{"identity":null}`)})
			return err
		}},
		{"member index not a number", func() error {
			_, err := parseMember(store.MemberRecord{SID: "MB1", Identity: "a", Raw: []byte(`{"last_consumed_message_index":"3"}`)})
			return err
		}},
		{"message not JSON", func() error { _, err := parseMessage(store.MessageRecord{SID: "IM1", Raw: []byte("nul")}); return err }},
		{"message body not a string", func() error {
			_, err := parseMessage(store.MessageRecord{SID: "IM1", Raw: []byte(`{"body":1}`)})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); err == nil {
				t.Fatal("no error")
			}
		})
	}
	// A damaged record fails its channel only.
	snap := genHistory(histOpts{channels: 2, messages: 3})
	snap.messages[snap.channels[1].SID][1].Raw = []byte("{")
	res, err := run(t.Context(), newFakeTarget(srcSvc, dstSvc), newFakeArchive(snap), opts(Options{}))
	if err != nil || len(res.Failed) != 1 || res.Failed[0].Channel != snap.channels[1].SID || !strings.Contains(res.Failed[0].Error, "decode archived message") {
		t.Errorf("result %+v, %v", res, err)
	}
}

func TestArchiveAndJournalErrors(t *testing.T) {
	errDisk := errors.New("disk on fire")
	cases := []struct {
		name     string
		prepare  func(fa *fakeArchive, snap *fakeSnap)
		wantErr  error  // fatal error, or nil
		wantFail string // else: the one failed channel's error contains this
	}{
		{"messages unreadable", func(fa *fakeArchive, snap *fakeSnap) {
			snap.msgErr = map[string]error{snap.channels[1].SID: store.ErrCorrupt}
		}, nil, "read archived messages"},
		{"messages out of order", func(fa *fakeArchive, snap *fakeSnap) {
			ms := snap.messages[snap.channels[1].SID]
			ms[2].Index = ms[1].Index
		}, nil, "out of order"},
		{"channel not JSON", func(fa *fakeArchive, snap *fakeSnap) {
			snap.channels[1].Raw = []byte("<html>")
		}, nil, "decode archived channel"},
		{"member not JSON", func(fa *fakeArchive, snap *fakeSnap) {
			snap.members[snap.channels[1].SID][0].Raw = []byte("[]")
		}, nil, "decode archived member"},
		{"journal refuses writes", func(fa *fakeArchive, snap *fakeSnap) {
			j, _ := fa.Journal(srcSvc, dstSvc)
			j.(*fakeJournal).failPut = errDisk
		}, errDisk, ""},
		{"journal entry damaged", func(fa *fakeArchive, snap *fakeSnap) {
			j, _ := fa.Journal(srcSvc, dstSvc)
			j.(*fakeJournal).committed[chanKey(snap.channels[0].SID)] = []byte("{")
		}, nil, ""},
		{"index entry damaged", func(fa *fakeArchive, snap *fakeSnap) {
			j, _ := fa.Journal(srcSvc, dstSvc)
			j.(*fakeJournal).committed[newChanState().indexKey(snap.channels[0].SID, 1<<40)] = []byte("x")
		}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := genHistory(histOpts{channels: 2, messages: 6, seed: 16})
			fa := newFakeArchive(snap)
			tc.prepare(fa, snap)
			res, err := run(t.Context(), newFakeTarget(srcSvc, dstSvc), fa, opts(Options{Concurrency: 1}))
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "restore journal") {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
			case tc.wantFail != "":
				if err != nil || len(res.Failed) != 1 || res.Failed[0].Channel != snap.channels[1].SID ||
					!strings.Contains(res.Failed[0].Error, tc.wantFail) || res.ChannelsCreated < 1 {
					t.Fatalf("result %+v, %v; want channel %s failed with %q", res, err, snap.channels[1].SID, tc.wantFail)
				}
			default: // a damaged journal stops the run, naming the entry
				if err == nil || !strings.Contains(err.Error(), "damaged") {
					t.Fatalf("got %+v, %v; want an error about the damaged journal", res, err)
				}
			}
		})
	}
}

func TestMapRoles(t *testing.T) {
	src := []store.RoleRecord{{SID: "RLs1", FriendlyName: "channel user"}, {SID: "RLs2", FriendlyName: "admin"}, {SID: "RLs3", FriendlyName: "gone"}}
	cases := []struct {
		name string
		tgt  []*remote.Role
		want map[string]string
	}{
		{"by name", []*remote.Role{{SID: "RLt1", FriendlyName: "channel user", Type: "channel"}, {SID: "RLt2", FriendlyName: "admin", Type: "channel"}},
			map[string]string{"RLs1": "RLt1", "RLs2": "RLt2"}},
		{"deployment roles are not member roles", []*remote.Role{{SID: "RLt1", FriendlyName: "admin", Type: "deployment"}},
			map[string]string{}},
		{"channel role wins over a deployment namesake", []*remote.Role{{SID: "RLt1", FriendlyName: "admin", Type: "channel"}, {SID: "RLt2", FriendlyName: "admin", Type: "deployment"}},
			map[string]string{"RLs2": "RLt1"}},
		{"case matters", []*remote.Role{{SID: "RLt1", FriendlyName: "Channel User", Type: "channel"}}, map[string]string{}},
		{"empty target", nil, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mapRoles(src, tc.tgt, "channel")
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("mapRoles = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDryRunLatencyIsMedian: the dry run's estimate takes the median
// round trip of its reads, so a slow first request (a TLS handshake, a
// stall) does not scale it.
func TestDryRunLatencyIsMedian(t *testing.T) {
	snap := genHistory(histOpts{channels: 5, messages: 10, seed: 8})
	fa := newFakeArchive(snap)
	dry := func(first time.Duration, latency time.Duration) float64 {
		t.Helper()
		ft := newFakeTarget(dstSvc)
		ft.onRead = func(op string) fault {
			if op == "ListRoles" {
				time.Sleep(first)
			} else {
				time.Sleep(2 * time.Millisecond)
			}
			return faultNone
		}
		res, err := run(t.Context(), ft, fa, opts(Options{DryRun: true, Concurrency: 5, WriteRate: 10, Latency: latency}))
		if err != nil || res.Plan == nil {
			t.Fatalf("dry run: %+v %v", res, err)
		}
		return res.Plan.EstimatedSeconds
	}
	// At 10 writes a second, a chain's step is 100 ms whatever a fast
	// round trip; a first read of 400 ms alone would make it 400.
	want := dry(0, 2*time.Millisecond)
	if got := dry(400*time.Millisecond, 0); got != want {
		t.Errorf("estimate %.2fs after a slow first read, want %.2fs (that of a 2 ms round trip)", got, want)
	}
	if slow := dry(0, 400*time.Millisecond); slow < 3*want {
		t.Errorf("estimate %.2fs at 400 ms a round trip, against %.2fs at 2 ms: the latency should set it", slow, want)
	}
}

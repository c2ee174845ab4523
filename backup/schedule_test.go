package backup

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

func TestJobQueue(t *testing.T) {
	tests := []struct {
		name   string
		counts []int // size (messagesCount) of the jobs pushed, sid = position
		want   []int // positions in the order popped
	}{
		{"empty", nil, nil},
		{"one", []int{5}, []int{0}},
		{"most messages first", []int{1, 30, 7, 0, 12}, []int{1, 4, 2, 0, 3}},
		{"ties keep the listing order", []int{4, 9, 4, 9, 4}, []int{1, 3, 0, 2, 4}},
		{"all equal", []int{2, 2, 2}, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newJobQueue()
			for i, c := range tt.counts {
				q.push(job{sid: string(rune('a' + i)), messagesCount: c, size: c})
			}
			if n := q.close(); n != len(tt.counts) {
				t.Errorf("close says %d jobs were pushed, want %d", n, len(tt.counts))
			}
			var got []int
			for q.wait(context.Background()) {
				got = append(got, int(q.pop().sid[0]-'a'))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("popped %v, want %v", got, tt.want)
			}
		})
	}
}

// TestJobQueueMembersLast: every channel's messages job comes before any
// members job (the listings fill the places the walks leave idle at the
// end), each kind by size.
func TestJobQueueMembersLast(t *testing.T) {
	q := newJobQueue()
	for i, size := range []int{3, 40, 7} {
		messages, members := jobsOf(job{sid: string(rune('a' + i)), size: size})
		q.push(messages)
		q.push(members)
	}
	q.close()
	var got []string
	for q.wait(context.Background()) {
		j := q.pop()
		kind := "messages"
		if j.members {
			kind = "members"
		}
		got = append(got, j.sid+" "+kind)
	}
	want := []string{"b messages", "c messages", "a messages", "b members", "c members", "a members"}
	if !slices.Equal(got, want) {
		t.Errorf("popped %q, want %q", got, want)
	}
}

// TestChanJobs: a channel ends with its second job; a failure of either
// job is recorded at once, and a failure of both is one failure naming
// both errors.
func TestChanJobs(t *testing.T) {
	errA, errB := errors.New("reading messages: a"), errors.New("listing members: b")
	for _, tc := range []struct {
		name       string
		first, snd error
		want       []string
	}{
		{"both fine", nil, nil, nil},
		{"one failed", errA, nil, []string{"reading messages: a"}},
		{"the other failed", nil, errB, []string{"listing members: b"}},
		{"both failed", errA, errB, []string{"reading messages: a", "listing members: b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &run{log: slog.New(slog.DiscardHandler)}
			messages, members := jobsOf(job{sid: "CHa"})
			if tc.first != nil {
				r.failJob(messages, tc.first)
				if len(r.failures) != 1 {
					t.Fatalf("after the first job failed: failures %+v", r.failures)
				}
			}
			if messages.ch.end() {
				t.Fatal("the first job's end is the channel's last")
			}
			if tc.snd != nil {
				r.failJob(members, tc.snd)
			}
			if !members.ch.end() {
				t.Fatal("the second job's end is not the channel's last")
			}
			if len(tc.want) == 0 {
				if len(r.failures) != 0 {
					t.Errorf("failures %+v, want none", r.failures)
				}
				return
			}
			if len(r.failures) != 1 || r.failures[0].Channel != "CHa" {
				t.Fatalf("failures %+v, want one of channel CHa", r.failures)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.failures[0].Error, w) {
					t.Errorf("failure %q does not name %q", r.failures[0].Error, w)
				}
			}
			if strings.Contains(r.failures[0].Error, "\n") {
				t.Errorf("failure %q spans lines", r.failures[0].Error)
			}
		})
	}
}

func TestJobQueueWait(t *testing.T) {
	t.Run("a push wakes the waiter", func(t *testing.T) {
		q := newJobQueue()
		woke := make(chan bool)
		go func() { woke <- q.wait(context.Background()) }()
		q.push(job{sid: "a"})
		if !<-woke {
			t.Fatal("wait returned false after a push")
		}
		expect(t, "popped", q.pop().sid, "a")
	})
	t.Run("closing an empty queue ends the wait", func(t *testing.T) {
		q := newJobQueue()
		woke := make(chan bool)
		go func() { woke <- q.wait(context.Background()) }()
		q.close()
		if <-woke {
			t.Fatal("wait returned true on a closed, empty queue")
		}
	})
	t.Run("a cancelled context ends the wait", func(t *testing.T) {
		q := newJobQueue()
		ctx, cancel := context.WithCancel(context.Background())
		woke := make(chan bool)
		go func() { woke <- q.wait(ctx) }()
		cancel()
		if <-woke {
			t.Fatal("wait returned true after cancel")
		}
	})
	t.Run("a cancelled context wins over waiting jobs", func(t *testing.T) {
		q := newJobQueue()
		q.push(job{sid: "a"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if q.wait(ctx) {
			t.Fatal("wait returned true after cancel")
		}
	})
}

// progressLog records the order of progress events.
type progressLog struct {
	mu     sync.Mutex
	events []string
}

func (p *progressLog) Start(n int)      { p.add("start") }
func (p *progressLog) ChannelDone()     { p.add("done") }
func (p *progressLog) Messages(n int)   {}
func (p *progressLog) MediaBytes(int64) {}
func (p *progressLog) add(e string) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func TestStartGate(t *testing.T) {
	tests := []struct {
		name  string
		calls string // d = ChannelDone, s = Start
		want  []string
	}{
		{"start first", "sdd", []string{"start", "done", "done"}},
		{"done held until start", "ddsd", []string{"start", "done", "done", "done"}},
		{"no start, nothing passed on", "dd", nil},
		{"start alone", "s", []string{"start"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &progressLog{}
			g := &startGate{Progress: log}
			for _, c := range tt.calls {
				if c == 's' {
					g.Start(1)
				} else {
					g.ChannelDone()
				}
			}
			if !slices.Equal(log.events, tt.want) {
				t.Errorf("events %v, want %v", log.events, tt.want)
			}
		})
	}
}

// repeatingListing lists every channel twice, as a listing that pages by
// offset might while channels are created.
type repeatingListing struct{ *fakeSource }

func (r repeatingListing) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error] {
	return func(yield func(*remote.Channel, error) bool) {
		for c, err := range r.fakeSource.ListChannels(ctx, service, types...) {
			if !yield(c, err) || err != nil || !yield(c, nil) {
				return
			}
		}
	}
}

func TestLowConcurrencyCompletes(t *testing.T) {
	// Every part of a run holds one of the Concurrency slots while it sends
	// requests; with one slot they take turns.
	for _, n := range []int{1, 2} {
		f := newFakeSource(60, 12) // two pages of channel listing
		a := newArchive(t)
		o := opts(f)
		o.Concurrency = n
		res := mustRun(t, f, a, o)
		assertArchived(t, a, res.Snapshot, f)
	}
}

// meteredEmulator starts an emulator with the given latency and a client
// whose requests are recorded: when each started and ended, and the most
// in flight at once.
func meteredEmulator(t *testing.T, cfg emulator.Config, latency time.Duration) (*emu, *remote.Client, *requestLog) {
	t.Helper()
	e := startEmulator(t, cfg)
	e.srv.SetFaults(latency, 0, 0, 0, 0)
	cl := e.client(t, e.info.AuthToken, testLimits)
	e.mu.Lock()
	h := e.https[len(e.https)-1]
	e.mu.Unlock()
	log := &requestLog{meter: inFlightMeter{next: h.Transport}}
	h.Transport = log
	return e, cl, log
}

// requestLog is an inFlightMeter that also records each request's path and
// the time it ended.
type requestLog struct {
	meter inFlightMeter
	mu    sync.Mutex
	ended []loggedRequest
}

type loggedRequest struct {
	path       string
	start, end time.Time
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := l.meter.RoundTrip(r)
	l.mu.Lock()
	l.ended = append(l.ended, loggedRequest{r.URL.Path, start, time.Now()})
	l.mu.Unlock()
	return resp, err
}

func (l *requestLog) CloseIdleConnections() { l.meter.CloseIdleConnections() }

func TestIntegrationConcurrencyIsABound(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 6} {
		e, cl, log := meteredEmulator(t, emulator.Config{Seed: 31, Channels: 8, Messages: 15}, 5*time.Millisecond)
		want, _ := liveShape(t, e)
		a := newArchive(t)
		// Media downloads have their own bound, beside the walks'.
		res, err := Run(context.Background(), cl, a, Options{Service: e.svc, Concurrency: n, PageSize: 10, MediaConcurrency: 1})
		if err != nil || res.Status != "complete" || res.Messages != want || res.MediaFiles == 0 {
			t.Fatalf("concurrency %d: Run = %+v, %v; want %d messages and some media", n, res, err, want)
		}
		if top := log.meter.top.Load(); top > int64(n+1) {
			t.Errorf("concurrency %d and one media download: %d requests were in flight at once", n, top)
		} else if n > 1 && top < 2 {
			t.Errorf("concurrency %d: at most %d request in flight: nothing ran concurrently", n, top)
		}
	}
}

func TestIntegrationChannelsStartWhileListing(t *testing.T) {
	// 110 channels take two pages of listing: the first page's channels
	// are backed up while the second page is read. The latency is the
	// time the first channel request has to start in, after the first
	// page arrived: 40 ms, so a loaded machine (the tests run in
	// parallel) does not make it late (it failed once at 10 ms).
	t.Parallel()
	e, cl, log := meteredEmulator(t, emulator.Config{Seed: 32, Channels: 110, Messages: 2}, 40*time.Millisecond)
	a := newArchive(t)
	res, err := Run(context.Background(), cl, a, Options{Service: e.svc, Concurrency: 16})
	if err != nil || res.Status != "complete" || res.Channels != 110 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	var listingEnd, firstChannel time.Time
	for _, r := range log.ended {
		switch {
		case strings.HasSuffix(r.path, "/Channels"):
			if r.end.After(listingEnd) {
				listingEnd = r.end
			}
		case strings.HasSuffix(r.path, "/Members") || strings.HasSuffix(r.path, "/Messages"):
			if firstChannel.IsZero() || r.start.Before(firstChannel) {
				firstChannel = r.start
			}
		}
	}
	if firstChannel.IsZero() || !firstChannel.Before(listingEnd) {
		t.Errorf("the first channel request started at %v, the listing ended at %v: channels waited for the whole listing",
			firstChannel, listingEnd)
	}
}

// liveShape returns the number of messages of e's service.
func liveShape(t *testing.T, e *emu) (messages, channels int) {
	t.Helper()
	for c, err := range e.cl.ListChannels(context.Background(), e.svc) {
		if err != nil {
			t.Fatal(err)
		}
		messages += c.MessagesCount
		channels++
	}
	return messages, channels
}

func TestPlacesOrder(t *testing.T) {
	// One place, held by a first task: those queued meanwhile run highest
	// priority first, first come among equals.
	p := newPlaces(1)
	defer p.close()
	hold, held := make(chan struct{}), make(chan struct{})
	go p.do(context.Background(), 0, func() error { close(held); <-hold; return nil })
	<-held
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	for i, tk := range []struct {
		name string
		prio int
	}{{"low", 1}, {"high-a", 3}, {"mid", 2}, {"high-b", 3}, {"listing", prioListing}, {"members", prioMembers}} {
		wg.Add(1)
		queued := make(chan struct{})
		go func() {
			defer wg.Done()
			close(queued)
			p.do(context.Background(), tk.prio, func() error {
				mu.Lock()
				order = append(order, tk.name)
				mu.Unlock()
				return nil
			})
		}()
		<-queued
		waitQueued(t, p, i+1)
	}
	close(hold)
	wg.Wait()
	want := []string{"listing", "high-a", "high-b", "mid", "low", "members"}
	if !slices.Equal(order, want) {
		t.Errorf("tasks ran in order %v; want %v", order, want)
	}
}

// waitQueued waits until n tasks wait for a place.
func waitQueued(t *testing.T, p *places, n int) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		k := len(p.waiting)
		p.mu.Unlock()
		if k >= n {
			return
		}
	}
	t.Fatalf("%d tasks never waited for a place", n)
}

func TestPlacesBoundAndCancel(t *testing.T) {
	p := newPlaces(3)
	var running, top atomic.Int64
	var g errgroup.Group
	for range 30 {
		g.Go(func() error {
			return p.do(context.Background(), 1, func() error {
				n := running.Add(1)
				for m := top.Load(); n > m && !top.CompareAndSwap(m, n); m = top.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := top.Load(); n > 3 || n < 2 {
		t.Errorf("%d tasks ran at once on 3 places; want 2 or 3", n)
	}

	// A task still waiting when its context ends is withdrawn: it never
	// runs and the place it would have had stays usable.
	hold, held := make(chan struct{}), make(chan struct{})
	for range 3 {
		go p.do(context.Background(), 0, func() error { held <- struct{}{}; <-hold; return nil })
		<-held
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	var ran atomic.Bool
	go func() { errc <- p.do(ctx, 5, func() error { ran.Store(true); return nil }) }()
	waitQueued(t, p, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled task: do = %v; want context.Canceled", err)
	}
	close(hold)
	if err := p.do(context.Background(), 0, func() error { return nil }); err != nil {
		t.Errorf("a task after the withdrawn one: %v", err)
	}
	if ran.Load() {
		t.Error("a task withdrawn before it was taken ran anyway")
	}
	p.close()
	if err := p.do(context.Background(), 0, func() error { return nil }); err == nil {
		t.Error("do after close succeeded; want an error")
	}
}

func TestIntegrationLastChannelsDoNotRunAlone(t *testing.T) {
	// Five channels of about six pages on four places. Were a channel to
	// hold its place for its whole walk, the fifth would start only once
	// another had read its last page, and walk alone while three places
	// idled. Its first page must come while the others still walk.
	t.Parallel()
	e, cl, log := meteredEmulator(t, emulator.Config{Seed: 33, Channels: 5, Messages: 60}, 10*time.Millisecond)
	a := newArchive(t)
	res, err := Run(context.Background(), cl, a, Options{Service: e.svc, Concurrency: 4, PageSize: 10, NoMedia: true})
	if err != nil || res.Status != "complete" || res.Channels != 5 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range log.ended {
		parts := strings.Split(r.path, "/")
		if len(parts) < 2 || parts[len(parts)-1] != "Messages" {
			continue
		}
		ch := parts[len(parts)-2]
		if f, ok := first[ch]; !ok || r.start.Before(f) {
			first[ch] = r.start
		}
		if r.end.After(last[ch]) {
			last[ch] = r.end
		}
	}
	if len(first) != 5 {
		t.Fatalf("message requests of %d channels logged; want 5", len(first))
	}
	var latestStart, earliestEnd time.Time
	for ch := range first {
		if first[ch].After(latestStart) {
			latestStart = first[ch]
		}
		if earliestEnd.IsZero() || last[ch].Before(earliestEnd) {
			earliestEnd = last[ch]
		}
	}
	if !latestStart.Before(earliestEnd) {
		t.Errorf("the last channel's walk started %v after the first run's start, once a walk had ended (%v): channels ran in waves",
			latestStart.Sub(log.ended[0].start), earliestEnd.Sub(log.ended[0].start))
	}
}

package backup

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// serviceShape reads the channel listing: total messages and the longest
// request chain at the given page size: the first page of the channel
// listing (no channel is known before it), then one channel's member page
// and its message pages (an empty channel still costs one message page).
func serviceShape(b *testing.B, cl *remote.Client, svc string, pageSize int) (messages, chain int) {
	b.Helper()
	for c, err := range cl.ListChannels(context.Background(), svc) {
		if err != nil {
			b.Fatal(err)
		}
		messages += c.MessagesCount
		pages := max(1, (c.MessagesCount+pageSize-1)/pageSize)
		chain = max(chain, 1+1+pages)
	}
	return messages, chain
}

// emulatorRequests is the number of API requests the emulator has served.
func emulatorRequests(e *emu) int64 {
	var n int64
	for _, v := range e.srv.Stats().Requests {
		n += v
	}
	return n
}

// inFlightMeter is a RoundTripper that records the most requests it ever
// had in flight at once, and how long they were in flight in all: from
// the request's start to its body's close, which is when the caller has
// read the answer.
type inFlightMeter struct {
	next     http.RoundTripper
	now, top atomic.Int64
	busy     atomic.Int64 // nanoseconds
	done     atomic.Int64 // requests whose time is in busy
}

func (m *inFlightMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	n := m.now.Add(1)
	for {
		t := m.top.Load()
		if n <= t || m.top.CompareAndSwap(t, n) {
			break
		}
	}
	resp, err := m.next.RoundTrip(r)
	if err != nil {
		m.end(start)
		return nil, err
	}
	resp.Body = &meteredBody{ReadCloser: resp.Body, end: func() { m.end(start) }}
	return resp, nil
}

func (m *inFlightMeter) end(start time.Time) {
	m.busy.Add(int64(time.Since(start)))
	m.done.Add(1)
	m.now.Add(-1)
}

// meteredBody calls end once, when the body is closed.
type meteredBody struct {
	io.ReadCloser
	once sync.Once
	end  func()
}

func (b *meteredBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.end)
	return err
}

// report adds the meter's figures to b: the time a request took on average
// (ms/req), and how much of the concurrency's room over elapsed was in use
// (%busy). %bound is about (latency / ms/req) × %busy when the bound is
// the requests' count: the first factor is what slower answers cost, the
// second what places left idle cost.
func (m *inFlightMeter) report(b *testing.B, elapsed time.Duration, concurrency int) {
	if n := m.done.Load(); n > 0 {
		b.ReportMetric(float64(m.busy.Load())/float64(n)/1e6, "ms/req")
	}
	b.ReportMetric(100*float64(m.busy.Load())/(float64(elapsed)*float64(concurrency)), "%busy")
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (m *inFlightMeter) CloseIdleConnections() {
	if c, ok := m.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// benchRun backs up e's service into a new archive b.N times, timing only
// Run, and returns the summed elapsed time, messages and requests.
func benchRun(b *testing.B, cl Source, o Options, want int) (elapsed time.Duration, msgs, reqs int64) {
	b.Helper()
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, err := store.Open(filepath.Join(dir, fmt.Sprintf("bench-%d.vault", i)), store.Options{Create: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := Run(context.Background(), cl, a, o)
		took := time.Since(start)
		b.StopTimer()
		if err != nil || res.Status != "complete" {
			b.Fatalf("Run: %+v %v", res, err)
		}
		if res.Messages != want {
			b.Fatalf("backed up %d messages, the service has %d", res.Messages, want)
		}
		elapsed += took
		msgs += int64(res.Messages)
		reqs += res.Requests
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	return elapsed, msgs, reqs
}

// listingFree is the number of requests of a backup that need no channel
// SID: the service, and the first pages of its roles, users and channels.
const listingFree = 4

// BenchmarkBackupLatency measures how close a backup over a slow link comes
// to the best its concurrency allows. %bound = 100 × bound / elapsed, where
// bound = max(requests × latency / concurrency, longest chain × latency):
// requests are those the emulator served, concurrency is Options.Concurrency
// (the benchmark fails if the backup ever had more requests in flight), and
// the chain is the channel listing's first page followed by the longest
// channel's requests. %bound_dep uses a tighter bound that holds as well:
// max(latency + (requests − listingFree) × latency / concurrency, longest
// chain × latency), since no request about a channel can start before the
// first page of the listing has answered. x_vs_sdk = requests × latency / elapsed, the speed-up
// over a script that sends every request one after another.
//
// It runs through both APIs on the same history: api=conversations first
// makes every public channel private through Chat v3, as the README's
// runbook does, so that Conversations shows them all.
func BenchmarkBackupLatency(b *testing.B) {
	for _, api := range []string{remote.APIChat, remote.APIConversations} {
		b.Run("api="+api, func(b *testing.B) { benchLatency(b, api) })
	}
}

func benchLatency(b *testing.B, api string) {
	const latency = 50 * time.Millisecond
	e := startEmulator(b, emulator.Config{Seed: 21, Channels: 64, Messages: 300})
	// Without media: downloads have places of their own
	// (Options.MediaConcurrency) beside Concurrency, which the bound
	// below does not count (with media the run failed its in-flight check).
	o := Options{Service: e.svc, Concurrency: 16, PageSize: 100, NoMedia: true}
	want, chain := serviceShape(b, e.cl, e.svc, o.PageSize)
	if api == remote.APIConversations {
		makeAllPrivate(b, e)
	}
	e.srv.SetFaults(latency, 0, 0, 0, 0)
	// The client allows more requests in flight than the backup's
	// concurrency, so that only the backup's own scheduling is measured.
	cl := e.client(b, e.info.AuthToken, remote.Limits{MaxInFlight: 2 * o.Concurrency})
	meter := &inFlightMeter{}
	e.mu.Lock()
	h := e.https[len(e.https)-1]
	e.mu.Unlock()
	meter.next, h.Transport = h.Transport, meter
	b.ResetTimer()
	before := emulatorRequests(e)
	var src Source = cl
	if api == remote.APIConversations {
		src = cl.Conversations()
	}
	elapsed, msgs, clientReqs := benchRun(b, src, o, want)
	reqs := emulatorRequests(e) - before
	if top := meter.top.Load(); top > int64(o.Concurrency) {
		b.Fatalf("the backup had %d requests in flight at once, more than its concurrency %d: the bound below would not hold", top, o.Concurrency)
	}
	if reqs != clientReqs {
		b.Logf("the emulator served %d requests, the client counted %d", reqs, clientReqs)
	}
	bound := max(time.Duration(reqs)*latency/time.Duration(o.Concurrency), time.Duration(b.N*chain)*latency)
	// A tighter bound that also holds for any client: only the requests
	// that need no channel SID (the service, the first page of its roles,
	// of its users and of its channels: listingFree) can be in flight
	// before the first page of channels is answered, so every other
	// request falls after one latency.
	per := reqs / int64(b.N)
	depBound := time.Duration(b.N) * max(latency+time.Duration(max(per-listingFree, 0))*latency/time.Duration(o.Concurrency), time.Duration(chain)*latency)
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(100*bound.Seconds()/elapsed.Seconds(), "%bound")
	b.ReportMetric(100*depBound.Seconds()/elapsed.Seconds(), "%bound_dep")
	b.ReportMetric((time.Duration(reqs)*latency).Seconds()/elapsed.Seconds(), "x_vs_sdk")
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
	b.ReportMetric(float64(meter.top.Load()), "max_in_flight")
	meter.report(b, elapsed, o.Concurrency)
}

// makeAllPrivate makes every public channel of e's service private through
// Chat v3, so that Conversations shows every channel.
func makeAllPrivate(b *testing.B, e *emu) {
	b.Helper()
	ctx := context.Background()
	for c, err := range e.cl.ListChannels(ctx, e.svc, "public") {
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.cl.MakeChannelPrivate(ctx, e.svc, c.SID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackupNoLatency measures the backup's own cost: no latency, a
// new archive each time. media=off is the message path alone (the issue's
// messages/s figure); media=on also downloads and archives the history's
// files (about 2,000 of them, 140 MB), which BenchmarkBackupMediaLatency
// measures at a realistic latency.
func BenchmarkBackupNoLatency(b *testing.B) {
	e := startEmulator(b, emulator.Config{Seed: 22, Channels: 100, Messages: 1000})
	want, _ := serviceShape(b, e.cl, e.svc, DefaultPageSize)
	for _, noMedia := range []bool{true, false} {
		b.Run(map[bool]string{true: "media=off", false: "media=on"}[noMedia], func(b *testing.B) {
			o := Options{Service: e.svc, NoMedia: noMedia}
			b.ReportAllocs()
			b.ResetTimer()
			elapsed, msgs, _ := benchRun(b, e.cl, o, want)
			b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkBackupRSS backs up a service of about a million messages (and,
// for comparison, a tenth of that) in a child process and reports:
//
//   - peak_rss_MB: the child's peak resident memory (its VmHWM), which
//     includes the archive's memory-mapped pages the child touched;
//   - peak_anon_MB and peak_file_MB: the largest anonymous and file-backed
//     (page cache, reclaimable) parts sampled every 20ms;
//   - go_sys_MB: the memory the child's Go runtime held when it ended, and
//     go_heap_MB the largest heap in use sampled.
//
// The parent's getrusage Maxrss of the child is not used: on Linux it also
// counts the parent's own resident size (see memPeaks), here the emulator's.
func BenchmarkBackupRSS(b *testing.B) {
	for _, size := range []struct {
		name     string
		channels int
	}{{"messages=100k", 10}, {"messages=1M", 100}} {
		b.Run(size.name, func(b *testing.B) {
			e := startEmulator(b, emulator.Config{Seed: 23, Channels: size.channels, Messages: 10000})
			want, _ := serviceShape(b, e.cl, e.svc, DefaultPageSize)
			dir := b.TempDir()
			b.ResetTimer()
			var peak memPeaks
			var goSys uint64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				out, took := runHelper(b, helperCommand(e, filepath.Join(dir, fmt.Sprintf("rss-%d.vault", i)), 100, 16, false))
				elapsed += took
				b.StopTimer()
				if out.Result.Messages != want {
					b.Fatalf("backed up %d messages, the service has %d", out.Result.Messages, want)
				}
				if out.Mem.HWMKB == 0 {
					b.Fatalf("the backup process could not read its memory use from /proc/self/status")
				}
				goSys = max(goSys, out.GoSysBytes)
				peak.HWMKB = max(peak.HWMKB, out.Mem.HWMKB)
				peak.AnonKB = max(peak.AnonKB, out.Mem.AnonKB)
				peak.FileKB = max(peak.FileKB, out.Mem.FileKB)
				peak.HeapInKB = max(peak.HeapInKB, out.Mem.HeapInKB)
				b.StartTimer()
			}
			b.ReportMetric(float64(peak.HWMKB)/1024, "peak_rss_MB")
			b.ReportMetric(float64(peak.AnonKB)/1024, "peak_anon_MB")
			b.ReportMetric(float64(peak.FileKB)/1024, "peak_file_MB")
			b.ReportMetric(float64(goSys)/(1<<20), "go_sys_MB")
			b.ReportMetric(float64(peak.HeapInKB)/1024, "go_heap_MB")
			b.ReportMetric(float64(want)*float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkBackupFullRerun measures a --full run over an archive that
// already holds every message (no latency, no media): every message is
// read and compared with its stored version, and none is written.
func BenchmarkBackupFullRerun(b *testing.B) {
	e := startEmulator(b, emulator.Config{Seed: 22, Channels: 100, Messages: 1000})
	a, err := store.Open(filepath.Join(b.TempDir(), "rerun.vault"), store.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if _, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, NoMedia: true}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var elapsed time.Duration
	var msgs int
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, NoMedia: true, Full: true})
		elapsed += time.Since(start)
		if err != nil || res.Status != "complete" || res.Added != 0 || res.Changed != 0 || res.Deleted != 0 {
			b.Fatalf("rerun of an unchanged service: %+v, %v; want complete with nothing added, changed or deleted", res, err)
		}
		msgs += res.Messages
	}
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkBackupIdleRerun measures the nightly case: a plain backup of
// 1,000 channels × 1,000 messages (about a million) that changed nothing
// since the last run, without latency. elapsed_ms is the whole run, its
// requests included (about two a channel), so the time it spends outside
// its requests is below it; requests/op and pages/op show what it asked.
func BenchmarkBackupIdleRerun(b *testing.B) {
	e := startEmulator(b, emulator.Config{Seed: 24, Channels: 1000, Messages: 1000})
	a, err := store.Open(filepath.Join(b.TempDir(), "idle.vault"), store.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	first, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, NoMedia: true})
	if err != nil || first.Status != "complete" {
		b.Fatalf("first backup: %+v, %v", first, err)
	}
	b.ResetTimer()
	var elapsed time.Duration
	var reqs int64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, NoMedia: true})
		elapsed += time.Since(start)
		if err != nil || res.Status != "complete" || res.Added != 0 || res.Changed != 0 || res.Deleted != 0 {
			b.Fatalf("rerun of an unchanged service: %+v, %v; want complete with nothing added, changed or deleted", res, err)
		}
		if res.Messages != first.Messages {
			b.Fatalf("rerun counted %d messages, the first run %d", res.Messages, first.Messages)
		}
		reqs += res.Requests
	}
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "elapsed_ms")
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
}

package emulator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkSeed seeds the benchmark-sized history: 1,000 channels of about
// 1,000 messages each. It reports messages seeded per second and the heap
// the history holds.
func BenchmarkSeed(b *testing.B) {
	cfg := Config{Seed: 1, Channels: 1000, Messages: 1000}
	b.ReportAllocs()
	var s *Server
	for b.Loop() {
		var err error
		if s, err = New(cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	total := 0
	svc := s.world.services[0]
	for _, ch := range svc.channels {
		total += len(ch.msgs)
	}
	if total < 900_000 || total > 1_100_000 {
		b.Fatalf("seeded %d messages, want about 1,000,000", total)
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	if kib, ok := peakRSSKiB(); ok {
		b.ReportMetric(float64(kib)/1024, "peak-RSS-MiB")
	}
	runtime.KeepAlive(s)
}

// peakRSSKiB reads the process's peak resident set size where /proc offers it.
func peakRSSKiB() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// BenchmarkListMessages serves pages of 100 messages through the handler,
// the hot path of a backup.
func BenchmarkListMessages(b *testing.B) {
	s, err := New(Config{Seed: 1, Channels: 4, Messages: 5000})
	if err != nil {
		b.Fatal(err)
	}
	info := s.Info()
	svc := s.world.services[0]
	ch := svc.channels[0]
	path := "/v2/Services/" + info.Services[0] + "/Channels/" + ch.sid.format("CH") + "/Messages?PageSize=100&Page=1&PageToken=PT"
	h := s.Handler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path+strconv.Itoa(i%4000), nil)
		req.SetBasicAuth(info.AccountSID, info.AuthToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		i += 100
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkCreateMessage posts messages to one channel through the handler,
// the hot path of a restore. The write rate is unlimited.
func BenchmarkCreateMessage(b *testing.B) {
	s, err := New(Config{Seed: 1, Channels: 1, Messages: 10})
	if err != nil {
		b.Fatal(err)
	}
	info := s.Info()
	ch := s.world.services[0].channels[0]
	path := "/v2/Services/" + info.Services[0] + "/Channels/" + ch.sid.format("CH") + "/Messages"
	body := url.Values{"From": {"alice"}, "Body": {"hello 👋 from the benchmark"}, "Attributes": {`{"k":"v"}`}, "DateCreated": {"2025-02-03T04:05:06Z"}}.Encode()
	h := s.Handler()
	before := len(ch.msgs)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(info.AccountSID, info.AuthToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	if got := len(ch.msgs) - before; got != b.N {
		b.Fatalf("channel gained %d messages, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

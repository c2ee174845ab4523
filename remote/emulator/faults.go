package emulator

import (
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// faults holds the fault switches and the seeded generator that decides
// which requests they hit.
type faults struct {
	mu               sync.Mutex
	rng              *rand.Rand
	latency          time.Duration
	maxConcurrency   int
	writeRate        int
	faultRate        float64
	lostResponseRate float64
}

// faultSettings is a consistent copy of the switches.
type faultSettings struct {
	latency          time.Duration
	maxConcurrency   int
	writeRate        int
	faultRate        float64
	lostResponseRate float64
}

// set stores the switches and reports whether the write rate changed.
func (f *faults) set(latency time.Duration, maxConcurrency, writeRate int, faultRate, lostResponseRate float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.writeRate
	f.latency = max(latency, 0)
	f.maxConcurrency = max(maxConcurrency, 0)
	f.writeRate = max(writeRate, 0)
	f.faultRate = clamp01(faultRate)
	f.lostResponseRate = clamp01(lostResponseRate)
	return old != f.writeRate
}

func clamp01(v float64) float64 {
	if !(v > 0) { // also NaN
		return 0
	}
	return min(v, 1)
}

func (f *faults) get() faultSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return faultSettings{f.latency, f.maxConcurrency, f.writeRate, f.faultRate, f.lostResponseRate}
}

// hit reports whether an event of probability p happens. p of 0 and 1 are
// decided without drawing, so switching a fault fully on or off does not
// shift the sequence other draws see.
func (f *faults) hit(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p
}

// serverError picks 500 or 503 for an injected fault.
func (f *faults) serverError() *apiError {
	f.mu.Lock()
	five03 := f.rng.IntN(2) == 1
	f.mu.Unlock()
	if five03 {
		return newAPIError(503, codeServiceUnavailable, "Service unavailable (fault injected by the emulator, request not carried out); retry with backoff")
	}
	return newAPIError(500, codeInternalError, "Internal server error (fault injected by the emulator, request not carried out); retry with backoff")
}

// limiters are the per-channel write allowances (token buckets of WriteRate
// writes per second, bursts of up to WriteRate).
type limiters struct {
	mu sync.Mutex
	m  map[string]*limiter
}

type limiter = rate.Limiter

// allow takes one write from channel key's allowance at time now.
func (l *limiters) allow(key string, perSecond int, now time.Time) bool {
	if perSecond <= 0 {
		return true
	}
	l.mu.Lock()
	lim := l.m[key]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(perSecond), perSecond)
		l.m[key] = lim
	}
	l.mu.Unlock()
	return lim.AllowN(now, 1)
}

func (l *limiters) forget(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

func (l *limiters) reset() {
	l.mu.Lock()
	clear(l.m)
	l.mu.Unlock()
}

// counters are the figures served at /emulator/stats.
type counters struct {
	mu       sync.Mutex
	requests map[string]int64
	status   map[string]int64
	writes   int64
	webhooks int64
	lost     int64
}

func (c *counters) request(key string) {
	c.mu.Lock()
	c.requests[key]++
	c.mu.Unlock()
}

func (c *counters) answered(status int) {
	k := strconv.Itoa(status)
	c.mu.Lock()
	c.status[k]++
	c.mu.Unlock()
}

func (c *counters) write(webhooks bool) {
	c.mu.Lock()
	c.writes++
	if webhooks {
		c.webhooks++
	}
	c.mu.Unlock()
}

func (c *counters) lostResponse() {
	c.mu.Lock()
	c.lost++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{
		Requests:              make(map[string]int64, len(c.requests)),
		Status:                make(map[string]int64, len(c.status)),
		Writes:                c.writes,
		WebhooksEnabledWrites: c.webhooks,
		LostResponses:         c.lost,
	}
	maps.Copy(st.Requests, c.requests)
	maps.Copy(st.Status, c.status)
	return st
}

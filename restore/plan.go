package restore

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// plan completes the dry run's Plan with its duration estimate.
func (r *runner) plan() *Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.planned
	// The users are restored beside the channels' messages (users.go).
	p.EstimatedSeconds = max(estimate(p.Writes-p.Users, r.chanPlans, r.o.Concurrency, r.o.Latency, r.o.WriteRate, r.o.UploadRate),
		usersTime(p.Users, r.o.Concurrency, r.o.Latency))
	return &p
}

// roundTrips holds the round trips of a dry run's reads: the target's
// roles, then each channel's lookup. Their median is the latency the
// estimate assumes. The first request alone is a poor measure: it also
// opens the connection (a TLS handshake with Twilio, two or three round
// trips more), and one stall while it is on the wire (a busy machine)
// would scale the whole estimate.
type roundTrips struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *roundTrips) add(d time.Duration) {
	t.mu.Lock()
	t.d = append(t.d, d)
	t.mu.Unlock()
}

func (t *roundTrips) median() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := slices.Clone(t.d)
	slices.Sort(d)
	return d[len(d)/2]
}

// timedTarget is a dry run's target: it adds the round trip of each
// channel lookup to trips.
type timedTarget struct {
	Target
	trips *roundTrips
}

func (t timedTarget) FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error) {
	start := time.Now()
	c, err := t.Target.FetchChannel(ctx, service, sidOrUniqueName)
	if err == nil || errors.Is(err, remote.ErrNotFound) {
		t.trips.add(time.Since(start))
	}
	return c, err
}

// usersTime is the time the user writes take at best: Concurrency at a
// time, each waiting for its answer.
func usersTime(users, concurrency int, latency time.Duration) float64 {
	if users == 0 || concurrency < 1 {
		return 0
	}
	return math.Ceil(float64(users)/float64(concurrency)) * latency.Seconds()
}

// chain is what a dry run found left to do in one channel: its write
// requests (media uploads included) and the bytes its uploads send.
type chain struct {
	writes int
	bytes  int64
}

// estimate is the time the writes take at best. A channel's writes form
// one chain: each waits for the previous one's answer (latency) and for
// the per-channel write rate, so a chain of n writes takes n × max(latency,
// 1/writeRate), plus the bytes its media uploads send at uploadRate. The
// chains run on min(concurrency, channels) workers; they are packed
// greedily, longest first, each onto the worker that is free earliest, and
// the estimate is the time the busiest worker needs, or the total writes'
// latency spread over concurrency when that is longer.
func estimate(writes int, perChannel []chain, concurrency int, latency time.Duration, writeRate, uploadRate float64) float64 {
	if writes == 0 || len(perChannel) == 0 || concurrency < 1 {
		return 0
	}
	lat := latency.Seconds()
	step := lat
	if writeRate > 0 {
		step = math.Max(lat, 1/writeRate)
	}
	chains := make([]float64, len(perChannel)) // seconds per chain
	for i, c := range perChannel {
		chains[i] = float64(c.writes) * step
		if uploadRate > 0 {
			chains[i] += float64(c.bytes) / uploadRate
		}
	}
	slices.SortFunc(chains, func(a, b float64) int { return cmp.Compare(b, a) })
	busy := make([]float64, min(concurrency, len(chains))) // per worker: when it is free
	for _, w := range chains {
		i := 0
		for j := range busy {
			if busy[j] < busy[i] {
				i = j
			}
		}
		busy[i] += w
	}
	spread := float64(writes) * lat / float64(concurrency)
	return math.Max(slices.Max(busy), spread)
}

package restore

import (
	"math"
	"time"
)

// plan completes the dry run's Plan with its duration estimate.
func (r *runner) plan() *Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.planned
	p.EstimatedSeconds = estimate(p.Writes, r.chanPlans, r.o.Concurrency, r.o.Latency, r.o.WriteRate)
	return &p
}

// estimate is the time the writes take at best: the larger of the total
// work spread over the channels that run at once, and the longest channel's
// chain of writes, each of which waits for the previous one's answer and for
// the per-channel write rate.
func estimate(writes int, perChannel []int, concurrency int, latency time.Duration, writeRate float64) float64 {
	if writes == 0 || len(perChannel) == 0 {
		return 0
	}
	lat := latency.Seconds()
	longest := 0
	for _, w := range perChannel {
		longest = max(longest, w)
	}
	step := lat
	if writeRate > 0 {
		step = math.Max(lat, 1/writeRate)
	}
	spread := float64(writes) * lat / float64(min(concurrency, len(perChannel)))
	return math.Max(spread, float64(longest)*step)
}

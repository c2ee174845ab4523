package remote

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what the client asks of the service. The zero value of a field
// means its default (see DefaultLimits).
type Limits struct {
	MaxInFlight      int           // requests in flight at once; default 32
	ChannelWriteRate float64       // writes per second to one channel; default 25 (below the service's 30)
	ServiceWriteRate float64       // service-scoped writes per second (channel create/delete, users), and media uploads per second in a bucket of their own; default 25
	MaxRetries       int           // attempts after the first for retryable failures; default 8
	MinBackoff       time.Duration // first backoff; default 200ms
	MaxBackoff       time.Duration // backoff cap; default 10s
}

// Bounds beyond which a limit is taken for a mistake rather than a wish.
const (
	maxMaxInFlight = 1024
	maxWriteRate   = 1000 // per second
	maxMaxRetries  = 100
	maxBackoffCap  = 10 * time.Minute
)

// DefaultLimits returns the limits used for zero fields: 32 requests in
// flight, 25 writes per second per channel, per service (the service
// allows 30) and, apart, to the service's media, 8 retries, back-off from
// 200ms up to 10s.
func DefaultLimits() Limits {
	return Limits{
		MaxInFlight:      32,
		ChannelWriteRate: 25,
		ServiceWriteRate: 25,
		MaxRetries:       8,
		MinBackoff:       200 * time.Millisecond,
		MaxBackoff:       10 * time.Second,
	}
}

// Validate reports every field that is negative, not a number, or too large
// to be meant, and a MinBackoff above MaxBackoff (after defaults). Zero fields
// are valid: they mean the default.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxInFlight < 0 || l.MaxInFlight > maxMaxInFlight {
		errs = append(errs, fmt.Errorf("MaxInFlight is %d: use 1 to %d, or 0 for the default 32", l.MaxInFlight, maxMaxInFlight))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"ChannelWriteRate", l.ChannelWriteRate}, {"ServiceWriteRate", l.ServiceWriteRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > maxWriteRate {
			errs = append(errs, fmt.Errorf("%s is %g writes per second: use a number above 0 and at most %d, or 0 for the default 25", r.name, r.v, maxWriteRate))
		}
	}
	if l.MaxRetries < 0 || l.MaxRetries > maxMaxRetries {
		errs = append(errs, fmt.Errorf("MaxRetries is %d: use 1 to %d, or 0 for the default 8", l.MaxRetries, maxMaxRetries))
	}
	for _, b := range []struct {
		name, def string
		v         time.Duration
	}{{"MinBackoff", "200ms", l.MinBackoff}, {"MaxBackoff", "10s", l.MaxBackoff}} {
		if b.v < 0 || b.v > maxBackoffCap {
			errs = append(errs, fmt.Errorf("%s is %s: use a duration up to %s, or 0 for the default %s", b.name, b.v, maxBackoffCap, b.def))
		}
	}
	if len(errs) == 0 {
		d := l.withDefaults()
		if d.MinBackoff > d.MaxBackoff {
			errs = append(errs, fmt.Errorf("MinBackoff %s is above MaxBackoff %s: raise MaxBackoff or lower MinBackoff", d.MinBackoff, d.MaxBackoff))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid client limits: %w", errors.Join(errs...))
	}
	return nil
}

// withDefaults returns l with its zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxInFlight == 0 {
		l.MaxInFlight = d.MaxInFlight
	}
	if l.ChannelWriteRate == 0 {
		l.ChannelWriteRate = d.ChannelWriteRate
	}
	if l.ServiceWriteRate == 0 {
		l.ServiceWriteRate = d.ServiceWriteRate
	}
	if l.MaxRetries == 0 {
		l.MaxRetries = d.MaxRetries
	}
	if l.MinBackoff == 0 {
		l.MinBackoff = d.MinBackoff
	}
	if l.MaxBackoff == 0 {
		l.MaxBackoff = d.MaxBackoff
	}
	return l
}

// limiterSet hands out one token bucket per key, created on first use. The
// buckets hold one token, so writes are spaced evenly instead of bursting:
// the service counts actions per second and a burst at a second's edge could
// exceed its limit even though the average does not.
//
// Buckets are never evicted; one costs about a hundred bytes, so even a
// service with a hundred thousand channels stays small.
type limiterSet struct {
	limit rate.Limit
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func newLimiterSet(perSecond float64) *limiterSet {
	return &limiterSet{limit: rate.Limit(perSecond), m: make(map[string]*rate.Limiter)}
}

// get returns the bucket of key.
func (s *limiterSet) get(key string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[key]
	if !ok {
		l = rate.NewLimiter(s.limit, 1)
		s.m[key] = l
	}
	return l
}

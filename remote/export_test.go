package remote

import (
	"context"
	"time"
)

// WithSleep replaces the wait between attempts (tests record back-offs
// instead of sleeping).
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) error {
		c.sleep = f
		return nil
	}
}

// WithJitter replaces the random source of the back-off.
func WithJitter(f func() float64) Option {
	return func(c *Client) error {
		c.jitter = f
		return nil
	}
}

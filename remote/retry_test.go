package remote_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

func TestReadRetries(t *testing.T) {
	tests := []struct {
		name     string
		handlers []http.HandlerFunc
		retries  int
		wantReqs int
		wantErr  error // nil = success
		wantText string
	}{
		{"429 concurrency", []http.HandlerFunc{reply(429, twilioError(429, 20429, "Too many requests")), reply(200, channelJSON)}, 8, 2, nil, ""},
		{"429 chat rate", []http.HandlerFunc{reply(429, twilioError(429, 50063, "rate")), reply(429, twilioError(429, 50063, "rate")), reply(200, channelJSON)}, 8, 3, nil, ""},
		{"500 then 503", []http.HandlerFunc{reply(500, "oops"), reply(503, twilioError(503, 20500, "down")), reply(200, channelJSON)}, 8, 3, nil, ""},
		{"dropped connections", []http.HandlerFunc{hangUp, hangUp, reply(200, channelJSON)}, 8, 3, nil, ""},
		{"mixed", []http.HandlerFunc{hangUp, reply(429, ""), reply(502, "<html>"), reply(200, channelJSON)}, 8, 4, nil, ""},
		{"429 until gave up", []http.HandlerFunc{reply(429, twilioError(429, 20429, "Too many requests"))}, 2, 3, remote.ErrRateLimited, "gave up after 3 attempts: try again later, or with lower concurrency"},
		{"503 until gave up", []http.HandlerFunc{reply(503, "")}, 1, 2, nil, "gave up after 2 attempts: the service keeps failing"},
		{"dropped until gave up", []http.HandlerFunc{hangUp}, 2, 3, nil, "gave up after 3 attempts: check the URL and that the service is up"},
		{"404 after a retry is final", []http.HandlerFunc{reply(500, ""), reply(404, twilioError(404, 20404, "nope"))}, 8, 2, remote.ErrNotFound, "after 2 attempts"},
		{"401 is not retried", []http.HandlerFunc{reply(401, twilioError(401, 20003, "Authenticate"))}, 8, 1, remote.ErrAuthentication, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, remote.WithLimits(remote.Limits{MaxRetries: tt.retries, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
			f.handle(sequence(tt.handlers...))
			ch, err := c.FetchChannel(t.Context(), svc, chSID)
			if f.count() != tt.wantReqs || c.Requests() != int64(tt.wantReqs) {
				t.Errorf("%d requests (client counted %d), want %d", f.count(), c.Requests(), tt.wantReqs)
			}
			if tt.wantErr == nil && tt.wantText == "" {
				must(t, err)
				if ch.SID != chSID {
					t.Errorf("got %+v", ch)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "GET /v2/Services/"+svc+"/Channels/"+chSID) {
					t.Errorf("err = %v, want it to name the endpoint and contain %q", err, tt.wantText)
				}
				if errors.Is(err, remote.ErrUnknownOutcome) {
					t.Errorf("a read reported an unknown outcome: %v", err)
				}
			}
			sleeps := f.slept()
			if len(sleeps) != min(tt.wantReqs-1, tt.retries) {
				t.Errorf("slept %d times, want %d", len(sleeps), tt.wantReqs-1)
			}
			for _, d := range sleeps {
				if d < time.Millisecond || d > 5*time.Millisecond {
					t.Errorf("back-off %s outside [1ms, 5ms]", d)
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		header     string
		wantSleep  time.Duration // -1 = the jittered back-off
		wantReqs   int
		wantErrTxt string
	}{
		{"seconds", "3", 3 * time.Second, 2, ""},
		{"zero", "0", 0, 2, ""},
		{"http date in the past", "Mon, 02 Jan 2006 15:04:05 GMT", 0, 2, ""},
		{"garbage falls back to back-off", "soon", -1, 2, ""},
		{"negative falls back to back-off", "-5", -1, 2, ""},
		{"too long gives up", "3600", 0, 1, "asked to wait 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, remote.WithJitter(func() float64 { return 0.5 }))
			f.handle(sequence(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.header)
				reply(429, twilioError(429, 20429, "slow down"))(w, r)
			}, reply(200, serviceJSON)))
			_, err := c.FetchService(t.Context(), svc)
			if f.count() != tt.wantReqs {
				t.Errorf("%d requests, want %d", f.count(), tt.wantReqs)
			}
			if tt.wantErrTxt != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrTxt) || !errors.Is(err, remote.ErrRateLimited) {
					t.Fatalf("err = %v, want a rate-limit error containing %q", err, tt.wantErrTxt)
				}
				if len(f.slept()) != 0 {
					t.Errorf("slept %v, want no wait", f.slept())
				}
				return
			}
			must(t, err)
			s := f.slept()
			want := tt.wantSleep
			if want < 0 {
				want = 300 * time.Millisecond // 200ms + 0.5 × (400ms − 200ms)
			}
			if len(s) != 1 || s[0] != want {
				t.Errorf("slept %v, want [%s]", s, want)
			}
		})
	}
}

func TestBackoffGrows(t *testing.T) {
	c, f := setup(t, remote.WithJitter(func() float64 { return 1 }),
		remote.WithLimits(remote.Limits{MaxRetries: 6, MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}))
	f.handle(reply(503, ""))
	_, err := c.FetchService(t.Context(), svc)
	if err == nil {
		t.Fatal("no error")
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 2 * time.Second, 2 * time.Second}
	got := f.slept()
	if len(got) != len(want) {
		t.Fatalf("slept %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sleep %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	sleeping := make(chan time.Duration, 1)
	c, f := setup(t, remote.WithSleep(func(ctx context.Context, d time.Duration) error {
		sleeping <- d
		// The real wait: five minutes, cut short only by ctx.
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}), remote.WithLimits(remote.Limits{MinBackoff: 5 * time.Minute, MaxBackoff: 5 * time.Minute}))
	f.handle(reply(503, twilioError(503, 20503, "busy")))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.FetchService(ctx, svc)
		done <- err
	}()
	if d := <-sleeping; d != 5*time.Minute {
		t.Errorf("backing off %s, want 5m", d)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		var ae *remote.APIError
		if !errors.As(err, &ae) || ae.Status != 503 {
			t.Errorf("err = %v, want the last failure kept", err)
		}
		if !strings.Contains(err.Error(), "stopped while waiting to retry") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the back-off did not end on cancellation")
	}
	if f.count() != 1 {
		t.Errorf("%d requests, want 1", f.count())
	}
}

func TestCancelInFlight(t *testing.T) {
	tests := []struct {
		name        string
		write       bool
		wantUnknown bool
	}{
		{"read", false, false},
		{"write already sent", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			arrived := make(chan struct{}, 1)
			f.handle(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-r.Context().Done()
			})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				var err error
				if tt.write {
					_, err = c.CreateMessage(ctx, svc, chSID, remote.MessageParams{Body: ptr("hi")})
				} else {
					_, err = c.FetchMessage(ctx, svc, chSID, imSID)
				}
				done <- err
			}()
			<-arrived
			cancel()
			err := <-done
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if errors.Is(err, remote.ErrUnknownOutcome) != tt.wantUnknown {
				t.Errorf("unknown outcome = %v, want %v (%v)", !tt.wantUnknown, tt.wantUnknown, err)
			}
			if f.count() != 1 || len(f.slept()) != 0 {
				t.Errorf("%d requests, %d back-offs; want 1 and none", f.count(), len(f.slept()))
			}
		})
	}
}

func TestCancelledBeforeSending(t *testing.T) {
	c, f := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.CreateChannel(ctx, svc, remote.ChannelParams{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, remote.ErrUnknownOutcome) {
		t.Errorf("err = %v, want a plain cancellation", err)
	}
	_, err = collect(c.ListServices(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if f.count() != 0 || c.Requests() != 0 {
		t.Errorf("%d requests sent", f.count())
	}
}

func TestWriteOutcomes(t *testing.T) {
	writes := []struct {
		name string
		call func(ctx context.Context, c *remote.Client) error
		ok   string // body of a success
	}{
		{"create message", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateMessage(ctx, svc, chSID, remote.MessageParams{Body: ptr("hi")})
			return err
		}, messageJSON},
		{"update member", func(ctx context.Context, c *remote.Client) error {
			_, err := c.UpdateMember(ctx, svc, chSID, mbSID, remote.MemberParams{Attributes: ptr("{}")})
			return err
		}, memberJSON},
		{"delete channel", func(ctx context.Context, c *remote.Client) error { return c.DeleteChannel(ctx, svc, chSID) }, ""},
		{"create user", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateUser(ctx, svc, remote.UserParams{Identity: "alice"})
			return err
		}, userJSON},
	}
	outcomes := []struct {
		name        string
		handlers    func(ok string) []http.HandlerFunc
		wantReqs    int
		wantUnknown bool
		wantStatus  int // of the APIError inside, 0 = none
		wantOK      bool
	}{
		{"connection dropped after the request was read", func(string) []http.HandlerFunc { return []http.HandlerFunc{hangUp} }, 1, true, 0, false},
		{"500", func(string) []http.HandlerFunc {
			return []http.HandlerFunc{reply(500, twilioError(500, 20500, "internal"))}
		}, 1, true, 500, false},
		{"503", func(string) []http.HandlerFunc { return []http.HandlerFunc{reply(503, "")} }, 1, true, 503, false},
		{"429 is retried", func(ok string) []http.HandlerFunc {
			return []http.HandlerFunc{reply(429, twilioError(429, 50063, "rate")), reply(429, twilioError(429, 20429, "busy")), reply(201, ok)}
		}, 3, false, 0, true},
		{"409 is final", func(string) []http.HandlerFunc {
			return []http.HandlerFunc{reply(409, twilioError(409, 50404, "exists"))}
		}, 1, false, 409, false},
	}
	for _, w := range writes {
		for _, o := range outcomes {
			t.Run(w.name+"/"+o.name, func(t *testing.T) {
				c, f := setup(t)
				f.handle(sequence(o.handlers(w.ok)...))
				err := w.call(t.Context(), c)
				if f.count() != o.wantReqs || c.Writes() != int64(o.wantReqs) {
					t.Errorf("server saw %d requests (client counted %d writes), want %d", f.count(), c.Writes(), o.wantReqs)
				}
				if o.wantOK {
					must(t, err)
					return
				}
				if err == nil {
					t.Fatal("no error")
				}
				if errors.Is(err, remote.ErrUnknownOutcome) != o.wantUnknown {
					t.Errorf("unknown outcome = %v, want %v: %v", !o.wantUnknown, o.wantUnknown, err)
				}
				var uo *remote.UnknownOutcomeError
				if o.wantUnknown && (!errors.As(err, &uo) || uo.Method == "GET" || !strings.HasPrefix(uo.Path, "/v2/Services/"+svc)) {
					t.Errorf("err = %#v, want an *UnknownOutcomeError naming the write", err)
				}
				var ae *remote.APIError
				if got := errors.As(err, &ae); got != (o.wantStatus != 0) || got && ae.Status != o.wantStatus {
					t.Errorf("err = %v, want an APIError with status %d", err, o.wantStatus)
				}
				if len(f.slept()) != 0 {
					t.Errorf("backed off %v before a final answer", f.slept())
				}
			})
		}
	}
}

// TestWriteRetriedWhenNeverSent: a write whose connection could not be made
// never reached the service, so it is retried.
func TestWriteRetriedWhenNeverSent(t *testing.T) {
	var dials atomic.Int32
	d := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= 2 {
				return nil, errors.New("dial refused by test")
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
	c, f := setup(t, remote.WithHTTPClient(hc))
	f.handle(reply(201, messageJSON))
	m, err := c.CreateMessage(t.Context(), svc, chSID, remote.MessageParams{Body: ptr("hi")})
	must(t, err)
	if m.SID != imSID {
		t.Errorf("got %+v", m)
	}
	if f.count() != 1 || c.Requests() != 3 || c.Writes() != 3 {
		t.Errorf("server saw %d, client sent %d (%d writes); want 1, 3, 3", f.count(), c.Requests(), c.Writes())
	}
}

func TestWriteNeverSentGivesUp(t *testing.T) {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, errors.New("dial refused by test")
		},
	}}
	c, f := setup(t, remote.WithHTTPClient(hc), remote.WithLimits(remote.Limits{MaxRetries: 2}))
	err := c.DeleteMessage(t.Context(), svc, chSID, imSID)
	if err == nil || errors.Is(err, remote.ErrUnknownOutcome) || !strings.Contains(err.Error(), "dial refused by test") ||
		!strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v, want a plain failure after 3 attempts", err)
	}
	if strings.Contains(err.Error(), "?") || strings.Contains(err.Error(), "http://") {
		t.Errorf("err = %v repeats the URL", err)
	}
	if f.count() != 0 || c.Requests() != 3 {
		t.Errorf("server saw %d, client sent %d", f.count(), c.Requests())
	}
}

func TestPerRequestTimeout(t *testing.T) {
	tests := []struct {
		name        string
		write       bool
		wantReqs    int
		wantUnknown bool
	}{
		{"read is retried", false, 2, false},
		{"write has unknown outcome", true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, remote.WithTimeout(50*time.Millisecond))
			f.handle(sequence(
				func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, // never answers
				reply(200, channelJSON),
			))
			var err error
			if tt.write {
				_, err = c.UpdateChannel(t.Context(), svc, chSID, remote.ChannelParams{FriendlyName: ptr("x")})
			} else {
				_, err = c.FetchChannel(t.Context(), svc, chSID)
			}
			if f.count() != tt.wantReqs {
				t.Errorf("%d requests, want %d", f.count(), tt.wantReqs)
			}
			if !tt.write {
				must(t, err)
				return
			}
			if !errors.Is(err, remote.ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(err.Error(), "no answer within 50ms") {
				t.Errorf("err = %v, want an unknown outcome after the timeout", err)
			}
		})
	}
}

func TestMaxInFlight(t *testing.T) {
	const limit, calls = 3, 12
	c, f := setup(t, remote.WithLimits(remote.Limits{MaxInFlight: limit}))
	var cur, peak atomic.Int32
	arrived := make(chan struct{}, calls)
	release := make(chan struct{})
	f.handle(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		reply(200, serviceJSON)(w, r)
	})
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			_, err := c.FetchService(t.Context(), svc)
			errs <- err
		})
	}
	for range limit {
		<-arrived
	}
	close(release) // the others now pass through one slot at a time
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency %d, want %d", p, limit)
	}
	if f.count() != calls {
		t.Errorf("%d requests, want %d", f.count(), calls)
	}
}

// TestWritePacing: writes to one channel share a token bucket; another
// channel has its own. With one write per 10 s and a 2 s deadline, a second
// write to the same channel cannot be sent in time, and the limiter says so
// at once instead of waiting.
func TestWritePacing(t *testing.T) {
	tests := []struct {
		name   string
		second func(ctx context.Context, c *remote.Client) error
		wantOK bool
	}{
		{"same channel waits", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateMessage(ctx, svc, chSID, remote.MessageParams{})
			return err
		}, false},
		{"same channel, member write", func(ctx context.Context, c *remote.Client) error {
			return c.DeleteMember(ctx, svc, chSID, mbSID)
		}, false},
		{"same channel, channel update", func(ctx context.Context, c *remote.Client) error {
			_, err := c.UpdateChannel(ctx, svc, chSID, remote.ChannelParams{})
			return err
		}, false},
		{"other channel", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateMessage(ctx, svc, "other", remote.MessageParams{})
			return err
		}, true},
		{"same channel in another service", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateMessage(ctx, "IS99999999999999999999999999999999", chSID, remote.MessageParams{})
			return err
		}, true},
		{"service write is paced apart", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateChannel(ctx, svc, remote.ChannelParams{})
			return err
		}, true},
		{"reads are not paced", func(ctx context.Context, c *remote.Client) error {
			_, err := c.FetchChannel(ctx, svc, chSID)
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, remote.WithLimits(remote.Limits{ChannelWriteRate: 0.1, ServiceWriteRate: 0.1}))
			f.handle(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == "DELETE":
					reply(204, "")(w, r)
				case strings.Contains(r.URL.Path, "/Messages"):
					reply(201, messageJSON)(w, r)
				default:
					reply(200, channelJSON)(w, r)
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			_, err := c.CreateMessage(ctx, svc, chSID, remote.MessageParams{})
			must(t, err)
			err = tt.second(ctx, c)
			if tt.wantOK {
				must(t, err)
				if f.count() != 2 {
					t.Errorf("%d requests, want 2", f.count())
				}
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write rate limit") {
				t.Errorf("err = %v, want the rate limit to refuse the deadline", err)
			}
			if errors.Is(err, remote.ErrUnknownOutcome) || f.count() != 1 {
				t.Errorf("second write was sent (%d requests) or reported unknown: %v", f.count(), err)
			}
		})
	}
}

func TestServiceWritePacing(t *testing.T) {
	c, f := setup(t, remote.WithLimits(remote.Limits{ServiceWriteRate: 0.1}))
	f.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "DELETE" {
			reply(204, "")(w, r)
			return
		}
		reply(201, userJSON)(w, r)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := c.CreateUser(ctx, svc, remote.UserParams{Identity: "a"})
	must(t, err)
	for _, call := range []func() error{
		func() error { _, err := c.CreateUser(ctx, svc, remote.UserParams{Identity: "b"}); return err },
		func() error { return c.DeleteChannel(ctx, svc, chSID) },
	} {
		if err := call(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the service rate limit to refuse the deadline", err)
		}
	}
	if f.count() != 1 {
		t.Errorf("%d requests, want 1", f.count())
	}
}

func TestLoggerGetsRetriesWithoutSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	c, f := setup(t, remote.WithLogger(slog.New(h)))
	f.handle(sequence(reply(429, twilioError(429, 20429, "busy")), reply(200, serviceJSON)))
	_, err := c.FetchService(t.Context(), svc)
	must(t, err)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "retrying request") || !strings.Contains(out, "/v2/Services/"+svc) {
		t.Errorf("log = %q, want a retry record", out)
	}
	noSecrets(t, out)
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

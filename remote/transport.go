package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// maxBody bounds a successful answer. A page of 100 messages with 32 KiB
// bodies is about 4 MiB; anything far larger is not the Chat API.
const maxBody = 64 << 20

// maxRetryAfter is the longest Retry-After the client waits for. A longer
// request to wait ends the retries: the caller is better told to come back.
const maxRetryAfter = 5 * time.Minute

// call is one logical request, sent once or more by do.
type call struct {
	method string
	url    string // absolute
	path   string // escaped URL path, for errors

	// Streamed calls (media). send, when set, opens the request body for
	// each attempt, sendSize bytes of sendType, in place of the form.
	send     func() (io.ReadCloser, error)
	sendSize int64
	sendType string
	sendName string // the file's name, sent as Content-Disposition
	stream   bool   // the answer's body is handed to the caller unread (outcome.stream)
	redirect bool   // a 3xx answer gives its Location (outcome.location), not an error
	anon     bool   // no credentials: the URL is not on a root the client was given
	hint     string // what to check when an answer is not what the call expects; "" for the Chat v2 API

	form    url.Values
	limiter *rate.Limiter // paces writes; nil for none
	api     *api          // the API it is sent to: its next pages stay on its root, its answers are read in its shapes
}

// write reports whether the call changes state on the service.
func (r *call) write() bool { return r.method != http.MethodGet }

// checkRoot is the advice for an answer that is not what r expects.
func (r *call) checkRoot() string {
	if r.hint != "" {
		return r.hint
	}
	return r.api.hint()
}

// fail prefixes err with the method and path.
func (r *call) fail(err error) error { return fmt.Errorf("%s %s: %w", r.method, r.path, err) }

// newCall builds a call for path (escaped, starting with a's prefix, such as
// /v2/) under a's root.
func (a *api) newCall(method, path string, q url.Values) *call {
	r := &call{method: method, url: a.rootStr + path, path: strings.TrimSuffix(a.root.EscapedPath(), "/") + path, api: a}
	if len(q) > 0 {
		r.url += "?" + q.Encode()
	}
	return r
}

// outcome is the result of one attempt.
type outcome struct {
	body          []byte
	err           error
	retry         bool          // err is worth another attempt
	retryAfter    time.Duration // the service's Retry-After, when hasRetryAfter
	hasRetryAfter bool
	stream        io.ReadCloser // the answer's body, unread, for a call with stream set
	location      string        // a 3xx answer's Location, for a call with redirect set
}

// do sends r, retrying what is safe to retry. It is the only place that
// retries.
//
// Retried: 429 on any method (the service did not carry out the request);
// on GET also 5xx answers, transport errors and per-request timeouts; on
// writes, transport errors that happened before the request was written
// (dial failures). A write that fails after it was written, or that gets a 5xx
// answer, returns an *UnknownOutcomeError at once and is never re-sent.
//
// Between attempts it sleeps the Retry-After the service sent, or else an
// exponential back-off with jitter between MinBackoff and MaxBackoff. It
// returns promptly when ctx is done. The final error wraps the last failure,
// so errors.Is and errors.As see the *APIError or *UnknownOutcomeError.
func (c *Client) do(ctx context.Context, r *call) ([]byte, error) {
	o, err := c.run(ctx, r)
	return o.body, err
}

// run is do's loop; it returns the successful attempt's whole outcome, so a
// streamed call gets its body and a redirected one its Location.
func (c *Client) run(ctx context.Context, r *call) (outcome, error) {
	for attempt := 0; ; attempt++ {
		o := c.attempt(ctx, r)
		if o.err == nil {
			return o, nil
		}
		if !o.retry {
			if attempt > 0 {
				return outcome{}, fmt.Errorf("%w (after %d attempts)", o.err, attempt+1)
			}
			return outcome{}, o.err
		}
		if attempt >= c.limits.MaxRetries {
			return outcome{}, fmt.Errorf("%w (gave up after %d attempts: %s)", o.err, attempt+1, giveUpAdvice(o.err))
		}
		delay := c.backoff(attempt)
		if o.hasRetryAfter {
			if o.retryAfter > maxRetryAfter {
				return outcome{}, fmt.Errorf("%w (the service asked to wait %s before retrying: try again later)", o.err, o.retryAfter)
			}
			delay = o.retryAfter
		}
		c.log.DebugContext(ctx, "retrying request", "method", r.method, "path", r.path,
			"attempt", attempt+1, "delay", delay, "error", o.err)
		if err := c.sleep(ctx, delay); err != nil {
			return outcome{}, fmt.Errorf("%w; stopped while waiting to retry: %w", o.err, err)
		}
	}
}

// giveUpAdvice says what to do about a request that kept failing with err:
// a lower concurrency helps against rate limits, not against a service
// that cannot be reached or keeps failing.
func giveUpAdvice(err error) string {
	var ae *APIError
	switch {
	case errors.Is(err, ErrRateLimited):
		return "try again later, or with lower concurrency"
	case errors.As(err, &ae):
		return "the service keeps failing; try again later"
	}
	return "check the URL and that the service is up, then try again"
}

// attempt sends r once: it waits for r's rate limiter and a slot among the
// requests in flight, then sends and reads the answer. A streamed call's
// body is opened here, once per attempt; a streamed answer is handed over
// unread, with the slot, which its body gives back once read or closed.
func (c *Client) attempt(ctx context.Context, r *call) outcome {
	if err := ctx.Err(); err != nil {
		return outcome{err: r.fail(err)}
	}
	if r.limiter != nil {
		if err := r.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else {
				// Wait refuses up front when the deadline would pass first.
				err = fmt.Errorf("waiting for the write rate limit would pass the deadline: %w", context.DeadlineExceeded)
			}
			return outcome{err: r.fail(err)}
		}
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return outcome{err: r.fail(ctx.Err())}
	}
	actx, cancel := context.WithCancel(ctx)
	wd := startWatchdog(c.timeout, cancel)
	// done releases what the attempt holds. A streamed answer's body takes
	// it over and calls it once read or closed.
	done := func() {
		wd.stop()
		cancel()
		<-c.sem
	}
	var resp *http.Response
	defer func() {
		if resp != nil {
			resp.Body.Close()
		}
		if done != nil {
			done()
		}
	}()
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		// Called once the request was written, or failed part way: either
		// way the service may have it.
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})

	var body io.Reader
	var sb *sendBody
	switch {
	case r.send != nil:
		rc, err := r.send()
		if err != nil {
			return outcome{err: r.fail(fmt.Errorf("opening the body to send: %w", err))}
		}
		sb = &sendBody{rc: rc, left: r.sendSize, wd: wd}
		body = sb
	case r.method == http.MethodPost:
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(actx, r.method, r.url, body)
	if err != nil {
		if sb != nil {
			sb.Close()
		}
		return outcome{err: r.fail(fmt.Errorf("building the request: %w", err))}
	}
	if !r.anon {
		req.SetBasicAuth(c.user, c.pass)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	switch {
	case sb != nil:
		sb.attach(req, r.sendType, r.sendName)
	case r.method == http.MethodPost:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.write() {
		req.Header.Set("X-Twilio-Webhook-Enabled", strconv.FormatBool(c.webhooks))
		c.writes.Add(1)
	}
	c.requests.Add(1)

	resp, err = c.http.Do(req)
	if err != nil {
		if sb != nil && sb.bad.Load() {
			// The body did not have its announced size, so the service
			// holds no complete request: a local failure, not an unknown
			// outcome, and not worth another attempt.
			return outcome{err: r.fail(sb.err)}
		}
		return c.transportFailure(ctx, r, wd.explain(err), wrote.Load())
	}

	if r.redirect && resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		if loc := resp.Header.Get("Location"); loc != "" {
			_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBody)
			return outcome{location: loc}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := apiError(r.method, r.path, resp)
		ra, hasRA := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return outcome{err: ae, retry: true, retryAfter: ra, hasRetryAfter: hasRA}
		case resp.StatusCode >= 500 && r.write():
			return outcome{err: &UnknownOutcomeError{Method: r.method, Path: r.path, Err: ae}}
		case resp.StatusCode >= 500:
			return outcome{err: ae, retry: true, retryAfter: ra, hasRetryAfter: hasRA}
		}
		return outcome{err: ae}
	}

	if r.stream {
		wd.stop() // from here it bounds each read of the body
		o := outcome{stream: &streamBody{rc: resp.Body, wd: wd, r: r, timeout: c.timeout, done: done}}
		resp, done = nil, nil
		return o
	}
	data, err := readBody(resp)
	if err != nil {
		return c.transportFailure(ctx, r, fmt.Errorf("reading the answer: %w", wd.explain(err)), true)
	}
	if len(data) > maxBody {
		err := fmt.Errorf("the answer is larger than %d MiB, which the Chat API never sends: check the base URL", maxBody>>20)
		if r.write() {
			return outcome{err: &UnknownOutcomeError{Method: r.method, Path: r.path, Err: err}}
		}
		return outcome{err: r.fail(err)}
	}
	return outcome{body: data}
}

// presizeBody bounds the buffer readBody allocates on the word of a
// Content-Length, before any byte arrived: a page of 100 messages of 32 KiB
// fits, and a server announcing more cannot make the client reserve it.
const presizeBody = 8 << 20

// readBody reads a successful answer, at most maxBody+1 bytes. A declared
// Content-Length sizes the buffer at once: growing it while reading would
// allocate and copy the answer several times over.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= presizeBody {
		data := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
}

// transportFailure classifies an error from sending or reading: the caller's
// cancellation ends the call; a write the service may have received has an
// unknown outcome; anything else is retried.
func (c *Client) transportFailure(ctx context.Context, r *call, err error, wrote bool) outcome {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the URL, query included
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", c.timeout, err)
	}
	switch {
	case r.write() && wrote:
		return outcome{err: &UnknownOutcomeError{Method: r.method, Path: r.path, Err: err}}
	case ctx.Err() != nil:
		if !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return outcome{err: r.fail(err)}
	}
	return outcome{err: r.fail(err), retry: true}
}

// backoff returns the wait before retry number attempt+1: a random duration
// between MinBackoff and min(MaxBackoff, MinBackoff·2^(attempt+1)).
func (c *Client) backoff(attempt int) time.Duration {
	return backoff(attempt, c.limits.MinBackoff, c.limits.MaxBackoff, c.jitter())
}

func backoff(attempt int, lo, hi time.Duration, jitter float64) time.Duration {
	ceiling := hi
	if attempt < 30 {
		if d := lo << (attempt + 1); d > 0 && d < hi {
			ceiling = d
		}
	}
	if ceiling <= lo {
		return lo
	}
	return lo + time.Duration(jitter*float64(ceiling-lo))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// A date in the past means no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(maxRetryAfter/time.Second)*1000 {
			n = int64(maxRetryAfter/time.Second) * 1000 // avoid overflow; far beyond the cap anyway
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randFloat() float64 { return rand.Float64() }

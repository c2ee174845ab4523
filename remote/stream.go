package remote

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog cancels an attempt when it makes no progress for d: a request
// with a small body and answer is bounded as a whole, a streamed body by
// each stall (a 150 MiB file may take longer than any sensible bound on a
// whole request, yet a transfer that stops must not hang).
type watchdog struct {
	d     time.Duration
	t     *time.Timer // nil when d is 0 (no bound)
	fired atomic.Bool
}

func startWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d}
	if d > 0 {
		w.t = time.AfterFunc(d, func() {
			w.fired.Store(true)
			cancel()
		})
	}
	return w
}

// kick gives the attempt another d from now.
func (w *watchdog) kick() {
	if w.t != nil {
		w.t.Reset(w.d)
	}
}

// stop suspends the bound until the next kick.
func (w *watchdog) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}

// explain turns the cancellation the watchdog caused into the deadline
// error the rest of the client reports as a timeout.
func (w *watchdog) explain(err error) error {
	if w.fired.Load() {
		return context.DeadlineExceeded
	}
	return err
}

// sendBody streams a request body of exactly its announced size, and
// counts each read as progress. A body that ends early or runs long fails
// the request before its last byte is written, so the service never holds
// a complete request made of the wrong bytes.
type sendBody struct {
	rc   io.ReadCloser
	left int64
	wd   *watchdog
	bad  atomic.Bool // err is set: the body does not have its size
	err  error
}

// attach makes b req's body, with its Content-Length, Content-Type and,
// when name is not empty, a Content-Disposition naming the file.
func (b *sendBody) attach(req *http.Request, contentType, name string) {
	req.ContentLength = b.left
	req.Body = b
	if b.left == 0 {
		req.Body = http.NoBody
		b.Close()
	}
	req.Header.Set("Content-Type", contentType)
	if d := mime.FormatMediaType("attachment", map[string]string{"filename": name}); name != "" && d != "" {
		req.Header.Set("Content-Disposition", d)
	}
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.wd.kick()
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0 && (err == nil || err == io.EOF):
		var probe [1]byte
		if m, _ := io.ReadFull(b.rc, probe[:]); m > 0 {
			// Hold back the last bytes read: the request stays incomplete.
			return 0, b.fail(fmt.Errorf("the body is longer than its announced size"))
		}
		return n, io.EOF
	case err == io.EOF:
		return n, b.fail(fmt.Errorf("the body ended %d bytes before its announced size", b.left))
	}
	return n, err
}

func (b *sendBody) fail(err error) error {
	b.err = err
	b.bad.Store(true)
	return err
}

func (b *sendBody) Close() error { return b.rc.Close() }

// streamBody is a streamed answer's body. It holds the attempt's slot among
// the requests in flight until it is read to its end, fails or is closed;
// each read must see a byte within the client's timeout.
type streamBody struct {
	rc      io.ReadCloser
	wd      *watchdog
	r       *call
	timeout time.Duration
	once    sync.Once
	done    func() // releases the slot and the attempt's context
}

func (b *streamBody) Read(p []byte) (int, error) {
	b.wd.kick()
	n, err := b.rc.Read(p)
	b.wd.stop()
	if err != nil {
		if err != io.EOF {
			if b.wd.fired.Load() {
				err = fmt.Errorf("no data within %s: %w", b.timeout, context.DeadlineExceeded)
			}
			err = b.r.fail(fmt.Errorf("reading the answer: %w", err))
		}
		b.release()
	}
	return n, err
}

func (b *streamBody) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

func (b *streamBody) release() { b.once.Do(b.done) }

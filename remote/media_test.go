package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

const mediaSID = "ME0123456789abcdef0123456789abcdef"

// signature stands for the secret part of a temporary URL: it must never
// appear in an error.
const signature = "SIGsecretQ1w2e3"

// mediaJSON is a Media resource as the service sends it, with fields the
// package does not model (Raw must keep them); direct, when set, is its
// links.content_direct_temporary.
func mediaJSON(size int64, direct string) string {
	d := "null"
	if direct != "" {
		d = strconv.Quote(direct)
	}
	return `{"sid":"` + mediaSID + `","account_sid":"` + acct + `","service_sid":"` + svc + `","channel_sid":"` + chSID +
		`","message_sid":"` + imSID + `","author":"alice","content_type":"image/png","filename":"cat \u00e9.png","size":` +
		strconv.FormatInt(size, 10) + `,"date_created":"2020-01-02T03:04:05.123Z","date_updated":"2020-01-02T03:04:06Z","url":"/v1/Services/` +
		svc + `/Media/` + mediaSID + `","links":{"content":"/v1/Services/` + svc + `/Media/` + mediaSID + `/Content","content_direct_temporary":` + d + `}}`
}

// pattern is a deterministic file of n bytes, generated as it is read.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		x := p.off + int64(i)
		b[i] = byte(x*31 + x>>11)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func (p *pattern) Close() error { return nil }

// patternSum is the SHA-256 of pattern{n: n}, computed by streaming it.
func patternSum(n int64) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, &pattern{n: n})
	return [32]byte(h.Sum(nil))
}

// fakeMCS is a Media Content Service on loopback: its root (under /mcs)
// serves uploads, metadata and …/Content, which redirects to cdn, another
// origin, where the temporary URL serves the bytes.
type fakeMCS struct {
	root, cdn string

	mu      sync.Mutex
	size    int64 // the metadata's size
	serve   int64 // how many bytes the temporary URL serves
	expire  int   // the next temporary URL fetches answered 403
	direct  bool  // metadata carries content_direct_temporary
	faults  map[string][]int
	hits    map[string]int
	authAt  map[string]bool // whether each kind of request carried credentials
	upload  http.HandlerFunc
	cdnHook func(w http.ResponseWriter, r *http.Request) bool // true: it answered
}

func newFakeMCS(t *testing.T, size int64) *fakeMCS {
	t.Helper()
	f := &fakeMCS{size: size, serve: size, faults: map[string][]int{}, hits: map[string]int{}, authAt: map[string]bool{}}
	f.cdn = newServer(t, http.HandlerFunc(f.serveCDN))
	f.root = newServer(t, http.HandlerFunc(f.serveRoot)) + "/mcs"
	return f
}

// fault makes the next requests of kind answer status, in order.
func (f *fakeMCS) fault(kind string, status ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[kind] = append(f.faults[kind], status...)
}

// enter counts a request of kind and answers a pending fault; true when
// it did.
func (f *fakeMCS) enter(kind string, w http.ResponseWriter, r *http.Request) bool {
	_, _, auth := r.BasicAuth()
	f.mu.Lock()
	f.hits[kind]++
	f.authAt[kind] = f.authAt[kind] || auth
	var status int
	if q := f.faults[kind]; len(q) > 0 {
		status, f.faults[kind] = q[0], q[1:]
	}
	f.mu.Unlock()
	if status == 0 {
		return false
	}
	_, _ = io.Copy(io.Discard, r.Body)
	reply(status, twilioError(status, 20000+status, "fault"))(w, r)
	return true
}

func (f *fakeMCS) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[kind]
}

func (f *fakeMCS) serveRoot(w http.ResponseWriter, r *http.Request) {
	media := "/mcs/v1/Services/" + svc + "/Media"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == media:
		if !f.enter("upload", w, r) {
			f.mu.Lock()
			h := f.upload
			f.mu.Unlock()
			h(w, r)
		}
	case r.Method == http.MethodGet && r.URL.Path == media+"/"+mediaSID:
		if !f.enter("meta", w, r) {
			f.mu.Lock()
			direct := ""
			if f.direct {
				direct = f.cdn + "/files/" + mediaSID + "?fresh=1&Signature=" + signature
			}
			body := mediaJSON(f.size, direct)
			f.mu.Unlock()
			reply(200, body)(w, r)
		}
	case r.Method == http.MethodGet && r.URL.Path == media+"/"+mediaSID+"/Content":
		if !f.enter("content", w, r) {
			http.Redirect(w, r, f.cdn+"/files/"+mediaSID+"?Expires=1&Signature="+signature, http.StatusTemporaryRedirect)
		}
	default:
		reply(404, twilioError(404, 20404, "no such route"))(w, r)
	}
}

func (f *fakeMCS) serveCDN(w http.ResponseWriter, r *http.Request) {
	if f.enter("cdn", w, r) {
		return
	}
	f.mu.Lock()
	expired := f.expire > 0
	if expired {
		f.expire--
	}
	n, hook := f.serve, f.cdnHook
	f.mu.Unlock()
	switch {
	case r.URL.Path != "/files/"+mediaSID || r.URL.Query().Get("Signature") != signature:
		http.Error(w, "bad temporary URL", http.StatusBadRequest)
	case expired:
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
	case hook != nil && hook(w, r):
	default:
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		_, _ = io.Copy(w, &pattern{n: n})
	}
}

// mediaClient is a client of f with back-offs recorded, not slept.
func mediaClient(t *testing.T, f *fakeMCS, opts ...remote.Option) *remote.Client {
	t.Helper()
	base := []remote.Option{
		remote.WithBaseURL("http://127.0.0.1:1"), remote.WithMediaURL(f.root),
		remote.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }),
	}
	c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// download opens the file and reads it to its end, returning its length and
// SHA-256.
func download(ctx context.Context, c *remote.Client) (*remote.MediaFile, int64, [32]byte, error) {
	m, body, err := c.OpenMedia(ctx, svc, mediaSID)
	if err != nil {
		return nil, 0, [32]byte{}, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body)
	return m, n, [32]byte(h.Sum(nil)), err
}

func TestFetchMedia(t *testing.T) {
	f := newFakeMCS(t, 12)
	f.direct = true
	c := mediaClient(t, f)
	m, err := c.FetchMedia(t.Context(), svc, mediaSID)
	must(t, err)
	want := mediaJSON(12, f.cdn+"/files/"+mediaSID+"?fresh=1&Signature="+signature)
	if string(m.Raw) != want {
		t.Errorf("Raw = %s\nwant %s", m.Raw, want)
	}
	created := time.Date(2020, 1, 2, 3, 4, 5, 123e6, time.UTC)
	if m.SID != mediaSID || m.ServiceSID != svc || m.ChannelSID != chSID || m.MessageSID != imSID || m.Author != "alice" ||
		m.ContentType != "image/png" || m.Filename != "cat é.png" || m.Size != 12 || !m.DateCreated.Equal(created) ||
		m.DateUpdated.IsZero() || m.URL == "" {
		t.Errorf("decoded %+v", m)
	}
	if !f.authAt["meta"] || c.Requests() != 1 {
		t.Errorf("credentials sent: %v; %d requests", f.authAt["meta"], c.Requests())
	}
	if c.MediaURL() != f.root {
		t.Errorf("MediaURL() = %q, want %q", c.MediaURL(), f.root)
	}
}

func TestFetchMediaFailures(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
		want    string
	}{
		{"not found", 404, twilioError(404, 20404, "Media not found"), remote.ErrNotFound, "GET /mcs/v1/Services/" + svc + "/Media/" + mediaSID + ": HTTP 404"},
		{"unauthorized", 401, twilioError(401, 20003, "Authenticate"), remote.ErrAuthentication, "code 20003"},
		{"not a media resource", 200, `[1,2]`, nil, "the answer is not a media resource"},
		{"not JSON", 200, `<html>`, nil, "the answer is not a media resource (expected a JSON object): check that the media URL points at the Media Content Service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, reply(tt.status, tt.body))
			c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, remote.WithMediaURL(srv+"/mcs"))
			must(t, err)
			_, err = c.FetchMedia(t.Context(), svc, mediaSID)
			if err == nil || !strings.Contains(err.Error(), tt.want) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %q (%v)", err, tt.want, tt.wantErr)
			}
			noSecrets(t, fmt.Sprint(err))
		})
	}
}

func TestMediaBadInput(t *testing.T) {
	f := newFakeMCS(t, 12)
	c := mediaClient(t, f)
	open := func() (io.ReadCloser, error) { return &pattern{n: 12}, nil }
	up := remote.MediaUpload{ContentType: "image/png", Size: 12, Open: open}
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"fetch: empty service", func() error { _, err := c.FetchMedia(ctx, "", mediaSID); return err }, "fetch media: service SID is missing"},
		{"fetch: service name", func() error { _, err := c.FetchMedia(ctx, "support", mediaSID); return err }, "fetch media: service SID is malformed"},
		{"fetch: channel SID for media", func() error { _, err := c.FetchMedia(ctx, svc, chSID); return err }, `media SID is malformed (34 characters): expected "ME"`},
		{"fetch: path in media SID", func() error { _, err := c.FetchMedia(ctx, svc, "ME01/../../x"); return err }, "media SID is malformed"},
		{"open: empty media SID", func() error { _, _, err := c.OpenMedia(ctx, svc, ""); return err }, "open media: media SID is missing"},
		{"open: short service", func() error { _, _, err := c.OpenMedia(ctx, "IS1", mediaSID); return err }, "open media: service SID is malformed"},
		{"upload: bad service", func() error { _, err := c.UploadMedia(ctx, "IS../x", up); return err }, "upload media: service SID is malformed"},
		{"upload: no Open", func() error {
			u := up
			u.Open = nil
			_, err := c.UploadMedia(ctx, svc, u)
			return err
		}, "has no Open function"},
		{"upload: negative size", func() error {
			u := up
			u.Size = -1
			_, err := c.UploadMedia(ctx, svc, u)
			return err
		}, "size is -1 bytes"},
		{"upload: too large", func() error {
			u := up
			u.Size = remote.MaxMediaSize + 1
			_, err := c.UploadMedia(ctx, svc, u)
			return err
		}, "larger than the 157286400 bytes (150 MiB)"},
		{"upload: bad content type", func() error {
			u := up
			u.ContentType = "image/png\r\nX-Evil: 1"
			_, err := c.UploadMedia(ctx, svc, u)
			return err
		}, "is not a media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if c.Requests() != 0 {
		t.Errorf("%d requests sent for bad input, want 0", c.Requests())
	}
}

func TestWithMediaURL(t *testing.T) {
	tests := []struct {
		url, want string // want "" = accepted
	}{
		{"https://mcs.us1.twilio.com", ""},
		{"http://127.0.0.1:8080/mcs/", ""},
		{"http://localhost/mcs", ""},
		{"http://mcs.example.com", "media URL \"http://mcs.example.com\" uses plain http"},
		{"ftp://mcs.example.com", "media URL \"ftp://mcs.example.com\" must start with https://"},
		{"https://mcs.example.com?x=1", "must not have a query"},
		{"https://u:pw@mcs.example.com", "must not contain credentials"},
		{"https://", "has no host"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, remote.WithMediaURL(tt.url))
			if tt.want == "" {
				must(t, err)
				if want := strings.TrimSuffix(tt.url, "/"); c.MediaURL() != want {
					t.Errorf("MediaURL() = %q, want %q", c.MediaURL(), want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "pw") {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token})
	must(t, err)
	if c.MediaURL() != remote.DefaultMediaURL {
		t.Errorf("default MediaURL() = %q", c.MediaURL())
	}
}

func TestOpenMediaFollowsRedirectWithoutCredentials(t *testing.T) {
	f := newFakeMCS(t, 100_000)
	c := mediaClient(t, f)
	m, n, sum, err := download(t.Context(), c)
	must(t, err)
	if m.Size != 100_000 || n != 100_000 || sum != patternSum(100_000) {
		t.Errorf("got %d bytes (metadata %d), sum match %v", n, m.Size, sum == patternSum(100_000))
	}
	if !f.authAt["meta"] || !f.authAt["content"] {
		t.Error("the media root was not sent credentials")
	}
	if f.authAt["cdn"] {
		t.Error("credentials were sent to the temporary URL's host")
	}
	if f.count("meta") != 1 || f.count("content") != 1 || f.count("cdn") != 1 || c.Requests() != 3 {
		t.Errorf("hits %v, client sent %d; want one of each", f.hits, c.Requests())
	}
}

func TestOpenMediaExpiredTemporaryURL(t *testing.T) {
	tests := []struct {
		name        string
		expire      int
		direct      bool
		wantErr     string // "" = the file arrives
		meta, cont  int    // requests seen by the metadata and …/Content
		cdnRequests int
	}{
		{"expired once, fresh link in metadata", 1, true, "", 2, 1, 2},
		{"expired once, no link: Content again", 1, false, "", 2, 2, 2},
		{"expired twice", 2, true, "temporary URL was refused twice", 2, 1, 2},
		{"expired twice, no link", 2, false, "temporary URL was refused twice", 2, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, 5000)
			f.expire, f.direct = tt.expire, tt.direct
			c := mediaClient(t, f)
			_, n, sum, err := download(t.Context(), c)
			if tt.wantErr == "" {
				must(t, err)
				if n != 5000 || sum != patternSum(5000) {
					t.Errorf("got %d bytes", n)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "HTTP 403") {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				if errors.Is(err, remote.ErrAuthentication) {
					t.Errorf("err = %v passes for a credentials failure", err)
				}
				if strings.Contains(fmt.Sprint(err), signature) {
					t.Errorf("err = %v shows the temporary URL's signature", err)
				}
				noSecrets(t, fmt.Sprint(err))
			}
			if f.count("meta") != tt.meta || f.count("content") != tt.cont || f.count("cdn") != tt.cdnRequests {
				t.Errorf("hits %v, want meta %d, content %d, cdn %d", f.hits, tt.meta, tt.cont, tt.cdnRequests)
			}
			if f.authAt["cdn"] {
				t.Error("credentials were sent to the temporary URL's host")
			}
		})
	}
}

func TestOpenMediaCorrupt(t *testing.T) {
	tests := []struct {
		name        string
		size, serve int64
		want        string // "" = no error
	}{
		{"exact", 4096, 4096, ""},
		{"empty file", 0, 0, ""},
		{"short", 4096, 4095, "ended after 4095 of the 4096 bytes"},
		{"empty but should not be", 10, 0, "ended after 0 of the 10 bytes"},
		{"long", 4096, 4097, "runs past the 4096 bytes"},
		{"much longer", 10, 1 << 20, "runs past the 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, tt.size)
			f.serve = tt.serve
			c := mediaClient(t, f, remote.WithLimits(remote.Limits{MaxInFlight: 1}))
			_, n, _, err := download(t.Context(), c)
			if tt.want == "" {
				must(t, err)
				if n != tt.size {
					t.Errorf("read %d bytes, want %d", n, tt.size)
				}
				return
			}
			if !errors.Is(err, remote.ErrMediaCorrupt) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), mediaSID) {
				t.Errorf("err = %v, want ErrMediaCorrupt saying %q", err, tt.want)
			}
			slotFree(t, c, "a corrupt download")
		})
	}
}

// slotFree checks that a client limited to one request in flight can send
// one after a download ended by what.
func slotFree(t *testing.T, c *remote.Client, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := c.FetchMedia(ctx, svc, mediaSID); err != nil {
		t.Errorf("after %s: %v", what, err)
	}
}

func TestMediaReadRetries(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		faults []int
	}{
		{"metadata 503", "meta", []int{503, 500}},
		{"metadata 429", "meta", []int{429}},
		{"content 502", "content", []int{502}},
		{"content 429", "content", []int{429, 429}},
		{"temporary URL 500", "cdn", []int{500, 503}},
		{"temporary URL 429", "cdn", []int{429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, 3000)
			f.fault(tt.kind, tt.faults...)
			c := mediaClient(t, f, remote.WithLimits(remote.Limits{MaxRetries: 3}))
			_, n, sum, err := download(t.Context(), c)
			must(t, err)
			if n != 3000 || sum != patternSum(3000) {
				t.Errorf("got %d bytes", n)
			}
			if got := f.count(tt.kind); got != len(tt.faults)+1 {
				t.Errorf("%s saw %d requests, want %d", tt.kind, got, len(tt.faults)+1)
			}
			if c.Requests() != int64(3+len(tt.faults)) {
				t.Errorf("client counted %d requests, want %d", c.Requests(), 3+len(tt.faults))
			}
		})
	}
	t.Run("404 is final", func(t *testing.T) {
		f := newFakeMCS(t, 3000)
		f.fault("cdn", 404)
		c := mediaClient(t, f)
		_, _, _, err := download(t.Context(), c)
		if !errors.Is(err, remote.ErrNotFound) || f.count("cdn") != 1 || f.count("meta") != 1 {
			t.Errorf("err = %v, hits %v; want one 404", err, f.hits)
		}
	})
	t.Run("5xx until gave up", func(t *testing.T) {
		f := newFakeMCS(t, 3000)
		f.fault("cdn", 500, 500, 500)
		c := mediaClient(t, f, remote.WithLimits(remote.Limits{MaxRetries: 2}))
		_, _, _, err := download(t.Context(), c)
		if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || strings.Contains(err.Error(), signature) {
			t.Errorf("err = %v", err)
		}
	})
}

// uploadRecorder is an upload handler that streams the body into a hash and
// records what the request said.
type uploadRecorder struct {
	mu      sync.Mutex
	n       int64
	sum     [32]byte
	header  http.Header
	auth    bool
	readErr error
}

func (u *uploadRecorder) handle(status int, answer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		_, _, auth := r.BasicAuth()
		u.mu.Lock()
		u.n, u.sum, u.header, u.auth, u.readErr = n, [32]byte(h.Sum(nil)), r.Header.Clone(), auth, err
		u.mu.Unlock()
		if err != nil {
			return
		}
		reply(status, answer)(w, r)
	}
}

func TestUploadMedia(t *testing.T) {
	f := newFakeMCS(t, 70_000)
	rec := &uploadRecorder{}
	f.upload = rec.handle(201, mediaJSON(70_000, ""))
	c := mediaClient(t, f)
	opened := 0
	m, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{
		ContentType: "image/png", Filename: "cat é.png", Size: 70_000,
		Open: func() (io.ReadCloser, error) { opened++; return &pattern{n: 70_000}, nil },
	})
	must(t, err)
	if m.SID != mediaSID || m.Size != 70_000 || string(m.Raw) != mediaJSON(70_000, "") {
		t.Errorf("got %+v", m)
	}
	if rec.n != 70_000 || rec.sum != patternSum(70_000) || rec.readErr != nil {
		t.Errorf("server read %d bytes (%v), sum match %v", rec.n, rec.readErr, rec.sum == patternSum(70_000))
	}
	h := rec.header
	if h.Get("Content-Type") != "image/png" || h.Get("Content-Length") != "70000" || !rec.auth ||
		!strings.HasPrefix(h.Get("User-Agent"), "chatvault/") || h.Get("Content-Disposition") != `attachment; filename*=utf-8''cat%20%C3%A9.png` {
		t.Errorf("headers %v, auth %v", h, rec.auth)
	}
	if opened != 1 || f.count("upload") != 1 || c.Requests() != 1 || c.Writes() != 1 {
		t.Errorf("opened %d, server saw %d, client sent %d (%d writes)", opened, f.count("upload"), c.Requests(), c.Writes())
	}
}

func TestUploadMediaDefaultsContentType(t *testing.T) {
	f := newFakeMCS(t, 3)
	rec := &uploadRecorder{}
	f.upload = rec.handle(201, mediaJSON(3, ""))
	c := mediaClient(t, f)
	_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{Size: 3, Open: func() (io.ReadCloser, error) { return &pattern{n: 3}, nil }})
	must(t, err)
	if rec.header.Get("Content-Type") != "application/octet-stream" || rec.header.Get("Content-Disposition") != "" {
		t.Errorf("headers %v", rec.header)
	}
}

func TestUploadMediaRetriedUntilSent(t *testing.T) {
	tests := []struct {
		name   string
		faults []int
	}{
		{"one 429", []int{429}},
		{"three 429", []int{429, 429, 429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, 50_000)
			f.fault("upload", tt.faults...)
			rec := &uploadRecorder{}
			f.upload = rec.handle(201, mediaJSON(50_000, ""))
			c := mediaClient(t, f)
			var opened, closed atomic.Int32
			_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{ContentType: "application/pdf", Size: 50_000,
				Open: func() (io.ReadCloser, error) {
					opened.Add(1)
					return &closeCounter{Reader: &pattern{n: 50_000}, closed: &closed}, nil
				}})
			must(t, err)
			want := int32(len(tt.faults) + 1)
			if opened.Load() != want || closed.Load() != want || f.count("upload") != int(want) {
				t.Errorf("opened %d, closed %d, server saw %d; want %d each", opened.Load(), closed.Load(), f.count("upload"), want)
			}
			if rec.n != 50_000 || rec.sum != patternSum(50_000) {
				t.Errorf("the last attempt sent %d bytes", rec.n)
			}
		})
	}
	t.Run("dial refused", func(t *testing.T) {
		f := newFakeMCS(t, 10)
		rec := &uploadRecorder{}
		f.upload = rec.handle(201, mediaJSON(10, ""))
		var dials atomic.Int32
		d := &net.Dialer{}
		hc := &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) == 1 {
					return nil, errors.New("dial refused by test")
				}
				return d.DialContext(ctx, network, addr)
			},
		}}
		c := mediaClient(t, f, remote.WithHTTPClient(hc))
		opened := 0
		_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{Size: 10,
			Open: func() (io.ReadCloser, error) { opened++; return &pattern{n: 10}, nil }})
		must(t, err)
		if opened != 2 || f.count("upload") != 1 || c.Requests() != 2 || rec.n != 10 {
			t.Errorf("opened %d, server saw %d, client sent %d", opened, f.count("upload"), c.Requests())
		}
	})
}

type closeCounter struct {
	io.Reader
	closed *atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestUploadMediaUnknownOutcome(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"connection lost after the body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			hangUp(w, r)
		}},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			reply(500, twilioError(500, 20500, "internal"))(w, r)
		}},
		{"503", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			reply(503, "")(w, r)
		}},
		{"2xx that is not a media resource", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			reply(201, "<html>")(w, r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, 20_000)
			f.upload = tt.handler
			c := mediaClient(t, f)
			opened := 0
			_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{Size: 20_000,
				Open: func() (io.ReadCloser, error) { opened++; return &pattern{n: 20_000}, nil }})
			var ue *remote.UnknownOutcomeError
			if !errors.Is(err, remote.ErrUnknownOutcome) || !errors.As(err, &ue) || ue.Path != "/mcs/v1/Services/"+svc+"/Media" {
				t.Errorf("err = %v, want an unknown outcome for the upload", err)
			}
			if f.count("upload") != 1 || opened != 1 || c.Requests() != 1 {
				t.Errorf("server saw %d, opened %d, client sent %d; want exactly one", f.count("upload"), opened, c.Requests())
			}
			noSecrets(t, fmt.Sprint(err))
		})
	}
}

func TestUploadMediaWrongSize(t *testing.T) {
	tests := []struct {
		name        string
		size, bytes int64
		want        string
	}{
		{"short", 10_000, 9_999, "ended 1 bytes before its announced size"},
		{"empty", 10, 0, "ended 10 bytes before its announced size"},
		{"long", 10_000, 10_001, "longer than its announced size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, 0)
			rec := &uploadRecorder{}
			f.upload = rec.handle(201, mediaJSON(tt.size, ""))
			c := mediaClient(t, f)
			_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{Size: tt.size,
				Open: func() (io.ReadCloser, error) { return &pattern{n: tt.bytes}, nil }})
			if err == nil || errors.Is(err, remote.ErrUnknownOutcome) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a plain failure saying %q", err, tt.want)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.readErr == nil && rec.n == tt.size {
				t.Errorf("the server received a complete request of %d bytes", rec.n)
			}
			if c.Requests() != 1 {
				t.Errorf("client sent %d requests, want 1", c.Requests())
			}
		})
	}
	t.Run("open fails", func(t *testing.T) {
		f := newFakeMCS(t, 0)
		c := mediaClient(t, f)
		_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{Size: 3,
			Open: func() (io.ReadCloser, error) { return nil, errors.New("archive damaged") }})
		if err == nil || !strings.Contains(err.Error(), "archive damaged") || errors.Is(err, remote.ErrUnknownOutcome) || f.count("upload") != 0 {
			t.Errorf("err = %v, %d uploads seen", err, f.count("upload"))
		}
	})
}

func TestUploadMediaPaced(t *testing.T) {
	f := newFakeMCS(t, 1)
	f.upload = reply(201, mediaJSON(1, ""))
	c := mediaClient(t, f, remote.WithLimits(remote.Limits{ServiceWriteRate: 0.1}))
	u := remote.MediaUpload{Size: 1, Open: func() (io.ReadCloser, error) { return &pattern{n: 1}, nil }}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := c.UploadMedia(ctx, svc, u)
	must(t, err)
	if _, err := c.UploadMedia(ctx, svc, u); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the service write rate to refuse the deadline", err)
	}
	if f.count("upload") != 1 {
		t.Errorf("%d uploads, want 1", f.count("upload"))
	}
}

// TestUploadsPacedApartFromServiceWrites holds uploads to a bucket of their
// own: with one service write a ten seconds, a user create and an upload
// both go at once, and a second of each waits.
func TestUploadsPacedApartFromServiceWrites(t *testing.T) {
	_, info := startEmulator(t, emulator.Config{Seed: 3, Channels: 1, Messages: 1})
	c := emulatorClient(t, info, remote.WithMediaURL(info.MediaURL), remote.WithLimits(remote.Limits{ServiceWriteRate: 0.1}))
	svc := info.Services[1]
	u := remote.MediaUpload{Size: 1, ContentType: "text/plain", Open: func() (io.ReadCloser, error) { return &pattern{n: 1}, nil }}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := c.CreateUser(ctx, svc, remote.UserParams{Identity: "first"})
	must(t, err)
	_, err = c.UploadMedia(ctx, svc, u)
	must(t, err)
	if _, err := c.UploadMedia(ctx, svc, u); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second upload: err = %v, want it paced past the deadline", err)
	}
	if _, err := c.CreateUser(ctx, svc, remote.UserParams{Identity: "second"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second user: err = %v, want it paced past the deadline", err)
	}
}

func TestOpenMediaCancelMidDownload(t *testing.T) {
	f := newFakeMCS(t, 1<<20)
	gone := make(chan struct{})
	f.cdnHook = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		_, _ = w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the client went away
		close(gone)
		return true
	}
	c := mediaClient(t, f, remote.WithLimits(remote.Limits{MaxInFlight: 1}))
	ctx, cancel := context.WithCancel(t.Context())
	_, body, err := c.OpenMedia(ctx, svc, mediaSID)
	must(t, err)
	defer body.Close()
	if _, err := io.ReadFull(body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, body)
	if !errors.Is(err, context.Canceled) || errors.Is(err, remote.ErrMediaCorrupt) {
		t.Errorf("err = %v, want the cancellation", err)
	}
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Error("the server's request was not ended")
	}
	slotFree(t, c, "the cancelled download")
}

func TestOpenMediaStalls(t *testing.T) {
	// Each read must see a byte within the timeout; the whole transfer may
	// take longer.
	tests := []struct {
		name  string
		pause time.Duration
		want  string // "" = arrives
	}{
		{"steady but slower than the timeout overall", 30 * time.Millisecond, ""},
		{"stalled", 600 * time.Millisecond, "no data within 150ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMCS(t, 8000)
			f.cdnHook = func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Length", "8000")
				p := &pattern{n: 8000}
				buf := make([]byte, 1000)
				for range 8 {
					n, _ := p.Read(buf)
					if _, err := w.Write(buf[:n]); err != nil {
						return true
					}
					w.(http.Flusher).Flush()
					select {
					case <-time.After(tt.pause):
					case <-r.Context().Done():
						return true
					}
				}
				return true
			}
			c := mediaClient(t, f, remote.WithTimeout(150*time.Millisecond))
			_, n, sum, err := download(t.Context(), c)
			if tt.want == "" {
				must(t, err)
				if n != 8000 || sum != patternSum(8000) {
					t.Errorf("got %d bytes", n)
				}
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// gatedPattern is a pattern that refuses to run more than window bytes
// ahead of what the server has received: a client that held the whole
// file before sending it would stall here, and fail the test.
type gatedPattern struct {
	pattern
	received *atomic.Int64
	window   int64
}

func (g *gatedPattern) Read(b []byte) (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for g.off-g.received.Load() > g.window {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the client read %d bytes ahead of what it sent", g.off-g.received.Load())
		}
		time.Sleep(time.Millisecond)
	}
	return g.pattern.Read(b)
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func TestMediaLargeFileStreams(t *testing.T) {
	const size = 64 << 20
	const window = 8 << 20
	want := patternSum(size)

	t.Run("upload", func(t *testing.T) {
		f := newFakeMCS(t, size)
		var received atomic.Int64
		var got [32]byte
		f.upload = func(w http.ResponseWriter, r *http.Request) {
			h := sha256.New()
			if _, err := io.Copy(countingWriter{h, &received}, r.Body); err != nil {
				return
			}
			got = [32]byte(h.Sum(nil))
			reply(201, mediaJSON(size, ""))(w, r)
		}
		c := mediaClient(t, f)
		_, err := c.UploadMedia(t.Context(), svc, remote.MediaUpload{ContentType: "video/mp4", Size: size,
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(&gatedPattern{pattern: pattern{n: size}, received: &received, window: window}), nil
			}})
		must(t, err)
		if received.Load() != size || got != want {
			t.Errorf("server received %d bytes, sum match %v", received.Load(), got == want)
		}
	})

	t.Run("download", func(t *testing.T) {
		f := newFakeMCS(t, size)
		var sent atomic.Int64
		f.cdnHook = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			_, _ = io.Copy(countingWriter{w, &sent}, &pattern{n: size})
			return true
		}
		c := mediaClient(t, f)
		_, body, err := c.OpenMedia(t.Context(), svc, mediaSID)
		must(t, err)
		defer body.Close()
		// The body is handed over before the server could send it all:
		// nothing read it ahead of the caller.
		time.Sleep(50 * time.Millisecond)
		if s := sent.Load(); s > size-window {
			t.Errorf("the server sent %d bytes before the caller read any", s)
		}
		var read atomic.Int64
		h := sha256.New()
		_, err = io.Copy(countingWriter{h, &read}, body)
		must(t, err)
		if read.Load() != size || [32]byte(h.Sum(nil)) != want {
			t.Errorf("read %d bytes, sum match %v", read.Load(), [32]byte(h.Sum(nil)) == want)
		}
	})
}

// TestMediaRootKeepsItsPrefix checks that every media path is under the
// media root's path, and that the API base is not used.
func TestMediaRootKeepsItsPrefix(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/Content") {
			// Served in place, as by a client that follows redirects.
			_, _ = io.Copy(w, bytes.NewReader(make([]byte, 12)))
			return
		}
		reply(200, mediaJSON(12, ""))(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token},
		remote.WithBaseURL("http://127.0.0.1:1"), remote.WithMediaURL(srv.URL+"/a/b/"))
	must(t, err)
	_, err = c.UploadMedia(t.Context(), svc, remote.MediaUpload{Size: 1, Open: func() (io.ReadCloser, error) { return &pattern{n: 1}, nil }})
	must(t, err)
	_, body, err := c.OpenMedia(t.Context(), svc, mediaSID)
	must(t, err)
	n, err := io.Copy(io.Discard, body)
	must(t, err)
	body.Close()
	wantPaths := []string{
		"POST /a/b/v1/Services/" + svc + "/Media",
		"GET /a/b/v1/Services/" + svc + "/Media/" + mediaSID,
		"GET /a/b/v1/Services/" + svc + "/Media/" + mediaSID + "/Content",
	}
	if n != 12 || strings.Join(paths, "\n") != strings.Join(wantPaths, "\n") {
		t.Errorf("read %d bytes; paths:\n%s\nwant:\n%s", n, strings.Join(paths, "\n"), strings.Join(wantPaths, "\n"))
	}
}

func TestMediaRetryLogKeepsSignatureOut(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	f := newFakeMCS(t, 100)
	f.fault("cdn", 503)
	c := mediaClient(t, f, remote.WithLogger(slog.New(h)))
	_, _, _, err := download(t.Context(), c)
	must(t, err)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "retrying request") || !strings.Contains(out, "/files/"+mediaSID) || strings.Contains(out, signature) {
		t.Errorf("log = %q, want a retry record of the temporary URL without its signature", out)
	}
	noSecrets(t, out)
}

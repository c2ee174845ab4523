package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// Identifiers used throughout the tests. token and secret are distinctive so
// a leak into an error string or log is easy to spot.
const (
	acct   = "AC0123456789abcdef0123456789abcdef"
	token  = "tokSECRETa1b2c3d4e5f6"
	apiKey = "SK0123456789abcdef0123456789abcdef"
	secret = "keySECRETz9y8x7w6v5"
	svc    = "IS0123456789abcdef0123456789abcdef"
	chSID  = "CH0123456789abcdef0123456789abcdef"
	mbSID  = "MB0123456789abcdef0123456789abcdef"
	imSID  = "IM0123456789abcdef0123456789abcdef"
	usSID  = "US0123456789abcdef0123456789abcdef"
	rlSID  = "RL0123456789abcdef0123456789abcdef"
)

// Sample objects as the API sends them, each with a field the package does
// not model, so Raw must keep it.
const (
	serviceJSON = `{"sid":"` + svc + `","account_sid":"` + acct + `","friendly_name":"Support","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:06Z","default_service_role_sid":"` + rlSID + `","limits":{"channel_members":100},"url":"https://chat.twilio.com/v2/Services/` + svc + `"}`
	roleJSON    = `{"sid":"` + rlSID + `","service_sid":"` + svc + `","friendly_name":"channel user","type":"channel","permissions":["sendMessage","leaveChannel"],"date_created":"2020-01-02T03:04:05Z","date_updated":null,"url":"x"}`
	userJSON    = `{"sid":"` + usSID + `","service_sid":"` + svc + `","identity":"alice","friendly_name":null,"attributes":"{}","role_sid":"` + rlSID + `","is_online":null,"joined_channels_count":3,"date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:05Z"}`
	channelJSON = `{"sid":"` + chSID + `","account_sid":"` + acct + `","service_sid":"` + svc + `","friendly_name":"Ops","unique_name":"team/ops","attributes":"{\"a\":1}","type":"private","created_by":"system","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:06Z","members_count":2,"messages_count":5,"url":"u","links":{"members":"m","last_message":null}}`
	memberJSON  = `{"sid":"` + mbSID + `","channel_sid":"` + chSID + `","service_sid":"` + svc + `","identity":"a b?c","role_sid":"` + rlSID + `","attributes":"{}","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:05Z","last_consumed_message_index":4,"last_consumption_timestamp":"2020-01-03T00:00:00Z","url":"u","extra":true}`
	messageJSON = `{"sid":"` + imSID + `","channel_sid":"` + chSID + `","service_sid":"` + svc + `","to":"` + chSID + `","from":"alice","body":"h\u00e9llo \ud83d\udc4b","attributes":"{}","index":7,"type":"media","media":{"sid":"ME0123456789abcdef0123456789abcdef","size":12,"content_type":"image/png","filename":"a.png"},"was_edited":true,"last_updated_by":"bob","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:09Z","url":"u","new_thing":{"x":[1,2]}}`
)

// recorded is what the fake API saw of one request.
type recorded struct {
	Method   string
	Path     string // escaped
	RawQuery string
	Query    url.Values
	Form     url.Values // POST body
	Header   http.Header
	User     string
	Pass     string
	HasAuth  bool
}

// fakeAPI is an httptest server that records every request and answers with
// the handler the test installs.
type fakeAPI struct {
	url string

	mu     sync.Mutex
	reqs   []recorded
	h      http.HandlerFunc
	sleeps []time.Duration
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	user, pass, ok := r.BasicAuth()
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{
		Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
		Form: r.PostForm, Header: r.Header.Clone(), User: user, Pass: pass, HasAuth: ok,
	})
	h := f.h
	f.mu.Unlock()
	if h == nil {
		http.Error(w, "no handler", http.StatusTeapot)
		return
	}
	h(w, r)
}

// handle installs h for the following requests.
func (f *fakeAPI) handle(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.h = h
}

// requests returns a copy of what the server saw so far.
func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeAPI) count() int { return len(f.requests()) }

// sleep records a back-off instead of waiting.
func (f *fakeAPI) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeAPI) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// setup starts a fake API and a client pointed at it. Back-offs are recorded,
// not slept; opts come last so a test can override anything.
func setup(t *testing.T, opts ...remote.Option) (*remote.Client, *fakeAPI) {
	t.Helper()
	f := &fakeAPI{}
	f.url = newServer(t, f)
	base := []remote.Option{remote.WithBaseURL(f.url), remote.WithSleep(f.sleep)}
	c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, f
}

// newServer serves h on loopback until the test ends and returns its URL.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// reply answers with status and body as JSON.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// sequence answers the i-th request with hs[i]; the last handler repeats.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(i, len(hs)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

// hangUp drops the connection without answering, after the request was read.
func hangUp(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// twilioError is Twilio's error body.
func twilioError(status, code int, msg string) string {
	b, _ := json.Marshal(map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
	return string(b)
}

// page builds a list answer with meta.key = key.
func page(key string, next string, items ...string) string {
	n := "null"
	if next != "" {
		n = `"` + next + `"`
	}
	return `{"` + key + `":[` + strings.Join(items, ",") + `],"meta":{"page":0,"page_size":50,"key":"` + key + `","next_page_url":` + n + `,"previous_page_url":null,"url":"u","first_page_url":"u"}}`
}

// collect drains a list iterator.
func collect[T any](seq func(yield func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// noSecrets fails the test if s carries a credential.
func noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, sec := range []string{token, secret} {
		if strings.Contains(s, sec) {
			t.Errorf("text leaks a secret: %q", s)
		}
	}
}

func ptr[T any](v T) *T { return &v }

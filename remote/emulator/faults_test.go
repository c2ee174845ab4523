package emulator

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// inLatency makes the server report each request that starts its latency
// sleep on the returned channel.
func inLatency(t *testing.T, s *Server) <-chan struct{} {
	t.Helper()
	entered := make(chan struct{}, 16)
	hook := func() { entered <- struct{}{} }
	s.testHookLatency.Store(&hook)
	t.Cleanup(func() { s.testHookLatency.Store(nil) })
	return entered
}

func TestMaxConcurrency(t *testing.T) {
	s, c := setup(t, testConfig())
	entered := inLatency(t, s)
	s.SetFaults(time.Hour, 1, 0, 0, 0)

	ctx, cancel := context.WithCancel(context.Background())
	blocked := make(chan error, 1)
	go func() {
		_, err := c.try(ctx, "GET", "/v2/Services", nil)
		blocked <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached its latency sleep")
	}
	if got := s.Stats().InFlight; got != 1 {
		t.Errorf("in flight %d, want 1", got)
	}

	cases := []struct {
		name, method, path string
	}{
		{"read", "GET", c.svc0() + "/Channels"},
		{"write", "POST", c.svc0() + "/Channels"},
		{"unknown path", "GET", "/v2/Nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := c.do(tc.method, tc.path, url.Values{})
			code, _ := r.apiErr(t)
			if r.status != 429 || code != codeTooManyRequests {
				t.Errorf("second request: %d code %d, want 429 code %d: %s", r.status, code, codeTooManyRequests, r.body)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("refusal took %v; it should not wait out the latency", d)
			}
		})
	}
	cancel()
	if err := <-blocked; !errors.Is(err, context.Canceled) {
		t.Errorf("blocked request ended with %v, want context.Canceled", err)
	}
	s.SetFaults(0, 0, 0, 0, 0)
	if n := len(c.channels(c.svc0())); n != testConfig().Channels {
		t.Errorf("%d channels after the refused create, want %d", n, testConfig().Channels)
	}
	if st := s.Stats(); st.Status["429"] != int64(len(cases)) {
		t.Errorf("stats count %d answers 429, want %d", st.Status["429"], len(cases))
	}
}

func TestLatency(t *testing.T) {
	const latency = 120 * time.Millisecond
	s, c := setup(t, Config{Seed: 1, Channels: 1, Messages: 1, Latency: latency})
	for _, path := range []string{"/v2/Services", "/v2/Nope"} {
		start := time.Now()
		c.do("GET", path, nil)
		if d := time.Since(start); d < latency {
			t.Errorf("GET %s answered in %v, want at least %v", path, d, latency)
		}
	}
	cc := *c
	cc.pass = "wrong"
	start := time.Now()
	if r := cc.do("GET", "/v2/Services", nil); r.status != 401 || time.Since(start) < latency {
		t.Errorf("unauthenticated request: %d after %v, want 401 after at least %v", r.status, time.Since(start), latency)
	}
	s.SetFaults(0, 0, 0, 0, 0)
	if got := s.faults.get().latency; got != 0 {
		t.Errorf("latency after SetFaults(0): %v", got)
	}
}

func TestReadHandledOnArrival(t *testing.T) {
	// A read is handled when it arrives and answered once the latency has
	// passed (the handling counts in it); a write waits out the latency
	// before it is carried out. A message posted while a listing waits is
	// not in that listing.
	const latency = 300 * time.Millisecond
	s, c := setup(t, testConfig())
	ch := str(c.channels(c.svc0())[0], "url")
	before := len(c.listAll(ch + "/Messages"))
	entered := inLatency(t, s)
	s.SetFaults(latency, 0, 0, 0, 0)
	start := time.Now()
	listed := make(chan resp, 1)
	go func() { listed <- c.do("GET", ch+"/Messages?PageSize=100", nil) }()
	<-entered
	s.SetFaults(0, 0, 0, 0, 0)
	c.mustJSON(201, "POST", ch+"/Messages", url.Values{"Body": {"posted during the read's latency"}})
	r := <-listed
	if d := time.Since(start); d < latency {
		t.Errorf("the listing was answered after %v, want at least the latency %v", d, latency)
	}
	if r.status != 200 {
		t.Fatalf("listing: HTTP %d", r.status)
	}
	if n := len(r.json(t)["messages"].([]any)); n != before {
		t.Errorf("the listing holds %d messages, want the %d there when it arrived", n, before)
	}
	if after := len(c.listAll(ch + "/Messages")); after != before+1 {
		t.Errorf("%d messages after the post, want %d", after, before+1)
	}

	// A write reaches its latency before it is carried out.
	s.SetFaults(latency, 0, 0, 0, 0)
	posted := make(chan resp, 1)
	go func() { posted <- c.do("POST", ch+"/Messages", url.Values{"Body": {"slow"}}) }()
	<-entered
	s.SetFaults(0, 0, 0, 0, 0)
	if n := len(c.listAll(ch + "/Messages")); n != before+1 {
		t.Errorf("%d messages while a post waits out its latency, want %d: it was carried out before", n, before+1)
	}
	if r := <-posted; r.status != 201 {
		t.Errorf("post: HTTP %d", r.status)
	}
}

func TestShutdownAbortsLatency(t *testing.T) {
	s, c := setup(t, testConfig()) // its clean-up shuts down again, which is a no-op
	entered := inLatency(t, s)
	s.SetFaults(time.Hour, 0, 0, 0, 0)
	answered := make(chan resp, 1)
	go func() {
		r, err := c.try(context.Background(), "GET", "/v2/Services", nil)
		if err != nil {
			t.Errorf("request during shutdown: %v", err)
		}
		answered <- r
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a request in its latency: %v", err)
	}
	r := <-answered
	if code, _ := r.apiErr(t); r.status != 503 || code != codeServiceUnavailable {
		t.Errorf("request cut short by shutdown: %d code %d, want 503 %d", r.status, code, codeServiceUnavailable)
	}
}

func TestWriteRate(t *testing.T) {
	cfg := fixedConfig() // the frozen clock never refills an allowance
	cfg.WriteRate = 2
	s, c := setup(t, cfg)
	chans := c.channels(c.svc0())
	a, b := str(chans[0], "url"), str(chans[1], "url")
	msgs := c.listAll(a + "/Messages")
	member := c.listAll(a + "/Members")[0]

	steps := []struct {
		name         string
		method, path string
		form         url.Values
		status, code int
	}{
		{"first message", "POST", a + "/Messages", url.Values{"Body": {"1"}}, 201, 0},
		{"message update", "POST", str(msgs[0], "url"), url.Values{"Body": {"2"}}, 200, 0},
		{"third write in the second", "POST", a + "/Messages", url.Values{"Body": {"3"}}, 429, codeChannelRateExceeded},
		{"member create", "POST", a + "/Members", url.Values{"Identity": {"late"}}, 429, codeChannelRateExceeded},
		{"member update", "POST", str(member, "url"), url.Values{"Attributes": {"{}"}}, 429, codeChannelRateExceeded},
		{"member delete", "DELETE", str(member, "url"), nil, 429, codeChannelRateExceeded},
		{"message delete", "DELETE", str(msgs[1], "url"), nil, 429, codeChannelRateExceeded},
		{"channel update", "POST", a, url.Values{"FriendlyName": {"x"}}, 429, codeChannelRateExceeded},
		{"bad write still limited", "POST", a + "/Messages", url.Values{"Attributes": {"{"}}, 429, codeChannelRateExceeded},
		{"reads are not limited", "GET", a + "/Messages", nil, 200, 0},
		{"other channel has its own allowance", "POST", b + "/Messages", url.Values{"Body": {"b"}}, 201, 0},
		{"channel create is service-scoped", "POST", c.svc0() + "/Channels", url.Values{}, 201, 0},
		{"by unique name shares the allowance", "POST", c.svc0() + "/Channels/" + str(chans[0], "unique_name") + "/Messages", url.Values{}, 429, codeChannelRateExceeded},
		{"unknown channel is 404 first", "POST", c.svc0() + "/Channels/nope/Messages", url.Values{}, 404, codeChannelNotFound},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := c.do(st.method, st.path, st.form)
			if r.status != st.status {
				t.Fatalf("%d, want %d: %s", r.status, st.status, r.body)
			}
			if st.code != 0 {
				if code, _ := r.apiErr(t); code != st.code {
					t.Errorf("code %d, want %d", code, st.code)
				}
			}
		})
	}
	if got := len(c.listAll(a + "/Messages")); got != len(msgs)+1 {
		t.Errorf("%d messages after limited writes, want %d (only the first create)", got, len(msgs)+1)
	}
	if got := len(c.listAll(a + "/Members")); int64(got) != num(chans[0], "members_count") {
		t.Errorf("members changed by refused writes: %d", got)
	}

	s.SetFaults(0, 0, 3, 0, 0) // a new rate gives every channel a new allowance
	for i := range 3 {
		if r := c.do("POST", a+"/Messages", url.Values{}); r.status != 201 {
			t.Fatalf("write %d after the new rate: %d %s", i, r.status, r.body)
		}
	}
	if r := c.do("POST", a+"/Messages", url.Values{}); r.status != 429 {
		t.Errorf("fourth write at rate 3: %d", r.status)
	}
	s.SetFaults(0, 0, 0, 0, 0) // unlimited
	for i := range 10 {
		if r := c.do("POST", a+"/Messages", url.Values{}); r.status != 201 {
			t.Fatalf("write %d without a rate: %d", i, r.status)
		}
	}
}

// TestWriteRateRefills uses a clock the test moves.
func TestWriteRateRefills(t *testing.T) {
	now := fixedClock
	cfg := testConfig()
	cfg.WriteRate = 1
	clock := make(chan time.Time, 1)
	clock <- now
	cfg.Now = func() time.Time { t := <-clock; clock <- t; return t }
	_, c := setup(t, cfg)
	ch := str(c.channels(c.svc0())[0], "url") + "/Messages"
	set := func(d time.Duration) { <-clock; clock <- now.Add(d) }
	for _, st := range []struct {
		at   time.Duration
		want int
	}{
		{0, 201}, {0, 429}, {500 * time.Millisecond, 429}, {time.Second, 201}, {time.Second, 429}, {3 * time.Second, 201},
	} {
		set(st.at)
		if r := c.do("POST", ch, url.Values{}); r.status != st.want {
			t.Errorf("write at +%v: %d, want %d", st.at, r.status, st.want)
		}
	}
}

func TestFaultRate(t *testing.T) {
	s, c := setup(t, testConfig())
	ch := str(c.channels(c.svc0())[0], "url")
	before := len(c.listAll(ch + "/Messages"))
	s.SetFaults(0, 0, 0, 1, 0)
	cases := []struct {
		name, method, path string
		form               url.Values
	}{
		{"list", "GET", c.svc0() + "/Channels", nil},
		{"fetch", "GET", ch, nil},
		{"create message", "POST", ch + "/Messages", url.Values{"Body": {"lost"}}},
		{"create channel", "POST", c.svc0() + "/Channels", url.Values{"UniqueName": {"faulty"}}},
		{"delete channel", "DELETE", ch, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.form)
			code, status := r.apiErr(t)
			ok := (r.status == 500 && code == codeInternalError) || (r.status == 503 && code == codeServiceUnavailable)
			if !ok || status != r.status {
				t.Errorf("%d code %d, want 500/20500 or 503/20503: %s", r.status, code, r.body)
			}
		})
	}
	s.SetFaults(0, 0, 0, 0, 0)
	if got := len(c.listAll(ch + "/Messages")); got != before {
		t.Errorf("%d messages after faulted writes, want %d", got, before)
	}
	if r := c.do("GET", c.svc0()+"/Channels/faulty", nil); r.status != 404 {
		t.Errorf("faulted channel create happened: %d", r.status)
	}

	t.Run("a fraction", func(t *testing.T) {
		s.SetFaults(0, 0, 0, 0.5, 0)
		defer s.SetFaults(0, 0, 0, 0, 0)
		count := map[int]int{}
		const n = 200
		for range n {
			count[c.do("GET", "/v2/Services", nil).status]++
		}
		if count[500] == 0 || count[503] == 0 || count[200] < n/4 || count[200] > 3*n/4 {
			t.Errorf("statuses at fault rate 0.5: %v", count)
		}
	})
	t.Run("stats are never faulted", func(t *testing.T) {
		s.SetFaults(0, 0, 0, 1, 0)
		defer s.SetFaults(0, 0, 0, 0, 0)
		if r := c.do("GET", statsPath, nil); r.status != 200 {
			t.Errorf("stats at fault rate 1: %d", r.status)
		}
	})
}

func TestLostResponses(t *testing.T) {
	s, c := setup(t, testConfig())
	ch := str(c.channels(c.svc0())[0], "url")
	before := c.listAll(ch + "/Messages")
	s.SetFaults(0, 0, 0, 0, 1)

	_, err := c.try(context.Background(), "POST", ch+"/Messages", url.Values{"Body": {"did it arrive?"}})
	if err == nil {
		t.Fatal("write at lost-response rate 1 got an answer")
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("lost response surfaced as %v", err) // any transport error will do
	}
	if _, err := c.try(context.Background(), "DELETE", str(before[0], "url"), nil); err == nil {
		t.Error("delete at lost-response rate 1 got an answer")
	}
	// Reads and failed writes are answered.
	if r := c.do("GET", ch+"/Messages", nil); r.status != 200 {
		t.Errorf("read at lost-response rate 1: %d", r.status)
	}
	if r := c.do("POST", c.svc0()+"/Channels/nope/Messages", url.Values{}); r.status != 404 {
		t.Errorf("failed write at lost-response rate 1: %d", r.status)
	}
	s.SetFaults(0, 0, 0, 0, 0)
	after := c.listAll(ch + "/Messages")
	if len(after) != len(before) { // one added, one deleted
		t.Fatalf("%d messages, want %d", len(after), len(before))
	}
	if str(after[len(after)-1], "body") != "did it arrive?" {
		t.Errorf("the write whose answer was lost did not happen: last body %q", str(after[len(after)-1], "body"))
	}
	if str(after[0], "sid") == str(before[0], "sid") {
		t.Errorf("the delete whose answer was lost did not happen")
	}
	if st := s.Stats(); st.LostResponses != 2 {
		t.Errorf("lost_responses %d, want 2", st.LostResponses)
	}
}

func TestSetFaultsClamps(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	s.SetFaults(-time.Second, -3, -1, 7, -2)
	got := s.faults.get()
	want := faultSettings{latency: 0, maxConcurrency: 0, writeRate: 0, faultRate: 1, lostResponseRate: 0}
	if got != want {
		t.Errorf("SetFaults with out-of-range values: %+v, want %+v", got, want)
	}
	s.SetFaults(0, 0, 0, nan(), nan())
	if got := s.faults.get(); got.faultRate != 0 || got.lostResponseRate != 0 {
		t.Errorf("NaN rates: %+v", got)
	}
}

func TestStats(t *testing.T) {
	s, c := setup(t, testConfig())
	ch := str(c.channels(c.svc0())[0], "url") // GET …/Channels
	c.do("GET", c.svc0()+"/Channels", nil)
	c.do("POST", ch+"/Messages", url.Values{"Body": {"a"}}, "X-Twilio-Webhook-Enabled", "true")
	c.do("POST", ch+"/Messages", url.Values{"Body": {"b"}}, "X-Twilio-Webhook-Enabled", "false")
	m := c.mustJSON(201, "POST", ch+"/Messages", url.Values{"Body": {"c"}})
	c.do("DELETE", str(m, "url"), nil, "X-Twilio-Webhook-Enabled", "true")
	c.do("POST", ch+"/Messages", url.Values{}, "X-Twilio-Webhook-Enabled", "maybe")
	c.do("GET", "/v2/Nope", nil)
	c.do("PUT", "/v2/Services", nil)
	cc := *c
	cc.pass = "wrong"
	cc.do("POST", ch+"/Messages", url.Values{}, "X-Twilio-Webhook-Enabled", "true")
	c.do("GET", statsPath, nil)

	st := s.Stats()
	wantRequests := map[string]int64{
		"GET /v2/Services/{sid}/Channels":                         2,
		"POST /v2/Services/{sid}/Channels/{sid}/Messages":         5,
		"DELETE /v2/Services/{sid}/Channels/{sid}/Messages/{sid}": 1,
		"GET (unknown path)":                                      1,
		"PUT /v2/Services":                                        1,
	}
	if len(st.Requests) != len(wantRequests) {
		t.Errorf("requests %v, want %v", st.Requests, wantRequests)
	}
	for k, v := range wantRequests {
		if st.Requests[k] != v {
			t.Errorf("requests[%q] = %d, want %d (all: %v)", k, st.Requests[k], v, st.Requests)
		}
	}
	wantStatus := map[string]int64{"200": 2, "201": 3, "204": 1, "400": 1, "401": 1, "404": 1, "405": 1}
	for k, v := range wantStatus {
		if st.Status[k] != v {
			t.Errorf("status[%s] = %d, want %d (all: %v)", k, st.Status[k], v, st.Status)
		}
	}
	// Writes that passed authentication: 4 message creates (one refused for
	// its header) and a delete; the unauthenticated one is not counted.
	if st.Writes != 5 || st.WebhooksEnabledWrites != 2 {
		t.Errorf("writes %d, webhooks-enabled %d; want 5 and 2", st.Writes, st.WebhooksEnabledWrites)
	}

	t.Run("served as JSON", func(t *testing.T) {
		got := c.mustJSON(200, "GET", statsPath, nil)
		for _, k := range []string{"requests", "status", "writes", "webhooks_enabled_writes", "lost_responses", "in_flight"} {
			if _, ok := got[k]; !ok {
				t.Errorf("stats JSON lacks %s: %v", k, got)
			}
		}
		reqs := got["requests"].(map[string]any)
		if reqs["GET /v2/Services/{sid}/Channels"] != float64(2) {
			t.Errorf("stats JSON requests: %v", reqs)
		}
		if num(got, "writes") != 5 || num(got, "webhooks_enabled_writes") != 2 {
			t.Errorf("stats JSON writes: %v", got)
		}
	})
	t.Run("only GET", func(t *testing.T) {
		for _, m := range []string{"POST", "DELETE"} {
			r := c.do(m, statsPath, url.Values{})
			if code, _ := r.apiErr(t); r.status != 405 || code != codeMethodNotAllowed {
				t.Errorf("%s stats: %d code %d", m, r.status, code)
			}
		}
	})
	t.Run("a copy", func(t *testing.T) {
		st := s.Stats()
		st.Requests["GET /v2/Services"] = 999
		if s.Stats().Requests["GET /v2/Services"] == 999 {
			t.Error("Stats returns the live map")
		}
	})
}

func TestLifecycle(t *testing.T) {
	t.Run("shutdown stops serving", func(t *testing.T) {
		s, c := setup(t, testConfig())
		c.hc.Transport = &http.Transport{DisableKeepAlives: true}
		if r := c.do("GET", "/v2/Services", nil); r.status != 200 {
			t.Fatalf("before shutdown: %d", r.status)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, err := c.try(context.Background(), "GET", "/v2/Services", nil); err == nil {
			t.Error("answered after Shutdown")
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		if _, err := s.Start("127.0.0.1:0"); err == nil {
			t.Error("Start after Shutdown succeeded")
		}
	})
	t.Run("a silent connection does not hold shutdown", func(t *testing.T) {
		s, c := setup(t, testConfig())
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.info.BaseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// One full request on another connection makes sure the silent one
		// has been accepted (connections are accepted in order).
		if r := c.do("GET", "/v2/Services", nil); r.status != 200 {
			t.Fatalf("request: %d", r.status)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown with a silent connection open: %v", err)
		}
	})
	t.Run("start twice", func(t *testing.T) {
		s, _ := setup(t, testConfig())
		if _, err := s.Start("127.0.0.1:0"); err == nil {
			t.Error("second Start succeeded")
		}
	})
	t.Run("bad address", func(t *testing.T) {
		for _, addr := range []string{"127.0.0.1:99999", "not an address"} {
			s, err := New(testConfig())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Start(addr); err == nil {
				t.Errorf("Start(%q) succeeded", addr)
				_ = s.Shutdown(context.Background())
			}
		}
	})
	t.Run("shutdown without start", func(t *testing.T) {
		s, err := New(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown of a server never started: %v", err)
		}
	})
	t.Run("address taken", func(t *testing.T) {
		s, _ := setup(t, testConfig())
		addr := s.Info().BaseURL[len("http://"):]
		s2, err := New(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Start(addr); err == nil {
			t.Errorf("second emulator started on taken %s", addr)
		}
	})
}

// TestHandlerWithoutStart serves through httptest: URLs follow the Host.
func TestHandlerWithoutStart(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s.Handler())
	info := s.Info()
	info.BaseURL = ts
	c := newClient(t, info)
	page := c.mustJSON(200, "GET", c.svc0()+"/Channels?PageSize=1", nil)
	next := str(page["meta"].(map[string]any), "next_page_url")
	if len(next) < len(ts) || next[:len(ts)] != ts {
		t.Errorf("next_page_url %s is not on %s", next, ts)
	}
	if r := c.do("GET", next, nil); r.status != 200 {
		t.Errorf("following next_page_url: %d", r.status)
	}
}

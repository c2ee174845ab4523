package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testConfig is a small history that seeds in milliseconds.
func testConfig() Config {
	return Config{Seed: 42, Channels: 6, Messages: 30}
}

// fixedClock is the clock of tests that check dates of created resources.
var fixedClock = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// setup starts an emulator on a free loopback port and returns a client
// holding its credentials. The emulator is shut down when the test ends.
func setup(t *testing.T, cfg Config) (*Server, *client) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	info, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, newClient(t, info)
}

// newTestServer serves h on an httptest server closed when the test ends.
func newTestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

type client struct {
	t    *testing.T
	info Info
	user string
	pass string
	hc   *http.Client
}

func newClient(t *testing.T, info Info) *client {
	return &client{t: t, info: info, user: info.AccountSID, pass: info.AuthToken,
		hc: &http.Client{Timeout: 30 * time.Second}}
}

// svc0 and svc1 are the paths of the seeded services.
func (c *client) svc0() string { return "/v2/Services/" + c.info.Services[0] }
func (c *client) svc1() string { return "/v2/Services/" + c.info.Services[1] }

// resp is an answer of the emulator.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// apiErr decodes a Twilio error body.
func (r resp) apiErr(t *testing.T) (code, status int) {
	t.Helper()
	var e struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, r.body)
	}
	if e.Message == "" || !strings.HasSuffix(e.MoreInfo, "/"+strconv.Itoa(e.Code)) {
		t.Errorf("error body lacks message or more_info for its code: %s", r.body)
	}
	return e.Code, e.Status
}

// do sends one request; path may be absolute (a next_page_url) or a path
// on the emulator. form is sent form-encoded; header values are added.
func (c *client) do(method, path string, form url.Values, header ...string) resp {
	c.t.Helper()
	r, err := c.try(context.Background(), method, path, form, header...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (c *client) try(ctx context.Context, method, path string, form url.Values, header ...string) (resp, error) {
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.info.BaseURL + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return resp{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return c.roundTrip(req, header...)
}

// roundTrip adds the credentials and the header values to req, sends it
// and reads the answer.
func (c *client) roundTrip(req *http.Request, header ...string) (resp, error) {
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}, nil
}

// mustJSON sends a request, requires status want and decodes the body.
func (c *client) mustJSON(want int, method, path string, form url.Values, header ...string) map[string]any {
	c.t.Helper()
	r := c.do(method, path, form, header...)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r.json(c.t)
}

// listAll follows next_page_url from path and returns every item.
func (c *client) listAll(path string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for next := path; next != ""; {
		page := c.mustJSON(200, "GET", next, nil)
		meta := page["meta"].(map[string]any)
		for _, it := range page[meta["key"].(string)].([]any) {
			out = append(out, it.(map[string]any))
		}
		next, _ = meta["next_page_url"].(string)
		if len(out) > 100_000 {
			c.t.Fatalf("listing %s does not end", path)
		}
	}
	return out
}

// channels lists every channel of a service, public and private.
func (c *client) channels(svcPath string) []map[string]any {
	return c.listAll(svcPath + "/Channels?Type=public&Type=private&PageSize=100")
}

func str(m map[string]any, k string) string { v, _ := m[k].(string); return v }

func num(m map[string]any, k string) int64 { v, _ := m[k].(float64); return int64(v) }

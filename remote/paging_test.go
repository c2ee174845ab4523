package remote_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// msgJSON is message number i (index 2i, to leave gaps as the API does).
func msgJSON(i int) string {
	return fmt.Sprintf(`{"sid":"IM%032x","index":%d,"body":"m%d","attributes":"{}","date_created":"2020-01-01T00:00:%02dZ","unknown":{"n":%d}}`, i, 2*i, i, i%60, i)
}

// pagedMessages answers message lists of n messages the way the API does:
// PageSize, Order, Page from the query; an absolute next_page_url carrying a
// PageToken.
func pagedMessages(base func() string, n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("PageSize"))
		pg, _ := strconv.Atoi(q.Get("Page"))
		order := q.Get("Order")
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		if order == "desc" {
			slices.Reverse(ids)
		}
		lo, hi := min(pg*size, n), min((pg+1)*size, n)
		var items []string
		for _, i := range ids[lo:hi] {
			items = append(items, msgJSON(i))
		}
		next := ""
		if hi < n {
			v := url.Values{"PageSize": {strconv.Itoa(size)}, "Page": {strconv.Itoa(pg + 1)}, "PageToken": {"PT" + strconv.Itoa(hi)}}
			if order != "" {
				v.Set("Order", order)
			}
			next = base() + r.URL.Path + "?" + v.Encode()
		}
		reply(200, page("messages", next, items...))(w, r)
	}
}

func TestListMessagesPaging(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		o         remote.ListOptions
		wantPages int
	}{
		{"ascending by default", 23, remote.ListOptions{PageSize: 7}, 4},
		{"ascending", 23, remote.ListOptions{PageSize: 7, Order: "asc"}, 4},
		{"descending", 23, remote.ListOptions{PageSize: 7, Order: "desc"}, 4},
		{"exact multiple", 21, remote.ListOptions{PageSize: 7, Order: "desc"}, 3},
		{"page size one", 5, remote.ListOptions{PageSize: 1}, 5},
		{"many pages of the default size", 1234, remote.ListOptions{}, 13},
		{"empty channel", 0, remote.ListOptions{PageSize: 7}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			f.handle(pagedMessages(func() string { return f.url }, tt.n))
			msgs, err := collect(c.ListMessages(t.Context(), svc, chSID, tt.o))
			must(t, err)
			if len(msgs) != tt.n {
				t.Fatalf("got %d messages, want %d", len(msgs), tt.n)
			}
			for k, m := range msgs {
				i := k
				if tt.o.Order == "desc" {
					i = tt.n - 1 - k
				}
				if m.Index != int64(2*i) || string(m.Raw) != msgJSON(i) {
					t.Fatalf("message %d = index %d raw %s, want message %d", k, m.Index, m.Raw, i)
				}
			}
			reqs := f.requests()
			if len(reqs) != tt.wantPages || c.Requests() != int64(tt.wantPages) {
				t.Fatalf("%d requests (client counted %d), want %d", len(reqs), c.Requests(), tt.wantPages)
			}
			for i, r := range reqs[1:] {
				if r.Query.Get("PageToken") == "" || r.Query.Get("Page") != strconv.Itoa(i+1) {
					t.Errorf("page %d was not fetched from next_page_url: %s", i+1, r.RawQuery)
				}
				if r.User != acct || r.Pass != token {
					t.Errorf("page %d sent without credentials", i+1)
				}
			}
		})
	}
}

func TestMessagesPageResume(t *testing.T) {
	c, f := setup(t)
	f.handle(pagedMessages(func() string { return f.url }, 10))
	o := remote.ListOptions{PageSize: 4, Order: "desc"}
	var got []int64
	next := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		p, err := c.MessagesPage(t.Context(), svc, chSID, o, next)
		must(t, err)
		for _, m := range p.Items {
			got = append(got, m.Index)
		}
		if p.NextPageURL == "" {
			break
		}
		if !strings.HasPrefix(p.NextPageURL, f.url+"/v2/") {
			t.Fatalf("NextPageURL = %q, want an absolute URL on the server", p.NextPageURL)
		}
		next = p.NextPageURL
	}
	want := []int64{18, 16, 14, 12, 10, 8, 6, 4, 2, 0}
	if !slices.Equal(got, want) {
		t.Errorf("indexes = %v, want %v", got, want)
	}
}

func TestMembersPageFollowsURL(t *testing.T) {
	c, f := setup(t)
	f.handle(reply(200, page("members", "", memberJSON)))
	p, err := c.MembersPage(t.Context(), svc, chSID, remote.ListOptions{}, f.url+"/v2/Services/"+svc+"/Channels/"+chSID+"/Members?PageSize=50&Page=3&PageToken=PTabc")
	must(t, err)
	if len(p.Items) != 1 {
		t.Fatalf("got %d members", len(p.Items))
	}
	r := f.requests()[0]
	if r.RawQuery != "PageSize=50&Page=3&PageToken=PTabc" {
		t.Errorf("query = %q, want the page URL's query verbatim", r.RawQuery)
	}
}

func TestPageMetaKey(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  []string // SIDs
		error string
	}{
		{
			name: "meta.key names the array",
			body: `{"decoy":[{"sid":"CHdecoy"}],"channels":[{"sid":"CHa"}],"meta":{"key":"decoy","next_page_url":null}}`,
			want: []string{"CHdecoy"},
		},
		{
			name: "no meta falls back to the expected key",
			body: `{"channels":[{"sid":"CHa"},{"sid":"CHb"}]}`,
			want: []string{"CHa", "CHb"},
		},
		{
			name: "empty meta.key falls back",
			body: `{"channels":[{"sid":"CHa"}],"meta":{"key":""}}`,
			want: []string{"CHa"},
		},
		{
			name: "null array",
			body: `{"channels":null,"meta":{"key":"channels"}}`,
			want: nil,
		},
		{name: "missing array", body: `{"meta":{"key":"channels"}}`, error: `no "channels" array`},
		{name: "meta.key names a missing array", body: `{"channels":[],"meta":{"key":"rooms"}}`, error: `no "rooms" array`},
		{name: "array of strings", body: `{"channels":["CHa"],"meta":{"key":"channels"}}`, error: "channels[0]: expected a JSON object"},
		{name: "wrongly typed field", body: `{"channels":[{"sid":"CHa","members_count":"two"}]}`, error: "channels[0]"},
		{name: "meta not an object", body: `{"channels":[],"meta":[]}`, error: "meta:"},
		{name: "not an object", body: `[]`, error: "not a page of channels"},
		{name: "null body", body: `null`, error: "expected a JSON object"},
		{name: "html", body: `<html>`, error: "not a page of channels"},
		{name: "truncated", body: `{"channels":[{"sid":"CHa"}`, error: "not a page of channels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			f.handle(reply(200, tt.body))
			chs, err := collect(c.ListChannels(t.Context(), svc))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.error)
				}
				if !strings.Contains(err.Error(), "GET /v2/Services/"+svc+"/Channels:") {
					t.Errorf("err = %v, want it to name the endpoint", err)
				}
				if f.count() != 1 {
					t.Errorf("%d requests, want 1 (a bad 200 answer is not retried)", f.count())
				}
				return
			}
			must(t, err)
			var sids []string
			for _, ch := range chs {
				sids = append(sids, ch.SID)
			}
			if !slices.Equal(sids, tt.want) {
				t.Errorf("SIDs = %v, want %v", sids, tt.want)
			}
		})
	}
}

func TestNextPageURLChecks(t *testing.T) {
	tests := []struct {
		name  string
		next  func(base string) string
		error string // "" = followed
	}{
		{"same origin", func(b string) string { return b + "/v2/Services?Page=1" }, ""},
		{"relative URL", func(b string) string { return "/v2/Services?Page=1" }, ""},
		{"other host", func(b string) string { return "https://evil.example.com/v2/Services?Page=1" }, "points at https://evil.example.com"},
		{"other scheme", func(b string) string { return strings.Replace(b, "http://", "https://", 1) + "/v2/Services" }, "not at the API base"},
		{"other port", func(b string) string {
			u, _ := url.Parse(b)
			return "http://" + u.Hostname() + ":1/v2/Services"
		}, "refusing to send credentials there"},
		{"other loopback name", func(b string) string {
			u, _ := url.Parse(b)
			return "http://localhost:" + u.Port() + "/v2/Services"
		}, "refusing to send credentials there"},
		{"user info", func(b string) string { return strings.Replace(b, "http://", "http://x:y@", 1) + "/v2/Services" }, "carries user information"},
		{"unparsable", func(b string) string { return "http://[::1/v2" }, "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			f.handle(sequence(
				reply(200, page("services", tt.next(f.url), serviceJSON)),
				reply(200, page("services", "", serviceJSON)),
			))
			got, err := collect(c.ListServices(t.Context()))
			if tt.error == "" {
				must(t, err)
				if len(got) != 2 || f.count() != 2 {
					t.Fatalf("got %d services in %d requests, want 2 in 2", len(got), f.count())
				}
				if q := f.requests()[1].RawQuery; q != "Page=1" {
					t.Errorf("second page query = %q", q)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.error)
			}
			if f.count() != 1 {
				t.Errorf("%d requests, want 1", f.count())
			}
		})
	}
	t.Run("page methods refuse foreign URLs", func(t *testing.T) {
		c, f := setup(t)
		_, err := c.MessagesPage(t.Context(), svc, chSID, remote.ListOptions{}, "https://evil.example.com/v2/x")
		if err == nil || !strings.Contains(err.Error(), "refusing to send credentials there") {
			t.Errorf("MessagesPage err = %v", err)
		}
		_, err = c.MembersPage(t.Context(), svc, chSID, remote.ListOptions{}, "//evil.example.com/v2/x")
		if err == nil || !strings.Contains(err.Error(), "evil.example.com") {
			t.Errorf("MembersPage err = %v", err)
		}
		_, err = c.ChannelsPage(t.Context(), svc, "ftp://"+strings.TrimPrefix(f.url, "http://")+"/v2/x")
		if err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("ChannelsPage err = %v", err)
		}
		if f.count() != 0 {
			t.Errorf("%d requests sent, want none", f.count())
		}
	})
}

func TestPagingLoopIsStopped(t *testing.T) {
	c, f := setup(t)
	f.handle(func(w http.ResponseWriter, r *http.Request) {
		// Page 0 and page 1 point at each other.
		next := f.url + "/v2/Services?Page=1"
		if r.URL.Query().Get("Page") == "1" {
			next = f.url + "/v2/Services?PageSize=100"
		}
		reply(200, page("services", next, serviceJSON))(w, r)
	})
	got, err := collect(c.ListServices(t.Context()))
	if err == nil || !strings.Contains(err.Error(), "already visited") {
		t.Fatalf("err = %v, want a loop error", err)
	}
	if len(got) != 2 || f.count() != 2 {
		t.Errorf("got %d services in %d requests, want 2 in 2", len(got), f.count())
	}
}

func TestIteratorBreak(t *testing.T) {
	tests := []struct {
		name      string
		take      int
		wantPages int
	}{
		{"inside the first page", 3, 1},
		{"at the end of the first page", 7, 1},
		{"inside the second page", 8, 2},
		{"first item", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			f.handle(pagedMessages(func() string { return f.url }, 30))
			n := 0
			for m, err := range c.ListMessages(t.Context(), svc, chSID, remote.ListOptions{PageSize: 7}) {
				must(t, err)
				if m == nil {
					t.Fatal("nil message without error")
				}
				n++
				if n == tt.take {
					break
				}
			}
			if n != tt.take || f.count() != tt.wantPages {
				t.Errorf("took %d in %d requests, want %d in %d", n, f.count(), tt.take, tt.wantPages)
			}
		})
	}
}

func TestIteratorStopsAfterError(t *testing.T) {
	c, f := setup(t)
	f.handle(sequence(
		reply(200, page("users", f.url+"/v2/Services/"+svc+"/Users?Page=1", userJSON)),
		reply(404, twilioError(404, 20404, "gone")),
	))
	var items, errs int
	for u, err := range c.ListUsers(t.Context(), svc) {
		if err != nil {
			errs++
			if u != nil {
				t.Error("error yielded with a record")
			}
			continue
		}
		items++
	}
	if items != 1 || errs != 1 || f.count() != 2 {
		t.Errorf("items %d, errors %d, requests %d; want 1, 1, 2", items, errs, f.count())
	}
}

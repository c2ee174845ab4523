package emulator

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// walk follows next_page_url from first and checks each page's meta. It
// returns the pages' items and their meta objects.
func walk(t *testing.T, c *client, first string) (items [][]map[string]any, metas []map[string]any) {
	t.Helper()
	for next := first; next != ""; {
		page := c.mustJSON(200, "GET", next, nil)
		meta := page["meta"].(map[string]any)
		var its []map[string]any
		for _, it := range page[str(meta, "key")].([]any) {
			its = append(its, it.(map[string]any))
		}
		items = append(items, its)
		metas = append(metas, meta)
		if len(items) > 1 && str(meta, "url") != next { // the first URL is the caller's, not canonical
			t.Errorf("meta.url %s, want the URL fetched %s", str(meta, "url"), next)
		}
		next, _ = meta["next_page_url"].(string)
		if len(items) > 10_000 {
			t.Fatalf("paging from %s does not end", first)
		}
	}
	return items, metas
}

// collect gives field of every item of pages, in order.
func collect[T any](pages [][]map[string]any, field func(map[string]any) T) []T {
	var out []T
	for _, p := range pages {
		for _, m := range p {
			out = append(out, field(m))
		}
	}
	return out
}

// indexes gives the index of every message of pages, in order.
func indexes(pages [][]map[string]any) []int64 {
	return collect(pages, func(m map[string]any) int64 { return num(m, "index") })
}

func TestPagingMessages(t *testing.T) {
	s, c := setup(t, Config{Seed: 5, Channels: 1, Messages: 230})
	ch := c.channels(c.svc0())[0]
	msgsURL := str(ch, "url") + "/Messages"
	all := indexes([][]map[string]any{c.listAll(msgsURL + "?PageSize=100")})
	n := len(all)
	if n < 150 {
		t.Fatalf("only %d messages", n)
	}
	if !slices.IsSorted(all) {
		t.Fatalf("default order is not ascending by index: %v", all)
	}
	desc := slices.Clone(all)
	slices.Reverse(desc)

	cases := []struct {
		name     string
		query    string
		wantSize int
		want     []int64
	}{
		{"default size asc", "", 50, all},
		{"size 1 asc", "PageSize=1", 1, all},
		{"size 7 asc", "PageSize=7", 7, all},
		{"size 50 asc", "PageSize=50&Order=asc", 50, all},
		{"size 100 asc", "PageSize=100", 100, all},
		{"size 101 clamped", "PageSize=101", 100, all},
		{"size 1000 clamped", "PageSize=1000", 100, all},
		{"size 1 desc", "PageSize=1&Order=desc", 1, desc},
		{"size 7 desc", "PageSize=7&Order=desc", 7, desc},
		{"default size desc", "Order=desc", 50, desc},
		{"size 100 desc", "Order=desc&PageSize=100", 100, desc},
		{"size 101 desc clamped", "Order=desc&PageSize=101", 100, desc},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := msgsURL
			if tc.query != "" {
				first += "?" + tc.query
			}
			pages, metas := walk(t, c, first)
			if got := indexes(pages); !slices.Equal(got, tc.want) {
				t.Fatalf("walked %d items, want %d in order\n got %v\nwant %v", len(got), len(tc.want), got, tc.want)
			}
			wantPages := (n + tc.wantSize - 1) / tc.wantSize
			if len(pages) != wantPages {
				t.Errorf("%d pages, want %d", len(pages), wantPages)
			}
			for i, m := range metas {
				if num(m, "page") != int64(i) || num(m, "page_size") != int64(tc.wantSize) || str(m, "key") != "messages" {
					t.Errorf("page %d meta: page %v page_size %v key %v", i, m["page"], m["page_size"], m["key"])
				}
				last := i == len(metas)-1
				if (m["next_page_url"] == nil) != last {
					t.Errorf("page %d of %d: next_page_url %v", i, len(metas), m["next_page_url"])
				}
				if (m["previous_page_url"] == nil) != (i == 0) {
					t.Errorf("page %d: previous_page_url %v", i, m["previous_page_url"])
				}
				if !last && len(pages[i]) != tc.wantSize {
					t.Errorf("page %d has %d items, want %d", i, len(pages[i]), tc.wantSize)
				}
				for _, k := range []string{"first_page_url", "url", "next_page_url", "previous_page_url"} {
					if u, ok := m[k].(string); ok && !strings.HasPrefix(u, c.info.BaseURL+"/v2/Services/") {
						t.Errorf("page %d: %s %q is not absolute on %s", i, k, u, c.info.BaseURL)
					}
				}
				if str(m, "first_page_url") != str(metas[0], "first_page_url") {
					t.Errorf("page %d: first_page_url changed to %s", i, m["first_page_url"])
				}
			}
			// first_page_url leads back to the first page.
			again := c.mustJSON(200, "GET", str(metas[0], "first_page_url"), nil)
			if got := indexes([][]map[string]any{asItems(again)}); !slices.Equal(got, indexes(pages[:1])) {
				t.Errorf("first_page_url gives %v, want %v", got, indexes(pages[:1]))
			}
			// previous_page_url walks back through the same pages.
			for i := len(metas) - 1; i > 0; i-- {
				prev := c.mustJSON(200, "GET", str(metas[i], "previous_page_url"), nil)
				if got, want := indexes([][]map[string]any{asItems(prev)}), indexes(pages[i-1:i]); !slices.Equal(got, want) {
					t.Fatalf("previous of page %d gives %v, want %v", i, got, want)
				}
			}
		})
	}

	t.Run("Page without token is an offset", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []int64
		}{
			{"PageSize=10&Page=2", all[20:30]},
			{"PageSize=10&Page=2&Order=desc", desc[20:30]},
			{"PageSize=100&Page=" + strconv.Itoa(n), nil},
			{"PageSize=100&Page=999999999999", nil},
		} {
			page := c.mustJSON(200, "GET", msgsURL+"?"+tc.query, nil)
			if got := indexes([][]map[string]any{asItems(page)}); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
			}
		}
	})

	t.Run("token past the end", func(t *testing.T) {
		page := c.mustJSON(200, "GET", msgsURL+"?PageToken=PT"+strconv.FormatInt(all[n-1], 10), nil)
		meta := page["meta"].(map[string]any)
		if len(asItems(page)) != 0 || meta["next_page_url"] != nil || meta["previous_page_url"] != nil {
			t.Errorf("page after the last message: %v", page)
		}
	})

	t.Run("pages stay correct while messages change", func(t *testing.T) {
		first := c.mustJSON(200, "GET", msgsURL+"?PageSize=10", nil)
		seen := asItems(first)
		next := str(first["meta"].(map[string]any), "next_page_url")
		// Delete a message already seen and one not yet seen; add one.
		c.do("DELETE", str(seen[3], "url"), nil)
		upcoming := c.mustJSON(200, "GET", next, nil)
		unseen := asItems(upcoming)[2]
		if r := c.do("DELETE", str(unseen, "url"), nil); r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		added := c.mustJSON(201, "POST", msgsURL, url.Values{"Body": {"late arrival"}})
		got := indexes([][]map[string]any{seen})
		rest, _ := walk(t, c, next)
		got = append(got, indexes(rest)...)
		var want []int64
		for _, i := range all {
			if i != num(unseen, "index") {
				want = append(want, i)
			}
		}
		want = append(want, num(added, "index"))
		if !slices.Equal(got, want) {
			t.Errorf("walk during changes:\n got %v\nwant %v", got, want)
		}
		_ = s
	})
}

func asItems(page map[string]any) []map[string]any {
	meta := page["meta"].(map[string]any)
	var out []map[string]any
	for _, it := range page[str(meta, "key")].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// sids gives the sid of every item of pages, in order.
func sids(pages [][]map[string]any) []string {
	return collect(pages, func(m map[string]any) string { return str(m, "sid") })
}

// TestPagingOtherLists pages the lists kept in creation order.
func TestPagingOtherLists(t *testing.T) {
	_, c := setup(t, Config{Seed: 9, Channels: 7, Messages: 2})
	ch := str(c.channels(c.svc0())[0], "url")
	for i := range 3 {
		c.mustJSON(201, "POST", "/v2/Services", url.Values{"FriendlyName": {"extra " + strconv.Itoa(i)}})
	}
	cases := []struct {
		name, path, key string
		want            int
	}{
		{"services", "/v2/Services", "services", 5},
		{"roles", c.svc0() + "/Roles", "roles", 4},
		{"users", c.svc0() + "/Users", "users", len(people)},
		{"channels", c.svc0() + "/Channels?Type=public&Type=private", "channels", 7},
		{"members", ch + "/Members", "members", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sep := "?"
			if strings.Contains(tc.path, "?") {
				sep = "&"
			}
			full, _ := walk(t, c, tc.path+sep+"PageSize=100")
			if tc.want >= 0 && len(full[0]) != tc.want {
				t.Fatalf("%d %s, want %d", len(full[0]), tc.key, tc.want)
			}
			for _, size := range []int{1, 2, 3} {
				pages, metas := walk(t, c, tc.path+sep+"PageSize="+strconv.Itoa(size))
				if got, want := sids(pages), sids(full); !slices.Equal(got, want) {
					t.Errorf("PageSize %d: %v, want %v", size, got, want)
				}
				if k := str(metas[0], "key"); k != tc.key {
					t.Errorf("meta.key %q, want %q", k, tc.key)
				}
			}
		})
	}
}

func TestPagingErrors(t *testing.T) {
	_, c := setup(t, testConfig())
	ch := str(c.channels(c.svc0())[0], "url")
	cases := []struct {
		name, path string
		code       int
	}{
		{"PageSize zero", ch + "/Messages?PageSize=0", codeInvalidParameter},
		{"PageSize negative", ch + "/Messages?PageSize=-3", codeInvalidParameter},
		{"PageSize word", ch + "/Messages?PageSize=ten", codeInvalidParameter},
		{"PageSize fraction", c.svc0() + "/Channels?PageSize=1.5", codeInvalidParameter},
		{"Page negative", c.svc0() + "/Users?Page=-1", codeInvalidParameter},
		{"Page word", "/v2/Services?Page=first", codeInvalidParameter},
		{"token unknown prefix", ch + "/Messages?PageToken=XX10", codeInvalidPageToken},
		{"token without number", ch + "/Messages?PageToken=PT", codeInvalidPageToken},
		{"token with letters", ch + "/Members?PageToken=PTabc", codeInvalidPageToken},
		{"token negative", c.svc0() + "/Channels?PageToken=PT-1", codeInvalidPageToken},
		{"token overflowing", ch + "/Messages?PageToken=PT99999999999999999999", codeInvalidPageToken},
		{"token empty", c.svc0() + "/Roles?PageToken=", codeInvalidPageToken},
		{"token lower case", ch + "/Messages?PageToken=pt5", codeInvalidPageToken},
		{"Order unknown", ch + "/Messages?Order=sideways", codeInvalidParameter},
		{"Type unknown", c.svc0() + "/Channels?Type=secret", codeInvalidParameter},
		{"Type second unknown", c.svc0() + "/Channels?Type=public&Type=both", codeInvalidParameter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("GET", tc.path, nil)
			code, status := r.apiErr(t)
			if r.status != 400 || status != 400 || code != tc.code {
				t.Errorf("status %d (body %d), code %d; want 400 and %d: %s", r.status, status, code, tc.code, r.body)
			}
		})
	}
	for _, ok := range []string{
		ch + "/Messages?PageSize=1&Page=0&PageToken=PT0",
		ch + "/Messages?PageToken=PB3&Order=desc",
		ch + "/Messages?Order=asc",
		c.svc0() + "/Channels?Type=private",
		ch + "/Members?Identity=alice&Identity=nobody",
	} {
		if r := c.do("GET", ok, nil); r.status != 200 {
			t.Errorf("GET %s: %d %s", ok, r.status, r.body)
		}
	}
}

func TestChannelTypeFilter(t *testing.T) {
	_, c := setup(t, Config{Seed: 21, Channels: 20, Messages: 1})
	all := c.channels(c.svc0())
	count := map[string]int{}
	for _, ch := range all {
		count[str(ch, "type")]++
	}
	if count["public"] == 0 || count["private"] == 0 {
		t.Fatalf("seed 21 gives %v; the test needs both types", count)
	}
	cases := []struct {
		name, query string
		want        int
		types       []string
	}{
		{"default is public only", "", count["public"], []string{"public"}},
		{"public", "?Type=public", count["public"], []string{"public"}},
		{"private", "?Type=private", count["private"], []string{"private"}},
		{"both", "?Type=public&Type=private", len(all), []string{"public", "private"}},
		{"both reversed", "?Type=private&Type=public", len(all), []string{"public", "private"}},
		{"repeated", "?Type=private&Type=private", count["private"], []string{"private"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pages, metas := walk(t, c, c.svc0()+"/Channels"+tc.query+sepFor(tc.query)+"PageSize=3")
			n := 0
			for _, p := range pages {
				for _, ch := range p {
					n++
					if !slices.Contains(tc.types, str(ch, "type")) {
						t.Errorf("channel of type %s listed", str(ch, "type"))
					}
				}
			}
			if n != tc.want {
				t.Errorf("%d channels, want %d", n, tc.want)
			}
			if len(metas) > 1 {
				next := str(metas[0], "next_page_url")
				for _, typ := range tc.types {
					if tc.query != "" && !strings.Contains(next, "Type="+typ) {
						t.Errorf("next_page_url %s lost the Type filter %s", next, typ)
					}
				}
			}
		})
	}
}

func sepFor(query string) string {
	if query == "" {
		return "?"
	}
	return "&"
}

func TestMemberIdentityFilter(t *testing.T) {
	_, c := setup(t, testConfig())
	ch := str(c.channels(c.svc0())[0], "url")
	members := c.listAll(ch + "/Members")
	a, b := str(members[0], "identity"), str(members[1], "identity")
	cases := []struct {
		name, query string
		want        []string
	}{
		{"one", "Identity=" + url.QueryEscape(a), []string{a}},
		{"two", "Identity=" + url.QueryEscape(b) + "&Identity=" + url.QueryEscape(a), []string{a, b}},
		{"unknown", "Identity=nobody", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range c.listAll(ch + "/Members?" + tc.query) {
				got = append(got, str(m, "identity"))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
}

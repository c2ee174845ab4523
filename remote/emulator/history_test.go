package emulator

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
)

// dumpAll fetches every list of the seeded data, page by page, and returns
// the raw bodies with the base URL taken out.
func dumpAll(t *testing.T, c *client) [][]byte {
	t.Helper()
	var bodies [][]byte
	get := func(path string) {
		for next := path; next != ""; {
			r := c.do("GET", next, nil)
			if r.status != 200 {
				t.Fatalf("GET %s: %d %s", next, r.status, r.body)
			}
			bodies = append(bodies, bytes.ReplaceAll(r.body, []byte(c.info.BaseURL), []byte("BASE")))
			meta, _ := r.json(t)["meta"].(map[string]any) // none for a fetch
			next, _ = meta["next_page_url"].(string)
		}
	}
	get("/v2/Services")
	for _, svc := range []string{c.svc0(), c.svc1()} {
		get(svc)
		get(svc + "/Roles")
		get(svc + "/Users?PageSize=5")
		get(svc + "/Channels?Type=private&Type=public&PageSize=3")
		get(svc + "/Channels")
	}
	for _, ch := range c.channels(c.svc0()) {
		get(str(ch, "url") + "/Members?PageSize=3")
		get(str(ch, "url") + "/Messages?PageSize=17")
		get(str(ch, "url") + "/Messages?PageSize=100&Order=desc")
	}
	return bodies
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 7, Channels: 5, Messages: 40}
	_, a := setup(t, cfg)
	_, b := setup(t, cfg)
	if a.info.BaseURL == b.info.BaseURL {
		t.Fatalf("both emulators on %s", a.info.BaseURL)
	}
	if a.info.AccountSID != b.info.AccountSID || a.info.AuthToken != b.info.AuthToken ||
		strings.Join(a.info.Services, ",") != strings.Join(b.info.Services, ",") {
		t.Errorf("same seed, different Info: %+v vs %+v", a.info, b.info)
	}
	da, db := dumpAll(t, a), dumpAll(t, b)
	if len(da) != len(db) {
		t.Fatalf("same seed, %d pages vs %d", len(da), len(db))
	}
	for i := range da {
		if !bytes.Equal(da[i], db[i]) {
			t.Fatalf("same seed, page %d differs:\n%s\n%s", i, da[i], db[i])
		}
	}

	t.Run("other seed differs", func(t *testing.T) {
		_, o := setup(t, Config{Seed: 8, Channels: 5, Messages: 40})
		if o.info.AccountSID == a.info.AccountSID || o.info.AuthToken == a.info.AuthToken || o.info.Services[0] == a.info.Services[0] {
			t.Errorf("seeds 7 and 8 give the same account or services: %+v", o.info)
		}
		if do := dumpAll(t, o); len(do) > 1 && bytes.Equal(do[len(do)-1], da[len(da)-1]) {
			t.Errorf("seeds 7 and 8 give the same last page")
		}
	})
	t.Run("account does not depend on the history size", func(t *testing.T) {
		s, err := New(Config{Seed: 7, Channels: 1, Messages: 1})
		if err != nil {
			t.Fatal(err)
		}
		info := s.Info()
		if info.AccountSID != a.info.AccountSID || info.Services[0] != a.info.Services[0] {
			t.Errorf("seed 7 with another history size: %+v, want account %s", info, a.info.AccountSID)
		}
	})
}

func TestInfo(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	checks := []struct {
		name, value, pattern string
	}{
		{"account SID", info.AccountSID, `^AC[0-9a-f]{32}$`},
		{"auth token", info.AuthToken, `^[0-9a-f]{32}$`},
		{"service 0", info.Services[0], `^IS[0-9a-f]{32}$`},
		{"service 1", info.Services[1], `^IS[0-9a-f]{32}$`},
		{"base URL before Start", info.BaseURL, `^$`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.pattern).MatchString(c.value) {
			t.Errorf("%s = %q, want %s", c.name, c.value, c.pattern)
		}
	}
	if len(info.Services) != 2 || info.Services[0] == info.Services[1] {
		t.Errorf("services %v, want two distinct", info.Services)
	}
	started, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(t.Context()) })
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(started.BaseURL) || s.Info().BaseURL != started.BaseURL {
		t.Errorf("base URL after Start %q (Info %q)", started.BaseURL, s.Info().BaseURL)
	}
}

// TestGeneratedHistory checks the seeded history has the variety the brief
// promises: both channel types, unicode and empty bodies, edits, gaps, media,
// members with and without read positions, dates in the past and rising
// with the index.
func TestGeneratedHistory(t *testing.T) {
	const channels, messages = 12, 150
	_, c := setup(t, Config{Seed: 11, Channels: channels, Messages: messages})
	chans := c.channels(c.svc0())
	if len(chans) != channels {
		t.Fatalf("%d channels, want %d", len(chans), channels)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Now()
	seen := map[string]int{}
	uniq := map[string]bool{}
	total := 0
	for _, ch := range chans {
		seen["type "+str(ch, "type")]++
		if un := str(ch, "unique_name"); un == "" || uniq[un] || !regexp.MustCompile(`^[a-z]+-\d+$`).MatchString(un) {
			t.Errorf("channel unique name %q: empty, repeated or not like general-3", un)
		} else {
			uniq[un] = true
		}
		if str(ch, "friendly_name") == "" || str(ch, "created_by") == "" {
			t.Errorf("channel %s lacks friendly_name or created_by", str(ch, "sid"))
		}
		if str(ch, "attributes") == "{}" {
			seen["channel attributes {}"]++
		} else {
			seen["channel attributes set"]++
		}
		members := c.listAll(str(ch, "url") + "/Members")
		if len(members) < 2 || int64(len(members)) != num(ch, "members_count") {
			t.Errorf("channel %s: %d members, members_count %d", str(ch, "sid"), len(members), num(ch, "members_count"))
		}
		for _, m := range members {
			if m["last_consumed_message_index"] == nil {
				seen["member unread"]++
			} else {
				seen["member read"]++
			}
		}
		msgs := c.listAll(str(ch, "url") + "/Messages?PageSize=100")
		if int64(len(msgs)) != num(ch, "messages_count") {
			t.Errorf("channel %s: %d messages, messages_count %d", str(ch, "sid"), len(msgs), num(ch, "messages_count"))
		}
		total += len(msgs)
		authors := map[string]bool{}
		var prevIdx int64 = -1
		var prevDate time.Time
		for _, m := range msgs {
			idx := num(m, "index")
			if idx <= prevIdx {
				t.Fatalf("channel %s: index %d after %d", str(ch, "sid"), idx, prevIdx)
			}
			if idx > prevIdx+1 {
				seen["gap"]++
			}
			prevIdx = idx
			created, _ := time.Parse(time.RFC3339, str(m, "date_created"))
			updated, _ := time.Parse(time.RFC3339, str(m, "date_updated"))
			if created.Before(base) || !created.Before(now) || !updated.Before(now) || created.Before(prevDate) {
				t.Errorf("message %d: date_created %v (previous %v), date_updated %v: not in the past or not rising", idx, created, prevDate, updated)
			}
			prevDate = created
			if m["was_edited"] == true {
				seen["edited"]++
				if !updated.After(created) || m["last_updated_by"] == nil {
					t.Errorf("edited message %d: date_updated %v not after %v, last_updated_by %v", idx, updated, created, m["last_updated_by"])
				}
			} else if !updated.Equal(created) || m["last_updated_by"] != nil {
				t.Errorf("unedited message %d: date_updated %v, last_updated_by %v", idx, updated, m["last_updated_by"])
			}
			body := str(m, "body")
			switch {
			case body == "":
				seen["empty body"]++
			case hasScript(body, unicode.Han):
				seen["CJK"]++
			case hasScript(body, unicode.Arabic) || hasScript(body, unicode.Hebrew):
				seen["RTL"]++
			case strings.ContainsAny(body, "🚀🎉👍😅✅"):
				seen["emoji"]++
			}
			if m["media"] != nil {
				seen["media"]++
			}
			if str(m, "attributes") != "{}" {
				seen["message attributes set"]++
			}
			authors[str(m, "from")] = true
		}
		if len(authors) >= 2 {
			seen["several authors"]++
		}
	}
	for _, want := range []string{
		"type public", "type private", "channel attributes {}", "channel attributes set",
		"member read", "member unread", "gap", "edited", "empty body", "CJK", "RTL", "emoji",
		"media", "message attributes set", "several authors",
	} {
		if seen[want] == 0 {
			t.Errorf("generated history has no %s (seen %v)", want, seen)
		}
	}
	if total < channels*messages*8/10 || total > channels*messages*12/10 {
		t.Errorf("%d messages in %d channels, want about %d each", total, channels, messages)
	}

	t.Run("users", func(t *testing.T) {
		users := c.listAll(c.svc0() + "/Users")
		if len(users) < 5 {
			t.Fatalf("%d users, want the several seeded identities", len(users))
		}
		joined := int64(0)
		for _, u := range users {
			joined += num(u, "joined_channels_count")
		}
		members := int64(0)
		for _, ch := range chans {
			members += num(ch, "members_count")
		}
		if joined != members {
			t.Errorf("users joined %d channels in all, channels have %d members", joined, members)
		}
	})
	t.Run("empty service", func(t *testing.T) {
		for _, path := range []string{"/Users", "/Channels?Type=public&Type=private"} {
			if items := c.listAll(c.svc1() + path); len(items) != 0 {
				t.Errorf("services[1]%s has %d items, want none", path, len(items))
			}
		}
		roles := c.listAll(c.svc1() + "/Roles")
		roles0 := c.listAll(c.svc0() + "/Roles")
		var names []string
		for i, r := range roles {
			names = append(names, str(r, "friendly_name")+"/"+str(r, "type"))
			if str(r, "sid") == str(roles0[i], "sid") {
				t.Errorf("role %s shares its SID with services[0]", str(r, "friendly_name"))
			}
		}
		if got := strings.Join(names, ","); got != "service admin/deployment,service user/deployment,channel admin/channel,channel user/channel" {
			t.Errorf("services[1] roles: %s", got)
		}
	})
}

func hasScript(s string, tab *unicode.RangeTable) bool {
	for _, r := range s {
		if unicode.Is(tab, r) {
			return true
		}
	}
	return false
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative channels", Config{Channels: -1}, "channels"},
		{"too many channels", Config{Channels: maxChannels + 1}, "channels"},
		{"negative messages", Config{Messages: -5}, "messages"},
		{"too many messages in all", Config{Channels: 10_000, Messages: 10_000}, "holds"},
		{"negative latency", Config{Latency: -time.Second}, "latency"},
		{"negative concurrency", Config{MaxConcurrency: -1}, "concurrency"},
		{"negative write rate", Config{WriteRate: -1}, "write rate"},
		{"fault rate above 1", Config{FaultRate: 1.5}, "fault rate"},
		{"fault rate NaN", Config{FaultRate: nan()}, "fault rate"},
		{"lost rate negative", Config{LostResponseRate: -0.1}, "lost-response"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error about %s", err, tc.want)
			}
		})
	}
	for _, ok := range []Config{DefaultConfig(), {}, {Channels: 1000, Messages: 0}} {
		if _, err := New(ok); err != nil {
			t.Errorf("New(%+v): %v", ok, err)
		}
	}
	if d := DefaultConfig(); d.Channels != 10 || d.Messages != 200 || d.WriteRate != 30 || d.FaultRate != 0 || d.Latency != 0 {
		t.Errorf("DefaultConfig() = %+v", d)
	}
}

func nan() float64 { var z float64; return z / z }

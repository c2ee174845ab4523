package emulator

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixedNow is fixedClock as the API writes it.
const fixedNow = "2026-03-04T05:06:07Z"

func fixedConfig() Config {
	cfg := testConfig()
	cfg.Now = func() time.Time { return fixedClock }
	return cfg
}

// expect compares fields of obj with want (nil means JSON null).
func expect(t *testing.T, what string, obj map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := obj[k]
		if !ok {
			t.Errorf("%s: no %s", what, k)
			continue
		}
		if n, isInt := w.(int); isInt {
			w = float64(n)
		}
		if g != w {
			t.Errorf("%s: %s = %#v, want %#v", what, k, g, w)
		}
	}
}

func TestServices(t *testing.T) {
	_, c := setup(t, fixedConfig())
	created := c.mustJSON(201, "POST", "/v2/Services", url.Values{"FriendlyName": {"restore target 🎯"}})
	expect(t, "created service", created, map[string]any{
		"friendly_name": "restore target 🎯", "date_created": fixedNow, "date_updated": fixedNow,
		"account_sid": c.info.AccountSID,
	})
	fetched := c.mustJSON(200, "GET", "/v2/Services/"+str(created, "sid"), nil)
	if str(fetched, "url") != str(created, "url") || str(fetched, "default_service_role_sid") != str(created, "default_service_role_sid") {
		t.Errorf("fetched %v, created %v", fetched, created)
	}
	roles := c.listAll("/v2/Services/" + str(created, "sid") + "/Roles")
	if len(roles) != 4 {
		t.Fatalf("%d roles in a new service, want 4", len(roles))
	}
	bySID := map[string]map[string]any{}
	for _, r := range roles {
		bySID[str(r, "sid")] = r
	}
	for _, rc := range []struct{ field, name, typ string }{
		{"default_service_role_sid", "service user", "deployment"},
		{"default_channel_role_sid", "channel user", "channel"},
		{"default_channel_creator_role_sid", "channel admin", "channel"},
	} {
		r := bySID[str(created, rc.field)]
		if r == nil || str(r, "friendly_name") != rc.name || str(r, "type") != rc.typ {
			t.Errorf("%s names %v, want the %s role (%s)", rc.field, r, rc.name, rc.typ)
		}
	}
	var listed []string
	for _, s := range c.listAll("/v2/Services") {
		listed = append(listed, str(s, "sid"))
	}
	if want := append(slices.Clone(c.info.Services), str(created, "sid")); !slices.Equal(listed, want) {
		t.Errorf("services listed %v, want %v (creation order)", listed, want)
	}
}

func TestUsers(t *testing.T) {
	_, c := setup(t, fixedConfig())
	svc := c.svc0()
	roles := c.listAll(svc + "/Roles")
	admin := str(roles[0], "sid")
	u := c.mustJSON(201, "POST", svc+"/Users", url.Values{
		"Identity": {"new.person@example.com"}, "FriendlyName": {"Nouvelle Personne"},
		"Attributes": {`{"a": [1, 2]}`}, "RoleSid": {admin},
	}, "X-Twilio-Webhook-Enabled", "false")
	expect(t, "created user", u, map[string]any{
		"identity": "new.person@example.com", "friendly_name": "Nouvelle Personne",
		"attributes": `{"a": [1, 2]}`, "role_sid": admin, "joined_channels_count": 0,
		"date_created": fixedNow, "date_updated": fixedNow, "is_online": nil, "is_notifiable": nil,
	})
	plain := c.mustJSON(201, "POST", svc+"/Users", url.Values{"Identity": {"plain"}})
	expect(t, "user with defaults", plain, map[string]any{
		"friendly_name": nil, "attributes": "{}", "role_sid": str(roles[1], "sid"),
	})
	for _, ref := range []string{str(u, "sid"), "new.person@example.com", url.PathEscape("new.person@example.com")} {
		got := c.mustJSON(200, "GET", svc+"/Users/"+ref, nil)
		if str(got, "sid") != str(u, "sid") {
			t.Errorf("fetch by %s gives %s", ref, str(got, "sid"))
		}
	}
	users := c.listAll(svc + "/Users")
	if str(users[len(users)-1], "sid") != str(plain, "sid") || str(users[len(users)-2], "sid") != str(u, "sid") {
		t.Errorf("new users are not listed last, in creation order")
	}
}

// TestUserUpdate: Chat v2 updates a user (FriendlyName, Attributes,
// RoleSid) by SID or identity, as Conversations does; a parameter not sent
// keeps its value, and both views show the change.
func TestUserUpdate(t *testing.T) {
	_, c := setup(t, fixedConfig())
	svc := c.svc0()
	roles := c.listAll(svc + "/Roles")
	admin, user := str(roles[0], "sid"), str(roles[1], "sid")
	u := c.mustJSON(201, "POST", svc+"/Users", url.Values{"Identity": {"kim"}, "FriendlyName": {"Kim"}, "RoleSid": {user}})

	got := c.mustJSON(200, "POST", svc+"/Users/kim", url.Values{
		"FriendlyName": {"Kim Lee"}, "Attributes": {`{"team":"ops"}`}, "RoleSid": {admin},
	})
	want := map[string]any{"sid": str(u, "sid"), "identity": "kim", "friendly_name": "Kim Lee", "attributes": `{"team":"ops"}`, "role_sid": admin}
	expect(t, "updated user", got, want)
	expect(t, "fetched through Chat", c.mustJSON(200, "GET", svc+"/Users/"+str(u, "sid"), nil), want)
	expect(t, "fetched through Conversations", c.mustJSON(200, "GET", c.conv0()+"/Users/kim", nil), want)

	got = c.mustJSON(200, "POST", svc+"/Users/"+str(u, "sid"), url.Values{"Attributes": {"{}"}})
	expect(t, "attributes only", got, map[string]any{"friendly_name": "Kim Lee", "attributes": "{}", "role_sid": admin})
	if p := str(got, "url"); !strings.HasPrefix(p, "http") || !strings.Contains(p, "/v2/Services/") {
		t.Errorf("a Chat update answers with the Chat URL, got %q", p)
	}
}

// TestUserDelete: Chat v2 deletes a user by SID or identity, as
// Conversations does; the user is then gone from both views, and a second
// delete is a 404.
func TestUserDelete(t *testing.T) {
	_, c := setup(t, fixedConfig())
	svc := c.svc0()
	for _, ref := range []string{"kim", "sid"} {
		u := c.mustJSON(201, "POST", svc+"/Users", url.Values{"Identity": {"kim"}})
		if ref == "sid" {
			ref = str(u, "sid")
		}
		if r := c.do("DELETE", svc+"/Users/"+ref, nil); r.status != 204 {
			t.Fatalf("delete user by %s: status %d, want 204", ref, r.status)
		}
		for _, p := range []string{svc + "/Users/kim", c.conv0() + "/Users/kim", svc + "/Users/" + str(u, "sid")} {
			if r := c.do("GET", p, nil); r.status != 404 {
				t.Errorf("GET %s after the delete: status %d, want 404", p, r.status)
			}
		}
		if r := c.do("DELETE", svc+"/Users/"+ref, nil); r.status != 404 {
			t.Errorf("second delete of %s: status %d, want 404", ref, r.status)
		}
	}
}

func TestChannelLifecycle(t *testing.T) {
	_, c := setup(t, fixedConfig())
	svc := c.svc1()

	t.Run("defaults", func(t *testing.T) {
		ch := c.mustJSON(201, "POST", svc+"/Channels", url.Values{})
		expect(t, "channel", ch, map[string]any{
			"friendly_name": nil, "unique_name": nil, "attributes": "{}", "type": "public",
			"created_by": "system", "date_created": fixedNow, "date_updated": fixedNow,
			"members_count": 0, "messages_count": 0, "service_sid": c.info.Services[1],
		})
		if links := ch["links"].(map[string]any); links["last_message"] != nil || str(links, "messages") != str(ch, "url")+"/Messages" {
			t.Errorf("links of a new channel: %v", links)
		}
	})

	full := url.Values{
		"FriendlyName": {"Équipe 🚀"}, "UniqueName": {"team/alpha"}, "Attributes": {`{"x":1}`},
		"Type": {"private"}, "DateCreated": {"2024-05-06T07:08:09+02:00"},
		"DateUpdated": {"2024-05-07T00:00:00.75Z"}, "CreatedBy": {"alice"},
	}
	ch := c.mustJSON(201, "POST", svc+"/Channels", full, "X-Twilio-Webhook-Enabled", "true")
	expect(t, "channel with every parameter", ch, map[string]any{
		"friendly_name": "Équipe 🚀", "unique_name": "team/alpha", "attributes": `{"x":1}`,
		"type": "private", "date_created": "2024-05-06T05:08:09Z", "date_updated": "2024-05-07T00:00:00Z",
		"created_by": "alice",
	})
	byName := svc + "/Channels/" + url.PathEscape("team/alpha")
	if got := c.mustJSON(200, "GET", byName, nil); str(got, "sid") != str(ch, "sid") {
		t.Errorf("fetch by unique name gives %s", str(got, "sid"))
	}
	for _, listed := range c.listAll(svc + "/Channels") {
		if str(listed, "sid") == str(ch, "sid") {
			t.Errorf("private channel listed without Type")
		}
	}
	if priv := c.listAll(svc + "/Channels?Type=private"); len(priv) != 1 || str(priv[0], "sid") != str(ch, "sid") {
		t.Errorf("Type=private lists %d channels, want the one private channel", len(priv))
	}

	// Members and messages, to see the delete take them along.
	c.mustJSON(201, "POST", byName+"/Members", url.Values{"Identity": {"alice"}})
	c.mustJSON(201, "POST", byName+"/Messages", url.Values{"Body": {"hi"}})

	upd := c.mustJSON(200, "POST", str(ch, "url"), url.Values{
		"FriendlyName": {""}, "UniqueName": {"team-beta"}, "Attributes": {""}, "CreatedBy": {"bob"},
	})
	expect(t, "updated channel", upd, map[string]any{
		"friendly_name": nil, "unique_name": "team-beta", "attributes": "{}", "created_by": "bob",
		"date_created": "2024-05-06T05:08:09Z", "date_updated": fixedNow, "type": "private",
		"members_count": 1, "messages_count": 1,
	})
	if r := c.do("GET", byName, nil); r.status != 404 {
		t.Errorf("old unique name still resolves: %d", r.status)
	}
	upd2 := c.mustJSON(200, "POST", svc+"/Channels/team-beta", url.Values{"DateUpdated": {"2025-01-02T03:04:05Z"}})
	expect(t, "channel with DateUpdated", upd2, map[string]any{"date_updated": "2025-01-02T03:04:05Z"})
	// A channel can take back its own unique name.
	c.mustJSON(200, "POST", svc+"/Channels/team-beta", url.Values{"UniqueName": {"team-beta"}})
	// And lose it.
	noName := c.mustJSON(200, "POST", str(ch, "url"), url.Values{"UniqueName": {""}})
	expect(t, "channel without unique name", noName, map[string]any{"unique_name": nil})
	c.mustJSON(201, "POST", svc+"/Channels", url.Values{"UniqueName": {"team-beta"}}) // the name is free again

	alice := c.mustJSON(200, "GET", svc+"/Users/alice", nil)
	if num(alice, "joined_channels_count") != 1 {
		t.Errorf("alice joined %v channels, want 1", alice["joined_channels_count"])
	}
	r := c.do("DELETE", str(ch, "url"), nil, "X-Twilio-Webhook-Enabled", "false")
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete: %d %q, want 204 and no body", r.status, r.body)
	}
	for _, p := range []string{"", "/Members", "/Messages"} {
		if r := c.do("GET", str(ch, "url")+p, nil); r.status != 404 {
			t.Errorf("GET deleted channel%s: %d", p, r.status)
		}
	}
	if r := c.do("DELETE", str(ch, "url"), nil); r.status != 404 {
		t.Errorf("second delete: %d, want 404", r.status)
	}
	alice = c.mustJSON(200, "GET", svc+"/Users/alice", nil)
	if num(alice, "joined_channels_count") != 0 {
		t.Errorf("alice still joined %v channels after the delete", alice["joined_channels_count"])
	}
}

func TestMemberLifecycle(t *testing.T) {
	_, c := setup(t, fixedConfig())
	svc := c.svc0()
	ch := c.channels(svc)[0]
	chURL := str(ch, "url")
	roles := c.listAll(svc + "/Roles")
	chanAdmin := str(roles[2], "sid")

	if r := c.do("GET", svc+"/Users/newcomer", nil); r.status != 404 {
		t.Fatalf("newcomer exists before the test")
	}
	m := c.mustJSON(201, "POST", chURL+"/Members", url.Values{"Identity": {"newcomer"}})
	expect(t, "member with defaults", m, map[string]any{
		"identity": "newcomer", "role_sid": str(roles[3], "sid"), "attributes": "{}",
		"last_consumed_message_index": nil, "last_consumption_timestamp": nil,
		"date_created": fixedNow, "date_updated": fixedNow, "channel_sid": str(ch, "sid"),
	})
	u := c.mustJSON(200, "GET", svc+"/Users/newcomer", nil)
	expect(t, "user made by the member create", u, map[string]any{"joined_channels_count": 1, "role_sid": str(roles[1], "sid")})

	full := c.mustJSON(201, "POST", chURL+"/Members", url.Values{
		"Identity": {"restored"}, "RoleSid": {chanAdmin}, "LastConsumedMessageIndex": {"7"},
		"LastConsumptionTimestamp": {"2025-02-03T04:05:06Z"}, "DateCreated": {"2025-01-01T00:00:00Z"},
		"DateUpdated": {"2025-02-03T04:05:06Z"}, "Attributes": {`{"n":"ß"}`},
	})
	expect(t, "member with every parameter", full, map[string]any{
		"role_sid": chanAdmin, "last_consumed_message_index": 7,
		"last_consumption_timestamp": "2025-02-03T04:05:06Z", "date_created": "2025-01-01T00:00:00Z",
		"date_updated": "2025-02-03T04:05:06Z", "attributes": `{"n":"ß"}`,
	})
	for _, ref := range []string{str(full, "sid"), "restored"} {
		if got := c.mustJSON(200, "GET", chURL+"/Members/"+ref, nil); str(got, "sid") != str(full, "sid") {
			t.Errorf("fetch by %s gives %s", ref, str(got, "sid"))
		}
	}
	cleared := c.mustJSON(200, "POST", str(full, "url"), url.Values{
		"LastConsumedMessageIndex": {""}, "LastConsumptionTimestamp": {""},
	}, "X-Twilio-Webhook-Enabled", "false")
	expect(t, "member with read position cleared", cleared, map[string]any{
		"last_consumed_message_index": nil, "last_consumption_timestamp": nil, "date_updated": fixedNow,
		"date_created": "2025-01-01T00:00:00Z", "role_sid": chanAdmin,
	})
	moved := c.mustJSON(200, "POST", chURL+"/Members/restored", url.Values{"LastConsumedMessageIndex": {"0"}, "DateUpdated": {"2025-03-01T00:00:00Z"}})
	expect(t, "member moved", moved, map[string]any{"last_consumed_message_index": 0, "date_updated": "2025-03-01T00:00:00Z"})

	got := c.mustJSON(200, "GET", chURL, nil)
	if num(got, "members_count") != num(ch, "members_count")+2 {
		t.Errorf("members_count %v, want %v", got["members_count"], num(ch, "members_count")+2)
	}
	if r := c.do("DELETE", chURL+"/Members/newcomer", nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete member: %d %s", r.status, r.body)
	}
	if r := c.do("GET", str(m, "url"), nil); r.status != 404 {
		t.Errorf("deleted member still there: %d", r.status)
	}
	u = c.mustJSON(200, "GET", svc+"/Users/newcomer", nil)
	expect(t, "user after leaving", u, map[string]any{"joined_channels_count": 0})
	// Joining again works and creates no second user.
	c.mustJSON(201, "POST", chURL+"/Members", url.Values{"Identity": {"newcomer"}})
	n := 0
	for _, usr := range c.listAll(svc + "/Users") {
		if str(usr, "identity") == "newcomer" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d users named newcomer", n)
	}
}

func TestMessageLifecycle(t *testing.T) {
	_, c := setup(t, fixedConfig())
	ch := c.mustJSON(201, "POST", c.svc1()+"/Channels", url.Values{"UniqueName": {"lifecycle"}})
	msgs := str(ch, "url") + "/Messages"

	m0 := c.mustJSON(201, "POST", msgs, url.Values{})
	expect(t, "message with defaults", m0, map[string]any{
		"index": 0, "from": "system", "body": "", "attributes": "{}", "type": "text", "media": nil,
		"was_edited": false, "last_updated_by": nil, "date_created": fixedNow, "date_updated": fixedNow,
		"to": str(ch, "sid"), "channel_sid": str(ch, "sid"),
	})
	m1 := c.mustJSON(201, "POST", msgs, url.Values{
		"From": {"alice"}, "Body": {"héllo\n👋"}, "Attributes": {`{"k":"v"}`},
		"DateCreated": {"2024-01-01T00:00:00Z"}, "DateUpdated": {"2024-01-02T00:00:00Z"}, "LastUpdatedBy": {"bob"},
	}, "X-Twilio-Webhook-Enabled", "false")
	expect(t, "message with every parameter", m1, map[string]any{
		"index": 1, "from": "alice", "body": "héllo\n👋", "attributes": `{"k":"v"}`,
		"date_created": "2024-01-01T00:00:00Z", "date_updated": "2024-01-02T00:00:00Z",
		"last_updated_by": "bob", "was_edited": true,
	})
	same := c.mustJSON(201, "POST", msgs, url.Values{"DateCreated": {"2024-01-01T00:00:00Z"}, "DateUpdated": {"2024-01-01T00:00:00Z"}, "Body": {""}})
	expect(t, "message updated when created", same, map[string]any{"index": 2, "was_edited": false, "body": ""})
	file := c.upload(c.info.Services[1], "image/png", "a.png", []byte("not really a png"))
	media := c.mustJSON(201, "POST", msgs, url.Values{"MediaSid": {str(file, "sid")}})
	md, _ := media["media"].(map[string]any)
	if str(media, "type") != "media" || md == nil || str(md, "sid") != str(file, "sid") ||
		num(md, "size") != 16 || str(md, "content_type") != "image/png" || str(md, "filename") != "a.png" {
		t.Errorf("media message: %v", media)
	}

	// Index gaps: delete the newest, and the next message does not reuse its index.
	if r := c.do("DELETE", str(media, "url"), nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	m4 := c.mustJSON(201, "POST", msgs, url.Values{"Body": {"after the delete"}})
	if num(m4, "index") != 4 {
		t.Errorf("index after deleting index 3: %v, want 4", m4["index"])
	}
	if r := c.do("DELETE", str(m1, "url"), nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	var idx []int64
	for _, m := range c.listAll(msgs) {
		idx = append(idx, num(m, "index"))
	}
	if !slices.Equal(idx, []int64{0, 2, 4}) {
		t.Errorf("indexes %v, want [0 2 4]", idx)
	}
	got := c.mustJSON(200, "GET", str(ch, "url"), nil)
	if num(got, "messages_count") != 3 || str(got["links"].(map[string]any), "last_message") != str(m4, "url") {
		t.Errorf("channel after deletes: messages_count %v, last_message %v", got["messages_count"], got["links"])
	}

	// Updates.
	edited := c.mustJSON(200, "POST", str(m0, "url"), url.Values{"Body": {"fixed"}, "LastUpdatedBy": {"carol"}})
	expect(t, "edited message", edited, map[string]any{
		"body": "fixed", "was_edited": false, "last_updated_by": "carol", "date_updated": fixedNow, "index": 0,
	}) // created and updated in the same (fixed) second: not an edit
	later := c.mustJSON(200, "POST", str(same, "url"), url.Values{"Attributes": {`{"e":1}`}, "DateUpdated": {"2024-06-01T00:00:00Z"}})
	expect(t, "message edited later", later, map[string]any{"attributes": `{"e":1}`, "was_edited": true, "date_updated": "2024-06-01T00:00:00Z"})
	reauthored := c.mustJSON(200, "POST", str(same, "url"), url.Values{"From": {"dave"}, "DateUpdated": {"2024-06-02T00:00:00Z"}})
	expect(t, "message re-authored", reauthored, map[string]any{"from": "dave", "was_edited": true, "attributes": `{"e":1}`})
	unedit := c.mustJSON(200, "POST", str(same, "url"), url.Values{"Body": {"x"}, "DateUpdated": {"2024-01-01T00:00:00Z"}, "LastUpdatedBy": {""}})
	expect(t, "message set back", unedit, map[string]any{"was_edited": false, "last_updated_by": nil})
	redated := c.mustJSON(200, "POST", str(same, "url"), url.Values{"DateCreated": {"2023-12-31T23:59:59Z"}})
	expect(t, "message redated", redated, map[string]any{"date_created": "2023-12-31T23:59:59Z", "index": 2})

	fetched := c.mustJSON(200, "GET", str(same, "url"), nil)
	if str(fetched, "body") != "x" || str(fetched, "from") != "dave" {
		t.Errorf("fetch after updates: %v", fetched)
	}
	if r := c.do("GET", str(m1, "url"), nil); r.status != 404 {
		t.Errorf("deleted message fetched: %d", r.status)
	}
}

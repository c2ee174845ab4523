package emulator

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// privateChannel is a seeded private channel of services[0] with members
// and messages, as the Chat view shows it.
func privateChannel(t *testing.T, c *client) map[string]any {
	t.Helper()
	for _, ch := range c.listAll(c.svc0() + "/Channels?Type=private") {
		if num(ch, "messages_count") > 0 && num(ch, "members_count") > 0 {
			return ch
		}
	}
	t.Fatal("the generated history has no private channel with members and messages")
	return nil
}

// convPath is the Conversations path of a Chat channel.
func convPath(c *client, svcIndex int, ch map[string]any) string {
	return "/v1/Services/" + c.info.Services[svcIndex] + "/Conversations/" + str(ch, "sid")
}

// TestOneStateChatToConversations reads history written through Chat back
// through Conversations under the mapping.
func TestOneStateChatToConversations(t *testing.T) {
	_, c := setup(t, Config{Seed: 5, Channels: 6, Messages: 40, Now: func() time.Time { return fixedClock }})
	ch := privateChannel(t, c)
	conv := c.mustJSON(200, "GET", convPath(c, 0, ch), nil)
	for _, f := range [][2]string{
		{"sid", "sid"}, {"service_sid", "chat_service_sid"}, {"friendly_name", "friendly_name"},
		{"unique_name", "unique_name"}, {"attributes", "attributes"},
		{"date_created", "date_created"}, {"date_updated", "date_updated"},
	} {
		if ch[f[0]] != conv[f[1]] {
			t.Errorf("conversation %s = %v, want the channel's %s %v", f[1], conv[f[1]], f[0], ch[f[0]])
		}
	}
	if str(conv, "state") != "active" {
		t.Errorf("conversation state = %v, want active", conv["state"])
	}
	byUnique := c.mustJSON(200, "GET", "/v1/Services/"+c.info.Services[0]+"/Conversations/"+url.PathEscape(str(ch, "unique_name")), nil)
	if byUnique["sid"] != ch["sid"] {
		t.Errorf("fetch by unique name gave %v, want %v", byUnique["sid"], ch["sid"])
	}

	members := c.listAll(str(ch, "url") + "/Members")
	parts := c.listAll(convPath(c, 0, ch) + "/Participants")
	if len(parts) != len(members) {
		t.Fatalf("%d participants, want the channel's %d members", len(parts), len(members))
	}
	for i, m := range members {
		p := parts[i]
		if p["sid"] != m["sid"] || p["identity"] != m["identity"] || p["role_sid"] != m["role_sid"] ||
			p["attributes"] != m["attributes"] || p["conversation_sid"] != m["channel_sid"] ||
			p["last_read_message_index"] != m["last_consumed_message_index"] ||
			p["last_read_timestamp"] != m["last_consumption_timestamp"] {
			t.Errorf("participant %v\ndoes not map member %v", p, m)
		}
	}

	// A media message and an edited one, written through Chat.
	file := c.upload(str(ch, "service_sid"), "image/png", "a.png", []byte("not really a png"))
	media := c.mustJSON(201, "POST", str(ch, "url")+"/Messages", url.Values{
		"From": {str(members[0], "identity")}, "MediaSid": {str(file, "sid")},
		"DateCreated": {"2025-03-01T00:00:00Z"}, "DateUpdated": {"2025-03-02T00:00:00Z"},
	})
	msgs := c.listAll(str(ch, "url") + "/Messages")
	convMsgs := c.listAll(convPath(c, 0, ch) + "/Messages")
	if len(convMsgs) != len(msgs) {
		t.Fatalf("%d conversation messages, want %d", len(convMsgs), len(msgs))
	}
	identities := map[string]string{}
	for _, m := range members {
		identities[str(m, "identity")] = str(m, "sid")
	}
	for i, m := range msgs {
		cm := convMsgs[i]
		wantBody := m["body"]
		if wantBody == "" {
			wantBody = nil
		}
		wantUpdated := m["date_updated"]
		if m["was_edited"] != true {
			wantUpdated = nil
		}
		if cm["sid"] != m["sid"] || cm["index"] != m["index"] || cm["author"] != m["from"] ||
			cm["body"] != wantBody || cm["attributes"] != m["attributes"] ||
			cm["date_created"] != m["date_created"] || cm["date_updated"] != wantUpdated {
			t.Errorf("conversation message %v\ndoes not map message %v", cm, m)
		}
		if want := identities[str(m, "from")]; str(cm, "participant_sid") != want {
			t.Errorf("message from %v: participant_sid %v, want %q", m["from"], cm["participant_sid"], want)
		}
		if m["media"] == nil {
			if cm["media"] != nil {
				t.Errorf("text message %v has media %v in Conversations", m["sid"], cm["media"])
			}
			continue
		}
		arr, ok := cm["media"].([]any)
		if !ok || len(arr) != 1 {
			t.Errorf("media message %v: media %v, want a one-element array", m["sid"], cm["media"])
			continue
		}
		got, want := arr[0].(map[string]any), m["media"].(map[string]any)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("media %s = %v, want %v", k, got[k], v)
			}
		}
	}
	fetched := c.mustJSON(200, "GET", convPath(c, 0, ch)+"/Messages/"+str(media, "sid"), nil)
	if fetched["date_updated"] != "2025-03-02T00:00:00Z" || fetched["author"] != members[0]["identity"] {
		t.Errorf("fetched media message = %v", fetched)
	}
}

// TestOneStateConversationsToChat writes through Conversations and reads
// the result back through Chat.
func TestOneStateConversationsToChat(t *testing.T) {
	_, c := setup(t, Config{Seed: 5, Channels: 2, Messages: 10, Now: func() time.Time { return fixedClock }})
	base := c.conv1() + "/Conversations"
	conv := c.mustJSON(201, "POST", base, url.Values{
		"FriendlyName": {"Support"}, "UniqueName": {"support"}, "Attributes": {`{"tier":1}`},
		"DateCreated": {"2025-01-02T03:04:05Z"}, "DateUpdated": {"2025-01-03T00:00:00Z"},
	})
	part := c.mustJSON(201, "POST", str(conv, "url")+"/Participants", url.Values{
		"Identity": {"ann"}, "Attributes": {`{"a":1}`}, "DateCreated": {"2025-01-02T04:00:00Z"},
		// Not create parameters of Conversations: ignored.
		"LastReadMessageIndex": {"3"}, "LastReadTimestamp": {"2025-01-05T00:00:00Z"},
	})
	if part["last_read_message_index"] != nil || part["last_read_timestamp"] != nil {
		t.Errorf("participant create took a read position: %v", part)
	}
	file := c.upload(str(conv, "chat_service_sid"), "image/png", "b.png", []byte("not really a png"))
	msg := c.mustJSON(201, "POST", str(conv, "url")+"/Messages", url.Values{
		"Author": {"ann"}, "Body": {"hello"}, "Attributes": {`{"k":"v"}`},
		"DateCreated": {"2025-01-02T05:00:00Z"}, "DateUpdated": {"2025-01-02T06:00:00Z"},
		"MediaSid": {str(file, "sid")}, "LastUpdatedBy": {"not a Conversations parameter"},
	})
	sys := c.mustJSON(201, "POST", str(conv, "url")+"/Messages", url.Values{"Body": {"joined"}})
	if sys["author"] != "system" || sys["participant_sid"] != nil || sys["date_updated"] != nil {
		t.Errorf("message without Author = %v, want author system, participant_sid null, date_updated null", sys)
	}
	part = c.mustJSON(200, "POST", str(part, "url"), url.Values{
		"LastReadMessageIndex": {"1"}, "LastReadTimestamp": {"2025-01-06T00:00:00Z"},
	})
	if num(part, "last_read_message_index") != 1 || part["last_read_timestamp"] != "2025-01-06T00:00:00Z" {
		t.Errorf("participant update did not set the read position: %v", part)
	}

	ch := c.mustJSON(200, "GET", c.svc1()+"/Channels/support", nil)
	if ch["sid"] != conv["sid"] || ch["type"] != "private" || ch["friendly_name"] != "Support" ||
		ch["attributes"] != `{"tier":1}` || ch["date_created"] != "2025-01-02T03:04:05Z" ||
		ch["date_updated"] != "2025-01-03T00:00:00Z" || ch["created_by"] != "system" {
		t.Errorf("channel of the conversation = %v", ch)
	}
	// Chat's default channel list shows public channels only.
	if slices.ContainsFunc(c.listAll(c.svc1()+"/Channels"), func(m map[string]any) bool { return m["sid"] == conv["sid"] }) {
		t.Errorf("the conversation is listed as a public channel")
	}
	mb := c.mustJSON(200, "GET", str(ch, "url")+"/Members/ann", nil)
	if mb["sid"] != part["sid"] || num(mb, "last_consumed_message_index") != 1 ||
		mb["last_consumption_timestamp"] != "2025-01-06T00:00:00Z" || mb["attributes"] != `{"a":1}` ||
		mb["date_created"] != "2025-01-02T04:00:00Z" {
		t.Errorf("member of the participant = %v", mb)
	}
	m := c.mustJSON(200, "GET", str(ch, "url")+"/Messages/"+str(msg, "sid"), nil)
	md, _ := m["media"].(map[string]any)
	if m["from"] != "ann" || m["body"] != "hello" || m["attributes"] != `{"k":"v"}` || m["type"] != "media" ||
		md["sid"] != str(file, "sid") || m["was_edited"] != true ||
		m["date_updated"] != "2025-01-02T06:00:00Z" || m["last_updated_by"] != nil {
		t.Errorf("Chat message of the Conversations message = %v", m)
	}

	// Deleting through one view deletes in the other.
	c.mustJSON(200, "GET", c.svc1()+"/Users/ann", nil) // the participant's user was created
	if r := c.do("DELETE", str(conv, "url")+"/Messages/"+str(sys, "sid"), nil); r.status != 204 {
		t.Fatalf("delete message: %d %s", r.status, r.body)
	}
	if r := c.do("GET", str(ch, "url")+"/Messages/"+str(sys, "sid"), nil); r.status != 404 {
		t.Errorf("message deleted through Conversations still in Chat: %d", r.status)
	}
	if r := c.do("DELETE", str(conv, "url")+"/Participants/ann", nil); r.status != 204 {
		t.Fatalf("delete participant: %d %s", r.status, r.body)
	}
	if r := c.do("GET", str(ch, "url")+"/Members/ann", nil); r.status != 404 {
		t.Errorf("participant deleted through Conversations still a member: %d", r.status)
	}
	if r := c.do("DELETE", str(conv, "url"), nil); r.status != 204 {
		t.Fatalf("delete conversation: %d %s", r.status, r.body)
	}
	if r := c.do("GET", str(ch, "url"), nil); r.status != 404 {
		t.Errorf("conversation deleted through Conversations still a channel: %d", r.status)
	}
}

// TestConversationsShowPrivateChannelsOnly checks that a public channel is
// invisible to Conversations until Chat v3 makes it private.
func TestConversationsShowPrivateChannelsOnly(t *testing.T) {
	_, c := setup(t, Config{Seed: 9, Channels: 3, Messages: 5})
	pub := c.mustJSON(201, "POST", c.svc1()+"/Channels", url.Values{"UniqueName": {"lobby"}})
	priv := c.mustJSON(201, "POST", c.svc1()+"/Channels", url.Values{"UniqueName": {"backroom"}, "Type": {"private"}})
	c.mustJSON(201, "POST", str(pub, "url")+"/Messages", url.Values{"Body": {"hi"}})
	sids := func() []string {
		var out []string
		for _, cv := range c.listAll(c.conv1() + "/Conversations") {
			out = append(out, str(cv, "sid"))
		}
		return out
	}
	if got := sids(); !slices.Equal(got, []string{str(priv, "sid")}) {
		t.Errorf("conversations = %v, want only the private channel %v", got, priv["sid"])
	}
	for _, p := range []string{"", "/Messages", "/Participants"} {
		for _, ref := range []string{str(pub, "sid"), "lobby"} {
			r := c.do("GET", c.conv1()+"/Conversations/"+ref+p, nil)
			if code, _ := r.apiErr(t); r.status != 404 || code != codeNotFound {
				t.Errorf("public channel %s%s through Conversations: %d code %d, want 404 code 20404", ref, p, r.status, code)
			}
		}
	}
	if r := c.do("POST", c.conv1()+"/Conversations/lobby/Messages", url.Values{"Body": {"x"}}); r.status != 404 {
		t.Errorf("posting to a public channel through Conversations: %d, want 404", r.status)
	}

	v3 := "/v3/Services/" + c.info.Services[1] + "/Channels/" + str(pub, "sid")
	made := c.mustJSON(200, "POST", v3, url.Values{"Type": {"private"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}}, "X-Twilio-Webhook-Enabled", "false")
	if made["type"] != "private" || made["sid"] != pub["sid"] || made["members_count"] == nil {
		t.Errorf("v3 answer = %v, want the Chat channel, now private", made)
	}
	if got := sids(); !slices.Equal(got, []string{str(pub, "sid"), str(priv, "sid")}) {
		t.Errorf("conversations after v3 = %v, want both channels", got)
	}
	conv := c.mustJSON(200, "GET", c.conv1()+"/Conversations/lobby", nil)
	if conv["messaging_service_sid"] != "MG0123456789abcdef0123456789abcdef" {
		t.Errorf("messaging_service_sid = %v, want the one v3 set", conv["messaging_service_sid"])
	}
	if n := len(c.listAll(c.conv1() + "/Conversations/lobby/Messages")); n != 1 {
		t.Errorf("%d messages through Conversations, want the 1 posted through Chat", n)
	}
	// Again: already private, nothing changes.
	c.mustJSON(200, "POST", v3, url.Values{"Type": {"private"}})

	const unknownHex = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name         string
		path         string
		form         url.Values
		status, code int
	}{
		{"nothing to change", v3, url.Values{}, 400, codeNoUpdateParameters},
		{"make public", v3, url.Values{"Type": {"public"}}, 400, codeInvalidParameter},
		{"unknown type", v3, url.Values{"Type": {"secret"}}, 400, codeInvalidParameter},
		{"bad messaging service", v3, url.Values{"MessagingServiceSid": {"MGxyz"}}, 400, codeInvalidParameter},
		{"unknown channel", "/v3/Services/" + c.info.Services[1] + "/Channels/CH" + unknownHex, url.Values{"Type": {"private"}}, 404, codeChannelNotFound},
		{"unknown service", "/v3/Services/IS" + unknownHex + "/Channels/lobby", url.Values{"Type": {"private"}}, 404, codeServiceNotFound},
		{"v3 path not served", "/v3/Services/" + c.info.Services[1] + "/Channels", url.Values{"Type": {"private"}}, 404, codeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", tc.path, tc.form)
			if code, _ := r.apiErr(t); r.status != tc.status || code != tc.code {
				t.Errorf("%d code %d, want %d code %d: %s", r.status, code, tc.status, tc.code, r.body)
			}
		})
	}
	if r := c.do("GET", v3, nil); r.status != 405 {
		t.Errorf("GET on the v3 channel: %d, want 405", r.status)
	}
}

// TestChatAPIOff checks that --chat-api off answers every /v2 path 404
// while Conversations and Chat v3 keep answering.
func TestChatAPIOff(t *testing.T) {
	s, c := setup(t, Config{Seed: 2, Channels: 3, Messages: 5, ChatAPI: APIOff})
	if info := s.Info(); info.ConversationsURL != info.BaseURL || info.ConversationsURL == "" {
		t.Errorf("ConversationsURL = %q, want the base URL %q", info.ConversationsURL, info.BaseURL)
	}
	conv := c.mustJSON(201, "POST", c.conv0()+"/Conversations", url.Values{"UniqueName": {"x"}})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v2/Services"},
		{"POST", "/v2/Services"},
		{"GET", c.svc0()},
		{"GET", c.svc0() + "/Channels"},
		{"GET", c.svc0() + "/Channels/x"},
		{"POST", c.svc0() + "/Channels/x/Messages"},
		{"DELETE", c.svc0() + "/Channels/x"},
	} {
		r := c.do(tc.method, tc.path, url.Values{})
		code, _ := r.apiErr(t)
		if r.status != 404 || code != codeNotFound || !strings.Contains(string(r.body), "--chat-api off") {
			t.Errorf("%s %s with Chat off: %d code %d %s, want 404 code 20404 naming --chat-api off", tc.method, tc.path, r.status, code, r.body)
		}
	}
	c.mustJSON(200, "GET", c.conv0(), nil)
	c.mustJSON(200, "GET", str(conv, "url"), nil)
	c.mustJSON(200, "POST", "/v3/Services/"+c.info.Services[0]+"/Channels/x", url.Values{"Type": {"private"}})

	for _, tc := range []struct {
		in   string
		want APISwitch
		ok   bool
	}{
		{"on", APIOn, true}, {"off", APIOff, true},
		{"", APIOn, false}, {"OFF", APIOn, false}, {"false", APIOn, false},
	} {
		got, err := ParseAPISwitch(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseAPISwitch(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
	if _, err := New(Config{ChatAPI: APISwitch(7)}); err == nil {
		t.Error("New accepted ChatAPI 7")
	}
}

// TestConvWebhookHeaderStats checks that Conversations writes are counted
// in the same stats as Chat's, with their webhook header.
func TestConvWebhookHeaderStats(t *testing.T) {
	s, c := setup(t, Config{Seed: 2, Channels: 1, Messages: 1})
	conv := c.mustJSON(201, "POST", c.conv1()+"/Conversations", url.Values{}, "X-Twilio-Webhook-Enabled", "true")
	c.mustJSON(201, "POST", str(conv, "url")+"/Messages", url.Values{"Body": {"a"}}, "X-Twilio-Webhook-Enabled", "false")
	c.mustJSON(201, "POST", c.conv1()+"/Users", url.Values{"Identity": {"u"}}, "X-Twilio-Webhook-Enabled", "true")
	if r := c.do("DELETE", c.conv1()+"/Users/u", nil, "X-Twilio-Webhook-Enabled", "true"); r.status != 204 {
		t.Fatalf("delete user: %d %s", r.status, r.body)
	}
	r := c.do("POST", str(conv, "url")+"/Participants", url.Values{"Identity": {"p"}}, "X-Twilio-Webhook-Enabled", "yes")
	if code, _ := r.apiErr(t); r.status != 400 || code != codeInvalidParameter {
		t.Errorf("bad webhook header: %d code %d, want 400 code 20001", r.status, code)
	}
	c.mustJSON(200, "GET", str(conv, "url"), nil, "X-Twilio-Webhook-Enabled", "true") // reads are not writes

	st := s.Stats()
	if st.Writes != 5 || st.WebhooksEnabledWrites != 3 {
		t.Errorf("writes %d, webhooks enabled %d; want 5 and 3", st.Writes, st.WebhooksEnabledWrites)
	}
	for key, want := range map[string]int64{
		"POST /v1/Services/{sid}/Conversations":                      1,
		"POST /v1/Services/{sid}/Conversations/{sid}/Messages":       1,
		"DELETE /v1/Services/{sid}/Users/{sid}":                      1,
		"POST /v1/Services/{sid}/Conversations/{sid}/Participants":   1,
		"GET /v1/Services/{sid}/Conversations/{sid}":                 1,
		"POST /v1/Services/{sid}/Conversations/{sid}/Participants/x": 0,
	} {
		if got := st.Requests[key]; got != want {
			t.Errorf("requests[%q] = %d, want %d", key, got, want)
		}
	}
}

// TestConvWriteRate checks that writes through Conversations spend from
// the same per-channel allowance as Chat's.
func TestConvWriteRate(t *testing.T) {
	_, c := setup(t, Config{Seed: 2, Channels: 1, Messages: 1, WriteRate: 3, Now: func() time.Time { return fixedClock }})
	conv := c.mustJSON(201, "POST", c.conv1()+"/Conversations", url.Values{"UniqueName": {"busy"}})
	c.mustJSON(201, "POST", str(conv, "url")+"/Messages", url.Values{"Body": {"1"}})
	c.mustJSON(201, "POST", c.svc1()+"/Channels/busy/Messages", url.Values{"Body": {"2"}})
	c.mustJSON(201, "POST", str(conv, "url")+"/Participants", url.Values{"Identity": {"p"}})
	for _, path := range []string{str(conv, "url") + "/Messages", str(conv, "url"), "/v3/Services/" + c.info.Services[1] + "/Channels/busy"} {
		r := c.do("POST", path, url.Values{"Body": {"4"}, "FriendlyName": {"x"}, "Type": {"private"}})
		if code, _ := r.apiErr(t); r.status != 429 || code != codeChannelRateExceeded {
			t.Errorf("POST %s beyond the write rate: %d code %d, want 429 code 50063", path, r.status, code)
		}
	}
}

// TestCreatedServiceHasConversations checks that a service created through
// Chat answers through Conversations too, with its roles and users.
func TestCreatedServiceHasConversations(t *testing.T) {
	_, c := setup(t, Config{Seed: 2, Channels: 1, Messages: 1})
	svc := c.mustJSON(201, "POST", "/v2/Services", url.Values{"FriendlyName": {"new"}})
	conv := "/v1/Services/" + str(svc, "sid")
	got := c.mustJSON(200, "GET", conv, nil)
	if got["friendly_name"] != "new" || got["date_created"] != svc["date_created"] {
		t.Errorf("Conversations service = %v, want the created one", got)
	}
	var types []string
	for _, r := range c.listAll(conv + "/Roles") {
		types = append(types, str(r, "type"))
	}
	if want := []string{"service", "service", "conversation", "conversation"}; !slices.Equal(types, want) {
		t.Errorf("role types = %v, want %v", types, want)
	}
	u := c.mustJSON(201, "POST", conv+"/Users", url.Values{"Identity": {"kim"}})
	if str(u, "role_sid") != str(svc, "default_service_role_sid") {
		t.Errorf("user role %v, want the service's default %v", u["role_sid"], svc["default_service_role_sid"])
	}
	c.mustJSON(200, "GET", "/v2/Services/"+str(svc, "sid")+"/Users/kim", nil)
	if r := c.do("DELETE", conv+"/Users/"+str(u, "sid"), nil); r.status != 204 {
		t.Fatalf("delete user: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/v2/Services/"+str(svc, "sid")+"/Users/kim", nil); r.status != 404 {
		t.Errorf("user deleted through Conversations still in Chat: %d", r.status)
	}
}

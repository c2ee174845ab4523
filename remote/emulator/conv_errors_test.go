package emulator

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConvErrorCodes sends bad requests to the Conversations view and
// checks the HTTP status and the Twilio code of each answer.
func TestConvErrorCodes(t *testing.T) {
	_, c := setup(t, testConfig())
	svc := c.conv0()
	ch := convPath(c, 0, privateChannel(t, c))
	part := c.listAll(ch + "/Participants")[0]
	msg := c.listAll(ch + "/Messages")[0]
	roles := c.listAll(svc + "/Roles")
	serviceRole, convRole := str(roles[1], "sid"), str(roles[3], "sid")
	c.mustJSON(201, "POST", svc+"/Conversations", url.Values{"UniqueName": {"taken"}})
	const unknownHex = "0123456789abcdef0123456789abcdef"

	type form = url.Values
	cases := []struct {
		name         string
		method, path string
		form         form
		status, code int
	}{
		// Paths and methods.
		{"unknown subresource", "GET", svc + "/Nope", nil, 404, codeNotFound},
		{"services list not served", "GET", "/v1/Services", nil, 404, codeNotFound},
		{"other top path", "GET", "/v1/Conversations", nil, 404, codeNotFound},
		{"too deep", "GET", ch + "/Messages/x/Receipts", nil, 404, codeNotFound},
		{"update service", "POST", svc, form{"FriendlyName": {"x"}}, 405, codeMethodNotAllowed},
		{"create role", "POST", svc + "/Roles", form{"FriendlyName": {"r"}}, 405, codeMethodNotAllowed},
		{"delete conversations", "DELETE", svc + "/Conversations", nil, 405, codeMethodNotAllowed},

		// Not found is 20404 throughout.
		{"unknown service", "GET", "/v1/Services/IS" + unknownHex, nil, 404, codeNotFound},
		{"conversations of unknown service", "GET", "/v1/Services/IS" + unknownHex + "/Conversations", nil, 404, codeNotFound},
		{"unknown conversation SID", "GET", svc + "/Conversations/CH" + unknownHex, nil, 404, codeNotFound},
		{"unknown unique name", "GET", svc + "/Conversations/nowhere", nil, 404, codeNotFound},
		{"unknown participant", "GET", ch + "/Participants/nobody", nil, 404, codeNotFound},
		{"update unknown participant", "POST", ch + "/Participants/MB" + unknownHex, form{"Attributes": {"{}"}}, 404, codeNotFound},
		{"unknown message", "GET", ch + "/Messages/IM" + unknownHex, nil, 404, codeNotFound},
		{"message by index", "GET", ch + "/Messages/0", nil, 404, codeNotFound},
		{"delete unknown message", "DELETE", ch + "/Messages/IM" + unknownHex, nil, 404, codeNotFound},
		{"unknown user", "GET", svc + "/Users/nobody", nil, 404, codeNotFound},
		{"update unknown user", "POST", svc + "/Users/nobody", form{"FriendlyName": {"x"}}, 404, codeNotFound},
		{"delete unknown user", "DELETE", svc + "/Users/US" + unknownHex, nil, 404, codeNotFound},

		// Paging and filters.
		{"page size zero", "GET", svc + "/Conversations?PageSize=0", nil, 400, codeInvalidParameter},
		{"users page size zero", "GET", svc + "/Users?PageSize=0", nil, 400, codeInvalidParameter},
		{"bad page token", "GET", ch + "/Messages?PageToken=abc", nil, 400, codeInvalidPageToken},
		{"bad state filter", "GET", svc + "/Conversations?State=open", nil, 400, codeInvalidParameter},
		{"bad start date", "GET", svc + "/Conversations?StartDate=yesterday", nil, 400, codeInvalidParameter},
		{"bad end date", "GET", svc + "/Conversations?EndDate=2025-13-01", nil, 400, codeInvalidParameter},
		{"bad order", "GET", ch + "/Messages?Order=sideways", nil, 400, codeInvalidParameter},

		// Users.
		{"user without identity", "POST", svc + "/Users", form{"FriendlyName": {"x"}}, 400, codeIdentityMissing},
		{"user exists", "POST", svc + "/Users", form{"Identity": {"alice"}}, 409, codeUserExists},
		{"user with conversation role", "POST", svc + "/Users", form{"Identity": {"u2"}, "RoleSid": {convRole}}, 400, codeRoleNotFound},
		{"user update nothing", "POST", svc + "/Users/alice", form{}, 400, codeNoUpdateParameters},
		{"user update conversation role", "POST", svc + "/Users/alice", form{"RoleSid": {convRole}}, 400, codeRoleNotFound},
		{"user update bad attributes", "POST", svc + "/Users/alice", form{"Attributes": {"{"}}, 400, codeAttributesInvalid},

		// Conversations.
		{"bad state", "POST", svc + "/Conversations", form{"State": {"open"}}, 400, codeInvalidParameter},
		{"bad inactive timer", "POST", svc + "/Conversations", form{"Timers.Inactive": {"10 minutes"}}, 400, codeInvalidParameter},
		{"zero closed timer", "POST", svc + "/Conversations", form{"Timers.Closed": {"PT0S"}}, 400, codeInvalidParameter},
		{"bad messaging service", "POST", svc + "/Conversations", form{"MessagingServiceSid": {"IS" + unknownHex}}, 400, codeInvalidParameter},
		{"unique name taken", "POST", svc + "/Conversations", form{"UniqueName": {"taken"}}, 409, codeUniqueNameExists},
		{"unique name like a SID", "POST", svc + "/Conversations", form{"UniqueName": {"CH" + unknownHex}}, 400, codeUniqueNameLooksLikeCH},
		{"name too long", "POST", svc + "/Conversations", form{"FriendlyName": {strings.Repeat("n", 257)}}, 400, codeFriendlyNameTooLong},
		{"bad attributes", "POST", svc + "/Conversations", form{"Attributes": {"not json"}}, 400, codeAttributesInvalid},
		{"bad date", "POST", svc + "/Conversations", form{"DateCreated": {"soon"}}, 400, codeDateCreatedInvalid},
		{"update nothing", "POST", ch, form{}, 400, codeNoUpdateParameters},
		{"update with Chat's CreatedBy only", "POST", ch, form{"CreatedBy": {"x"}}, 400, codeNoUpdateParameters},
		{"rename onto a taken name", "POST", ch, form{"UniqueName": {"taken"}}, 409, codeUniqueNameExists},

		// Participants.
		{"participant without identity", "POST", ch + "/Participants", form{"MessagingBinding.Address": {"+15550100"}}, 400, codeIdentityMissing},
		{"participant exists", "POST", ch + "/Participants", form{"Identity": {str(part, "identity")}}, 409, codeMemberExists},
		{"participant with service role", "POST", ch + "/Participants", form{"Identity": {"p2"}, "RoleSid": {serviceRole}}, 400, codeChannelRoleNotFound},
		{"participant update nothing", "POST", str(part, "url"), form{}, 400, codeNoUpdateParameters},
		{"participant update with Chat's name", "POST", str(part, "url"), form{"LastConsumedMessageIndex": {"1"}}, 400, codeNoUpdateParameters},
		{"negative read index", "POST", str(part, "url"), form{"LastReadMessageIndex": {"-1"}}, 400, codeConsumedIndexInvalid},
		{"bad read timestamp", "POST", str(part, "url"), form{"LastReadTimestamp": {"noon"}}, 400, codeConsumptionTSInvalid},

		// Messages.
		{"bad media SID", "POST", ch + "/Messages", form{"MediaSid": {"IM" + unknownHex}}, 400, codeMediaSIDInvalid},
		{"bad message date", "POST", ch + "/Messages", form{"DateUpdated": {"later"}}, 400, codeDateUpdatedInvalid},
		{"message update nothing", "POST", str(msg, "url"), form{}, 400, codeNoUpdateParameters},
		{"message update with Chat's From", "POST", str(msg, "url"), form{"From": {"x"}}, 400, codeNoUpdateParameters},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.form)
			code, status := r.apiErr(t)
			if r.status != tc.status || code != tc.code || status != tc.status {
				t.Errorf("%s %s: %d code %d (body status %d), want %d code %d\n%s", tc.method, tc.path, r.status, code, status, tc.status, tc.code, r.body)
			}
		})
	}
	// The missing-parameter answers name Conversations' parameters.
	r := c.do("POST", str(part, "url"), url.Values{})
	if !strings.Contains(string(r.body), "LastReadMessageIndex") || strings.Contains(string(r.body), "LastConsumed") {
		t.Errorf("participant update answer names the wrong parameters: %s", r.body)
	}
	r = c.do("GET", svc+"/Users?PageSize=0", nil)
	if !strings.Contains(string(r.body), "1 to 50") {
		t.Errorf("users PageSize answer does not give the limit of 50: %s", r.body)
	}
}

// TestConvPaging walks Conversations' lists: limits, filters, order and
// page URLs.
func TestConvPaging(t *testing.T) {
	_, c := setup(t, Config{Seed: 8, Channels: 8, Messages: 30, Now: func() time.Time { return fixedClock }})
	svc := c.conv1()
	days := []string{"2025-01-04", "2025-01-02", "2025-01-06", "2025-01-03", "2025-01-05", "2025-01-01", "2025-01-03"}
	var created []string
	for i, d := range days {
		f := url.Values{"DateCreated": {d + "T12:00:00Z"}}
		if i == 2 {
			f.Set("State", "closed")
		}
		created = append(created, str(c.mustJSON(201, "POST", svc+"/Conversations", f), "sid"))
	}
	for i := range 60 {
		c.mustJSON(201, "POST", svc+"/Users", url.Values{"Identity": {"user" + string(rune('A'+i/26)) + string(rune('a'+i%26))}})
	}
	sids := func(items []map[string]any) []string {
		var out []string
		for _, it := range items {
			out = append(out, str(it, "sid"))
		}
		return out
	}

	t.Run("creation order by pages", func(t *testing.T) {
		if got := sids(c.listAll(svc + "/Conversations?PageSize=2")); !slices.Equal(got, created) {
			t.Errorf("conversations = %v\nwant %v", got, created)
		}
	})
	t.Run("date filter lists newest first", func(t *testing.T) {
		// 2025-01-03 to 2025-01-05 inclusive: days[0], days[3], days[4], days[6].
		want := []string{created[4], created[0], created[6], created[3]}
		for _, size := range []string{"1", "50"} {
			path := svc + "/Conversations?StartDate=2025-01-03&EndDate=2025-01-05&PageSize=" + size
			if got := sids(c.listAll(path)); !slices.Equal(got, want) {
				t.Errorf("PageSize %s: %v\nwant %v", size, got, want)
			}
		}
		page := c.mustJSON(200, "GET", svc+"/Conversations?StartDate=2025-01-03T00:00:00Z&PageSize=1", nil)
		next := str(page["meta"].(map[string]any), "next_page_url")
		if !strings.Contains(next, "StartDate=2025-01-03T00%3A00%3A00Z") {
			t.Errorf("next_page_url %q lost the StartDate filter", next)
		}
	})
	t.Run("state filter", func(t *testing.T) {
		if got := sids(c.listAll(svc + "/Conversations?State=closed")); !slices.Equal(got, []string{created[2]}) {
			t.Errorf("closed = %v, want %v", got, created[2])
		}
		if got := len(c.listAll(svc + "/Conversations?State=active")); got != len(created)-1 {
			t.Errorf("%d active, want %d", got, len(created)-1)
		}
	})
	t.Run("users at most 50 a page", func(t *testing.T) {
		page := c.mustJSON(200, "GET", svc+"/Users?PageSize=100", nil)
		meta := page["meta"].(map[string]any)
		if num(meta, "page_size") != 50 || len(page["users"].([]any)) != 50 || meta["next_page_url"] == nil {
			t.Errorf("users page: page_size %v, %d users, next %v; want 50, 50 and a next page", meta["page_size"], len(page["users"].([]any)), meta["next_page_url"])
		}
		if n := len(c.listAll(svc + "/Users?PageSize=7")); n != 60 {
			t.Errorf("%d users over pages, want 60", n)
		}
		if ps := num(c.mustJSON(200, "GET", svc+"/Roles?PageSize=80", nil)["meta"].(map[string]any), "page_size"); ps != 50 {
			t.Errorf("roles page_size %d, want 50", ps)
		}
	})
	t.Run("messages in both orders", func(t *testing.T) {
		ch := convPath(c, 0, privateChannel(t, c))
		asc := c.listAll(ch + "/Messages?PageSize=3")
		desc := c.listAll(ch + "/Messages?PageSize=3&Order=desc")
		if len(asc) < 4 {
			t.Fatalf("only %d messages", len(asc))
		}
		slices.Reverse(desc)
		if !slices.Equal(sids(asc), sids(desc)) {
			t.Errorf("Order=desc is not the reverse of asc")
		}
		for i := 1; i < len(asc); i++ {
			if num(asc[i], "index") <= num(asc[i-1], "index") {
				t.Fatalf("messages not in index order at %d", i)
			}
		}
		page := c.mustJSON(200, "GET", ch+"/Messages?PageSize=500", nil)
		if ps := num(page["meta"].(map[string]any), "page_size"); ps != 100 {
			t.Errorf("messages page_size %d, want 100", ps)
		}
	})
}

// TestParseISODuration checks the Timers.* durations the emulator takes.
func TestParseISODuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT10M", 10 * time.Minute, true},
		{"PT1H30M", 90 * time.Minute, true},
		{"P1D", 24 * time.Hour, true},
		{"P1DT2H3M4S", 26*time.Hour + 3*time.Minute + 4*time.Second, true},
		{"PT45S", 45 * time.Second, true},
		{"", 0, false},
		{"P", 0, false},
		{"PT", 0, false},
		{"P1DT", 0, false},
		{"PT0S", 0, false},
		{"10M", 0, false},
		{"PT1.5H", 0, false},
		{"P1W", 0, false},
		{"PT-5M", 0, false},
		{"PT99999999999H", 0, false},
		{"P999999999999D", 0, false},
		{"P36500D", 36500 * 24 * time.Hour, true},
		{"P36600D", 0, false},
	} {
		got, ok := parseISODuration(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseISODuration(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

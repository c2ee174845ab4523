package emulator

import (
	"net/url"
	"strings"
	"testing"
)

// TestErrorCodes sends every kind of bad request and checks the HTTP status
// and the Twilio code of the answer.
func TestErrorCodes(t *testing.T) {
	_, c := setup(t, testConfig())
	svc := c.svc0()
	chans := c.channels(svc)
	ch := str(chans[0], "url")
	other := str(chans[1], "unique_name")
	member := c.listAll(ch + "/Members")[0]
	msg := c.listAll(ch + "/Messages")[0]
	roles := c.listAll(svc + "/Roles")
	serviceRole, channelRole := str(roles[1], "sid"), str(roles[3], "sid")
	const unknownHex = "0123456789abcdef0123456789abcdef"
	long := func(n int) string { return strings.Repeat("é", n) }

	type form = url.Values
	cases := []struct {
		name         string
		method, path string
		form         form
		header       []string
		status, code int
	}{
		// Paths and methods.
		{"unknown top path", "GET", "/v2/Nope", nil, nil, 404, codeNotFound},
		{"other API version", "GET", "/v1/Services", nil, nil, 404, codeNotFound},
		{"trailing slash", "GET", svc + "/Channels/", nil, nil, 404, codeNotFound},
		{"role instance not served", "GET", svc + "/Roles/" + serviceRole, nil, nil, 404, codeNotFound},
		{"too deep", "GET", ch + "/Messages/x/y", nil, nil, 404, codeNotFound},
		{"unknown channel subresource", "GET", ch + "/Invites", nil, nil, 404, codeNotFound},
		{"delete service", "DELETE", svc, nil, nil, 405, codeMethodNotAllowed},
		{"put services", "PUT", "/v2/Services", nil, nil, 405, codeMethodNotAllowed},
		{"put user", "PUT", svc + "/Users/alice", form{"FriendlyName": {"x"}}, nil, 405, codeMethodNotAllowed},
		{"patch message", "PATCH", str(msg, "url"), nil, nil, 405, codeMethodNotAllowed},
		{"post roles", "POST", svc + "/Roles", form{"FriendlyName": {"r"}}, nil, 405, codeMethodNotAllowed},

		// Services.
		{"service unknown SID", "GET", "/v2/Services/IS" + unknownHex, nil, nil, 404, codeServiceNotFound},
		{"service not a SID", "GET", "/v2/Services/general", nil, nil, 404, codeServiceNotFound},
		{"channels of unknown service", "GET", "/v2/Services/IS" + unknownHex + "/Channels", nil, nil, 404, codeServiceNotFound},
		{"message in unknown service", "POST", "/v2/Services/IS" + unknownHex + "/Channels/x/Messages", form{"Body": {"x"}}, nil, 404, codeServiceNotFound},
		{"service without name", "POST", "/v2/Services", form{}, nil, 400, codeFriendlyNameMissing},
		{"service with empty name", "POST", "/v2/Services", form{"FriendlyName": {""}}, nil, 400, codeFriendlyNameMissing},

		// Users.
		{"user unknown identity", "GET", svc + "/Users/nobody", nil, nil, 404, codeUserNotFound},
		{"user unknown SID", "GET", svc + "/Users/US" + unknownHex, nil, nil, 404, codeUserNotFound},
		{"user without identity", "POST", svc + "/Users", form{"FriendlyName": {"x"}}, nil, 400, codeIdentityMissing},
		{"user identity like SID", "POST", svc + "/Users", form{"Identity": {"US" + unknownHex}}, nil, 400, codeIdentityLooksLikeSID},
		{"user exists", "POST", svc + "/Users", form{"Identity": {"alice"}}, nil, 409, codeUserExists},
		{"update unknown user", "POST", svc + "/Users/nobody", form{"FriendlyName": {"x"}}, nil, 404, codeUserNotFound},
		{"update user nothing", "POST", svc + "/Users/alice", form{}, nil, 400, codeNoUpdateParameters},
		{"update user channel role", "POST", svc + "/Users/alice", form{"RoleSid": {channelRole}}, nil, 400, codeRoleNotFound},
		{"update user bad attributes", "POST", svc + "/Users/alice", form{"Attributes": {"{"}}, nil, 400, codeAttributesInvalid},
		{"delete unknown user", "DELETE", svc + "/Users/nobody", nil, nil, 404, codeUserNotFound},
		{"user role malformed", "POST", svc + "/Users", form{"Identity": {"u1"}, "RoleSid": {"admin"}}, nil, 400, codeRoleNotFound},
		{"user role unknown", "POST", svc + "/Users", form{"Identity": {"u2"}, "RoleSid": {"RL" + unknownHex}}, nil, 400, codeRoleNotFound},
		{"user given channel role", "POST", svc + "/Users", form{"Identity": {"u3"}, "RoleSid": {channelRole}}, nil, 400, codeRoleNotFound},
		{"user attributes not JSON", "POST", svc + "/Users", form{"Identity": {"u4"}, "Attributes": {"{nope"}}, nil, 400, codeAttributesInvalid},
		{"user attributes too long", "POST", svc + "/Users", form{"Identity": {"u5"}, "Attributes": {`"` + strings.Repeat("a", maxAttributesLen) + `"`}}, nil, 400, codeAttributesTooLong},

		// Channels.
		{"channel unknown name", "GET", svc + "/Channels/no-such-channel", nil, nil, 404, codeChannelNotFound},
		{"channel unknown SID", "GET", svc + "/Channels/CH" + unknownHex, nil, nil, 404, codeChannelNotFound},
		{"channel unique name like SID", "POST", svc + "/Channels", form{"UniqueName": {"CH" + unknownHex}}, nil, 400, codeUniqueNameLooksLikeCH},
		{"channel unique name taken", "POST", svc + "/Channels", form{"UniqueName": {other}}, nil, 409, codeUniqueNameExists},
		{"channel friendly name too long", "POST", svc + "/Channels", form{"FriendlyName": {long(65)}}, nil, 400, codeFriendlyNameTooLong},
		{"channel unique name too long", "POST", svc + "/Channels", form{"UniqueName": {long(65)}}, nil, 400, codeUniqueNameTooLong},
		{"channel type unknown", "POST", svc + "/Channels", form{"Type": {"secret"}}, nil, 400, codeInvalidParameter},
		{"channel date created bad", "POST", svc + "/Channels", form{"DateCreated": {"yesterday"}}, nil, 400, codeDateCreatedInvalid},
		{"channel date updated bad", "POST", svc + "/Channels", form{"DateUpdated": {"2025-13-01T00:00:00Z"}}, nil, 400, codeDateUpdatedInvalid},
		{"channel date empty", "POST", svc + "/Channels", form{"DateCreated": {""}}, nil, 400, codeDateCreatedInvalid},
		{"channel attributes not JSON", "POST", svc + "/Channels", form{"Attributes": {"{'a':1}"}}, nil, 400, codeAttributesInvalid},
		{"channel webhook header bad", "POST", svc + "/Channels", form{}, []string{"X-Twilio-Webhook-Enabled", "yes"}, 400, codeInvalidParameter},
		{"channel webhook header twice", "POST", svc + "/Channels", form{}, []string{"X-Twilio-Webhook-Enabled", "true", "X-Twilio-Webhook-Enabled", "false"}, 400, codeInvalidParameter},
		{"channel update without parameters", "POST", ch, form{}, nil, 400, codeNoUpdateParameters},
		{"channel update type only", "POST", ch, form{"Type": {"private"}}, nil, 400, codeNoUpdateParameters},
		{"channel update to taken name", "POST", ch, form{"UniqueName": {other}}, nil, 409, codeUniqueNameExists},
		{"channel update name like SID", "POST", ch, form{"UniqueName": {"CH" + unknownHex}}, nil, 400, codeUniqueNameLooksLikeCH},
		{"channel update name too long", "POST", ch, form{"FriendlyName": {long(257)}}, nil, 400, codeFriendlyNameTooLong},
		{"channel update unknown", "POST", svc + "/Channels/nope", form{"FriendlyName": {"x"}}, nil, 404, codeChannelNotFound},
		{"channel delete unknown", "DELETE", svc + "/Channels/CH" + unknownHex, nil, nil, 404, codeChannelNotFound},
		{"channel delete webhook header bad", "DELETE", ch, nil, []string{"X-Twilio-Webhook-Enabled", "TRUE"}, 400, codeInvalidParameter},

		// Members.
		{"member unknown identity", "GET", ch + "/Members/nobody", nil, nil, 404, codeMemberNotFound},
		{"member unknown SID", "GET", ch + "/Members/MB" + unknownHex, nil, nil, 404, codeMemberNotFound},
		{"members of unknown channel", "GET", svc + "/Channels/nope/Members", nil, nil, 404, codeChannelNotFound},
		{"member without identity", "POST", ch + "/Members", form{}, nil, 400, codeIdentityMissing},
		{"member identity like SID", "POST", ch + "/Members", form{"Identity": {"US" + unknownHex}}, nil, 400, codeIdentityLooksLikeSID},
		{"member exists", "POST", ch + "/Members", form{"Identity": {str(member, "identity")}}, nil, 409, codeMemberExists},
		{"member given service role", "POST", ch + "/Members", form{"Identity": {"m1"}, "RoleSid": {serviceRole}}, nil, 400, codeChannelRoleNotFound},
		{"member role malformed", "POST", ch + "/Members", form{"Identity": {"m2"}, "RoleSid": {"RLxyz"}}, nil, 400, codeChannelRoleNotFound},
		{"member index negative", "POST", ch + "/Members", form{"Identity": {"m3"}, "LastConsumedMessageIndex": {"-1"}}, nil, 400, codeConsumedIndexInvalid},
		{"member index word", "POST", ch + "/Members", form{"Identity": {"m4"}, "LastConsumedMessageIndex": {"five"}}, nil, 400, codeConsumedIndexInvalid},
		{"member timestamp bad", "POST", ch + "/Members", form{"Identity": {"m5"}, "LastConsumptionTimestamp": {"2025-01-01 10:00"}}, nil, 400, codeConsumptionTSInvalid},
		{"member date created bad", "POST", ch + "/Members", form{"Identity": {"m6"}, "DateCreated": {"1700000000"}}, nil, 400, codeDateCreatedInvalid},
		{"member in unknown channel", "POST", svc + "/Channels/nope/Members", form{"Identity": {"m7"}}, nil, 404, codeChannelNotFound},
		{"member update without parameters", "POST", str(member, "url"), form{}, nil, 400, codeNoUpdateParameters},
		{"member update unknown", "POST", ch + "/Members/nobody", form{"Attributes": {"{}"}}, nil, 404, codeMemberNotFound},
		{"member update attributes bad", "POST", str(member, "url"), form{"Attributes": {"nope"}}, nil, 400, codeAttributesInvalid},
		{"member delete unknown", "DELETE", ch + "/Members/nobody", nil, nil, 404, codeMemberNotFound},

		// Messages.
		{"message unknown SID", "GET", ch + "/Messages/IM" + unknownHex, nil, nil, 404, codeMessageNotFound},
		{"message by index", "GET", ch + "/Messages/0", nil, nil, 404, codeMessageNotFound},
		{"message of other channel", "GET", str(chans[1], "url") + "/Messages/" + str(msg, "sid"), nil, nil, 404, codeMessageNotFound},
		{"messages of unknown channel", "GET", svc + "/Channels/nope/Messages", nil, nil, 404, codeChannelNotFound},
		{"message media SID short", "POST", ch + "/Messages", form{"MediaSid": {"ME123"}}, nil, 400, codeMediaSIDInvalid},
		{"message media SID wrong prefix", "POST", ch + "/Messages", form{"MediaSid": {"MB" + unknownHex}}, nil, 400, codeMediaSIDInvalid},
		{"message attributes not JSON", "POST", ch + "/Messages", form{"Attributes": {"[1,"}}, nil, 400, codeAttributesInvalid},
		{"message date created bad", "POST", ch + "/Messages", form{"DateCreated": {"2025-02-30T00:00:00Z"}}, nil, 400, codeDateCreatedInvalid},
		{"message date updated bad", "POST", ch + "/Messages", form{"DateUpdated": {"soon"}}, nil, 400, codeDateUpdatedInvalid},
		{"message in unknown channel", "POST", svc + "/Channels/nope/Messages", form{"Body": {"x"}}, nil, 404, codeChannelNotFound},
		{"message update without parameters", "POST", str(msg, "url"), form{}, nil, 400, codeNoUpdateParameters},
		{"message update media only", "POST", str(msg, "url"), form{"MediaSid": {"ME" + unknownHex}}, nil, 400, codeNoUpdateParameters},
		{"message update unknown", "POST", ch + "/Messages/IM" + unknownHex, form{"Body": {"x"}}, nil, 404, codeMessageNotFound},
		{"message update date bad", "POST", str(msg, "url"), form{"DateUpdated": {"x"}}, nil, 400, codeDateUpdatedInvalid},
		{"message delete unknown", "DELETE", ch + "/Messages/IM" + unknownHex, nil, nil, 404, codeMessageNotFound},
		{"message webhook header bad", "POST", ch + "/Messages", form{"Body": {"x"}}, []string{"X-Twilio-Webhook-Enabled", ""}, 400, codeInvalidParameter},
		{"message body too large", "POST", ch + "/Messages", form{"Body": {strings.Repeat("x", maxFormBytes)}}, nil, 413, codeInvalidParameter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.form, tc.header...)
			code, status := r.apiErr(t)
			if r.status != tc.status || status != tc.status || code != tc.code {
				t.Errorf("%s %s: HTTP %d, body status %d, code %d; want %d and code %d\n%s",
					tc.method, tc.path, r.status, status, code, tc.status, tc.code, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("405 without Allow header")
			}
		})
	}

	// None of the refused writes changed anything.
	after := c.channels(svc)
	if len(after) != len(chans) {
		t.Errorf("%d channels after refused writes, %d before", len(after), len(chans))
	}
	if got := c.mustJSON(200, "GET", ch, nil); num(got, "members_count") != num(chans[0], "members_count") || num(got, "messages_count") != num(chans[0], "messages_count") {
		t.Errorf("channel changed by refused writes: %v", got)
	}
	for _, id := range []string{"u1", "u2", "u3", "u4", "u5", "m1", "m3"} {
		if r := c.do("GET", svc+"/Users/"+id, nil); r.status != 404 {
			t.Errorf("user %s exists after a refused create", id)
		}
	}
}

func TestAuthentication(t *testing.T) {
	_, c := setup(t, testConfig())
	other, err := New(Config{Seed: 43})
	if err != nil {
		t.Fatal(err)
	}
	oi := other.Info()
	const want401 = `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`
	cases := []struct {
		name, user, pass string
	}{
		{"no credentials", "", ""},
		{"wrong token", c.info.AccountSID, strings.Repeat("0", 32)},
		{"token with extra character", c.info.AccountSID, c.info.AuthToken + "x"},
		{"token truncated", c.info.AccountSID, c.info.AuthToken[:31]},
		{"wrong account", oi.AccountSID, c.info.AuthToken},
		{"other emulator's credentials", oi.AccountSID, oi.AuthToken},
		{"token as user", c.info.AuthToken, c.info.AccountSID},
		{"API key", "SK" + strings.Repeat("a", 32), c.info.AuthToken},
		{"empty token", c.info.AccountSID, ""},
		{"account upper case", strings.ToUpper(c.info.AccountSID), c.info.AuthToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := *c
			cc.user, cc.pass = tc.user, tc.pass
			for _, path := range []string{"/v2/Services", c.svc0() + "/Channels", "/v2/Nope"} {
				r := cc.do("GET", path, nil)
				if r.status != 401 || string(r.body) != want401 {
					t.Errorf("GET %s: %d %s; want 401 %s", path, r.status, r.body, want401)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
			}
			if r := cc.do("POST", c.svc0()+"/Channels", url.Values{"UniqueName": {"sneaky"}}); r.status != 401 {
				t.Errorf("unauthenticated create: %d", r.status)
			}
		})
	}
	if r := c.do("GET", c.svc0()+"/Channels/sneaky", nil); r.status != 404 {
		t.Errorf("a channel was created without credentials: %d %s", r.status, r.body)
	}
	t.Run("right credentials", func(t *testing.T) {
		if r := c.do("GET", "/v2/Services", nil); r.status != 200 {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("token never echoed", func(t *testing.T) {
		cc := *c
		cc.pass = "secret-token-value"
		if r := cc.do("GET", "/v2/Services", nil); strings.Contains(string(r.body), "secret-token-value") || strings.Contains(string(r.body), c.info.AuthToken) {
			t.Errorf("401 body carries a token: %s", r.body)
		}
	})
	t.Run("stats need no credentials", func(t *testing.T) {
		cc := *c
		cc.user, cc.pass = "", ""
		if r := cc.do("GET", statsPath, nil); r.status != 200 {
			t.Errorf("stats without credentials: %d %s", r.status, r.body)
		}
	})
}

// TestErrorPrecedence sends requests with two problems each and checks the
// one answered is the earlier in the order doc.go gives.
func TestErrorPrecedence(t *testing.T) {
	_, c := setup(t, testConfig())
	cfg := fixedConfig() // the frozen clock never refills an allowance
	cfg.WriteRate = 1
	_, rc := setup(t, cfg)

	svc := c.svc0()
	chans := c.channels(svc)
	ch := str(chans[0], "url")
	taken := str(chans[1], "unique_name")
	if taken == "" {
		t.Fatal("the second seeded channel has no unique name to collide with")
	}
	member := c.listAll(ch + "/Members")[0]
	roles := c.listAll(svc + "/Roles")
	serviceRole, channelRole := str(roles[1], "sid"), str(roles[3], "sid")
	const unknownHex = "0123456789abcdef0123456789abcdef"
	noSvc := "/v2/Services/IS" + unknownHex

	// rc's first channel has spent its one write.
	rch := str(rc.channels(rc.svc0())[0], "url")
	rc.mustJSON(201, "POST", rch+"/Messages", url.Values{"Body": {"spends the allowance"}})

	type form = url.Values
	cases := []struct {
		name         string
		limited      bool // sent to rc, whose first channel is out of writes
		method, path string
		form         form
		status, code int
	}{
		{"service before paging", false, "GET", noSvc + "/Channels/nope/Messages?PageToken=XX", nil, 404, codeServiceNotFound},
		{"service before parameters", false, "POST", noSvc + "/Users", form{"Identity": {""}}, 404, codeServiceNotFound},
		{"paging before filter", false, "GET", ch + "/Messages?PageToken=XX&Order=sideways", nil, 400, codeInvalidPageToken},
		{"paging before channel type", false, "GET", svc + "/Channels?PageToken=XX&Type=secret", nil, 400, codeInvalidPageToken},
		{"paging before channel", false, "GET", svc + "/Channels/nope/Members?PageToken=XX", nil, 400, codeInvalidPageToken},
		{"filter before channel", false, "GET", svc + "/Channels/nope/Messages?Order=sideways", nil, 400, codeInvalidParameter},
		{"channel before member", false, "DELETE", svc + "/Channels/nope/Members/nobody", nil, 404, codeChannelNotFound},
		{"channel before parameters", false, "POST", svc + "/Channels/nope/Messages", form{"MediaSid": {"ME1"}}, 404, codeChannelNotFound},
		{"member before parameters", false, "POST", ch + "/Members/nobody", form{"LastConsumedMessageIndex": {"x"}}, 404, codeMemberNotFound},
		{"message before parameters", false, "POST", ch + "/Messages/IM" + unknownHex, form{"DateCreated": {"x"}}, 404, codeMessageNotFound},
		{"identity before role", false, "POST", svc + "/Users", form{"Identity": {""}, "RoleSid": {channelRole}}, 400, codeIdentityMissing},
		{"parameters before role", false, "POST", ch + "/Members", form{"Identity": {"p1"}, "RoleSid": {serviceRole}, "DateUpdated": {"x"}}, 400, codeDateUpdatedInvalid},
		{"parameters before member taken", false, "POST", ch + "/Members", form{"Identity": {str(member, "identity")}, "LastConsumedMessageIndex": {"-1"}}, 400, codeConsumedIndexInvalid},
		{"parameters before name taken", false, "POST", svc + "/Channels", form{"UniqueName": {taken}, "Attributes": {"{"}}, 400, codeAttributesInvalid},
		{"parameters before name taken on update", false, "POST", ch, form{"UniqueName": {taken}, "DateCreated": {"x"}}, 400, codeDateCreatedInvalid},
		{"channel before write rate", true, "POST", rc.svc0() + "/Channels/nope/Messages", form{}, 404, codeChannelNotFound},
		{"write rate before member", true, "DELETE", rch + "/Members/nobody", nil, 429, codeChannelRateExceeded},
		{"write rate before message", true, "POST", rch + "/Messages/IM" + unknownHex, form{"Body": {"x"}}, 429, codeChannelRateExceeded},
		{"write rate before parameters", true, "POST", rch + "/Members", form{"Identity": {""}}, 429, codeChannelRateExceeded},
		{"write rate before nothing to update", true, "POST", rch, form{}, 429, codeChannelRateExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := c
			if tc.limited {
				cl = rc
			}
			r := cl.do(tc.method, tc.path, tc.form)
			if code, _ := r.apiErr(t); r.status != tc.status || code != tc.code {
				t.Errorf("%s %s: %d code %d, want %d code %d\n%s", tc.method, tc.path, r.status, code, tc.status, tc.code, r.body)
			}
		})
	}
	t.Run("channel delete spends no write", func(t *testing.T) {
		if r := rc.do("DELETE", rch, nil); r.status != 204 {
			t.Errorf("delete of a channel out of writes: %d %s", r.status, r.body)
		}
	})
}

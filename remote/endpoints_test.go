package remote_test

import (
	"context"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

const (
	chanPath = "/v2/Services/" + svc + "/Channels/" + chSID
	// Unique names and identities are escaped as one path segment.
	namedChanPath = "/v2/Services/" + svc + "/Channels/team%2Fops%20room"
)

// plus2 is a time in a +02:00 zone with a fraction; it must go out in UTC,
// whole seconds.
var plus2 = time.Date(2021, 6, 1, 14, 30, 15, 999_000_000, time.FixedZone("CEST", 2*3600))

const plus2UTC = "2021-06-01T12:30:15Z"

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name    string
		call    func(ctx context.Context, c *remote.Client) (any, error)
		method  string
		path    string
		query   url.Values // exact; nil = none
		form    url.Values // exact; nil = none
		webhook string     // X-Twilio-Webhook-Enabled; "" = absent
		status  int
		body    string
		check   func(t *testing.T, v any)
	}{
		{
			name:   "list services",
			call:   func(ctx context.Context, c *remote.Client) (any, error) { return collect(c.ListServices(ctx)) },
			method: "GET", path: "/v2/Services", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("services", "", serviceJSON),
			check: func(t *testing.T, v any) {
				s := v.([]*remote.Service)
				if len(s) != 1 || s[0].SID != svc || s[0].FriendlyName != "Support" || string(s[0].Raw) != serviceJSON {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name:   "fetch service",
			call:   func(ctx context.Context, c *remote.Client) (any, error) { return c.FetchService(ctx, svc) },
			method: "GET", path: "/v2/Services/" + svc, status: 200, body: "\n" + serviceJSON + "\n",
			check: func(t *testing.T, v any) {
				s := v.(*remote.Service)
				want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
				if !s.DateCreated.Equal(want) || s.DefaultServiceRoleSID != rlSID || string(s.Raw) != serviceJSON {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "create service",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.CreateService(ctx, remote.ServiceParams{FriendlyName: "Restore target"})
			},
			method: "POST", path: "/v2/Services", form: url.Values{"FriendlyName": {"Restore target"}}, webhook: "false",
			status: 201, body: serviceJSON,
			check: func(t *testing.T, v any) {
				if v.(*remote.Service).SID != svc {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name:   "list roles",
			call:   func(ctx context.Context, c *remote.Client) (any, error) { return collect(c.ListRoles(ctx, svc)) },
			method: "GET", path: "/v2/Services/" + svc + "/Roles", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("roles", "", roleJSON),
			check: func(t *testing.T, v any) {
				r := v.([]*remote.Role)
				if len(r) != 1 || r[0].Type != "channel" || !reflect.DeepEqual(r[0].Permissions, []string{"sendMessage", "leaveChannel"}) || !r[0].DateUpdated.IsZero() {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name:   "list users",
			call:   func(ctx context.Context, c *remote.Client) (any, error) { return collect(c.ListUsers(ctx, svc)) },
			method: "GET", path: "/v2/Services/" + svc + "/Users", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("users", "", userJSON, userJSON),
			check: func(t *testing.T, v any) {
				u := v.([]*remote.User)
				if len(u) != 2 || u[1].Identity != "alice" || u[1].FriendlyName != "" || string(u[1].Raw) != userJSON {
					t.Errorf("got %+v", u)
				}
			},
		},
		{
			name:   "fetch user by identity",
			call:   func(ctx context.Context, c *remote.Client) (any, error) { return c.FetchUser(ctx, svc, "a b?c") },
			method: "GET", path: "/v2/Services/" + svc + "/Users/a%20b%3Fc", status: 200, body: userJSON,
			check: func(t *testing.T, v any) {
				if v.(*remote.User).SID != usSID {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name: "create user",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.CreateUser(ctx, svc, remote.UserParams{Identity: "alice", RoleSID: ptr(rlSID), Attributes: ptr(""), FriendlyName: ptr("Alice")})
			},
			method: "POST", path: "/v2/Services/" + svc + "/Users", webhook: "false",
			form:   url.Values{"Identity": {"alice"}, "RoleSid": {rlSID}, "Attributes": {""}, "FriendlyName": {"Alice"}},
			status: 201, body: userJSON,
			check: func(t *testing.T, v any) {
				if v.(*remote.User).Identity != "alice" {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name:   "list channels of both types by default",
			call:   func(ctx context.Context, c *remote.Client) (any, error) { return collect(c.ListChannels(ctx, svc)) },
			method: "GET", path: "/v2/Services/" + svc + "/Channels",
			query:  url.Values{"PageSize": {"100"}, "Type": {"public", "private"}},
			status: 200, body: page("channels", "", channelJSON),
			check: func(t *testing.T, v any) {
				ch := v.([]*remote.Channel)
				if len(ch) != 1 || ch[0].UniqueName != "team/ops" || ch[0].MessagesCount != 5 || string(ch[0].Raw) != channelJSON {
					t.Errorf("got %+v", ch)
				}
			},
		},
		{
			name: "list private channels only",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return collect(c.ListChannels(ctx, svc, "private"))
			},
			method: "GET", path: "/v2/Services/" + svc + "/Channels",
			query:  url.Values{"PageSize": {"100"}, "Type": {"private"}},
			status: 200, body: page("channels", ""),
			check: func(t *testing.T, v any) {
				if len(v.([]*remote.Channel)) != 0 {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name: "fetch channel by unique name",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.FetchChannel(ctx, svc, "team/ops room")
			},
			method: "GET", path: namedChanPath, status: 200, body: channelJSON,
			check: func(t *testing.T, v any) {
				ch := v.(*remote.Channel)
				if ch.SID != chSID || ch.Type != "private" || ch.CreatedBy != "system" || ch.Attributes != `{"a":1}` {
					t.Errorf("got %+v", ch)
				}
			},
		},
		{
			name: "create channel with every parameter",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.CreateChannel(ctx, svc, remote.ChannelParams{
					FriendlyName: ptr("Ops"), UniqueName: ptr("team/ops"), Attributes: ptr("{}"), Type: "private",
					CreatedBy: ptr("alice"), DateCreated: ptr(plus2), DateUpdated: ptr(plus2.Add(time.Hour)),
				})
			},
			method: "POST", path: "/v2/Services/" + svc + "/Channels", webhook: "false",
			form: url.Values{"FriendlyName": {"Ops"}, "UniqueName": {"team/ops"}, "Attributes": {"{}"}, "Type": {"private"},
				"CreatedBy": {"alice"}, "DateCreated": {plus2UTC}, "DateUpdated": {"2021-06-01T13:30:15Z"}},
			status: 201, body: channelJSON,
			check: func(t *testing.T, v any) {
				if v.(*remote.Channel).SID != chSID {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name: "create channel with defaults sends nothing",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.CreateChannel(ctx, svc, remote.ChannelParams{})
			},
			method: "POST", path: "/v2/Services/" + svc + "/Channels", webhook: "false", form: url.Values{},
			status: 201, body: channelJSON,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "update channel omits type",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.UpdateChannel(ctx, svc, "team/ops room", remote.ChannelParams{FriendlyName: ptr(""), Type: "public", DateUpdated: ptr(plus2)})
			},
			method: "POST", path: namedChanPath, webhook: "false",
			form:   url.Values{"FriendlyName": {""}, "DateUpdated": {plus2UTC}},
			status: 200, body: channelJSON,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "delete channel",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return nil, c.DeleteChannel(ctx, svc, chSID)
			},
			method: "DELETE", path: chanPath, webhook: "false", status: 204,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "list members",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return collect(c.ListMembers(ctx, svc, chSID, remote.ListOptions{PageSize: 20}))
			},
			method: "GET", path: chanPath + "/Members", query: url.Values{"PageSize": {"20"}},
			status: 200, body: page("members", "", memberJSON),
			check: func(t *testing.T, v any) {
				m := v.([]*remote.Member)
				ts := time.Date(2020, 1, 3, 0, 0, 0, 0, time.UTC)
				if len(m) != 1 || m[0].LastConsumedMessageIndex == nil || *m[0].LastConsumedMessageIndex != 4 ||
					m[0].LastConsumptionTimestamp == nil || !m[0].LastConsumptionTimestamp.Equal(ts) || string(m[0].Raw) != memberJSON {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "members page",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.MembersPage(ctx, svc, "team/ops room", remote.ListOptions{}, "")
			},
			method: "GET", path: namedChanPath + "/Members", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("members", "", memberJSON),
			check: func(t *testing.T, v any) {
				p := v.(*remote.Page[*remote.Member])
				if len(p.Items) != 1 || p.NextPageURL != "" {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "fetch member by identity",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.FetchMember(ctx, svc, chSID, "a b?c")
			},
			method: "GET", path: chanPath + "/Members/a%20b%3Fc", status: 200, body: memberJSON,
			check: func(t *testing.T, v any) {
				if v.(*remote.Member).Identity != "a b?c" {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name: "create member with every parameter",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.CreateMember(ctx, svc, chSID, remote.MemberParams{
					Identity: "alice", RoleSID: ptr(rlSID), Attributes: ptr("{}"), LastConsumedMessageIndex: ptr(0),
					LastConsumptionTimestamp: ptr(plus2), DateCreated: ptr(plus2), DateUpdated: ptr(plus2),
				})
			},
			method: "POST", path: chanPath + "/Members", webhook: "false",
			form: url.Values{"Identity": {"alice"}, "RoleSid": {rlSID}, "Attributes": {"{}"}, "LastConsumedMessageIndex": {"0"},
				"LastConsumptionTimestamp": {plus2UTC}, "DateCreated": {plus2UTC}, "DateUpdated": {plus2UTC}},
			status: 201, body: memberJSON,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "update member omits identity",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.UpdateMember(ctx, svc, chSID, mbSID, remote.MemberParams{Identity: "ignored", LastConsumedMessageIndex: ptr(9)})
			},
			method: "POST", path: chanPath + "/Members/" + mbSID, webhook: "false",
			form:   url.Values{"LastConsumedMessageIndex": {"9"}},
			status: 200, body: memberJSON,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "delete member",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return nil, c.DeleteMember(ctx, svc, chSID, "a b?c")
			},
			method: "DELETE", path: chanPath + "/Members/a%20b%3Fc", webhook: "false", status: 204,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "delete user",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return nil, c.DeleteUser(ctx, svc, "a b?c")
			},
			method: "DELETE", path: "/v2/Services/" + svc + "/Users/a%20b%3Fc", webhook: "false", status: 204,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "list messages descending",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return collect(c.ListMessages(ctx, svc, chSID, remote.ListOptions{PageSize: 7, Order: "desc"}))
			},
			method: "GET", path: chanPath + "/Messages", query: url.Values{"PageSize": {"7"}, "Order": {"desc"}},
			status: 200, body: page("messages", "", messageJSON),
			check: func(t *testing.T, v any) {
				m := v.([]*remote.Message)
				if len(m) != 1 || m[0].Body != "héllo 👋" || m[0].Index != 7 || m[0].Media == nil || m[0].Media.Size != 12 ||
					!m[0].WasEdited || string(m[0].Raw) != messageJSON {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "messages page ascending",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.MessagesPage(ctx, svc, chSID, remote.ListOptions{Order: "asc"}, "")
			},
			method: "GET", path: chanPath + "/Messages", query: url.Values{"PageSize": {"100"}, "Order": {"asc"}},
			status: 200, body: page("messages", "", messageJSON),
			check: func(t *testing.T, v any) {
				if p := v.(*remote.Page[*remote.Message]); len(p.Items) != 1 {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "fetch message",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.FetchMessage(ctx, svc, chSID, imSID)
			},
			method: "GET", path: chanPath + "/Messages/" + imSID, status: 200, body: messageJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Message); m.LastUpdatedBy != "bob" || m.Media.ContentType != "image/png" {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "create message with every parameter",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.CreateMessage(ctx, svc, "team/ops room", remote.MessageParams{
					From: ptr("alice"), Body: ptr(""), Attributes: ptr(`{"k":"v"}`), LastUpdatedBy: ptr("bob"),
					MediaSID: ptr("ME0123456789abcdef0123456789abcdef"), DateCreated: ptr(plus2), DateUpdated: ptr(plus2),
				})
			},
			method: "POST", path: namedChanPath + "/Messages", webhook: "false",
			form: url.Values{"From": {"alice"}, "Body": {""}, "Attributes": {`{"k":"v"}`}, "LastUpdatedBy": {"bob"},
				"MediaSid": {"ME0123456789abcdef0123456789abcdef"}, "DateCreated": {plus2UTC}, "DateUpdated": {plus2UTC}},
			status: 201, body: messageJSON,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "update message omits media",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return c.UpdateMessage(ctx, svc, chSID, imSID, remote.MessageParams{Body: ptr("edited"), MediaSID: ptr("ME1")})
			},
			method: "POST", path: chanPath + "/Messages/" + imSID, webhook: "false",
			form:   url.Values{"Body": {"edited"}},
			status: 200, body: messageJSON,
			check: func(t *testing.T, v any) {},
		},
		{
			name: "delete message",
			call: func(ctx context.Context, c *remote.Client) (any, error) {
				return nil, c.DeleteMessage(ctx, svc, chSID, imSID)
			},
			method: "DELETE", path: chanPath + "/Messages/" + imSID, webhook: "false", status: 204,
			check: func(t *testing.T, v any) {},
		},
	}
	wantUA := "chatvault/" + remote.DefaultVersion + " (go; " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			f.handle(reply(tt.status, tt.body))
			v, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			tt.check(t, v)
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", r.Method, r.Path, tt.method, tt.path)
			}
			if len(tt.query) == 0 && r.RawQuery != "" || len(tt.query) > 0 && !reflect.DeepEqual(r.Query, tt.query) {
				t.Errorf("query = %v, want %v", r.Query, tt.query)
			}
			if len(tt.form) == 0 && len(r.Form) != 0 || len(tt.form) > 0 && !reflect.DeepEqual(r.Form, tt.form) {
				t.Errorf("form = %v, want %v", r.Form, tt.form)
			}
			if got := r.Header.Get("X-Twilio-Webhook-Enabled"); got != tt.webhook {
				t.Errorf("X-Twilio-Webhook-Enabled = %q, want %q", got, tt.webhook)
			}
			if !r.HasAuth || r.User != acct || r.Pass != token {
				t.Errorf("basic auth = %v %q, want the account SID and auth token", r.HasAuth, r.User)
			}
			if got := r.Header.Get("User-Agent"); got != wantUA {
				t.Errorf("User-Agent = %q, want %q", got, wantUA)
			}
			if tt.method == "POST" && r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			if got := c.Requests(); got != 1 {
				t.Errorf("Requests() = %d, want 1", got)
			}
			wantWrites := int64(0)
			if tt.method != "GET" {
				wantWrites = 1
			}
			if got := c.Writes(); got != wantWrites {
				t.Errorf("Writes() = %d, want %d", got, wantWrites)
			}
		})
	}
}

// TestEndpointBadInput checks that malformed arguments are refused before
// any request is sent, with a message naming what is wrong.
func TestEndpointBadInput(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, c *remote.Client) error
		want string
	}{
		{"fetch service empty", func(ctx context.Context, c *remote.Client) error { _, err := c.FetchService(ctx, ""); return err }, "service is empty"},
		{"create service without name", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateService(ctx, remote.ServiceParams{})
			return err
		}, "friendly name is empty"},
		{"list roles empty service", func(ctx context.Context, c *remote.Client) error { _, err := collect(c.ListRoles(ctx, "")); return err }, "list roles: service is empty"},
		{"list users empty service", func(ctx context.Context, c *remote.Client) error { _, err := collect(c.ListUsers(ctx, "")); return err }, "list users: service is empty"},
		{"delete user empty", func(ctx context.Context, c *remote.Client) error { return c.DeleteUser(ctx, svc, "") }, "delete user: user is empty"},
		{"delete user empty service", func(ctx context.Context, c *remote.Client) error { return c.DeleteUser(ctx, "", "alice") }, "delete user: service is empty"},
		{"fetch user empty", func(ctx context.Context, c *remote.Client) error { _, err := c.FetchUser(ctx, svc, ""); return err }, "user is empty"},
		{"create user without identity", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateUser(ctx, svc, remote.UserParams{})
			return err
		}, "identity is empty"},
		{"list channels bad type", func(ctx context.Context, c *remote.Client) error {
			_, err := collect(c.ListChannels(ctx, svc, "secret"))
			return err
		}, `channel type "secret" is not valid`},
		{"channels page bad type", func(ctx context.Context, c *remote.Client) error {
			_, err := c.ChannelsPage(ctx, svc, "", "Public")
			return err
		}, `channel type "Public"`},
		{"fetch channel dot-dot", func(ctx context.Context, c *remote.Client) error {
			_, err := c.FetchChannel(ctx, svc, "..")
			return err
		}, "cannot be used in a URL path"},
		{"fetch channel empty", func(ctx context.Context, c *remote.Client) error { _, err := c.FetchChannel(ctx, svc, ""); return err }, "channel is empty"},
		{"create channel bad type", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateChannel(ctx, svc, remote.ChannelParams{Type: "hidden"})
			return err
		}, `channel type "hidden"`},
		{"update channel empty", func(ctx context.Context, c *remote.Client) error {
			_, err := c.UpdateChannel(ctx, svc, "", remote.ChannelParams{})
			return err
		}, "update channel: channel is empty"},
		{"delete channel empty service", func(ctx context.Context, c *remote.Client) error { return c.DeleteChannel(ctx, "", chSID) }, "delete channel: service is empty"},
		{"list members with order", func(ctx context.Context, c *remote.Client) error {
			_, err := collect(c.ListMembers(ctx, svc, chSID, remote.ListOptions{Order: "desc"}))
			return err
		}, "only messages can be listed in an order"},
		{"members page size too big", func(ctx context.Context, c *remote.Client) error {
			_, err := c.MembersPage(ctx, svc, chSID, remote.ListOptions{PageSize: 101}, "")
			return err
		}, "page size 101 is out of range"},
		{"fetch member empty", func(ctx context.Context, c *remote.Client) error {
			_, err := c.FetchMember(ctx, svc, chSID, "")
			return err
		}, "member is empty"},
		{"create member without identity", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateMember(ctx, svc, chSID, remote.MemberParams{})
			return err
		}, "member identity is empty"},
		{"update member empty channel", func(ctx context.Context, c *remote.Client) error {
			_, err := c.UpdateMember(ctx, svc, "", mbSID, remote.MemberParams{})
			return err
		}, "channel is empty"},
		{"delete member dot", func(ctx context.Context, c *remote.Client) error { return c.DeleteMember(ctx, svc, chSID, ".") }, "cannot be used"},
		{"list messages negative page size", func(ctx context.Context, c *remote.Client) error {
			_, err := collect(c.ListMessages(ctx, svc, chSID, remote.ListOptions{PageSize: -1}))
			return err
		}, "page size -1 is out of range"},
		{"list messages bad order", func(ctx context.Context, c *remote.Client) error {
			_, err := collect(c.ListMessages(ctx, svc, chSID, remote.ListOptions{Order: "ASC"}))
			return err
		}, `order "ASC" is not valid`},
		{"messages page empty channel", func(ctx context.Context, c *remote.Client) error {
			_, err := c.MessagesPage(ctx, svc, "", remote.ListOptions{}, "")
			return err
		}, "list messages: channel is empty"},
		{"fetch message empty", func(ctx context.Context, c *remote.Client) error {
			_, err := c.FetchMessage(ctx, svc, chSID, "")
			return err
		}, "message is empty"},
		{"create message empty service", func(ctx context.Context, c *remote.Client) error {
			_, err := c.CreateMessage(ctx, "", chSID, remote.MessageParams{})
			return err
		}, "create message: service is empty"},
		{"update message empty", func(ctx context.Context, c *remote.Client) error {
			_, err := c.UpdateMessage(ctx, svc, chSID, "", remote.MessageParams{})
			return err
		}, "update message: message is empty"},
		{"delete message empty", func(ctx context.Context, c *remote.Client) error { return c.DeleteMessage(ctx, svc, chSID, "") }, "delete message: message is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			err := tt.call(t.Context(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if n := f.count(); n != 0 || c.Requests() != 0 {
				t.Errorf("%d requests sent (client counted %d), want none", n, c.Requests())
			}
		})
	}
}

func TestWebhooksEnabled(t *testing.T) {
	tests := []struct {
		name string
		opts []remote.Option
		want string
	}{
		{"default off", nil, "false"},
		{"explicitly off", []remote.Option{remote.WithWebhooks(false)}, "false"},
		{"on", []remote.Option{remote.WithWebhooks(true)}, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, tt.opts...)
			f.handle(reply(204, ""))
			must(t, c.DeleteMessage(t.Context(), svc, chSID, imSID))
			f.handle(reply(201, messageJSON))
			_, err := c.CreateMessage(t.Context(), svc, chSID, remote.MessageParams{Body: ptr("x")})
			must(t, err)
			f.handle(reply(200, messageJSON))
			_, err = c.FetchMessage(t.Context(), svc, chSID, imSID)
			must(t, err)
			reqs := f.requests()
			for _, r := range reqs[:2] {
				if got := r.Header.Get("X-Twilio-Webhook-Enabled"); got != tt.want {
					t.Errorf("%s: header = %q, want %q", r.Method, got, tt.want)
				}
			}
			if _, ok := reqs[2].Header["X-Twilio-Webhook-Enabled"]; ok {
				t.Errorf("GET carries X-Twilio-Webhook-Enabled")
			}
		})
	}
}

func TestAPIKeyAuthAndBasePath(t *testing.T) {
	f := &fakeAPI{}
	srv := newServer(t, f)
	c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token, APIKey: apiKey, APISecret: secret},
		remote.WithBaseURL(srv+"/proxy/"))
	must(t, err)
	f.handle(reply(200, serviceJSON))
	_, err = c.FetchService(t.Context(), svc)
	must(t, err)
	r := f.requests()[0]
	if r.User != apiKey || r.Pass != secret {
		t.Errorf("basic auth user = %q, want the API key and its secret", r.User)
	}
	if r.Path != "/proxy/v2/Services/"+svc {
		t.Errorf("path = %q, want the base path kept", r.Path)
	}
}

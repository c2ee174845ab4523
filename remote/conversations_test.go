package remote_test

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// The methods backup.Source and restore.Target need (remote cannot import
// them), and the rest of the Chat method set the Conversations view mirrors.
type (
	backupSource interface {
		FetchService(ctx context.Context, sid string) (*remote.Service, error)
		ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error]
		ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error]
		FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error)
		ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error]
		MessagesPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error)
		ListMessages(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Message, error]
		Requests() int64
	}
	restoreTarget interface {
		ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error]
		ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error]
		FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error)
		CreateChannel(ctx context.Context, service string, p remote.ChannelParams) (*remote.Channel, error)
		ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error]
		FetchMember(ctx context.Context, service, channel, sidOrIdentity string) (*remote.Member, error)
		CreateMember(ctx context.Context, service, channel string, p remote.MemberParams) (*remote.Member, error)
		UpdateMember(ctx context.Context, service, channel, member string, p remote.MemberParams) (*remote.Member, error)
		MessagesPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error)
		CreateMessage(ctx context.Context, service, channel string, p remote.MessageParams) (*remote.Message, error)
		Requests() int64
	}
	bothAPIs interface {
		backupSource
		restoreTarget
		ListUsers(ctx context.Context, service string) iter.Seq2[*remote.User, error]
		FetchUser(ctx context.Context, service, sidOrIdentity string) (*remote.User, error)
		CreateUser(ctx context.Context, service string, p remote.UserParams) (*remote.User, error)
		UpdateUser(ctx context.Context, service, user string, p remote.UserParams) (*remote.User, error)
		DeleteUser(ctx context.Context, service, user string) error
		ChannelsPage(ctx context.Context, service string, pageURL string, types ...string) (*remote.Page[*remote.Channel], error)
		UpdateChannel(ctx context.Context, service, channel string, p remote.ChannelParams) (*remote.Channel, error)
		DeleteChannel(ctx context.Context, service, channel string) error
		MembersPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Member], error)
		DeleteMember(ctx context.Context, service, channel, member string) error
		FetchMessage(ctx context.Context, service, channel, sid string) (*remote.Message, error)
		UpdateMessage(ctx context.Context, service, channel, sid string, p remote.MessageParams) (*remote.Message, error)
		DeleteMessage(ctx context.Context, service, channel, sid string) error
		Writes() int64
		BaseURL() string
	}
)

var (
	_ bothAPIs = (*remote.Client)(nil)
	_ bothAPIs = (*remote.Conversations)(nil)
)

// Conversations objects shaped as the Conversations v1 spec shapes them,
// each with a field neither API documents, so Raw must keep it.
const (
	convPath = "/v1/Services/" + svc + "/Conversations/" + chSID
	meSID    = "ME0123456789abcdef0123456789abcdef"
	me2SID   = "ME00000000000000000000000000000002"

	convServiceJSON      = `{"account_sid":"` + acct + `","sid":"` + svc + `","friendly_name":"Support","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:06Z","url":"https://conversations.twilio.com/v1/Services/` + svc + `","links":{"conversations":"c"},"region":"us1"}`
	convRoleJSON         = `{"sid":"` + rlSID + `","account_sid":"` + acct + `","chat_service_sid":"` + svc + `","friendly_name":"Conversation User","type":"conversation","permissions":["sendMessage"],"date_created":"2020-01-02T03:04:05Z","date_updated":null,"url":"u","x":1}`
	convUserJSON         = `{"sid":"` + usSID + `","account_sid":"` + acct + `","chat_service_sid":"` + svc + `","role_sid":"` + rlSID + `","identity":"alice","friendly_name":null,"attributes":"{}","is_online":true,"is_notifiable":null,"date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:05Z","url":"u","links":{"user_conversations":"x"},"x":2}`
	convConversationJSON = `{"account_sid":"` + acct + `","chat_service_sid":"` + svc + `","messaging_service_sid":"MG0123456789abcdef0123456789abcdef","sid":"` + chSID + `","friendly_name":"Ops","unique_name":"team/ops","attributes":"{\"a\":1}","state":"inactive","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:06Z","timers":{"date_inactive":"2020-02-01T00:00:00Z"},"url":"u","links":{"participants":"p"},"bindings":null,"x":3}`
	convParticipantJSON  = `{"account_sid":"` + acct + `","chat_service_sid":"` + svc + `","conversation_sid":"` + chSID + `","sid":"` + mbSID + `","identity":"a b?c","attributes":"{}","messaging_binding":null,"role_sid":"` + rlSID + `","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:05Z","url":"u","last_read_message_index":4,"last_read_timestamp":"2020-01-03T00:00:00Z","x":4}`
	convMessageJSON      = `{"account_sid":"` + acct + `","chat_service_sid":"` + svc + `","conversation_sid":"` + chSID + `","sid":"` + imSID + `","index":7,"author":"alice","body":"h\u00e9llo","media":[{"sid":"` + meSID + `","size":12,"content_type":"image/png","filename":"a.png"},{"sid":"` + me2SID + `","size":3,"content_type":"text/plain","filename":"b.txt"}],"attributes":"{}","participant_sid":"` + mbSID + `","date_created":"2020-01-02T03:04:05Z","date_updated":"2020-01-02T03:04:09Z","delivery":null,"url":"u","links":{"delivery_receipts":"r"},"content_sid":null,"subject":"hi"}`
)

// setupConversations starts a fake Conversations API and a fake Chat API,
// and a client whose Conversations view points at the first.
func setupConversations(t *testing.T, opts ...remote.Option) (*remote.Client, *remote.Conversations, *fakeAPI, *fakeAPI) {
	t.Helper()
	chat, conv := &fakeAPI{}, &fakeAPI{}
	chat.url, conv.url = newServer(t, chat), newServer(t, conv)
	c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token},
		append([]remote.Option{remote.WithBaseURL(chat.url), remote.WithConversationsURL(conv.url), remote.WithSleep(conv.sleep)}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, c.Conversations(), conv, chat
}

func TestConversationsEndpoints(t *testing.T) {
	created := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		call   func(ctx context.Context, v *remote.Conversations) (any, error)
		method string
		path   string
		query  url.Values // exact; nil = none
		form   url.Values // exact; nil = none
		status int
		body   string
		check  func(t *testing.T, v any)
	}{
		{
			name:   "fetch service",
			call:   func(ctx context.Context, v *remote.Conversations) (any, error) { return v.FetchService(ctx, svc) },
			method: "GET", path: "/v1/Services/" + svc, status: 200, body: convServiceJSON,
			check: func(t *testing.T, v any) {
				s := v.(*remote.Service)
				if s.SID != svc || s.FriendlyName != "Support" || !s.DateCreated.Equal(created) || string(s.Raw) != convServiceJSON {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name:   "list roles",
			call:   func(ctx context.Context, v *remote.Conversations) (any, error) { return collect(v.ListRoles(ctx, svc)) },
			method: "GET", path: "/v1/Services/" + svc + "/Roles", query: url.Values{"PageSize": {"50"}}, // Conversations' largest page of roles
			status: 200, body: page("roles", "", convRoleJSON),
			check: func(t *testing.T, v any) {
				r := v.([]*remote.Role)
				if len(r) != 1 || r[0].Type != "channel" || r[0].ServiceSID != svc || r[0].Permissions[0] != "sendMessage" || string(r[0].Raw) != convRoleJSON {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name:   "list users",
			call:   func(ctx context.Context, v *remote.Conversations) (any, error) { return collect(v.ListUsers(ctx, svc)) },
			method: "GET", path: "/v1/Services/" + svc + "/Users", query: url.Values{"PageSize": {"50"}}, // Conversations' largest page of users
			status: 200, body: page("users", "", convUserJSON),
			check: func(t *testing.T, v any) {
				u := v.([]*remote.User)
				if len(u) != 1 || u[0].Identity != "alice" || u[0].ServiceSID != svc || u[0].RoleSID != rlSID || string(u[0].Raw) != convUserJSON {
					t.Errorf("got %+v", u)
				}
			},
		},
		{
			name:   "fetch user by identity",
			call:   func(ctx context.Context, v *remote.Conversations) (any, error) { return v.FetchUser(ctx, svc, "a b?c") },
			method: "GET", path: "/v1/Services/" + svc + "/Users/a%20b%3Fc", status: 200, body: convUserJSON,
			check: func(t *testing.T, v any) {
				if u := v.(*remote.User); u.SID != usSID {
					t.Errorf("got %+v", u)
				}
			},
		},
		{
			name: "create user",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.CreateUser(ctx, svc, remote.UserParams{Identity: "alice", RoleSID: ptr(rlSID), Attributes: ptr("{}"), FriendlyName: ptr("Alice")})
			},
			method: "POST", path: "/v1/Services/" + svc + "/Users",
			form:   url.Values{"Identity": {"alice"}, "RoleSid": {rlSID}, "Attributes": {"{}"}, "FriendlyName": {"Alice"}},
			status: 201, body: convUserJSON,
			check: func(t *testing.T, v any) {
				if u := v.(*remote.User); u.SID != usSID {
					t.Errorf("got %+v", u)
				}
			},
		},
		{
			name: "update user",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.UpdateUser(ctx, svc, "alice", remote.UserParams{Identity: "ignored", FriendlyName: ptr("Alice")})
			},
			method: "POST", path: "/v1/Services/" + svc + "/Users/alice", form: url.Values{"FriendlyName": {"Alice"}},
			status: 200, body: convUserJSON,
			check: func(t *testing.T, v any) {
				if u := v.(*remote.User); u.Identity != "alice" {
					t.Errorf("got %+v", u)
				}
			},
		},
		{
			name: "list channels sends no type",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return collect(v.ListChannels(ctx, svc, "public"))
			},
			method: "GET", path: "/v1/Services/" + svc + "/Conversations", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("conversations", "", convConversationJSON),
			check: func(t *testing.T, v any) {
				c := v.([]*remote.Channel)
				if len(c) != 1 || c[0].Type != "private" || c[0].ServiceSID != svc || c[0].UniqueName != "team/ops" ||
					c[0].Attributes != `{"a":1}` || string(c[0].Raw) != convConversationJSON {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "channels page",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.ChannelsPage(ctx, svc, "")
			},
			method: "GET", path: "/v1/Services/" + svc + "/Conversations", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("conversations", "", convConversationJSON),
			check: func(t *testing.T, v any) {
				p := v.(*remote.Page[*remote.Channel])
				if len(p.Items) != 1 || p.NextPageURL != "" || p.Items[0].SID != chSID {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "fetch channel by unique name",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.FetchChannel(ctx, svc, "team/ops room")
			},
			method: "GET", path: "/v1/Services/" + svc + "/Conversations/team%2Fops%20room", status: 200, body: convConversationJSON,
			check: func(t *testing.T, v any) {
				if c := v.(*remote.Channel); c.SID != chSID || c.FriendlyName != "Ops" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "create channel drops type and creator",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.CreateChannel(ctx, svc, remote.ChannelParams{
					FriendlyName: ptr("Ops"), UniqueName: ptr("team/ops"), Attributes: ptr(`{"a":1}`),
					Type: "public", CreatedBy: ptr("system"), DateCreated: &plus2, DateUpdated: &plus2,
				})
			},
			method: "POST", path: "/v1/Services/" + svc + "/Conversations",
			form: url.Values{"FriendlyName": {"Ops"}, "UniqueName": {"team/ops"}, "Attributes": {`{"a":1}`},
				"DateCreated": {plus2UTC}, "DateUpdated": {plus2UTC}},
			status: 201, body: convConversationJSON,
			check: func(t *testing.T, v any) {
				if c := v.(*remote.Channel); c.SID != chSID || c.Type != "private" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "update channel",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.UpdateChannel(ctx, svc, chSID, remote.ChannelParams{FriendlyName: ptr("Ops 2"), Type: "private"})
			},
			method: "POST", path: convPath, form: url.Values{"FriendlyName": {"Ops 2"}},
			status: 200, body: convConversationJSON,
			check: func(t *testing.T, v any) {
				if c := v.(*remote.Channel); c.SID != chSID {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "delete channel",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return nil, v.DeleteChannel(ctx, svc, chSID)
			},
			method: "DELETE", path: convPath, status: 204, check: func(*testing.T, any) {},
		},
		{
			name: "list members",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return collect(v.ListMembers(ctx, svc, chSID, remote.ListOptions{}))
			},
			method: "GET", path: convPath + "/Participants", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("participants", "", convParticipantJSON),
			check: func(t *testing.T, v any) {
				m := v.([]*remote.Member)
				want := time.Date(2020, 1, 3, 0, 0, 0, 0, time.UTC)
				if len(m) != 1 || m[0].ChannelSID != chSID || m[0].ServiceSID != svc || m[0].Identity != "a b?c" ||
					m[0].LastConsumedMessageIndex == nil || *m[0].LastConsumedMessageIndex != 4 ||
					m[0].LastConsumptionTimestamp == nil || !m[0].LastConsumptionTimestamp.Equal(want) || string(m[0].Raw) != convParticipantJSON {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "members page",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.MembersPage(ctx, svc, chSID, remote.ListOptions{PageSize: 20}, "")
			},
			method: "GET", path: convPath + "/Participants", query: url.Values{"PageSize": {"20"}},
			status: 200, body: page("participants", "", convParticipantJSON),
			check: func(t *testing.T, v any) {
				if p := v.(*remote.Page[*remote.Member]); len(p.Items) != 1 || p.Items[0].SID != mbSID {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "fetch member by identity",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.FetchMember(ctx, svc, chSID, "a b?c")
			},
			method: "GET", path: convPath + "/Participants/a%20b%3Fc", status: 200, body: convParticipantJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Member); m.SID != mbSID {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "create member leaves the read horizon to update",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.CreateMember(ctx, svc, chSID, remote.MemberParams{
					Identity: "a b?c", RoleSID: ptr(rlSID), Attributes: ptr("{}"),
					LastConsumedMessageIndex: ptr(4), LastConsumptionTimestamp: &plus2, DateCreated: &plus2, DateUpdated: &plus2,
				})
			},
			method: "POST", path: convPath + "/Participants",
			form: url.Values{"Identity": {"a b?c"}, "RoleSid": {rlSID}, "Attributes": {"{}"},
				"DateCreated": {plus2UTC}, "DateUpdated": {plus2UTC}},
			status: 201, body: convParticipantJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Member); m.SID != mbSID {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "update member sets the read horizon",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.UpdateMember(ctx, svc, chSID, mbSID, remote.MemberParams{
					Identity: "ignored", LastConsumedMessageIndex: ptr(4), LastConsumptionTimestamp: &plus2, DateUpdated: &plus2,
				})
			},
			method: "POST", path: convPath + "/Participants/" + mbSID,
			form:   url.Values{"LastReadMessageIndex": {"4"}, "LastReadTimestamp": {plus2UTC}, "DateUpdated": {plus2UTC}},
			status: 200, body: convParticipantJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Member); m.SID != mbSID {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "delete member",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return nil, v.DeleteMember(ctx, svc, chSID, "a b?c")
			},
			method: "DELETE", path: convPath + "/Participants/a%20b%3Fc", status: 204, check: func(*testing.T, any) {},
		},
		{
			name: "list messages",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return collect(v.ListMessages(ctx, svc, chSID, remote.ListOptions{}))
			},
			method: "GET", path: convPath + "/Messages", query: url.Values{"PageSize": {"100"}},
			status: 200, body: page("messages", "", convMessageJSON),
			check: func(t *testing.T, v any) {
				m := v.([]*remote.Message)
				if len(m) != 1 || m[0].From != "alice" || m[0].Body != "héllo" || m[0].Index != 7 || m[0].ChannelSID != chSID ||
					m[0].Type != "media" || m[0].Media == nil || m[0].Media.SID != meSID || m[0].Media.Size != 12 ||
					string(m[0].Raw) != convMessageJSON {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "messages page in descending order",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.MessagesPage(ctx, svc, chSID, remote.ListOptions{PageSize: 50, Order: "desc"}, "")
			},
			method: "GET", path: convPath + "/Messages", query: url.Values{"PageSize": {"50"}, "Order": {"desc"}},
			status: 200, body: page("messages", "", convMessageJSON),
			check: func(t *testing.T, v any) {
				if p := v.(*remote.Page[*remote.Message]); len(p.Items) != 1 || p.Items[0].SID != imSID {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "fetch message",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.FetchMessage(ctx, svc, chSID, imSID)
			},
			method: "GET", path: convPath + "/Messages/" + imSID, status: 200, body: convMessageJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Message); m.SID != imSID || m.From != "alice" {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "create message sends author",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.CreateMessage(ctx, svc, chSID, remote.MessageParams{
					From: ptr("alice"), Body: ptr("hi"), Attributes: ptr("{}"), LastUpdatedBy: ptr("bob"),
					MediaSID: ptr(meSID), DateCreated: &plus2, DateUpdated: &plus2,
				})
			},
			method: "POST", path: convPath + "/Messages",
			form: url.Values{"Author": {"alice"}, "Body": {"hi"}, "Attributes": {"{}"}, "MediaSid": {meSID},
				"DateCreated": {plus2UTC}, "DateUpdated": {plus2UTC}},
			status: 201, body: convMessageJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Message); m.SID != imSID {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "update message",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return v.UpdateMessage(ctx, svc, chSID, imSID, remote.MessageParams{From: ptr("bob"), Body: ptr(""), MediaSID: ptr(meSID)})
			},
			method: "POST", path: convPath + "/Messages/" + imSID, form: url.Values{"Author": {"bob"}, "Body": {""}},
			status: 200, body: convMessageJSON,
			check: func(t *testing.T, v any) {
				if m := v.(*remote.Message); m.SID != imSID {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "delete user",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return nil, v.DeleteUser(ctx, svc, usSID)
			},
			method: "DELETE", path: "/v1/Services/" + svc + "/Users/" + usSID, status: 204, check: func(*testing.T, any) {},
		},
		{
			name: "delete message",
			call: func(ctx context.Context, v *remote.Conversations) (any, error) {
				return nil, v.DeleteMessage(ctx, svc, chSID, imSID)
			},
			method: "DELETE", path: convPath + "/Messages/" + imSID, status: 204, check: func(*testing.T, any) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, conv, f, chat := setupConversations(t)
			f.handle(reply(tt.status, tt.body))
			v, err := tt.call(t.Context(), conv)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			tt.check(t, v)
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("Conversations saw %d requests, want 1", len(reqs))
			}
			if n := chat.count(); n != 0 {
				t.Errorf("Chat saw %d requests, want none", n)
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
			wantHook, wantWrites := "", int64(0)
			if tt.method != "GET" {
				wantHook, wantWrites = "false", 1
			}
			if got := r.Header.Get("X-Twilio-Webhook-Enabled"); got != wantHook {
				t.Errorf("X-Twilio-Webhook-Enabled = %q, want %q", got, wantHook)
			}
			if !r.HasAuth || r.User != acct || r.Pass != token {
				t.Errorf("basic auth = %v %q, want the account SID and auth token", r.HasAuth, r.User)
			}
			// One client, one set of counters, whichever view is asked.
			if c.Requests() != 1 || conv.Requests() != 1 || c.Writes() != wantWrites || conv.Writes() != wantWrites {
				t.Errorf("Requests = %d/%d, Writes = %d/%d, want 1 and %d", c.Requests(), conv.Requests(), c.Writes(), conv.Writes(), wantWrites)
			}
		})
	}
}

// TestConversationsBadInput checks that malformed arguments are refused
// before any request is sent, with a message naming what is wrong.
func TestConversationsBadInput(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, v *remote.Conversations) error
		want string
	}{
		{"fetch service empty", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.FetchService(ctx, "")
			return err
		}, "service is empty"},
		{"list channels bad type", func(ctx context.Context, v *remote.Conversations) error {
			_, err := collect(v.ListChannels(ctx, svc, "secret"))
			return err
		}, `channel type "secret" is not valid`},
		{"channels page bad service", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.ChannelsPage(ctx, "..", "")
			return err
		}, "cannot be used in a URL path"},
		{"fetch channel dot", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.FetchChannel(ctx, svc, ".")
			return err
		}, "channel \".\" cannot be used"},
		{"create channel bad type", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateChannel(ctx, svc, remote.ChannelParams{Type: "secret"})
			return err
		}, `channel type "secret" is not valid`},
		{"members ordered", func(ctx context.Context, v *remote.Conversations) error {
			_, err := collect(v.ListMembers(ctx, svc, chSID, remote.ListOptions{Order: "desc"}))
			return err
		}, "only messages can be listed in an order"},
		{"create member without identity", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateMember(ctx, svc, chSID, remote.MemberParams{})
			return err
		}, "member identity is empty"},
		{"messages page size", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.MessagesPage(ctx, svc, chSID, remote.ListOptions{PageSize: 101}, "")
			return err
		}, "page size 101 is out of range"},
		{"messages bad order", func(ctx context.Context, v *remote.Conversations) error {
			_, err := collect(v.ListMessages(ctx, svc, chSID, remote.ListOptions{Order: "newest"}))
			return err
		}, `order "newest" is not valid`},
		{"create user without identity", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateUser(ctx, svc, remote.UserParams{})
			return err
		}, "user identity is empty"},
		{"update user empty", func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.UpdateUser(ctx, svc, "", remote.UserParams{})
			return err
		}, "user is empty"},
		{"delete message empty", func(ctx context.Context, v *remote.Conversations) error {
			return v.DeleteMessage(ctx, svc, chSID, "")
		}, "message is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, conv, f, chat := setupConversations(t)
			err := tt.call(t.Context(), conv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if f.count()+chat.count() != 0 || c.Requests() != 0 {
				t.Errorf("requests were sent, want none")
			}
		})
	}
}

// TestConversationsPaging follows next_page_url through every list, under
// the list's own key, and refuses one that leaves the Conversations root.
func TestConversationsPaging(t *testing.T) {
	lists := []struct {
		key  string
		path string
		item string
		list func(ctx context.Context, v *remote.Conversations) (int, error)
	}{
		{"conversations", "/v1/Services/" + svc + "/Conversations", convConversationJSON, func(ctx context.Context, v *remote.Conversations) (int, error) {
			got, err := collect(v.ListChannels(ctx, svc))
			return len(got), err
		}},
		{"participants", convPath + "/Participants", convParticipantJSON, func(ctx context.Context, v *remote.Conversations) (int, error) {
			got, err := collect(v.ListMembers(ctx, svc, chSID, remote.ListOptions{}))
			return len(got), err
		}},
		{"messages", convPath + "/Messages", convMessageJSON, func(ctx context.Context, v *remote.Conversations) (int, error) {
			got, err := collect(v.ListMessages(ctx, svc, chSID, remote.ListOptions{Order: "desc"}))
			return len(got), err
		}},
		{"users", "/v1/Services/" + svc + "/Users", convUserJSON, func(ctx context.Context, v *remote.Conversations) (int, error) {
			got, err := collect(v.ListUsers(ctx, svc))
			return len(got), err
		}},
		{"roles", "/v1/Services/" + svc + "/Roles", convRoleJSON, func(ctx context.Context, v *remote.Conversations) (int, error) {
			got, err := collect(v.ListRoles(ctx, svc))
			return len(got), err
		}},
	}
	for _, l := range lists {
		t.Run(l.key, func(t *testing.T) {
			_, conv, f, _ := setupConversations(t)
			next := f.url + l.path + "?PageSize=100&Page=1&PageToken=PT1"
			f.handle(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("PageToken") == "" {
					reply(200, page(l.key, next, l.item, l.item))(w, r)
					return
				}
				reply(200, page(l.key, "", l.item))(w, r)
			})
			n, err := l.list(t.Context(), conv)
			if err != nil || n != 3 {
				t.Fatalf("listed %d records (err %v), want 3 over two pages", n, err)
			}
			if reqs := f.requests(); len(reqs) != 2 || reqs[1].Query.Get("PageToken") != "PT1" || reqs[0].Path != l.path {
				t.Errorf("requests = %+v, want the first page, then the next page URL", reqs)
			}
		})
		t.Run(l.key+" next page on the chat root", func(t *testing.T) {
			_, conv, f, chat := setupConversations(t)
			f.handle(reply(200, page(l.key, chat.url+l.path+"?PageToken=PT1", l.item)))
			_, err := l.list(t.Context(), conv)
			if err == nil || !strings.Contains(err.Error(), "refusing to send credentials") || !strings.Contains(err.Error(), "Conversations URL") {
				t.Fatalf("err = %v, want the next page refused, naming the Conversations URL", err)
			}
			if chat.count() != 0 {
				t.Error("credentials were sent to the Chat root")
			}
		})
	}
}

// TestConversationsPagesResume checks that a page call resumes from a
// next_page_url given back.
func TestConversationsPagesResume(t *testing.T) {
	_, conv, f, _ := setupConversations(t)
	f.handle(reply(200, page("messages", "", convMessageJSON)))
	next := f.url + convPath + "/Messages?Order=desc&PageSize=50&PageToken=PT9"
	p, err := conv.MessagesPage(t.Context(), svc, chSID, remote.ListOptions{Order: "desc", PageSize: 50}, next)
	if err != nil || len(p.Items) != 1 {
		t.Fatalf("page = %+v, %v", p, err)
	}
	if r := f.requests()[0]; r.RawQuery != "Order=desc&PageSize=50&PageToken=PT9" {
		t.Errorf("query = %q, want the next page URL's, verbatim", r.RawQuery)
	}
}

func TestConversationsErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     int
		call     func(ctx context.Context, v *remote.Conversations) error
		is       error
		notIs    error
		attempts int
	}{
		{"conversation not found", 404, 50350, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.FetchChannel(ctx, svc, chSID)
			return err
		}, remote.ErrNotFound, remote.ErrConflict, 1},
		{"unique name taken", 409, 50353, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateChannel(ctx, svc, remote.ChannelParams{UniqueName: ptr("ops")})
			return err
		}, remote.ErrConflict, remote.ErrNotFound, 1},
		{"participant exists", 409, 50433, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateMember(ctx, svc, chSID, remote.MemberParams{Identity: "alice"})
			return err
		}, remote.ErrConflict, remote.ErrUnknownOutcome, 1},
		{"participant with that identity exists", 409, 50437, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateMember(ctx, svc, chSID, remote.MemberParams{Identity: "alice"})
			return err
		}, remote.ErrConflict, remote.ErrUnknownOutcome, 1},
		{"user exists", 409, 50201, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateUser(ctx, svc, remote.UserParams{Identity: "alice"})
			return err
		}, remote.ErrConflict, remote.ErrNotFound, 1},
		{"other bad request", 400, 50351, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateChannel(ctx, svc, remote.ChannelParams{})
			return err
		}, nil, remote.ErrConflict, 1},
		{"bad credentials", 401, 20003, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.FetchService(ctx, svc)
			return err
		}, remote.ErrAuthentication, remote.ErrNotFound, 1},
		{"write fails on the server", 500, 0, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.CreateMessage(ctx, svc, chSID, remote.MessageParams{Body: ptr("x")})
			return err
		}, remote.ErrUnknownOutcome, remote.ErrRateLimited, 1},
		{"read fails on the server, retried", 503, 0, func(ctx context.Context, v *remote.Conversations) error {
			_, err := v.FetchMessage(ctx, svc, chSID, imSID)
			return err
		}, nil, remote.ErrUnknownOutcome, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, conv, f, _ := setupConversations(t, remote.WithLimits(remote.Limits{MaxRetries: 3}))
			f.handle(reply(tt.status, twilioError(tt.status, tt.code, "nope")))
			err := tt.call(t.Context(), conv)
			var ae *remote.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || !strings.HasPrefix(ae.Path, "/v1/Services/") {
				t.Fatalf("err = %v, want an *APIError with status %d on a /v1 path", err, tt.status)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if errors.Is(err, tt.notIs) {
				t.Errorf("errors.Is(%v, %v) = true", err, tt.notIs)
			}
			if n := f.count(); n != tt.attempts {
				t.Errorf("%d requests, want %d", n, tt.attempts)
			}
			noSecrets(t, err.Error())
		})
	}
}

// TestConversationsUnknownOutcome checks that a write whose answer is lost
// is reported as such and not sent again, and that a 429 is retried, as for
// Chat.
func TestConversationsUnknownOutcome(t *testing.T) {
	_, conv, f, _ := setupConversations(t)
	f.handle(hangUp)
	_, err := conv.CreateMessage(t.Context(), svc, chSID, remote.MessageParams{Body: ptr("x")})
	if !errors.Is(err, remote.ErrUnknownOutcome) || f.count() != 1 {
		t.Fatalf("err = %v after %d requests, want an unknown outcome after 1", err, f.count())
	}

	f.handle(sequence(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		reply(429, twilioError(429, 20429, "slow down"))(w, r)
	}, reply(201, convParticipantJSON)))
	m, err := conv.CreateMember(t.Context(), svc, chSID, remote.MemberParams{Identity: "a b?c"})
	if err != nil || m.SID != mbSID {
		t.Fatalf("CreateMember after a 429 = %v, %v", m, err)
	}
	if s := f.slept(); len(s) != 1 || s[0] != 2*time.Second {
		t.Errorf("slept %v, want the 2s Retry-After", s)
	}

	// A 2xx answer that is not a participant: the write may have been done.
	f.handle(reply(201, `[{"sid":"`+mbSID+`"}]`))
	_, err = conv.CreateMember(t.Context(), svc, chSID, remote.MemberParams{Identity: "x"})
	if !errors.Is(err, remote.ErrUnknownOutcome) || !strings.Contains(err.Error(), "Conversations URL") {
		t.Errorf("err = %v, want an unknown outcome naming the Conversations URL", err)
	}
}

// TestConversationsUndecodable checks that a read answer of the wrong shape
// is an error naming the Conversations URL, and that a record of the wrong
// type in a page is named by its position.
func TestConversationsUndecodable(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", "<html>", "Conversations URL"},
		{"wrong key", `{"channels":[` + convConversationJSON + `]}`, `no "conversations" array`},
		{"record not an object", `{"conversations":[1]}`, "conversations[0]"},
		{"field of the wrong type", `{"conversations":[{"sid":5}]}`, "conversations[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, conv, f, _ := setupConversations(t)
			f.handle(reply(200, tt.body))
			_, err := collect(conv.ListChannels(t.Context(), svc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWithConversationsURL(t *testing.T) {
	tests := []struct {
		name, url, want string // want: the root, or part of the error
		ok              bool
	}{
		{"default", "", remote.DefaultConversationsURL, true},
		{"loopback http", "http://127.0.0.1:8080/", "http://127.0.0.1:8080", true},
		{"path kept", "https://proxy.example/conv/", "https://proxy.example/conv", true},
		{"plain http elsewhere", "http://conversations.example", "Conversations URL \"http://conversations.example\" uses plain http", false},
		{"query", "https://conversations.example/?x=1", "must not have a query", false},
		{"credentials", "https://u:p@conversations.example", "must not contain credentials", false},
		{"no scheme", "conversations.twilio.com", "must start with https://", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []remote.Option
			if tt.url != "" {
				opts = append(opts, remote.WithConversationsURL(tt.url))
			}
			c, err := remote.NewClient(remote.Credentials{AccountSID: acct, AuthToken: token}, opts...)
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.want)
				}
				noSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Conversations().BaseURL(); got != tt.want {
				t.Errorf("Conversations().BaseURL() = %q, want %q", got, tt.want)
			}
			if got := c.BaseURL(); got != remote.DefaultBaseURL {
				t.Errorf("BaseURL() = %q, want Chat's default %q", got, remote.DefaultBaseURL)
			}
		})
	}
}

// TestConversationsShareTheClient checks that the view sends the client's
// webhook setting and User-Agent, and paces writes to a channel with the
// same bucket as Chat's writes to it: the service counts them together.
func TestConversationsShareTheClient(t *testing.T) {
	c, conv, f, chat := setupConversations(t,
		remote.WithWebhooks(true), remote.WithVersion("9.9"),
		remote.WithLimits(remote.Limits{ChannelWriteRate: 0.5}))
	f.handle(reply(201, convMessageJSON))
	chat.handle(reply(201, messageJSON))
	if _, err := c.CreateMessage(t.Context(), svc, chSID, remote.MessageParams{Body: ptr("x")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := conv.CreateMessage(ctx, svc, chSID, remote.MessageParams{Body: ptr("x")})
	if err == nil || !strings.Contains(err.Error(), "write rate limit") || f.count() != 0 {
		t.Fatalf("err = %v, want the write held back by the channel's bucket, which Chat's write emptied", err)
	}
	if _, err := conv.CreateMessage(t.Context(), svc, "CH00000000000000000000000000000002", remote.MessageParams{Body: ptr("x")}); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if r.Header.Get("X-Twilio-Webhook-Enabled") != "true" || !strings.HasPrefix(r.Header.Get("User-Agent"), "chatvault/9.9 ") {
		t.Errorf("headers = %v, want the client's webhook setting and User-Agent", r.Header)
	}
}

// TestMakeChannelPrivate checks the Chat v3 call that makes a public
// channel visible to Conversations.
func TestMakeChannelPrivate(t *testing.T) {
	c, f := setup(t)
	f.handle(reply(200, channelJSON))
	ch, err := c.MakeChannelPrivate(t.Context(), svc, chSID)
	if err != nil || ch.SID != chSID || ch.Type != "private" {
		t.Fatalf("MakeChannelPrivate = %+v, %v", ch, err)
	}
	r := f.requests()[0]
	if r.Method != "POST" || r.Path != "/v3/Services/"+svc+"/Channels/"+chSID ||
		!reflect.DeepEqual(r.Form, url.Values{"Type": {"private"}}) || r.Header.Get("X-Twilio-Webhook-Enabled") != "false" {
		t.Errorf("request = %s %s %v %v", r.Method, r.Path, r.Form, r.Header)
	}
	if _, err := c.MakeChannelPrivate(t.Context(), svc, ""); err == nil || !strings.Contains(err.Error(), "channel is empty") || f.count() != 1 {
		t.Errorf("empty channel: err = %v after %d requests, want refused before sending", err, f.count())
	}
	f.handle(reply(404, twilioError(404, 50300, "Channel not found")))
	if _, err := c.MakeChannelPrivate(t.Context(), svc, chSID); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

// TestUpdateUser checks Chat's user update: the identity is in the path,
// never in the form.
func TestUpdateUser(t *testing.T) {
	c, f := setup(t)
	f.handle(reply(200, userJSON))
	u, err := c.UpdateUser(t.Context(), svc, "a b", remote.UserParams{Identity: "other", RoleSID: ptr(rlSID), Attributes: ptr("{}"), FriendlyName: ptr("")})
	if err != nil || u.SID != usSID {
		t.Fatalf("UpdateUser = %+v, %v", u, err)
	}
	r := f.requests()[0]
	want := url.Values{"RoleSid": {rlSID}, "Attributes": {"{}"}, "FriendlyName": {""}}
	if r.Method != "POST" || r.Path != "/v2/Services/"+svc+"/Users/a%20b" || !reflect.DeepEqual(r.Form, want) {
		t.Errorf("request = %s %s %v, want POST to the user with %v", r.Method, r.Path, r.Form, want)
	}
}

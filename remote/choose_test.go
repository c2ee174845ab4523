package remote_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

func TestForAPI(t *testing.T) {
	ok := reply(200, serviceJSON)
	gone := reply(404, twilioError(404, 20404, "The requested resource was not found"))
	denied := reply(401, twilioError(401, 20003, "Authenticate"))
	failing := reply(500, twilioError(500, 20500, "Internal"))
	for _, tt := range []struct {
		name       string
		want       string
		chat, conv http.HandlerFunc
		api        string   // the API chosen; "" when an error is expected
		is         error    // the error matches it
		msg        []string // … and says these
		chatReqs   bool     // Chat was asked
		convReqs   bool     // Conversations was asked
	}{
		{name: "auto, Chat answers", want: remote.APIAuto, chat: ok, api: remote.APIChat, chatReqs: true},
		{name: "auto, Chat gone", want: remote.APIAuto, chat: gone, conv: ok, api: remote.APIConversations, chatReqs: true, convReqs: true},
		{name: "auto, Chat unreachable", want: remote.APIAuto, chat: hangUp, conv: ok, api: remote.APIConversations, chatReqs: true, convReqs: true},
		{name: "conversations", want: remote.APIConversations, conv: ok, api: remote.APIConversations, convReqs: true},
		{name: "chat, Chat answers", want: remote.APIChat, chat: ok, api: remote.APIChat, chatReqs: true},
		{name: "auto, neither answers", want: remote.APIAuto, chat: gone, conv: gone, is: remote.ErrNoAPI,
			msg: []string{"neither API", "Chat v2 at http://127.0.0.1", "Conversations v1 at http://127.0.0.1"}, chatReqs: true, convReqs: true},
		{name: "chat, Chat gone", want: remote.APIChat, chat: gone, conv: ok, is: remote.ErrNoAPI,
			msg: []string{"use --api conversations"}, chatReqs: true, convReqs: true},
		{name: "chat, Chat unreachable", want: remote.APIChat, chat: hangUp, is: remote.ErrNoAPI, msg: []string{"Chat v2 at"}, chatReqs: true},
		{name: "auto, Chat refuses the credentials", want: remote.APIAuto, chat: denied, is: remote.ErrAuthentication, chatReqs: true},
		{name: "auto, Conversations refuses the credentials", want: remote.APIAuto, chat: gone, conv: denied, is: remote.ErrAuthentication, chatReqs: true, convReqs: true},
		{name: "auto, Chat fails", want: remote.APIAuto, chat: failing, is: remote.ErrNoAPI, msg: []string{"Chat v2 at"}, chatReqs: true},
		{name: "auto, Chat answers garbage", want: remote.APIAuto, chat: reply(200, "<html>proxy login</html>"), conv: ok, is: remote.ErrNoAPI,
			msg: []string{"Chat v2 at", "not a service"}, chatReqs: true},
		{name: "conversations, no such service", want: remote.APIConversations, conv: gone, is: remote.ErrNoAPI, msg: []string{"Conversations v1 at"}, convReqs: true},
		{name: "unknown API", want: "v2", msg: []string{`"v2" is not known`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conv := &fakeAPI{}
			conv.url = newServer(t, conv)
			c, chat := setup(t, remote.WithConversationsURL(conv.url), remote.WithLimits(remote.Limits{MaxRetries: 1}))
			chat.handle(tt.chat)
			conv.handle(tt.conv)
			api, err := c.ForAPI(context.Background(), svc, tt.want)
			if tt.api != "" {
				if err != nil || api != tt.api {
					t.Fatalf("ForAPI = %q, %v; want %q", api, err, tt.api)
				}
			} else {
				if err == nil {
					t.Fatalf("ForAPI = %q, want an error", api)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("error %v does not match %v", err, tt.is)
				}
				for _, m := range tt.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q lacks %q", err, m)
					}
				}
				noSecrets(t, err.Error())
			}
			if got := chat.count() > 0; got != tt.chatReqs {
				t.Errorf("Chat asked: %v, want %v", got, tt.chatReqs)
			}
			if got := conv.count() > 0; got != tt.convReqs {
				t.Errorf("Conversations asked: %v, want %v", got, tt.convReqs)
			}
		})
	}
}

func TestCapabilitiesOf(t *testing.T) {
	chat, conv := remote.CapabilitiesOf(remote.APIChat), remote.CapabilitiesOf(remote.APIConversations)
	if !chat.MessageCounts || !chat.LastMessageLink || !chat.PublicChannels || !chat.EditDates {
		t.Errorf("Chat's row = %+v, want every capability", chat)
	}
	if conv != (remote.Capabilities{}) {
		t.Errorf("Conversations' row = %+v, want none", conv)
	}
	if u := remote.CapabilitiesOf("v2"); u != (remote.Capabilities{}) {
		t.Errorf("an unknown API's row = %+v, want none", u)
	}
}

// TestChatShapeOfChatRecordInConversationsSnapshot: a snapshot read through
// Conversations keeps records an earlier Chat snapshot archived; they read
// as they are, while Conversations' records are mapped.
func TestChatShapeOfChatRecordInConversationsSnapshot(t *testing.T) {
	for _, tt := range []struct {
		name, kind, raw string
		same            bool // returned as it is
	}{
		{"Chat message", remote.KindMessage, messageJSON, true},
		{"Chat channel", remote.KindChannel, channelJSON, true},
		{"Chat member", remote.KindMember, memberJSON, true},
		{"Conversations message", remote.KindMessage, `{"sid":"` + imSID + `","chat_service_sid":"` + svc + `","conversation_sid":"` + chSID + `","author":"alice","index":1}`, false},
		{"both service SIDs: Conversations'", remote.KindMessage, `{"service_sid":"x","chat_service_sid":"` + svc + `","author":"a"}`, false},
		{"neither: mapped", remote.KindChannel, `{"sid":"` + chSID + `"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := remote.ChatShape(remote.APIConversations, tt.kind, []byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if same := string(got) == tt.raw; same != tt.same {
				t.Errorf("ChatShape = %s; returned as it is: %v, want %v", got, same, tt.same)
			}
		})
	}
}

// TestConversationsMedia: the Conversations view reaches the Media Content
// Service as the Client does.
func TestConversationsMedia(t *testing.T) {
	media := &fakeAPI{}
	media.url = newServer(t, media)
	c, _ := setup(t, remote.WithMediaURL(media.url))
	media.handle(reply(404, twilioError(404, 20404, "not found")))
	_, err := c.Conversations().FetchMedia(context.Background(), svc, "ME0123456789abcdef0123456789abcdef")
	if !errors.Is(err, remote.ErrNotFound) || media.count() != 1 {
		t.Errorf("FetchMedia through Conversations = %v after %d media requests, want the media root's 404", err, media.count())
	}
	if r := media.requests(); len(r) == 1 && r[0].Path != "/v1/Services/"+svc+"/Media/ME0123456789abcdef0123456789abcdef" {
		t.Errorf("path = %s", r[0].Path)
	}
}

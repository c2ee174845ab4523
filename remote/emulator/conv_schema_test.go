package emulator

import (
	"net/url"
	"testing"
	"time"
)

// convSpecPath is the OpenAPI description of Conversations v1 the
// Conversations view is held to.
const convSpecPath = "../../testdata/twilio_conversations_v1.json"

// Schema names of the Conversations v1 objects the emulator returns.
const (
	convServiceSchema      = "conversations.v1.service"
	convRoleSchema         = "conversations.v1.service.service_role"
	convUserSchema         = "conversations.v1.service.service_user"
	conversationSchema     = "conversations.v1.service.service_conversation"
	participantSchema      = "conversations.v1.service.service_conversation.service_conversation_participant"
	convMessageSchema      = "conversations.v1.service.service_conversation.service_conversation_message"
	convMessagesListPath   = "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages"
	convSchemaTestMessages = 150
)

// conv0 and conv1 are the Conversations paths of the seeded services.
func (c *client) conv0() string { return "/v1/Services/" + c.info.Services[0] }
func (c *client) conv1() string { return "/v1/Services/" + c.info.Services[1] }

// TestConvSchema holds every Conversations object the emulator returns to
// the Conversations v1 spec's schemas.
func TestConvSchema(t *testing.T) {
	sp := loadSpecFile(t, convSpecPath)
	_, c := setup(t, Config{Seed: 3, Channels: 8, Messages: convSchemaTestMessages, Now: func() time.Time { return fixedClock }})
	prefix := c.info.BaseURL + "/v1/"

	convs := c.listAll(c.conv0() + "/Conversations")
	if len(convs) == 0 {
		t.Fatal("the seeded service shows no conversation; the generated history should have private channels")
	}
	var textMsg, systemMsg, mediaMsg, edited map[string]any
	var read, unread map[string]any
	for _, cv := range convs {
		links := cv["links"].(map[string]any)
		for _, m := range c.listAll(str(links, "messages") + "?PageSize=100") {
			switch {
			case m["media"] != nil:
				mediaMsg = m
			case m["date_updated"] != nil:
				edited = m
			case m["participant_sid"] == nil:
				systemMsg = m
			default:
				textMsg = m
			}
		}
		for _, p := range c.listAll(str(links, "participants")) {
			if p["last_read_message_index"] == nil {
				unread = p
			} else {
				read = p
			}
		}
	}
	for _, must := range []struct {
		name string
		obj  map[string]any
	}{
		{"text message", textMsg}, {"message by system", systemMsg}, {"media message", mediaMsg},
		{"edited message", edited}, {"participant with read position", read}, {"participant without", unread},
	} {
		if must.obj == nil {
			t.Fatalf("generated history shows no %s through Conversations", must.name)
		}
	}

	newConv := c.mustJSON(201, "POST", c.conv1()+"/Conversations", url.Values{
		"FriendlyName": {"ops"}, "UniqueName": {"ops"}, "State": {"inactive"},
		"Timers.Inactive": {"PT10M"}, "Timers.Closed": {"P1D"},
		"MessagingServiceSid":    {"MG0123456789abcdef0123456789abcdef"},
		"Bindings.Email.Address": {"ops@example.com"}, "Bindings.Email.Name": {"Ops"},
	})
	bare := c.mustJSON(201, "POST", c.conv1()+"/Conversations", url.Values{})
	convURL := str(newConv, "url")
	newPart := c.mustJSON(201, "POST", convURL+"/Participants", url.Values{"Identity": {"zoe"}})
	updPart := c.mustJSON(200, "POST", convURL+"/Participants/zoe", url.Values{"LastReadMessageIndex": {"0"}, "LastReadTimestamp": {"2025-02-01T00:00:00Z"}})
	file := c.upload(str(newConv, "chat_service_sid"), "image/png", "c.png", []byte("not really a png"))
	newMedia := c.mustJSON(201, "POST", convURL+"/Messages", url.Values{"Author": {"zoe"}, "MediaSid": {str(file, "sid")}})
	newText := c.mustJSON(201, "POST", convURL+"/Messages", url.Values{"Body": {"hi"}})
	updText := c.mustJSON(200, "POST", str(newText, "url"), url.Values{"Body": {"hi again"}, "DateUpdated": {"2027-01-01T00:00:00Z"}})
	newUser := c.mustJSON(201, "POST", c.conv1()+"/Users", url.Values{"Identity": {"yan"}, "FriendlyName": {"Yan"}})
	updUser := c.mustJSON(200, "POST", c.conv1()+"/Users/yan", url.Values{"Attributes": {`{"a":1}`}})

	cases := []struct {
		name, schema string
		obj          map[string]any
	}{
		{"fetched service", convServiceSchema, c.mustJSON(200, "GET", c.conv0(), nil)},
		{"listed role", convRoleSchema, c.listAll(c.conv0() + "/Roles")[0]},
		{"listed channel role", convRoleSchema, c.listAll(c.conv0() + "/Roles")[3]},
		{"listed user", convUserSchema, c.listAll(c.conv0() + "/Users")[0]},
		{"fetched user", convUserSchema, c.mustJSON(200, "GET", c.conv0()+"/Users/alice", nil)},
		{"created user", convUserSchema, newUser},
		{"updated user", convUserSchema, updUser},
		{"listed conversation", conversationSchema, convs[0]},
		{"fetched conversation", conversationSchema, c.mustJSON(200, "GET", str(convs[0], "url"), nil)},
		{"created conversation with everything", conversationSchema, newConv},
		{"created bare conversation", conversationSchema, bare},
		{"participant with read position", participantSchema, read},
		{"participant without read position", participantSchema, unread},
		{"created participant", participantSchema, newPart},
		{"updated participant", participantSchema, updPart},
		{"text message", convMessageSchema, textMsg},
		{"system message", convMessageSchema, systemMsg},
		{"edited message", convMessageSchema, edited},
		{"media message", convMessageSchema, mediaMsg},
		{"created media message", convMessageSchema, newMedia},
		{"created text message", convMessageSchema, newText},
		{"updated message", convMessageSchema, updText},
		{"fetched message", convMessageSchema, c.mustJSON(200, "GET", str(textMsg, "url"), nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range checkObject(t, sp, sp.object(t, tc.schema), tc.obj, prefix) {
				t.Errorf("%s: %s", tc.name, p)
			}
		})
	}

	if media, ok := mediaMsg["media"].([]any); !ok || len(media) != 1 {
		t.Errorf("media message's media = %v, want a one-element array", mediaMsg["media"])
	} else if m := media[0].(map[string]any); len(m) != 4 || str(m, "sid") == "" || str(m, "content_type") == "" || str(m, "filename") == "" || m["size"] == nil {
		t.Errorf("media element = %v, want sid, size, content_type and filename", m)
	}

	meta := sp.listMeta(t, convMessagesListPath)
	conv0 := str(convs[0], "url")
	for _, lc := range []struct{ name, path, key string }{
		{"roles", c.conv0() + "/Roles", "roles"},
		{"users", c.conv0() + "/Users?PageSize=2", "users"},
		{"conversations", c.conv0() + "/Conversations?PageSize=1", "conversations"},
		{"conversations by date", c.conv0() + "/Conversations?StartDate=2025-01-01&PageSize=1", "conversations"},
		{"participants", conv0 + "/Participants?PageSize=1", "participants"},
		{"messages desc", conv0 + "/Messages?PageSize=2&Order=desc", "messages"},
		{"empty list", c.conv1() + "/Conversations?State=closed", "conversations"},
	} {
		t.Run("meta of "+lc.name, func(t *testing.T) {
			if k := checkListPage(t, sp, meta, c.mustJSON(200, "GET", lc.path, nil), prefix); k != lc.key {
				t.Errorf("meta.key = %q, want %q", k, lc.key)
			}
		})
	}
}

package remote

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The two OpenAPI specs, as copied into the repository's testdata.
const (
	chatSpecPath = "../testdata/twilio_chat_v2.json"
	convSpecPath = "../testdata/twilio_conversations_v1.json"
)

// openAPI is the part of an OpenAPI spec the tests read.
type openAPI struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"` // path → method → operation (and other members)
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

// operation is the part of an OpenAPI operation the tests read.
type operation struct {
	RequestBody struct {
		Content map[string]struct {
			Schema struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Examples map[string]struct {
				Value json.RawMessage `json:"value"`
			} `json:"examples"`
		} `json:"content"`
	} `json:"responses"`
}

// op returns the operation method of path ("post"), zero when s has none.
func (s *openAPI) op(t testing.TB, path, method string) operation {
	t.Helper()
	var o operation
	if raw, ok := s.Paths[path][method]; ok {
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return o
}

var specs = sync.OnceValues(func() (map[string]*openAPI, error) {
	out := map[string]*openAPI{}
	for api, path := range map[string]string{APIChat: chatSpecPath, APIConversations: convSpecPath} {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var s openAPI
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, err
		}
		out[api] = &s
	}
	return out, nil
})

func spec(t testing.TB, api string) *openAPI {
	t.Helper()
	s, err := specs()
	if err != nil {
		t.Fatalf("reading the OpenAPI specs: %v", err)
	}
	return s[api]
}

// specKind names, for one kind, its schema and its paths in each spec:
// create (the list path, POST) and update (the instance path, POST).
type specKind struct {
	kind                   string
	chatSchema, convSchema string
	chatList, chatOne      string
	convList, convOne      string
	convListKey            string
}

var specKinds = []specKind{
	{KindService, "chat.v2.service", "conversations.v1.service",
		"/v2/Services", "/v2/Services/{Sid}", "", "/v1/Services/{Sid}", ""},
	{KindRole, "chat.v2.service.role", "conversations.v1.service.service_role",
		"/v2/Services/{ServiceSid}/Roles", "/v2/Services/{ServiceSid}/Roles/{Sid}",
		"/v1/Services/{ChatServiceSid}/Roles", "/v1/Services/{ChatServiceSid}/Roles/{Sid}", "roles"},
	{KindUser, "chat.v2.service.user", "conversations.v1.service.service_user",
		"/v2/Services/{ServiceSid}/Users", "/v2/Services/{ServiceSid}/Users/{Sid}",
		"/v1/Services/{ChatServiceSid}/Users", "/v1/Services/{ChatServiceSid}/Users/{Sid}", "users"},
	{KindChannel, "chat.v2.service.channel", "conversations.v1.service.service_conversation",
		"/v2/Services/{ServiceSid}/Channels", "/v2/Services/{ServiceSid}/Channels/{Sid}",
		"/v1/Services/{ChatServiceSid}/Conversations", "/v1/Services/{ChatServiceSid}/Conversations/{Sid}", "conversations"},
	{KindMember, "chat.v2.service.channel.member", "conversations.v1.service.service_conversation.service_conversation_participant",
		"/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members", "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members/{Sid}",
		"/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
		"/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants/{Sid}", "participants"},
	{KindMessage, "chat.v2.service.channel.message", "conversations.v1.service.service_conversation.service_conversation_message",
		"/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages", "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages/{Sid}",
		"/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
		"/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages/{Sid}", "messages"},
}

// formProps are the form parameters of POST path in s.
func formProps(t testing.TB, s *openAPI, path string) []string {
	op := s.op(t, path, "post")
	return slices.Sorted(maps.Keys(op.RequestBody.Content["application/x-www-form-urlencoded"].Schema.Properties))
}

// examples returns the spec's example records of sk's kind: every example
// answer of its list and instance paths, list pages split into records.
func examples(t testing.TB, api string, sk specKind) [][]byte {
	t.Helper()
	s := spec(t, api)
	paths, key := []string{sk.chatList, sk.chatOne}, listKey(strings.TrimPrefix(sk.chatList[strings.LastIndex(sk.chatList, "/"):], "/"))
	if api == APIConversations {
		paths, key = []string{sk.convList, sk.convOne}, sk.convListKey
	}
	var out [][]byte
	for _, p := range paths {
		for _, m := range []string{"get", "post"} {
			for _, code := range []string{"200", "201"} {
				exs := s.op(t, p, m).Responses[code].Content["application/json"].Examples
				for _, name := range slices.Sorted(maps.Keys(exs)) {
					v := exs[name].Value
					var page map[string]json.RawMessage
					if err := json.Unmarshal(v, &page); err != nil {
						t.Fatalf("%s %s example %s: %v", m, p, name, err)
					}
					if items, ok := page[key]; ok && key != "" {
						var recs []json.RawMessage
						if err := json.Unmarshal(items, &recs); err != nil {
							t.Fatalf("%s %s example %s: %v", m, p, name, err)
						}
						for _, r := range recs {
							out = append(out, []byte(r))
						}
						continue
					}
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// TestTableMatchesSpecs holds the table to both specs: every field either
// schema has is a row of its kind, and every row names fields the schemas
// have.
func TestTableMatchesSpecs(t *testing.T) {
	for _, sk := range specKinds {
		t.Run(sk.kind, func(t *testing.T) {
			var chat, conv []string
			for _, f := range shapes[sk.kind].rows {
				if f.chat != "" {
					chat = append(chat, f.chat)
				}
				if f.conv != "" {
					conv = append(conv, f.conv)
				}
			}
			for _, c := range []struct {
				api, schema string
				rows        []string
			}{{APIChat, sk.chatSchema, chat}, {APIConversations, sk.convSchema, conv}} {
				props := spec(t, c.api).Components.Schemas[c.schema].Properties
				if len(props) == 0 {
					t.Fatalf("%s schema %s not found", c.api, c.schema)
				}
				want := slices.Sorted(maps.Keys(props))
				got := slices.Sorted(slices.Values(c.rows))
				if !slices.Equal(got, slices.Compact(slices.Clone(got))) {
					t.Errorf("%s: a field has two rows: %v", c.api, got)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s fields of the table:\n got %v\nwant %v (the spec's %s)", c.api, got, want, c.schema)
				}
			}
		})
	}
}

// TestTableParamsMatchSpecs holds the table's parameters to the specs'
// create and update forms, and checks that every parameter the Chat form
// builders can send has a row.
func TestTableParamsMatchSpecs(t *testing.T) {
	chat, conv := spec(t, APIChat), spec(t, APIConversations)
	ts := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	s, n := "x", 1
	chForm, _ := ChannelParams{FriendlyName: &s, UniqueName: &s, Attributes: &s, Type: "private", CreatedBy: &s, DateCreated: &ts, DateUpdated: &ts}.form(true)
	mbForm, _ := MemberParams{Identity: s, RoleSID: &s, Attributes: &s, LastConsumedMessageIndex: &n, LastConsumptionTimestamp: &ts, DateCreated: &ts, DateUpdated: &ts}.form(true)
	usForm, _ := UserParams{Identity: s, RoleSID: &s, Attributes: &s, FriendlyName: &s}.form(true)
	imForm := MessageParams{From: &s, Body: &s, Attributes: &s, LastUpdatedBy: &s, MediaSID: &s, DateCreated: &ts, DateUpdated: &ts}.form(true)
	sent := map[string]url.Values{KindChannel: chForm, KindMember: mbForm, KindUser: usForm, KindMessage: imForm}

	for _, sk := range specKinds {
		t.Run(sk.kind, func(t *testing.T) {
			sh := shapes[sk.kind]
			for p := range sent[sk.kind] {
				if sh.byParam[p] == nil {
					t.Errorf("the Chat form builder sends %s, which has no row", p)
				}
			}
			chatParams := append(formProps(t, chat, sk.chatList), formProps(t, chat, sk.chatOne)...)
			convCreate, convUpdate := formProps(t, conv, sk.convList), formProps(t, conv, sk.convOne)
			for _, f := range sh.rows {
				if f.chatParam != "" && !slices.Contains(chatParams, f.chatParam) {
					t.Errorf("%s: Chat takes no parameter %s", f.chat, f.chatParam)
				}
				switch {
				case f.convParam != "" && f.updateOnly:
					if !slices.Contains(convUpdate, f.convParam) || slices.Contains(convCreate, f.convParam) {
						t.Errorf("%s: Conversations should take %s on update only (create %v, update %v)", f.chat, f.convParam, convCreate, convUpdate)
					}
				case f.convParam != "":
					if !slices.Contains(convCreate, f.convParam) {
						t.Errorf("%s: Conversations takes no parameter %s on create (%v)", f.chat, f.convParam, convCreate)
					}
				case f.chatParam != "":
					if slices.Contains(convCreate, f.chatParam) || slices.Contains(convUpdate, f.chatParam) {
						t.Errorf("%s: the table drops %s, but Conversations takes it", f.chat, f.chatParam)
					}
					if f.toConv == "" {
						t.Errorf("%s: %s is not sent to Conversations, but Losses does not say why", f.chat, f.chatParam)
					}
				}
			}
		})
	}
}

// TestConversationsParams checks the Conversations form of each write.
func TestConversationsParams(t *testing.T) {
	conv := newAPI(nil, conversationsAPI)
	chat := newAPI(nil, chatAPI)
	f := url.Values{"From": {"alice"}, "LastUpdatedBy": {"bob"}, "Body": {""}, "Type": {"public"}, "CreatedBy": {"x"},
		"LastConsumedMessageIndex": {"4"}, "LastConsumptionTimestamp": {"t"}, "Identity": {"i"}}
	tests := []struct {
		kind   string
		create bool
		want   url.Values
	}{
		{KindMessage, true, url.Values{"Author": {"alice"}, "Body": {""}, "Type": {"public"}, "CreatedBy": {"x"},
			"LastConsumedMessageIndex": {"4"}, "LastConsumptionTimestamp": {"t"}, "Identity": {"i"}}},
		{KindChannel, true, url.Values{"From": {"alice"}, "LastUpdatedBy": {"bob"}, "Body": {""},
			"LastConsumedMessageIndex": {"4"}, "LastConsumptionTimestamp": {"t"}, "Identity": {"i"}}},
		{KindMember, true, url.Values{"From": {"alice"}, "LastUpdatedBy": {"bob"}, "Body": {""}, "Type": {"public"}, "CreatedBy": {"x"}, "Identity": {"i"}}},
		{KindMember, false, url.Values{"From": {"alice"}, "LastUpdatedBy": {"bob"}, "Body": {""}, "Type": {"public"}, "CreatedBy": {"x"},
			"LastReadMessageIndex": {"4"}, "LastReadTimestamp": {"t"}, "Identity": {"i"}}},
	}
	for _, tt := range tests {
		if got := conv.params(tt.kind, f, tt.create); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s (create %v):\n got %v\nwant %v", tt.kind, tt.create, got, tt.want)
		}
		if got := chat.params(tt.kind, f, tt.create); !reflect.DeepEqual(got, f) {
			t.Errorf("Chat %s: got %v, want the form unchanged", tt.kind, got)
		}
	}
}

// TestSpecExamplesDecode decodes every example record of the Conversations
// spec as the client does, and checks the typed fields the table fills and
// that Raw is the record as sent.
func TestSpecExamplesDecode(t *testing.T) {
	a := newAPI(nil, conversationsAPI)
	for _, sk := range specKinds {
		exs := examples(t, APIConversations, sk)
		if len(exs) == 0 {
			t.Fatalf("%s: no examples in the spec", sk.kind)
		}
		for i, ex := range exs {
			var in map[string]any
			if err := json.Unmarshal(ex, &in); err != nil {
				t.Fatal(err)
			}
			str := func(k string) string { s, _ := in[k].(string); return s }
			var raw json.RawMessage
			var ok bool
			switch sk.kind {
			case KindService:
				v, err := decodeAs[Service](a, ex)
				ok, raw = err == nil && v.SID == str("sid") && v.FriendlyName == str("friendly_name"), v.Raw
			case KindRole:
				v, err := decodeAs[Role](a, ex)
				ok = err == nil && v.ServiceSID == str("chat_service_sid") && (v.Type == "channel" || v.Type == "deployment") && len(v.Permissions) > 0
				raw = v.Raw
			case KindUser:
				v, err := decodeAs[User](a, ex)
				ok, raw = err == nil && v.ServiceSID == str("chat_service_sid") && v.Identity == str("identity"), v.Raw
			case KindChannel:
				v, err := decodeAs[Channel](a, ex)
				ok = err == nil && v.ServiceSID == str("chat_service_sid") && v.Type == "private" && v.UniqueName == str("unique_name") && v.Attributes == str("attributes")
				raw = v.Raw
			case KindMember:
				v, err := decodeAs[Member](a, ex)
				idx, hasIdx := in["last_read_message_index"].(float64)
				ok = err == nil && v.ChannelSID == str("conversation_sid") && v.Identity == str("identity") &&
					(v.LastConsumedMessageIndex == nil) == !hasIdx && (!hasIdx || *v.LastConsumedMessageIndex == int(idx))
				raw = v.Raw
			case KindMessage:
				v, err := decodeAs[Message](a, ex)
				media, _ := in["media"].([]any)
				ok = err == nil && v.ChannelSID == str("conversation_sid") && v.From == str("author") && v.Body == str("body") &&
					(v.Media != nil) == (len(media) > 0) && (v.Type == "media") == (len(media) > 0)
				if ok && len(media) > 0 {
					ok = v.Media.SID == media[0].(map[string]any)["sid"]
				}
				raw = v.Raw
			}
			if !ok || !bytes.Equal(raw, ex) {
				t.Errorf("%s example %d did not decode through the table:\n%s", sk.kind, i, ex)
			}
		}
	}
}

// TestChatShapeChatUnchanged checks that a Chat record is its own Chat
// shape, byte for byte.
func TestChatShapeChatUnchanged(t *testing.T) {
	for _, sk := range specKinds {
		for _, ex := range append(examples(t, APIChat, sk), []byte(` {"x": [1, 2]} `), []byte("not even JSON")) {
			got, err := ChatShape(APIChat, sk.kind, ex)
			if err != nil || !bytes.Equal(got, ex) {
				t.Errorf("%s: ChatShape(chat) = %s, %v; want the record unchanged", sk.kind, got, err)
			}
		}
	}
}

// TestChatShapeFieldByField maps every Conversations example record and
// checks each field of the result against the record, field by field.
func TestChatShapeFieldByField(t *testing.T) {
	roleTypes := map[string]string{`"conversation"`: `"channel"`, `"service"`: `"deployment"`}
	for _, sk := range specKinds {
		for i, ex := range examples(t, APIConversations, sk) {
			got, err := ChatShape(APIConversations, sk.kind, ex)
			if err != nil {
				t.Fatalf("%s example %d: %v", sk.kind, i, err)
			}
			var in, out map[string]json.RawMessage
			if err := json.Unmarshal(ex, &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &out); err != nil {
				t.Fatalf("%s example %d: ChatShape wrote invalid JSON: %v\n%s", sk.kind, i, err, got)
			}
			want := map[string]string{}
			for k, v := range in {
				want[k] = string(v) // fields the table does not rename keep their names
			}
			hasMedia := false
			for _, f := range shapes[sk.kind].rows {
				v, ok := in[f.conv]
				switch {
				case f.how == isPrivate:
					want[f.chat] = `"private"`
				case !ok || f.chat == "" || f.chat == f.conv && f.how == same:
					continue
				case f.how == roleType:
					want[f.chat] = cmp.Or(roleTypes[string(v)], string(v))
				case f.how == firstMedia:
					var media []json.RawMessage
					_ = json.Unmarshal(v, &media)
					want[f.chat] = "null"
					if len(media) > 0 {
						want[f.chat], hasMedia = string(media[0]), true
					}
				case f.how == blankIsNull && string(v) == `""`:
					want[f.chat] = "null"
				default:
					want[f.chat] = string(v)
				}
				if f.chat != f.conv {
					delete(want, f.conv)
				}
			}
			if sk.kind == KindMessage {
				want["type"] = map[bool]string{true: `"media"`, false: `"text"`}[hasMedia]
			}
			gotStr := map[string]string{}
			for k, v := range out {
				gotStr[k] = string(v)
			}
			if !reflect.DeepEqual(gotStr, want) {
				t.Errorf("%s example %d:\n got %v\nwant %v", sk.kind, i, gotStr, want)
			}
		}
	}
}

func TestChatShape(t *testing.T) {
	tests := []struct {
		name, api, kind, in, want, err string
	}{
		{"message", APIConversations, KindMessage,
			`{"sid":"IM1","conversation_sid":"CH1","chat_service_sid":"IS1","author":"alice","media":[{"sid":"ME1"},{"sid":"ME2"}],"participant_sid":"MB1","x":1}`,
			`{"sid":"IM1","channel_sid":"CH1","service_sid":"IS1","from":"alice","media":{"sid":"ME1"},"participant_sid":"MB1","x":1,"type":"media"}`, ""},
		{"message without media", APIConversations, KindMessage,
			`{"author":null,"media":null}`, `{"from":null,"media":null,"type":"text"}`, ""},
		{"message with an empty media array", APIConversations, KindMessage,
			` {"media" : [ ]}` + "\n", `{"media":null,"type":"text"}`, ""},
		{"message with media of an unknown shape", APIConversations, KindMessage,
			`{"media":{"sid":"ME1"}}`, `{"media":{"sid":"ME1"},"type":"media"}`, ""},
		{"a stray Chat name is left out", APIConversations, KindMessage,
			`{"from":"mallory","author":"alice","type":"x"}`, `{"from":"alice","type":"text"}`, ""},
		{"escaped member name", APIConversations, KindMessage,
			`{"\u0061uthor":"alice"}`, `{"from":"alice","type":"text"}`, ""},
		{"conversation", APIConversations, KindChannel,
			`{"sid":"CH1","chat_service_sid":"IS1","state":"closed","timers":{"a":"b"},"type":"public","created_by":"bob"}`,
			`{"sid":"CH1","service_sid":"IS1","state":"closed","timers":{"a":"b"},"created_by":"bob","type":"private"}`, ""},
		{"participant", APIConversations, KindMember,
			`{"conversation_sid":"CH1","last_read_message_index":4,"last_read_timestamp":"","messaging_binding":{"type":"sms"}}`,
			`{"channel_sid":"CH1","last_consumed_message_index":4,"last_consumption_timestamp":null,"messaging_binding":{"type":"sms"}}`, ""},
		{"participant with a read date", APIConversations, KindMember,
			`{"last_read_timestamp":"2020-01-02T03:04:05Z"}`, `{"last_consumption_timestamp":"2020-01-02T03:04:05Z"}`, ""},
		{"conversation role", APIConversations, KindRole, `{"type":"conversation"}`, `{"type":"channel"}`, ""},
		{"service role", APIConversations, KindRole, `{"type":"service","chat_service_sid":"IS1"}`, `{"type":"deployment","service_sid":"IS1"}`, ""},
		{"unknown role type", APIConversations, KindRole, `{"type":"other"}`, `{"type":"other"}`, ""},
		{"user", APIConversations, KindUser, `{"chat_service_sid":"IS1","identity":"a"}`, `{"service_sid":"IS1","identity":"a"}`, ""},
		{"service", APIConversations, KindService, `{"sid":"IS1","links":{}}`, `{"sid":"IS1","links":{}}`, ""},
		{"empty object", APIConversations, KindChannel, `{}`, `{"type":"private"}`, ""},

		{"not an object", APIConversations, KindChannel, `[{"sid":"CH1"}]`, "", "expected a JSON object"},
		{"empty", APIConversations, KindChannel, ``, "", "unexpected end of JSON input"},
		{"cut short", APIConversations, KindMessage, `{"author":"a"`, "", "unexpected end of JSON input"},
		{"trailing data", APIConversations, KindMessage, `{} {}`, "", "invalid character"},
		{"bad media", APIConversations, KindMessage, `{"media":[1,}`, "", "invalid character"},
		{"unknown kind", APIConversations, "thread", `{}`, "", `record kind "thread" is not known`},
		{"unknown API", "slack", KindChannel, `{}`, "", `API "slack" is not known: use "chat" or "conversations"`},
		{"unknown kind through Chat", APIChat, "", `{}`, "", `record kind "" is not known`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChatShape(tt.api, tt.kind, []byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("ChatShape = %s, %v\n want %s", got, err, tt.want)
			}
		})
	}
}

func TestLosses(t *testing.T) {
	fields := func(ls []Loss, kind string) []string {
		var out []string
		for _, l := range ls {
			if l.Kind != kind || l.Why == "" {
				t.Errorf("loss %+v: want kind %s and a reason", l, kind)
			}
			out = append(out, l.Field)
		}
		return out
	}
	tests := []struct {
		kind, from, to string
		want           []string
	}{
		{KindChannel, APIChat, APIConversations, []string{"type", "created_by"}},
		{KindMessage, APIChat, APIConversations, []string{"was_edited", "last_updated_by"}},
		{KindMember, APIChat, APIConversations, nil},
		{KindRole, APIChat, APIConversations, nil},
		{KindChannel, APIConversations, APIChat, []string{"messaging_service_sid", "state", "timers", "bindings"}},
		{KindMember, APIConversations, APIChat, []string{"messaging_binding"}},
		{KindMessage, APIConversations, APIChat, []string{"media", "content_sid"}},
		{KindUser, APIConversations, APIChat, nil},
		{KindChannel, APIChat, APIChat, nil},
		{KindChannel, APIConversations, APIConversations, nil},
		{"thread", APIChat, APIConversations, nil},
		{KindChannel, "slack", APIConversations, nil},
	}
	for _, tt := range tests {
		if got := fields(Losses(tt.kind, tt.from, tt.to), tt.kind); !slices.Equal(got, tt.want) {
			t.Errorf("Losses(%s, %s → %s) = %v, want %v", tt.kind, tt.from, tt.to, got, tt.want)
		}
	}
	if n := len(Losses(KindService, APIChat, APIConversations)); n != 16 {
		t.Errorf("service settings lost into Conversations: %d, want 16", n)
	}
}

// FuzzChatShape holds ChatShape to its contract on any input: Chat records
// come back unchanged; a Conversations record is refused exactly when it
// is not a JSON object, and otherwise becomes a valid object in which every
// member of the record is found, renamed as the table says.
func FuzzChatShape(f *testing.F) {
	kinds := []string{KindService, KindRole, KindUser, KindChannel, KindMember, KindMessage}
	for i, sk := range specKinds {
		for _, ex := range examples(f, APIConversations, sk) {
			f.Add(uint8(i), ex)
		}
	}
	f.Add(uint8(5), []byte(`{"author":"a","from":"b","media":[{},[]],"\u0074ype":1}`))
	f.Add(uint8(3), []byte(`{"type":"public","sid":"CH1","sid":"CH2"}`))
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := kinds[int(k)%len(kinds)]
		if got, err := ChatShape(APIChat, kind, data); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ChatShape(chat) = %q, %v", got, err)
		}
		got, err := ChatShape(APIConversations, kind, data)
		trimmed := bytes.TrimSpace(data)
		isObject := json.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != isObject {
			t.Fatalf("ChatShape(%q) error = %v, but the input is an object: %v", data, err, isObject)
		}
		if err != nil {
			return
		}
		var in, out map[string]json.RawMessage
		if err := json.Unmarshal(got, &out); err != nil {
			t.Fatalf("ChatShape(%q) = %q, not a JSON object: %v", data, got, err)
		}
		_ = json.Unmarshal(data, &in)
		sh := shapes[kind]
		for name := range in {
			want := name
			if f := sh.byConv[name]; f != nil && f.chat != "" {
				want = f.chat
			} else if sh.produced[name] {
				continue
			}
			if _, ok := out[want]; !ok {
				t.Errorf("member %q of %q is missing from %q", name, data, got)
			}
		}
		// And the record decodes as the client would decode it.
		a := newAPI(nil, conversationsAPI)
		switch kind {
		case KindMessage:
			_, _ = decodeAs[Message](a, data)
		case KindMember:
			_, _ = decodeAs[Member](a, data)
		case KindChannel:
			_, _ = decodeAs[Channel](a, data)
		}
	})
}

// TestCallWithoutAPI checks that a call built without an API, as a call to
// another root may be, is read as it comes.
func TestCallWithoutAPI(t *testing.T) {
	raw := []byte(`{"sid":"CH1","author":"a"}`)
	v, err := decodeAs[Message](nil, raw)
	if err != nil || v.SID != "CH1" || v.From != "" || string(v.Raw) != string(raw) {
		t.Errorf("decodeAs(nil) = %+v, %v", v, err)
	}
	if _, err := decodeList[Message](nil, []byte(`{"messages":[1]}`), "messages"); err == nil {
		t.Error("decodeList(nil) accepted a record that is not an object")
	}
	if (*api)(nil).hint() == "" {
		t.Error("no hint without an API")
	}
}

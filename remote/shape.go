package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/chatvault/chatvault/internal/jsonscan"
)

// The APIs a record can be read through or written to.
const (
	APIChat          = "chat"          // Programmable Chat v2
	APIConversations = "conversations" // Conversations v1
)

// The kinds of record the table maps.
const (
	KindService = "service"
	KindRole    = "role"
	KindUser    = "user"
	KindChannel = "channel" // a conversation in Conversations
	KindMember  = "member"  // a participant in Conversations
	KindMessage = "message"
)

// Loss is a field that cannot be carried from one API into the other.
type Loss struct {
	Kind  string // KindChannel, …
	Field string // the field's JSON name in the API it comes from
	Why   string
}

// convert says how a value changes between the two shapes, read from
// Conversations' into Chat's.
type convert int

const (
	same        convert = iota
	firstMedia          // an array of media objects becomes its first element (null when empty)
	roleType            // "conversation" and "service" become "channel" and "deployment"
	blankIsNull         // "" becomes null (an unset date)
	isPrivate           // no Conversations field: Chat's value is "private", as every conversation is a private channel
	textOrMedia         // no Conversations field: Chat's value is "media" when the message has media, else "text"
)

// field is one row of the table: one field of one kind of record, its name
// in each API, the form parameter that writes it in each, and why it cannot
// be carried from one API into the other when it cannot.
type field struct {
	kind string
	chat string // Chat v2 JSON name; "" when only Conversations has it
	conv string // Conversations v1 JSON name; "" when only Chat has it
	how  convert

	chatParam  string // Chat's create or update parameter; "" when not written
	convParam  string // Conversations' parameter; "" when Chat's cannot be sent
	updateOnly bool   // Conversations takes convParam on update only

	toConv string // why Chat's value cannot be carried into Conversations ("" = it can, or the service computes it)
	toChat string // why Conversations' value cannot be carried into Chat (likewise)
}

// Why some fields cannot be carried.
const (
	whyServiceSetting = "Conversations keeps a service's settings in its Configuration resources, which chatvault neither reads nor writes"
	whyChannelType    = "Conversations has private conversations only: a public channel becomes private, and the type is not kept"
	whyCreatedBy      = "Conversations records no creator of a conversation"
	whyWasEdited      = "Conversations does not say whether a message was edited"
	whyLastUpdatedBy  = "Conversations records no editor of a message"
	whyMessaging      = "Chat has no messaging service: the conversation's SMS and WhatsApp settings are not kept"
	whyState          = "Chat channels have no state: an inactive or closed conversation becomes an open channel"
	whyTimers         = "Chat channels have no timers: the conversation will not close or go inactive by itself"
	whyBindings       = "Chat channels have no email bindings"
	whyBinding        = "Chat members are chat users only: an SMS or WhatsApp participant's binding is not kept"
	whyMedia          = "Chat carries one media file a message: of a message with several, only the first is kept"
	whyContent        = "Chat has no content templates: the message keeps its body and media only"
)

// table is the field-by-field correspondence between Chat v2 and
// Conversations v1 (twilio-chat-api.md §10 and the two OpenAPI specs).
// Decoding Conversations answers, ChatShape, the Conversations write
// parameters and Losses all read it.
var table = concat(
	both(KindService, "sid", "account_sid", "friendly_name", "date_created", "date_updated", "url", "links"),
	chatOnly(KindService, whyServiceSetting, "default_service_role_sid", "default_channel_role_sid",
		"default_channel_creator_role_sid", "read_status_enabled", "reachability_enabled", "typing_indicator_timeout",
		"consumption_report_interval", "limits", "pre_webhook_url", "post_webhook_url", "webhook_method",
		"webhook_filters", "pre_webhook_retry_count", "post_webhook_retry_count", "notifications", "media"),

	both(KindRole, "sid", "account_sid", "friendly_name", "permissions", "date_created", "date_updated", "url"),
	[]field{
		{kind: KindRole, chat: "service_sid", conv: "chat_service_sid"},
		{kind: KindRole, chat: "type", conv: "type", how: roleType},
	},

	both(KindUser, "sid", "account_sid", "is_online", "is_notifiable", "date_created", "date_updated", "url", "links"),
	written(KindUser, "identity", "friendly_name", "attributes", "role_sid"),
	[]field{
		{kind: KindUser, chat: "service_sid", conv: "chat_service_sid"},
		{kind: KindUser, chat: "joined_channels_count"},
	},

	both(KindChannel, "sid", "account_sid", "url", "links"),
	written(KindChannel, "friendly_name", "unique_name", "attributes", "date_created", "date_updated"),
	[]field{
		{kind: KindChannel, chat: "service_sid", conv: "chat_service_sid"},
		{kind: KindChannel, chat: "type", how: isPrivate, chatParam: "Type", toConv: whyChannelType},
		{kind: KindChannel, chat: "created_by", chatParam: "CreatedBy", toConv: whyCreatedBy},
		{kind: KindChannel, chat: "members_count"},
		{kind: KindChannel, chat: "messages_count"},
		{kind: KindChannel, conv: "messaging_service_sid", toChat: whyMessaging},
		{kind: KindChannel, conv: "state", toChat: whyState},
		{kind: KindChannel, conv: "timers", toChat: whyTimers},
		{kind: KindChannel, conv: "bindings", toChat: whyBindings},
	},

	both(KindMember, "sid", "account_sid", "url"),
	written(KindMember, "identity", "role_sid", "attributes", "date_created", "date_updated"),
	[]field{
		{kind: KindMember, chat: "channel_sid", conv: "conversation_sid"},
		{kind: KindMember, chat: "service_sid", conv: "chat_service_sid"},
		{kind: KindMember, chat: "last_consumed_message_index", conv: "last_read_message_index",
			chatParam: "LastConsumedMessageIndex", convParam: "LastReadMessageIndex", updateOnly: true},
		{kind: KindMember, chat: "last_consumption_timestamp", conv: "last_read_timestamp", how: blankIsNull,
			chatParam: "LastConsumptionTimestamp", convParam: "LastReadTimestamp", updateOnly: true},
		{kind: KindMember, conv: "messaging_binding", toChat: whyBinding},
	},

	both(KindMessage, "sid", "account_sid", "index", "url"),
	written(KindMessage, "body", "attributes", "date_created", "date_updated"),
	[]field{
		{kind: KindMessage, chat: "channel_sid", conv: "conversation_sid"},
		{kind: KindMessage, chat: "service_sid", conv: "chat_service_sid"},
		{kind: KindMessage, chat: "from", conv: "author", chatParam: "From", convParam: "Author"},
		{kind: KindMessage, chat: "media", conv: "media", how: firstMedia, chatParam: "MediaSid", convParam: "MediaSid", toChat: whyMedia},
		{kind: KindMessage, chat: "type", how: textOrMedia},
		{kind: KindMessage, chat: "to"},
		{kind: KindMessage, chat: "was_edited", toConv: whyWasEdited},
		{kind: KindMessage, chat: "last_updated_by", chatParam: "LastUpdatedBy", toConv: whyLastUpdatedBy},
		{kind: KindMessage, conv: "participant_sid"},
		{kind: KindMessage, conv: "delivery"},
		{kind: KindMessage, conv: "content_sid", toChat: whyContent},
		{kind: KindMessage, conv: "links"},
	},
)

// both lists fields of kind that have the same name, and the same meaning,
// in both APIs and are not written.
func both(kind string, names ...string) []field {
	fs := make([]field, len(names))
	for i, n := range names {
		fs[i] = field{kind: kind, chat: n, conv: n}
	}
	return fs
}

// written lists fields of kind that have the same name, the same meaning
// and the same parameter in both APIs: the name in CamelCase
// (friendly_name, FriendlyName).
func written(kind string, names ...string) []field {
	fs := both(kind, names...)
	for i := range fs {
		var p strings.Builder
		for w := range strings.SplitSeq(fs[i].chat, "_") {
			p.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
		fs[i].chatParam, fs[i].convParam = p.String(), p.String()
	}
	return fs
}

// chatOnly lists fields of kind that only Chat has, for the same reason.
func chatOnly(kind, why string, names ...string) []field {
	fs := make([]field, len(names))
	for i, n := range names {
		fs[i] = field{kind: kind, chat: n, toConv: why}
	}
	return fs
}

func concat(parts ...[]field) []field {
	var fs []field
	for _, p := range parts {
		fs = append(fs, p...)
	}
	return fs
}

// shapeOf is the table indexed for one kind.
type shapeOf struct {
	rows      []*field
	byConv    map[string]*field // Conversations name → row
	byParam   map[string]*field // Chat parameter → row
	produced  map[string]bool   // Chat names ChatShape writes under a name Conversations does not use for them
	derived   []*field          // Chat fields with no Conversations field, whose value ChatShape derives
	mediaName string            // the Chat field a textOrMedia row looks at
	chatKeys  map[string][]byte // Chat name → the name as a JSON string, quotes included
}

// shapes indexes table by kind.
var shapes = indexTable(table)

func indexTable(t []field) map[string]*shapeOf {
	m := map[string]*shapeOf{}
	for i := range t {
		f := &t[i]
		s := m[f.kind]
		if s == nil {
			s = &shapeOf{byConv: map[string]*field{}, byParam: map[string]*field{}, produced: map[string]bool{}, chatKeys: map[string][]byte{}}
			m[f.kind] = s
		}
		s.rows = append(s.rows, f)
		if f.chat != "" {
			s.chatKeys[f.chat] = quote(f.chat)
		}
		if f.conv != "" {
			s.byConv[f.conv] = f
		}
		if f.chatParam != "" {
			s.byParam[f.chatParam] = f
		}
		derived := f.how == isPrivate || f.how == textOrMedia
		if f.chat != "" && f.chat != f.conv && (f.conv != "" || derived) {
			s.produced[f.chat] = true
		}
		if derived {
			s.derived = append(s.derived, f)
		}
		if f.how == firstMedia {
			s.mediaName = f.chat
		}
	}
	return m
}

// shapeFor returns kind's rows, or an error naming the kinds there are.
func shapeFor(kind string) (*shapeOf, error) {
	if s, ok := shapes[kind]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("record kind %q is not known: use one of %q, %q, %q, %q, %q or %q",
		kind, KindService, KindRole, KindUser, KindChannel, KindMember, KindMessage)
}

// ChatShape returns raw, a record of the given kind as api returned it, in
// Chat v2's JSON shape, so that code reading archived records reads one
// shape. A Chat record is returned as it is. A Conversations record is
// rewritten member by member, in its order: fields the table maps are
// renamed to Chat's names (author → from, conversation_sid → channel_sid,
// last_read_message_index → last_consumed_message_index, …), a media array
// becomes its first element (see Losses), a role's type becomes Chat's;
// fields only Conversations has, and fields the table does not know, keep
// their names and values. Chat fields that follow from the record are
// added at the end: a channel's "type":"private", a message's "type"
// ("media" or "text"). A member of the record that has one of the names
// the mapping writes (a "from" beside "author") is left out of the result;
// raw still holds it. A record of a Conversations snapshot that is in
// Chat's shape already (see chatShaped) is returned as it is.
func ChatShape(api, kind string, raw []byte) ([]byte, error) {
	s, err := shapeFor(kind)
	if err != nil {
		return nil, err
	}
	switch api {
	case APIChat:
		return raw, nil
	case APIConversations:
		if chatShaped(raw) {
			return raw, nil
		}
		return s.chatShape(raw)
	}
	return nil, fmt.Errorf("API %q is not known: use %q or %q", api, APIChat, APIConversations)
}

// chatShaped reports whether raw, read from a snapshot taken through
// Conversations, is in Chat's shape already: it has Chat's service_sid and
// not Conversations' chat_service_sid. A snapshot read through
// Conversations keeps what an earlier snapshot read through Chat and this
// one did not read again (public channels, which Conversations does not
// show, and the older messages of an incremental run), in Chat's shape. The
// service resource has neither name, and the same fields in both APIs.
func chatShaped(raw []byte) bool {
	d := bytes.TrimSpace(raw)
	if len(d) == 0 || d[0] != '{' {
		return false
	}
	chat := false
	it := jsonscan.NewIter(d, 0, 1)
	for it.Next() {
		switch string(it.Key) {
		case `"chat_service_sid"`:
			return false
		case `"service_sid"`:
			chat = true
		}
	}
	return chat && it.Err == nil
}

// chatShape rewrites a Conversations record of s's kind into Chat's shape.
func (s *shapeOf) chatShape(raw []byte) ([]byte, error) {
	d := bytes.TrimSpace(raw)
	if len(d) == 0 || d[0] != '{' {
		if !jsonscan.Valid(d) {
			return nil, syntaxError(d)
		}
		return nil, errors.New("expected a JSON object")
	}
	out := make([]byte, 0, len(d)+32)
	out = append(out, '{')
	hasMedia := false
	it := jsonscan.NewIter(d, 0, 1)
	for it.Next() {
		name := it.Key[1 : len(it.Key)-1]
		if it.Escaped {
			var unescaped string
			if err := json.Unmarshal(it.Key, &unescaped); err != nil {
				return nil, syntaxError(d)
			}
			name = []byte(unescaped)
		}
		key, val := it.Key, it.Val
		if f := s.byConv[string(name)]; f != nil && f.chat != "" {
			key, val = s.chatKeys[f.chat], f.how.apply(val)
			if f.how == firstMedia {
				hasMedia = val[0] != 'n'
			}
		} else if s.produced[string(name)] {
			continue
		}
		out = member(out, key, val)
	}
	if it.Err != nil || jsonscan.SkipSpace(d, it.End) != len(d) {
		return nil, syntaxError(d)
	}
	for _, f := range s.derived {
		switch f.how {
		case isPrivate:
			out = member(out, s.chatKeys[f.chat], []byte(`"private"`))
		case textOrMedia:
			v := `"text"`
			if hasMedia {
				v = `"media"`
			}
			out = member(out, s.chatKeys[f.chat], []byte(v))
		}
	}
	return append(out, '}'), nil
}

// member appends "key":val to the object being written in out.
func member(out, key, val []byte) []byte {
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, key...)
	out = append(out, ':')
	return append(out, val...)
}

func quote(name string) []byte {
	b, _ := json.Marshal(name)
	return b
}

// apply converts val, a valid JSON value at nesting level 2 of a
// Conversations record, into Chat's. Values of a type the conversion does
// not expect are left as they are.
func (h convert) apply(val []byte) []byte {
	switch h {
	case firstMedia:
		if val[0] != '[' {
			return val
		}
		it := jsonscan.NewIter(val, 0, 2)
		if it.Next() {
			return it.Val
		}
		return []byte("null")
	case roleType:
		switch string(val) {
		case `"conversation"`:
			return []byte(`"channel"`)
		case `"service"`:
			return []byte(`"deployment"`)
		}
	case blankIsNull:
		if string(val) == `""` {
			return []byte("null")
		}
	}
	return val
}

// Losses lists the fields of records of kind that cannot be carried from
// fromAPI into toAPI (APIChat or APIConversations), with why: what a
// restore across the APIs warns of. It is empty when the APIs are the same,
// and nil for an unknown kind or API. Fields the service computes (counts,
// URLs, links) are not losses.
func Losses(kind, fromAPI, toAPI string) []Loss {
	s, err := shapeFor(kind)
	if err != nil || fromAPI == toAPI {
		return nil
	}
	var out []Loss
	for _, f := range s.rows {
		switch {
		case fromAPI == APIChat && toAPI == APIConversations && f.toConv != "":
			out = append(out, Loss{Kind: kind, Field: f.chat, Why: f.toConv})
		case fromAPI == APIConversations && toAPI == APIChat && f.toChat != "":
			out = append(out, Loss{Kind: kind, Field: f.conv, Why: f.toChat})
		}
	}
	return out
}

// params returns f, the Chat form of a write of kind, as a's API takes it.
// Through Conversations each parameter is renamed as the table says (From
// → Author, LastConsumedMessageIndex → LastReadMessageIndex, …); one that
// Conversations cannot take is not sent (Losses lists it), nor one it takes
// on update only when this is a create.
func (a *api) params(kind string, f url.Values, create bool) url.Values {
	if a.name == APIChat {
		return f
	}
	s := shapes[kind]
	out := url.Values{}
	for k, v := range f {
		p := s.byParam[k]
		switch {
		case p == nil:
			out[k] = v // the tests hold every Chat parameter to a row
		case p.convParam == "" || create && p.updateOnly:
		default:
			out[p.convParam] = v
		}
	}
	return out
}

// kindOf names the kind of record T is.
func kindOf[T any]() string {
	switch any((*T)(nil)).(type) {
	case *Service:
		return KindService
	case *Role:
		return KindRole
	case *User:
		return KindUser
	case *Channel:
		return KindChannel
	case *Member:
		return KindMember
	case *Message:
		return KindMessage
	}
	return ""
}

// decodeAs decodes one record as a's API sent it. A Conversations record is
// put in Chat's shape by the table, decoded, and keeps as Raw the bytes
// Conversations sent. A call built without an API (a is nil) is read as it
// comes, as Chat's are.
func decodeAs[T any, P resource[T]](a *api, data []byte) (*T, error) {
	if a == nil || a.name == APIChat {
		return decodeObject[T, P](data)
	}
	s, err := shapeFor(kindOf[T]())
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	shaped, err := s.chatShape(data)
	if err != nil {
		return nil, err
	}
	v, err := decodeObject[T, P](shaped)
	if err != nil {
		return nil, err
	}
	P(v).setRaw(json.RawMessage(data[:len(data):len(data)]))
	return v, nil
}

// rawRecord is a record of a list, its bytes only.
type rawRecord struct {
	Raw json.RawMessage `json:"-"`
}

func (r *rawRecord) setRaw(b json.RawMessage) { r.Raw = b }

// decodeList reads a list answer of a's API (see decodePage), decoding
// each record as decodeAs does.
func decodeList[T any, P resource[T]](a *api, body []byte, key string) (*Page[*T], error) {
	if a == nil || a.name == APIChat {
		return decodePage[T, P](body, key)
	}
	raws, err := decodePage[rawRecord](body, key)
	if err != nil {
		return nil, err
	}
	p := &Page[*T]{Items: make([]*T, len(raws.Items)), NextPageURL: raws.NextPageURL}
	for i, r := range raws.Items {
		if p.Items[i], err = decodeAs[T, P](a, r.Raw); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
		}
	}
	return p, nil
}

// Capabilities say what an API shows of a service that a backup can use to
// tell what changed: one row per API, so that code choosing how to read
// asks the row, not the API's name.
type Capabilities struct {
	// MessageCounts: a channel carries messages_count.
	MessageCounts bool
	// LastMessageLink: a channel carries links.last_message, the URL of
	// its newest message.
	LastMessageLink bool
	// PublicChannels: channel lists show public channels (Conversations
	// shows private channels only).
	PublicChannels bool
	// EditDates: an unedited message has a date_updated (Conversations'
	// is null until the message is edited).
	EditDates bool
}

// capabilities is the row of each API (twilio-chat-api.md §10).
var capabilities = map[string]Capabilities{
	APIChat:          {MessageCounts: true, LastMessageLink: true, PublicChannels: true, EditDates: true},
	APIConversations: {},
}

// CapabilitiesOf returns the row of api (APIChat or APIConversations); an
// unknown API has none.
func CapabilitiesOf(api string) Capabilities { return capabilities[api] }

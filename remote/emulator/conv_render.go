package emulator

import "strconv"

// The Conversations v1 view renders the same state as the Chat v2 view
// (render.go), in Conversations' shapes and under /v1 URLs.

// convFields are a channel's fields that only Conversations shows. The
// zero value is an active conversation without timers, messaging service
// or bindings, which is what a channel created through Chat is.
type convFields struct {
	state                    string // "" is active
	messagingService         sid    // valid when hasMessagingService
	hasMessagingService      bool
	dateInactive, dateClosed int64 // 0 when the timer is not set
	email                    *emailBinding
}

// emailBinding is a conversation's Bindings.Email.
type emailBinding struct{ address, name string }

func (f convFields) stateName() string {
	if f.state == "" {
		return "active"
	}
	return f.state
}

var (
	convServiceLinks = []link{
		{"conversations", "/Conversations"}, {"users", "/Users"}, {"roles", "/Roles"},
		{"bindings", "/Bindings"}, {"configuration", "/Configuration"},
		{"participant_conversations", "/ParticipantConversations"},
		{"conversation_with_participants", "/ConversationWithParticipants"},
	}
	convUserLinks     = []link{{"user_conversations", "/Conversations"}}
	conversationLinks = []link{{"participants", "/Participants"}, {"messages", "/Messages"}, {"webhooks", "/Webhooks"}, {"export", "/Export"}}
	convMessageLinks  = []link{{"delivery_receipts", "/Receipts"}, {"channel_metadata", "/ChannelMetadata"}}
	// convRoleTypes are Conversations' names of Chat's role types.
	convRoleTypes = map[string]string{"deployment": "service", "channel": "conversation"}
)

// convNullMessageFields are the message fields the emulator always leaves
// null: it delivers to no non-chat participant and has no content templates.
const convNullMessageFields = `,"delivery":null,"content_sid":null`

func (u urls) convService(b []byte, svc sid) []byte {
	b = append(b, u.base...)
	b = append(b, "/v1/Services/"...)
	return appendSID(b, "IS", svc)
}

func (u urls) conversation(b []byte, svc, ch sid) []byte {
	b = u.convService(b, svc)
	b = append(b, "/Conversations/"...)
	return appendSID(b, "CH", ch)
}

// appendConvServiceJSON renders a service. The caller holds svc.mu for reading.
func appendConvServiceJSON(b []byte, u urls, acct sid, svc *service) []byte {
	self := func(b []byte) []byte { return u.convService(b, svc.sid) }
	b = append(b, '{')
	b = sidField(b, "sid", "IS", svc.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = appendString(key(b, "friendly_name"), svc.friendlyName)
	b = appendDate(key(b, "date_created"), svc.created)
	b = appendDate(key(b, "date_updated"), svc.updated)
	b = urlField(b, "url", self, "")
	b = openLinks(b, self, convServiceLinks)
	return append(b, '}', '}')
}

func appendConvRoleJSON(b []byte, u urls, acct sid, svc *service, r *role) []byte {
	return appendRoleAs(b, acct, svc, r, "chat_service_sid", convRoleTypes[r.typ], func(b []byte) []byte { return u.convService(b, svc.sid) })
}

func appendConvUserJSON(b []byte, u urls, acct sid, svc *service, usr *user) []byte {
	self := func(b []byte) []byte {
		return appendSID(append(u.convService(b, svc.sid), "/Users/"...), "US", usr.sid)
	}
	b = append(b, '{')
	b = sidField(b, "sid", "US", usr.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "chat_service_sid", "IS", svc.sid)
	b = sidField(b, "role_sid", "RL", usr.role)
	b = appendString(key(b, "identity"), usr.identity)
	b = appendNullString(key(b, "friendly_name"), usr.friendlyName)
	b = appendString(key(b, "attributes"), usr.attrs)
	b = rawField(b, "is_online", "null")
	b = rawField(b, "is_notifiable", "null")
	b = appendDate(key(b, "date_created"), usr.created)
	b = appendDate(key(b, "date_updated"), usr.updated)
	b = urlField(b, "url", self, "")
	b = openLinks(b, self, convUserLinks)
	return append(b, '}', '}')
}

// appendConversationJSON renders a (private) channel as a conversation.
func appendConversationJSON(b []byte, u urls, acct sid, svc *service, ch *channel) []byte {
	self := func(b []byte) []byte { return u.conversation(b, svc.sid, ch.sid) }
	cf := &ch.conv
	b = append(b, '{')
	b = sidField(b, "sid", "CH", ch.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "chat_service_sid", "IS", svc.sid)
	if cf.hasMessagingService {
		b = sidField(b, "messaging_service_sid", "MG", cf.messagingService)
	} else {
		b = rawField(b, "messaging_service_sid", "null")
	}
	b = appendNullString(key(b, "friendly_name"), ch.friendlyName)
	b = appendNullString(key(b, "unique_name"), ch.uniqueName)
	b = appendString(key(b, "attributes"), ch.attrs)
	b = appendDate(key(b, "date_created"), ch.created)
	b = appendDate(key(b, "date_updated"), ch.updated)
	b = appendString(key(b, "state"), cf.stateName())
	b = append(key(b, "timers"), '{')
	if cf.dateInactive != 0 {
		b = appendDate(key(b, "date_inactive"), cf.dateInactive)
	}
	if cf.dateClosed != 0 {
		b = appendDate(key(b, "date_closed"), cf.dateClosed)
	}
	b = append(b, '}')
	if e := cf.email; e != nil {
		b = append(key(b, "bindings"), `{"email":{`...)
		b = appendString(key(b, "address"), e.address)
		b = appendString(key(b, "name"), e.name)
		b = append(b, '}', '}')
	} else {
		b = rawField(b, "bindings", "null")
	}
	b = urlField(b, "url", self, "")
	b = openLinks(b, self, conversationLinks)
	return append(b, '}', '}')
}

// appendParticipantJSON renders a member as a participant: its read
// position is last_read_message_index and last_read_timestamp.
func appendParticipantJSON(b []byte, u urls, acct sid, svc *service, ch *channel, m *member) []byte {
	b = append(b, '{')
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "chat_service_sid", "IS", svc.sid)
	b = sidField(b, "conversation_sid", "CH", ch.sid)
	b = sidField(b, "sid", "MB", m.sid)
	b = appendString(key(b, "identity"), m.identity)
	b = appendString(key(b, "attributes"), m.attrs)
	b = rawField(b, "messaging_binding", "null")
	b = sidField(b, "role_sid", "RL", m.role)
	b = appendDate(key(b, "date_created"), m.created)
	b = appendDate(key(b, "date_updated"), m.updated)
	b = urlField(b, "url", func(b []byte) []byte {
		return appendSID(append(u.conversation(b, svc.sid, ch.sid), "/Participants/"...), "MB", m.sid)
	}, "")
	if m.hasLastConsumed {
		b = strconv.AppendInt(key(b, "last_read_message_index"), m.lastConsumed, 10)
	} else {
		b = rawField(b, "last_read_message_index", "null")
	}
	b = appendDate(key(b, "last_read_timestamp"), m.lastConsumption)
	return append(b, '}')
}

// appendConvMessageJSON renders a message in Conversations' shape: from is
// author, the media object is a one-element media array, participant_sid
// is the author's participant in ch (null for "system" or an author who is
// not one), an empty body is null and date_updated is null unless the
// message was edited.
func appendConvMessageJSON(b []byte, u urls, acct sid, svc *service, ch *channel, m *message) []byte {
	self := func(b []byte) []byte {
		return appendSID(append(u.conversation(b, svc.sid, ch.sid), "/Messages/"...), "IM", m.sid)
	}
	b = append(b, '{')
	b = sidField(b, "sid", "IM", m.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "chat_service_sid", "IS", svc.sid)
	b = sidField(b, "conversation_sid", "CH", ch.sid)
	if m.body == "" {
		b = rawField(b, "body", "null")
	} else {
		b = appendString(key(b, "body"), m.body)
	}
	if md := m.media; md != nil {
		b = append(key(b, "media"), '[')
		b = appendMediaJSON(b, md)
		b = append(b, ']')
	} else {
		b = rawField(b, "media", "null")
	}
	b = appendString(key(b, "author"), m.from)
	if p := ch.membersByIdentity[m.from]; p != nil {
		b = sidField(b, "participant_sid", "MB", p.sid)
	} else {
		b = rawField(b, "participant_sid", "null")
	}
	b = appendString(key(b, "attributes"), m.attrs)
	b = appendDate(key(b, "date_created"), m.created)
	if m.flags&msgEdited != 0 {
		b = appendDate(key(b, "date_updated"), m.updated)
	} else {
		b = rawField(b, "date_updated", "null")
	}
	b = strconv.AppendInt(key(b, "index"), m.index, 10)
	b = append(b, convNullMessageFields...)
	b = urlField(b, "url", self, "")
	b = openLinks(b, self, convMessageLinks)
	return append(b, '}', '}')
}

package emulator

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Objects are rendered by appending to a byte slice rather than through
// encoding/json: a page of 100 messages is the hot path of every backup
// benchmark, and the appenders below produce the same bytes for the same
// state every time (field order fixed, no map iteration).

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// control characters and the JSON specials are escaped, and U+2028/U+2029
// are escaped so the output is also valid JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendNullString(b []byte, s nullString) []byte {
	if !s.valid {
		return append(b, "null"...)
	}
	return appendString(b, s.s)
}

// dateLayout is how the API writes dates: RFC 3339, UTC, whole seconds.
const dateLayout = "2006-01-02T15:04:05Z"

func appendDate(b []byte, unix int64) []byte {
	if unix == noDate {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = time.Unix(unix, 0).UTC().AppendFormat(b, dateLayout)
	return append(b, '"')
}

// key appends `,"name":` (or without the comma for the first field).
func key(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// The field appenders below append `,"name":` (see key) and a value. They
// are kept small enough for the compiler to inline; other fields are
// written as appendX(key(b, name), v), which costs no extra call.

func sidField(b []byte, name, prefix string, id sid) []byte {
	b = append(key(b, name), '"')
	return append(appendSID(b, prefix, id), '"')
}

// rawField appends a value that is already JSON.
func rawField(b []byte, name, json string) []byte { return append(key(b, name), json...) }

// urlField appends, as a JSON string, the URL that self appends followed
// by suffix. It is not escaped: it is made of the base URL and hex SIDs,
// and net/http refuses a Host holding a quote, backslash or control byte.
func urlField(b []byte, name string, self func([]byte) []byte, suffix string) []byte {
	b = append(key(b, name), '"')
	b = self(b)
	b = append(b, suffix...)
	return append(b, '"')
}

// link is an entry of an object's links: the name and the path below the
// object's own URL.
type link struct{ name, suffix string }

var (
	serviceLinks = []link{{"channels", "/Channels"}, {"roles", "/Roles"}, {"users", "/Users"}, {"bindings", "/Bindings"}}
	userLinks    = []link{{"user_channels", "/Channels"}, {"user_bindings", "/Bindings"}}
	channelLinks = []link{{"members", "/Members"}, {"messages", "/Messages"}, {"invites", "/Invites"}, {"webhooks", "/Webhooks"}}
)

// openLinks appends `"links":{` and the links below self, leaving the
// object open for the caller to add to and close.
func openLinks(b []byte, self func([]byte) []byte, links []link) []byte {
	b = append(key(b, "links"), '{')
	for _, l := range links {
		b = urlField(b, l.name, self, l.suffix)
	}
	return b
}

// urls builds the absolute URLs of resources under one base URL.
type urls struct{ base string }

func (u urls) service(b []byte, svc sid) []byte {
	b = append(b, u.base...)
	b = append(b, "/v2/Services/"...)
	return appendSID(b, "IS", svc)
}

func (u urls) channel(b []byte, svc, ch sid) []byte {
	b = u.service(b, svc)
	b = append(b, "/Channels/"...)
	return appendSID(b, "CH", ch)
}

// serviceSettings are the fields of a service that the emulator does not
// let change, from read_status_enabled to media, in the API's order.
const serviceSettings = `,"read_status_enabled":true` +
	`,"reachability_enabled":false` +
	`,"typing_indicator_timeout":5` +
	`,"consumption_report_interval":10` +
	`,"limits":{"channel_members":100,"user_channels":250}` +
	`,"pre_webhook_url":null` +
	`,"post_webhook_url":null` +
	`,"webhook_method":"POST"` +
	`,"webhook_filters":[]` +
	`,"pre_webhook_retry_count":0` +
	`,"post_webhook_retry_count":0` +
	`,"notifications":{"log_enabled":false,"new_message":{"enabled":false},"added_to_channel":{"enabled":false},"removed_from_channel":{"enabled":false},"invited_to_channel":{"enabled":false}}` +
	`,"media":{"size_limit_mb":150,"compatibility_message":null}`

// appendServiceJSON renders a service. The caller holds svc.mu for reading.
func appendServiceJSON(b []byte, u urls, acct sid, svc *service) []byte {
	self := func(b []byte) []byte { return u.service(b, svc.sid) }
	b = append(b, '{')
	b = sidField(b, "sid", "IS", svc.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = appendString(key(b, "friendly_name"), svc.friendlyName)
	b = appendDate(key(b, "date_created"), svc.created)
	b = appendDate(key(b, "date_updated"), svc.updated)
	b = sidField(b, "default_service_role_sid", "RL", svc.defaultServiceRole)
	b = sidField(b, "default_channel_role_sid", "RL", svc.defaultChannelRole)
	b = sidField(b, "default_channel_creator_role_sid", "RL", svc.defaultChannelCreatorRole)
	b = append(b, serviceSettings...)
	b = urlField(b, "url", self, "")
	b = openLinks(b, self, serviceLinks)
	return append(b, '}', '}')
}

func appendRoleJSON(b []byte, u urls, acct sid, svc *service, r *role) []byte {
	return appendRoleAs(b, acct, svc, r, "service_sid", r.typ, func(b []byte) []byte { return u.service(b, svc.sid) })
}

// appendRoleAs renders a role in either view, which differ only in the
// name of the service's field, the role's type and the service's URL.
func appendRoleAs(b []byte, acct sid, svc *service, r *role, serviceKey, typ string, serviceURL func([]byte) []byte) []byte {
	b = append(b, '{')
	b = sidField(b, "sid", "RL", r.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, serviceKey, "IS", svc.sid)
	b = appendString(key(b, "friendly_name"), r.name)
	b = appendString(key(b, "type"), typ)
	b = appendStrings(key(b, "permissions"), r.perms)
	b = appendDate(key(b, "date_created"), r.created)
	b = appendDate(key(b, "date_updated"), r.updated)
	b = urlField(b, "url", func(b []byte) []byte {
		return appendSID(append(serviceURL(b), "/Roles/"...), "RL", r.sid)
	}, "")
	return append(b, '}')
}

func appendUserJSON(b []byte, u urls, acct sid, svc *service, usr *user) []byte {
	self := func(b []byte) []byte {
		return appendSID(append(u.service(b, svc.sid), "/Users/"...), "US", usr.sid)
	}
	b = append(b, '{')
	b = sidField(b, "sid", "US", usr.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "service_sid", "IS", svc.sid)
	b = appendString(key(b, "attributes"), usr.attrs)
	b = appendNullString(key(b, "friendly_name"), usr.friendlyName)
	b = sidField(b, "role_sid", "RL", usr.role)
	b = appendString(key(b, "identity"), usr.identity)
	// Reachability is off in every emulated service, so both are null in
	// fetches as well as in lists.
	b = rawField(b, "is_online", "null")
	b = rawField(b, "is_notifiable", "null")
	b = appendDate(key(b, "date_created"), usr.created)
	b = appendDate(key(b, "date_updated"), usr.updated)
	b = strconv.AppendInt(key(b, "joined_channels_count"), int64(usr.joined), 10)
	b = append(openLinks(b, self, userLinks), '}')
	b = urlField(b, "url", self, "")
	return append(b, '}')
}

func appendChannelJSON(b []byte, u urls, acct sid, svc *service, ch *channel) []byte {
	self := func(b []byte) []byte { return u.channel(b, svc.sid, ch.sid) }
	typ := `"public"`
	if ch.private {
		typ = `"private"`
	}
	b = append(b, '{')
	b = sidField(b, "sid", "CH", ch.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "service_sid", "IS", svc.sid)
	b = appendNullString(key(b, "friendly_name"), ch.friendlyName)
	b = appendNullString(key(b, "unique_name"), ch.uniqueName)
	b = appendString(key(b, "attributes"), ch.attrs)
	b = rawField(b, "type", typ)
	b = appendDate(key(b, "date_created"), ch.created)
	b = appendDate(key(b, "date_updated"), ch.updated)
	b = appendString(key(b, "created_by"), ch.createdBy)
	b = strconv.AppendInt(key(b, "members_count"), int64(len(ch.members)), 10)
	b = strconv.AppendInt(key(b, "messages_count"), int64(len(ch.msgs)), 10)
	b = urlField(b, "url", self, "")
	b = openLinks(b, self, channelLinks)
	if n := len(ch.msgs); n > 0 {
		last := ch.msgs[n-1].sid
		b = urlField(b, "last_message", func(b []byte) []byte {
			return appendSID(append(self(b), "/Messages/"...), "IM", last)
		}, "")
	} else {
		b = rawField(b, "last_message", "null")
	}
	return append(b, '}', '}')
}

func appendMemberJSON(b []byte, u urls, acct sid, svc *service, ch *channel, m *member) []byte {
	b = append(b, '{')
	b = sidField(b, "sid", "MB", m.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = sidField(b, "channel_sid", "CH", ch.sid)
	b = sidField(b, "service_sid", "IS", svc.sid)
	b = appendString(key(b, "identity"), m.identity)
	b = appendDate(key(b, "date_created"), m.created)
	b = appendDate(key(b, "date_updated"), m.updated)
	b = sidField(b, "role_sid", "RL", m.role)
	if m.hasLastConsumed {
		b = strconv.AppendInt(key(b, "last_consumed_message_index"), m.lastConsumed, 10)
	} else {
		b = rawField(b, "last_consumed_message_index", "null")
	}
	b = appendDate(key(b, "last_consumption_timestamp"), m.lastConsumption)
	b = urlField(b, "url", func(b []byte) []byte {
		return appendSID(append(u.channel(b, svc.sid, ch.sid), "/Members/"...), "MB", m.sid)
	}, "")
	b = appendString(key(b, "attributes"), m.attrs)
	return append(b, '}')
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendMediaJSON appends a media object, as Chat's media and as each
// element of Conversations' media array.
func appendMediaJSON(b []byte, md *media) []byte {
	b = append(b, '{')
	b = sidField(b, "sid", "ME", md.sid)
	b = strconv.AppendInt(key(b, "size"), md.size, 10)
	b = appendString(key(b, "content_type"), md.contentType)
	b = appendNullString(key(b, "filename"), nonEmpty(md.filename))
	return append(b, '}')
}

func appendMessageJSON(b []byte, u urls, acct sid, svc *service, ch *channel, m *message) []byte {
	b = append(b, '{')
	b = sidField(b, "sid", "IM", m.sid)
	b = sidField(b, "account_sid", "AC", acct)
	b = appendString(key(b, "attributes"), m.attrs)
	b = sidField(b, "service_sid", "IS", svc.sid)
	b = sidField(b, "to", "CH", ch.sid)
	b = sidField(b, "channel_sid", "CH", ch.sid)
	b = appendDate(key(b, "date_created"), m.created)
	b = appendDate(key(b, "date_updated"), m.updated)
	if m.flags&msgHasLastUpdatedBy != 0 {
		b = appendString(key(b, "last_updated_by"), m.lastUpdatedBy)
	} else {
		b = rawField(b, "last_updated_by", "null")
	}
	b = rawField(b, "was_edited", strconv.FormatBool(m.flags&msgEdited != 0))
	b = appendString(key(b, "from"), m.from)
	b = appendString(key(b, "body"), m.body)
	b = strconv.AppendInt(key(b, "index"), m.index, 10)
	if md := m.media; md != nil {
		b = rawField(b, "type", `"media"`)
		b = appendMediaJSON(key(b, "media"), md)
	} else {
		b = rawField(b, "type", `"text"`)
		b = rawField(b, "media", "null")
	}
	b = urlField(b, "url", func(b []byte) []byte {
		return appendSID(append(u.channel(b, svc.sid, ch.sid), "/Messages/"...), "IM", m.sid)
	}, "")
	return append(b, '}')
}

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

func appendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// key appends `,"name":` (or without the comma for the first field).
func key(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
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

func (u urls) quoted(b []byte, f func([]byte) []byte, suffix string) []byte {
	b = append(b, '"')
	b = f(b)
	b = append(b, suffix...)
	return append(b, '"')
}

// appendServiceJSON renders a service. The caller holds svc.mu for reading.
func appendServiceJSON(b []byte, u urls, acct sid, svc *service) []byte {
	self := func(b []byte) []byte { return u.service(b, svc.sid) }
	b = append(b, '{')
	b = key(b, "sid")
	b = append(appendSID(append(b, '"'), "IS", svc.sid), '"')
	b = key(b, "account_sid")
	b = append(appendSID(append(b, '"'), "AC", acct), '"')
	b = key(b, "friendly_name")
	b = appendString(b, svc.friendlyName)
	b = key(b, "date_created")
	b = appendDate(b, svc.created)
	b = key(b, "date_updated")
	b = appendDate(b, svc.updated)
	b = key(b, "default_service_role_sid")
	b = append(appendSID(append(b, '"'), "RL", svc.defaultServiceRole), '"')
	b = key(b, "default_channel_role_sid")
	b = append(appendSID(append(b, '"'), "RL", svc.defaultChannelRole), '"')
	b = key(b, "default_channel_creator_role_sid")
	b = append(appendSID(append(b, '"'), "RL", svc.defaultChannelCreatorRole), '"')
	b = key(b, "read_status_enabled")
	b = append(b, "true"...)
	b = key(b, "reachability_enabled")
	b = append(b, "false"...)
	b = key(b, "typing_indicator_timeout")
	b = append(b, '5')
	b = key(b, "consumption_report_interval")
	b = append(b, "10"...)
	b = key(b, "limits")
	b = append(b, `{"channel_members":100,"user_channels":250}`...)
	b = key(b, "pre_webhook_url")
	b = append(b, "null"...)
	b = key(b, "post_webhook_url")
	b = append(b, "null"...)
	b = key(b, "webhook_method")
	b = append(b, `"POST"`...)
	b = key(b, "webhook_filters")
	b = append(b, "[]"...)
	b = key(b, "pre_webhook_retry_count")
	b = append(b, '0')
	b = key(b, "post_webhook_retry_count")
	b = append(b, '0')
	b = key(b, "notifications")
	b = append(b, `{"log_enabled":false,"new_message":{"enabled":false},"added_to_channel":{"enabled":false},"removed_from_channel":{"enabled":false},"invited_to_channel":{"enabled":false}}`...)
	b = key(b, "media")
	b = append(b, `{"size_limit_mb":150,"compatibility_message":null}`...)
	b = key(b, "url")
	b = u.quoted(b, self, "")
	b = key(b, "links")
	b = append(b, '{')
	b = key(b, "channels")
	b = u.quoted(b, self, "/Channels")
	b = key(b, "roles")
	b = u.quoted(b, self, "/Roles")
	b = key(b, "users")
	b = u.quoted(b, self, "/Users")
	b = key(b, "bindings")
	b = u.quoted(b, self, "/Bindings")
	return append(b, '}', '}')
}

func appendRoleJSON(b []byte, u urls, acct sid, svc *service, r *role) []byte {
	b = append(b, '{')
	b = key(b, "sid")
	b = append(appendSID(append(b, '"'), "RL", r.sid), '"')
	b = key(b, "account_sid")
	b = append(appendSID(append(b, '"'), "AC", acct), '"')
	b = key(b, "service_sid")
	b = append(appendSID(append(b, '"'), "IS", svc.sid), '"')
	b = key(b, "friendly_name")
	b = appendString(b, r.name)
	b = key(b, "type")
	b = appendString(b, r.typ)
	b = key(b, "permissions")
	b = append(b, '[')
	for i, p := range r.perms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
	}
	b = append(b, ']')
	b = key(b, "date_created")
	b = appendDate(b, r.created)
	b = key(b, "date_updated")
	b = appendDate(b, r.updated)
	b = key(b, "url")
	b = u.quoted(b, func(b []byte) []byte {
		b = u.service(b, svc.sid)
		return appendSID(append(b, "/Roles/"...), "RL", r.sid)
	}, "")
	return append(b, '}')
}

func appendUserJSON(b []byte, u urls, acct sid, svc *service, usr *user) []byte {
	self := func(b []byte) []byte {
		b = u.service(b, svc.sid)
		return appendSID(append(b, "/Users/"...), "US", usr.sid)
	}
	b = append(b, '{')
	b = key(b, "sid")
	b = append(appendSID(append(b, '"'), "US", usr.sid), '"')
	b = key(b, "account_sid")
	b = append(appendSID(append(b, '"'), "AC", acct), '"')
	b = key(b, "service_sid")
	b = append(appendSID(append(b, '"'), "IS", svc.sid), '"')
	b = key(b, "attributes")
	b = appendString(b, usr.attrs)
	b = key(b, "friendly_name")
	b = appendNullString(b, usr.friendlyName)
	b = key(b, "role_sid")
	b = append(appendSID(append(b, '"'), "RL", usr.role), '"')
	b = key(b, "identity")
	b = appendString(b, usr.identity)
	// Reachability is off in every emulated service, so both are null in
	// fetches as well as in lists.
	b = key(b, "is_online")
	b = append(b, "null"...)
	b = key(b, "is_notifiable")
	b = append(b, "null"...)
	b = key(b, "date_created")
	b = appendDate(b, usr.created)
	b = key(b, "date_updated")
	b = appendDate(b, usr.updated)
	b = key(b, "joined_channels_count")
	b = strconv.AppendInt(b, int64(usr.joined), 10)
	b = key(b, "links")
	b = append(b, '{')
	b = key(b, "user_channels")
	b = u.quoted(b, self, "/Channels")
	b = key(b, "user_bindings")
	b = u.quoted(b, self, "/Bindings")
	b = append(b, '}')
	b = key(b, "url")
	b = u.quoted(b, self, "")
	return append(b, '}')
}

func appendChannelJSON(b []byte, u urls, acct sid, svc *service, ch *channel) []byte {
	self := func(b []byte) []byte { return u.channel(b, svc.sid, ch.sid) }
	b = append(b, '{')
	b = key(b, "sid")
	b = append(appendSID(append(b, '"'), "CH", ch.sid), '"')
	b = key(b, "account_sid")
	b = append(appendSID(append(b, '"'), "AC", acct), '"')
	b = key(b, "service_sid")
	b = append(appendSID(append(b, '"'), "IS", svc.sid), '"')
	b = key(b, "friendly_name")
	b = appendNullString(b, ch.friendlyName)
	b = key(b, "unique_name")
	b = appendNullString(b, ch.uniqueName)
	b = key(b, "attributes")
	b = appendString(b, ch.attrs)
	b = key(b, "type")
	if ch.private {
		b = append(b, `"private"`...)
	} else {
		b = append(b, `"public"`...)
	}
	b = key(b, "date_created")
	b = appendDate(b, ch.created)
	b = key(b, "date_updated")
	b = appendDate(b, ch.updated)
	b = key(b, "created_by")
	b = appendString(b, ch.createdBy)
	b = key(b, "members_count")
	b = strconv.AppendInt(b, int64(len(ch.members)), 10)
	b = key(b, "messages_count")
	b = strconv.AppendInt(b, int64(len(ch.msgs)), 10)
	b = key(b, "url")
	b = u.quoted(b, self, "")
	b = key(b, "links")
	b = append(b, '{')
	b = key(b, "members")
	b = u.quoted(b, self, "/Members")
	b = key(b, "messages")
	b = u.quoted(b, self, "/Messages")
	b = key(b, "invites")
	b = u.quoted(b, self, "/Invites")
	b = key(b, "webhooks")
	b = u.quoted(b, self, "/Webhooks")
	b = key(b, "last_message")
	if n := len(ch.msgs); n > 0 {
		last := ch.msgs[n-1].sid
		b = u.quoted(b, func(b []byte) []byte {
			return appendSID(append(self(b), "/Messages/"...), "IM", last)
		}, "")
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}', '}')
}

func appendMemberJSON(b []byte, u urls, acct sid, svc *service, ch *channel, m *member) []byte {
	b = append(b, '{')
	b = key(b, "sid")
	b = append(appendSID(append(b, '"'), "MB", m.sid), '"')
	b = key(b, "account_sid")
	b = append(appendSID(append(b, '"'), "AC", acct), '"')
	b = key(b, "channel_sid")
	b = append(appendSID(append(b, '"'), "CH", ch.sid), '"')
	b = key(b, "service_sid")
	b = append(appendSID(append(b, '"'), "IS", svc.sid), '"')
	b = key(b, "identity")
	b = appendString(b, m.identity)
	b = key(b, "date_created")
	b = appendDate(b, m.created)
	b = key(b, "date_updated")
	b = appendDate(b, m.updated)
	b = key(b, "role_sid")
	b = append(appendSID(append(b, '"'), "RL", m.role), '"')
	b = key(b, "last_consumed_message_index")
	if m.hasLastConsumed {
		b = strconv.AppendInt(b, m.lastConsumed, 10)
	} else {
		b = append(b, "null"...)
	}
	b = key(b, "last_consumption_timestamp")
	b = appendDate(b, m.lastConsumption)
	b = key(b, "url")
	b = u.quoted(b, func(b []byte) []byte {
		return appendSID(append(u.channel(b, svc.sid, ch.sid), "/Members/"...), "MB", m.sid)
	}, "")
	b = key(b, "attributes")
	b = appendString(b, m.attrs)
	return append(b, '}')
}

func appendMessageJSON(b []byte, u urls, acct sid, svc *service, ch *channel, m *message) []byte {
	b = append(b, '{')
	b = key(b, "sid")
	b = append(appendSID(append(b, '"'), "IM", m.sid), '"')
	b = key(b, "account_sid")
	b = append(appendSID(append(b, '"'), "AC", acct), '"')
	b = key(b, "attributes")
	b = appendString(b, m.attrs)
	b = key(b, "service_sid")
	b = append(appendSID(append(b, '"'), "IS", svc.sid), '"')
	b = key(b, "to")
	b = append(appendSID(append(b, '"'), "CH", ch.sid), '"')
	b = key(b, "channel_sid")
	b = append(appendSID(append(b, '"'), "CH", ch.sid), '"')
	b = key(b, "date_created")
	b = appendDate(b, m.created)
	b = key(b, "date_updated")
	b = appendDate(b, m.updated)
	b = key(b, "last_updated_by")
	if m.flags&msgHasLastUpdatedBy != 0 {
		b = appendString(b, m.lastUpdatedBy)
	} else {
		b = append(b, "null"...)
	}
	b = key(b, "was_edited")
	b = appendBool(b, m.flags&msgEdited != 0)
	b = key(b, "from")
	b = appendString(b, m.from)
	b = key(b, "body")
	b = appendString(b, m.body)
	b = key(b, "index")
	b = strconv.AppendInt(b, m.index, 10)
	b = key(b, "type")
	if m.media != nil {
		b = append(b, `"media"`...)
	} else {
		b = append(b, `"text"`...)
	}
	b = key(b, "media")
	if md := m.media; md != nil {
		b = append(b, '{')
		b = key(b, "sid")
		b = append(appendSID(append(b, '"'), "ME", md.sid), '"')
		b = key(b, "size")
		b = strconv.AppendInt(b, md.size, 10)
		b = key(b, "content_type")
		b = appendString(b, md.contentType)
		b = key(b, "filename")
		b = appendString(b, md.filename)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = key(b, "url")
	b = u.quoted(b, func(b []byte) []byte {
		return appendSID(append(u.channel(b, svc.sid, ch.sid), "/Messages/"...), "IM", m.sid)
	}, "")
	return append(b, '}')
}

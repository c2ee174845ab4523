package remote

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// segment escapes one identifier for use as a path segment. Identifiers may
// be unique names or identities chosen by users, so they may hold '/', '?',
// '%' or spaces; url.PathEscape keeps each one a single segment. "." and
// ".." cannot be addressed safely and are refused.
func segment(what, hint, v string) (string, error) {
	switch v {
	case "":
		return "", fmt.Errorf("%s is empty: give %s", what, hint)
	case ".", "..":
		return "", fmt.Errorf("%s %q cannot be used in a URL path: give %s", what, v, hint)
	}
	return url.PathEscape(v), nil
}

// channelKey identifies a channel for write pacing.
func channelKey(service, channel string) string { return service + "\x00" + channel }

// formatTime renders t as the API expects: RFC 3339 in UTC, whole seconds.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Form builders: a nil pointer is not sent.

func setString(f url.Values, key string, v *string) {
	if v != nil {
		f.Set(key, *v)
	}
}

func setTime(f url.Values, key string, v *time.Time) {
	if v != nil {
		f.Set(key, formatTime(*v))
	}
}

func setInt(f url.Values, key string, v *int) {
	if v != nil {
		f.Set(key, strconv.Itoa(*v))
	}
}

func (p ChannelParams) form(create bool) (url.Values, error) {
	f := url.Values{}
	setString(f, "FriendlyName", p.FriendlyName)
	setString(f, "UniqueName", p.UniqueName)
	setString(f, "Attributes", p.Attributes)
	if create {
		switch p.Type {
		case "":
		case "public", "private":
			f.Set("Type", p.Type)
		default:
			return nil, fmt.Errorf("channel type %q is not valid: use \"public\", \"private\" or \"\" (the service default)", p.Type)
		}
	}
	setString(f, "CreatedBy", p.CreatedBy)
	setTime(f, "DateCreated", p.DateCreated)
	setTime(f, "DateUpdated", p.DateUpdated)
	return f, nil
}

func (p MemberParams) form(create bool) (url.Values, error) {
	f := url.Values{}
	if create {
		if p.Identity == "" {
			return nil, fmt.Errorf("member identity is empty: it is required to add a member")
		}
		f.Set("Identity", p.Identity)
	}
	setString(f, "RoleSid", p.RoleSID)
	setString(f, "Attributes", p.Attributes)
	setInt(f, "LastConsumedMessageIndex", p.LastConsumedMessageIndex)
	setTime(f, "LastConsumptionTimestamp", p.LastConsumptionTimestamp)
	setTime(f, "DateCreated", p.DateCreated)
	setTime(f, "DateUpdated", p.DateUpdated)
	return f, nil
}

func (p MessageParams) form(create bool) url.Values {
	f := url.Values{}
	setString(f, "From", p.From)
	setString(f, "Body", p.Body)
	setString(f, "Attributes", p.Attributes)
	setString(f, "LastUpdatedBy", p.LastUpdatedBy)
	if create {
		setString(f, "MediaSid", p.MediaSID)
	}
	setTime(f, "DateCreated", p.DateCreated)
	setTime(f, "DateUpdated", p.DateUpdated)
	return f
}

func (p UserParams) form(create bool) (url.Values, error) {
	f := url.Values{}
	if create {
		if p.Identity == "" {
			return nil, fmt.Errorf("user identity is empty: it is required to create a user")
		}
		f.Set("Identity", p.Identity)
	}
	setString(f, "RoleSid", p.RoleSID)
	setString(f, "Attributes", p.Attributes)
	setString(f, "FriendlyName", p.FriendlyName)
	return f, nil
}

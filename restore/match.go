package restore

import (
	"encoding/json"
	"reflect"
	"slices"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// channelParams are the create parameters that recreate c. Null fields are
// not sent, so the service applies its defaults, as it did for the source.
func channelParams(c *srcChannel) remote.ChannelParams {
	return remote.ChannelParams{
		FriendlyName: c.FriendlyName,
		UniqueName:   nonEmpty(c.UniqueName),
		Attributes:   c.Attributes,
		Type:         c.Type,
		CreatedBy:    c.CreatedBy,
		DateCreated:  utc(c.DateCreated),
		DateUpdated:  utc(c.DateUpdated),
	}
}

// messageParams are the create parameters that recreate m, with media
// mediaSID when not "". The body is always sent (an empty body explicitly)
// except on a media message, whose media is attached instead; attributes
// are sent exactly as archived.
func messageParams(m *srcMessage, mediaSID string) remote.MessageParams {
	p := remote.MessageParams{
		From:          m.From,
		Attributes:    m.Attributes,
		LastUpdatedBy: m.LastUpdatedBy,
		DateCreated:   utc(m.DateCreated),
		DateUpdated:   utc(m.DateUpdated),
	}
	if mediaSID != "" {
		p.MediaSID = &mediaSID
		p.Body = nonEmpty(m.Body)
		return p
	}
	body := deref(m.Body)
	p.Body = &body
	return p
}

// The comparisons below are the one definition of "equal" that restore
// uses both to recognise what an earlier run created (adoption and
// reconciliation) and to verify a finished restore (VerifyTarget). Each
// names every field in which the target differs from the archive, in a
// fixed order, using the API's field names; nil means none does. A field
// that Run does not send when it is null in the archive (a role, from,
// attributes, created_by, a date) is left to the service, so any target
// value matches it.

// diffs collects the names of differing fields.
type diffs []string

func (d *diffs) add(field string, differs bool) {
	if differs {
		*d = append(*d, field)
	}
}

// first returns the first field of d not in ignore, "" when none is.
func (d diffs) first(ignore ...string) string {
	for _, f := range d {
		if !slices.Contains(ignore, f) {
			return f
		}
	}
	return ""
}

// channelDiffs names the fields in which target channel t differs from
// archived channel c.
func channelDiffs(c *srcChannel, t *remote.Channel) diffs {
	var d diffs
	d.add("unique_name", deref(c.UniqueName) != t.UniqueName)
	d.add("friendly_name", deref(c.FriendlyName) != t.FriendlyName)
	d.add("type", c.Type != "" && c.Type != t.Type)
	d.add("attributes", attrsDiffer(c.Attributes, t.Attributes))
	d.add("created_by", c.CreatedBy != nil && *c.CreatedBy != t.CreatedBy)
	d.add("date_created", !sameTime(c.DateCreated, t.DateCreated))
	d.add("date_updated", !sameTime(c.DateUpdated, t.DateUpdated))
	return d
}

// channelDiff names the first field in which target channel t differs from
// what creating c would give, "" when none does. date_updated is left out:
// it says nothing about whose channel it is; so are the fields in lost,
// which the target's API cannot carry.
func channelDiff(c *srcChannel, t *remote.Channel, lost map[string]bool) string {
	return channelDiffs(c, t).without(remote.KindChannel, lost).first("date_updated")
}

// messageDiffs names the fields in which target message t differs from
// archived message m. The body of a media message is compared when it has
// one; its media when the target's is not a copy of the same file (see
// mediaDiffers).
func messageDiffs(m *srcMessage, t *remote.Message) diffs {
	var d diffs
	d.add("from", m.From != nil && *m.From != t.From)
	d.add("body", (m.media() == "" || deref(m.Body) != "") && deref(m.Body) != t.Body)
	d.add("media", mediaDiffers(m.Media, t.Media))
	d.add("attributes", attrsDiffer(m.Attributes, t.Attributes))
	d.add("date_created", !sameTime(m.DateCreated, t.DateCreated))
	d.add("date_updated", !sameTime(m.DateUpdated, updated(t)))
	d.add("last_updated_by", deref(m.LastUpdatedBy) != t.LastUpdatedBy)
	return d
}

// updated is t's date_updated as Chat shows it: Conversations gives null
// (read as the zero time) for a message never edited, which Chat shows as
// its date_created.
func updated(t *remote.Message) time.Time {
	if t.DateUpdated.IsZero() {
		return t.DateCreated
	}
	return t.DateUpdated
}

// messageDiff names the first field in which target message t differs from
// what creating m would give, "" when none does. Reconciliation recognises
// a message by what identifies it; date_updated and last_updated_by are left
// out, and so are the fields in lost.
func messageDiff(m *srcMessage, t *remote.Message, lost map[string]bool) string {
	return messageDiffs(m, t).without(remote.KindMessage, lost).first("date_updated", "last_updated_by")
}

// memberDiffs names the fields in which target member t differs from
// archived member m. srcRole and tgtRole name their roles (the friendly
// name, or the SID when the role is unknown); lcmi is m's
// last_consumed_message_index mapped onto the target's indexes (nil: there
// is none, so the target must have none either).
func memberDiffs(m *srcMember, t *remote.Member, srcRole, tgtRole string, lcmi *int64) diffs {
	var d diffs
	d.add("role_sid", deref(m.RoleSID) != "" && srcRole != tgtRole)
	d.add("attributes", attrsDiffer(m.Attributes, t.Attributes))
	d.add("date_created", !sameTime(m.DateCreated, t.DateCreated))
	d.add("date_updated", !sameTime(m.DateUpdated, t.DateUpdated))
	d.add("last_consumed_message_index", !sameIndex(lcmi, t.LastConsumedMessageIndex))
	d.add("last_consumption_timestamp", !sameOptTime(m.LastConsumptionTimestamp, t.LastConsumptionTimestamp))
	return d
}

// attrsDiffer: archived attributes src (nil: not sent) differ from the target's.
func attrsDiffer(src *string, t string) bool {
	return src != nil && !sameJSON(*src, t)
}

func sameIndex(want *int64, got *int) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	return *want == int64(*got)
}

// sameOptTime compares optional dates to the second; null matches only null.
func sameOptTime(src, t *time.Time) bool {
	if src == nil || t == nil {
		return src == nil && t == nil
	}
	return sameTime(src, *t)
}

// sameJSON reports whether a and b are the same string or encode the same
// JSON value (a service may re-encode attributes).
func sameJSON(a, b string) bool {
	if a == b {
		return true
	}
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// sameTime compares to the second, as the API stores dates; a nil source
// date matches anything (the service chose it).
func sameTime(src *time.Time, t time.Time) bool {
	if src == nil || src.IsZero() {
		return true
	}
	return src.UTC().Truncate(time.Second).Equal(t.UTC().Truncate(time.Second))
}

func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

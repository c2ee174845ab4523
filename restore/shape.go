package restore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// What restore does across the two APIs lives here: reading every archived
// record in Chat's shape whatever API it was read through, knowing which
// API the target is written through, and which fields one API cannot carry
// into the other (remote.Losses, the one table).

// snapshotAPI is the API snapshot s was read through ("" in archives of
// earlier releases: Chat).
func snapshotAPI(s store.Snapshot) string {
	if s.API == "" {
		return remote.APIChat
	}
	return s.API
}

// shapedView reads a snapshot read through Conversations as if it had been
// read through Chat: every record's Raw is put in Chat's shape by
// remote.ChatShape, so the source types of source.go read one shape.
type shapedView struct {
	snapshotView
	api string
}

// shaped returns v reading records in Chat's shape; v itself when they are.
func shaped(v snapshotView, api string) snapshotView {
	if api == remote.APIChat {
		return v
	}
	return shapedView{v, api}
}

func (v shapedView) shape(kind, sid string, raw []byte) ([]byte, error) {
	out, err := remote.ChatShape(v.api, kind, raw)
	if err != nil {
		return nil, fmt.Errorf("read archived %s %s (as %s returned it) in Chat's shape: %w", kind, sid, v.api, err)
	}
	return out, nil
}

// shapeEach puts each of recs (as read, with err) in Chat's shape; at
// gives a record's SID and its Raw.
func shapeEach[R any](v shapedView, kind string, recs []R, err error, at func(*R) (string, *[]byte)) ([]R, error) {
	if err != nil {
		return nil, err
	}
	for i := range recs {
		sid, raw := at(&recs[i])
		if *raw, err = v.shape(kind, sid, *raw); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func (v shapedView) Channels() ([]store.ChannelRecord, error) {
	cs, err := v.snapshotView.Channels()
	return shapeEach(v, remote.KindChannel, cs, err, func(c *store.ChannelRecord) (string, *[]byte) { return c.SID, &c.Raw })
}

func (v shapedView) Channel(sidOrUniqueName string) (store.ChannelRecord, error) {
	c, err := v.snapshotView.Channel(sidOrUniqueName)
	if err != nil {
		return c, err
	}
	c.Raw, err = v.shape(remote.KindChannel, c.SID, c.Raw)
	return c, err
}

func (v shapedView) Members(channelSID string) ([]store.MemberRecord, error) {
	ms, err := v.snapshotView.Members(channelSID)
	return shapeEach(v, remote.KindMember, ms, err, func(m *store.MemberRecord) (string, *[]byte) { return m.SID, &m.Raw })
}

func (v shapedView) Users() ([]store.UserRecord, error) {
	us, err := v.snapshotView.Users()
	return shapeEach(v, remote.KindUser, us, err, func(u *store.UserRecord) (string, *[]byte) { return u.SID, &u.Raw })
}

func (v shapedView) Messages(channelSID string) iter.Seq2[store.MessageRecord, error] {
	return func(yield func(store.MessageRecord, error) bool) {
		for m, err := range v.snapshotView.Messages(channelSID) {
			if err == nil {
				m.Raw, err = v.shape(remote.KindMessage, m.SID, m.Raw)
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// LossCount is a field that one API cannot carry into the other (a row of
// remote.Losses) and how many of the archived records this restore writes
// hold a value in it that is therefore not restored.
type LossCount struct {
	Kind  string `json:"kind"`
	Field string `json:"field"`
	From  string `json:"from"` // the API whose shape the records are in (a snapshot read through Conversations keeps older records in Chat's)
	Why   string `json:"why"`
	Count int    `json:"count"`
}

// restoredKinds are the kinds of record restore writes, in the order the
// losses are reported.
var restoredKinds = []string{remote.KindUser, remote.KindChannel, remote.KindMember, remote.KindMessage}

// lostFields is the set of "kind/field" (Chat names) that cannot be carried
// from the snapshot's API into any of the target APIs: they are not
// compared. A snapshot read through Conversations may hold records in
// Chat's shape too (what an earlier Chat snapshot read and this one did not
// read again, see remote.ChatShape), so Chat's losses count for it as
// well. Through ChatShape a Conversations-only field keeps its name, and
// restore compares none of those.
func lostFields(snapAPI string, targetAPIs ...string) map[string]bool {
	lost := map[string]bool{}
	for _, kind := range restoredKinds {
		for _, from := range []string{remote.APIChat, snapAPI} {
			for _, t := range targetAPIs {
				for _, l := range remote.Losses(kind, from, t) {
					lost[kind+"/"+l.Field] = true
				}
			}
		}
	}
	return lost
}

// without leaves out of d the fields of kind in lost.
func (d diffs) without(kind string, lost map[string]bool) diffs {
	if len(lost) == 0 {
		return d
	}
	return slices.DeleteFunc(d, func(f string) bool { return lost[kind+"/"+f] })
}

// countLosses reads the selected channels' archived records as the
// snapshot's API returned them and counts, for each field that cannot be
// carried into toAPI, the records that hold a value in it. raw is the view
// before shaping. A record of a Conversations snapshot that is in Chat's
// shape (see lostFields) is counted against Chat's losses. Nothing is
// returned when no record loses anything.
func countLosses(raw snapshotView, chans []store.ChannelRecord, fromAPI, toAPI string) ([]LossCount, error) {
	var out []LossCount
	rows := map[string][]int{} // the record's API → its rows of out
	for _, from := range slices.Compact([]string{fromAPI, remote.APIChat}) {
		for _, kind := range restoredKinds {
			for _, l := range remote.Losses(kind, from, toAPI) {
				rows[from] = append(rows[from], len(out))
				out = append(out, LossCount{Kind: l.Kind, Field: l.Field, From: from, Why: l.Why})
			}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	tally := func(kind string, raw []byte) {
		var rec map[string]json.RawMessage
		if json.Unmarshal(raw, &rec) != nil {
			return
		}
		api := fromAPI
		if _, conv := rec["chat_service_sid"]; !conv && rec["service_sid"] != nil {
			api = remote.APIChat
		}
		for _, i := range rows[api] {
			if out[i].Kind == kind && carries(kind, out[i].Field, rec[out[i].Field]) {
				out[i].Count++
			}
		}
	}
	us, err := raw.Users()
	if err != nil {
		return nil, fmt.Errorf("restore: read archived users: %w", err)
	}
	for _, u := range us {
		tally(remote.KindUser, u.Raw)
	}
	for _, c := range chans {
		orig, err := raw.Channel(c.SID)
		if err != nil {
			return nil, fmt.Errorf("restore: read archived channel %s: %w", c.SID, err)
		}
		tally(remote.KindChannel, orig.Raw)
		ms, err := raw.Members(c.SID)
		if err != nil {
			return nil, fmt.Errorf("restore: read archived members of channel %s: %w", c.SID, err)
		}
		for _, m := range ms {
			tally(remote.KindMember, m.Raw)
		}
		for m, err := range raw.Messages(c.SID) {
			if err != nil {
				return nil, fmt.Errorf("restore: read archived messages of channel %s: %w", c.SID, err)
			}
			tally(remote.KindMessage, m.Raw)
		}
	}
	out = slices.DeleteFunc(out, func(l LossCount) bool { return l.Count == 0 })
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// carries reports whether v, the value of a field that cannot be carried,
// holds something the target will not have: not null, "", false, {} or [];
// a channel's type only when it is not "private" (every conversation is
// private), a conversation's state only when it is not "active" (what a
// Chat channel always is); a media array only when it has more than one element (Chat
// keeps the first).
func carries(kind, field string, v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	switch string(v) {
	case "", "null", `""`, "false", "{}", "[]":
		return false
	}
	switch {
	case kind == remote.KindChannel && field == "type":
		return string(v) != `"private"`
	case kind == remote.KindChannel && field == "state":
		return string(v) != `"active"`
	case kind == remote.KindMessage && field == "media":
		var items []json.RawMessage
		return json.Unmarshal(v, &items) != nil || len(items) > 1
	}
	return true
}

// lossWarnings words losses for Result.Warnings.
func lossWarnings(losses []LossCount, toAPI string) []string {
	var out []string
	for _, l := range losses {
		out = append(out, fmt.Sprintf("%d archived %s records hold %s, which %s cannot carry from %s: %s",
			l.Count, l.Kind, l.Field, apiTitle(toAPI), apiTitle(l.From), strings.TrimSuffix(l.Why, ".")))
	}
	return out
}

func apiTitle(api string) string {
	if api == remote.APIConversations {
		return "Conversations"
	}
	return "Chat"
}

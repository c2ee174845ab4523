package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// DiffNotVisible is a Difference that is not one: an archived public
// channel the live service's API does not show (Conversations shows private
// channels only). Compare names it so that it is not taken for a channel
// deleted from the service.
const DiffNotVisible = "not_visible"

// sides are the APIs the two sides of a comparison were read through: the
// snapshot's and the live service's. Unless both are Chat, records are
// compared in Chat's shape (remote.ChatShape: a snapshot read through
// Conversations may hold records an earlier one read through Chat) and
// these are not differences: a
// field one API cannot carry into the other (remote.Losses), a field only
// one side has (one API does not show it: counts, timers, a Chat message's
// to), url and links (each API's own), a message's date_updated that
// Conversations shows null for a message never edited where Chat shows its
// date_created, and a body null on one side and "" on the other.
type sides struct {
	snap, live string
	lost       map[string]bool // "kind/field"
}

func newSides(v *store.View, src Source) sides {
	s := sides{snap: v.Snapshot().API, live: src.API(), lost: map[string]bool{}}
	for _, l := range NotCompared(s.snap, s.live) {
		s.lost[l.Kind+"/"+l.Field] = true
	}
	if s.snap == "" {
		s.snap = remote.APIChat
	}
	return s
}

// NotCompared lists the fields Compare does not compare between a snapshot
// read through snapAPI ("" is Chat) and a live service read through
// liveAPI, because one API cannot carry them into the other
// (remote.Losses, both ways; a Conversations snapshot may hold records in
// Chat's shape, so Chat's count too). Each field is listed once.
func NotCompared(snapAPI, liveAPI string) []remote.Loss {
	if snapAPI == "" {
		snapAPI = remote.APIChat
	}
	var out []remote.Loss
	seen := map[string]bool{}
	for _, kind := range []string{remote.KindUser, remote.KindChannel, remote.KindMember, remote.KindMessage} {
		for _, l := range slices.Concat(remote.Losses(kind, snapAPI, liveAPI), remote.Losses(kind, liveAPI, snapAPI),
			remote.Losses(kind, remote.APIChat, liveAPI)) {
			if !seen[kind+"/"+l.Field] {
				seen[kind+"/"+l.Field] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// classify says how a resource of kind differs between the archive and the
// live service: kind "" when it is on both sides and equal.
func (s sides) classify(kind string, archived, live []byte, inArchive, inLive bool) (string, []string) {
	if s.snap == remote.APIChat && s.live == remote.APIChat || !inArchive || !inLive {
		return classify(archived, live, inArchive, inLive)
	}
	a, errA := remote.ChatShape(s.snap, kind, archived)
	l, errL := remote.ChatShape(s.live, kind, live)
	if errA != nil || errL != nil {
		return classify(archived, live, true, true)
	}
	fields, differ := diffJSON(a, l)
	if !differ {
		return "", nil
	}
	var ma, ml map[string]json.RawMessage
	if fields == nil || json.Unmarshal(a, &ma) != nil || json.Unmarshal(l, &ml) != nil {
		return DiffChanged, fields
	}
	fields = slices.DeleteFunc(fields, func(f string) bool { return s.notCompared(kind, f, ma, ml) })
	if len(fields) == 0 {
		return "", nil
	}
	return DiffChanged, fields
}

func (s sides) notCompared(kind, f string, a, l map[string]json.RawMessage) bool {
	va, inA := a[f]
	vl, inL := l[f]
	switch {
	case !inA || !inL || f == "url" || f == "links" || s.lost[kind+"/"+f]:
		return true
	case kind == remote.KindMessage && f == "date_updated":
		return isNull(va) && bytes.Equal(compact(vl), compact(a["date_created"])) ||
			isNull(vl) && bytes.Equal(compact(va), compact(l["date_created"]))
	case kind == remote.KindMessage && f == "body":
		return (isNull(va) || string(compact(va)) == `""`) && (isNull(vl) || string(compact(vl)) == `""`)
	}
	return false
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// notVisible reports whether archived channel raw is public and the live
// API shows no public channels.
func (s sides) notVisible(raw []byte) bool {
	if remote.CapabilitiesOf(s.live).PublicChannels {
		return false
	}
	c, err := remote.ChatShape(s.snap, remote.KindChannel, raw)
	if err != nil {
		return false
	}
	var ch struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(c, &ch) == nil && ch.Type == "public"
}

// userFields are what Compare compares of a user: what a person sees and
// what restore writes, not the counts and dates the service keeps.
type userFields struct {
	Identity     string          `json:"identity"`
	FriendlyName json.RawMessage `json:"friendly_name"`
	Attributes   json.RawMessage `json:"attributes"`
	RoleSID      json.RawMessage `json:"role_sid"`
}

// userJSON is raw, a user as api returned it, reduced to userFields.
func userJSON(api string, raw []byte) []byte {
	c, err := remote.ChatShape(api, remote.KindUser, raw)
	if err != nil {
		return raw
	}
	var u userFields
	if json.Unmarshal(c, &u) != nil {
		return raw
	}
	b, _ := json.Marshal(u)
	return b
}

// compareUsers compares the archived users with the live ones, by SID, in
// identity, friendly_name, attributes and role_sid.
func compareUsers(ctx context.Context, src Source, v *store.View, s sides) ([]Difference, error) {
	recs, err := v.Users()
	if err != nil {
		return nil, fmt.Errorf("reading the users of snapshot %d: %w", v.Snapshot().ID, err)
	}
	archived := make(map[string][]byte, len(recs))
	for _, u := range recs {
		archived[u.SID] = userJSON(s.snap, u.Raw)
	}
	live := make(map[string][]byte, len(recs))
	for u, err := range src.ListUsers(ctx, v.Snapshot().Service) {
		if err != nil {
			return nil, fmt.Errorf("listing the users of live service %s: %w", v.Snapshot().Service, err)
		}
		live[u.SID] = userJSON(s.live, u.Raw)
	}
	var out []Difference
	for _, sid := range sortedUnion(archived, live) {
		a, inArchive := archived[sid]
		l, inLive := live[sid]
		if kind, fields := classify(a, l, inArchive, inLive); kind != "" {
			out = append(out, Difference{User: sid, Kind: kind, Fields: fields})
		}
	}
	return out, nil
}

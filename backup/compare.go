package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// Kinds of Difference.
const (
	DiffMissingLive    = "missing_live"    // archived, absent from the live service
	DiffMissingArchive = "missing_archive" // live, not archived
	DiffChanged        = "changed"         // on both sides, with different JSON
)

// compareConcurrency bounds the channels Compare reads at once.
const compareConcurrency = 8

// Difference is one way the live service differs from an archived snapshot.
type Difference struct {
	Channel string   `json:"channel"`          // channel SID; "" for a user
	User    string   `json:"user,omitempty"`   // user SID, for user differences
	Member  string   `json:"member,omitempty"` // member SID, for member differences
	Message *string  `json:"message"`          // message SID (IM…) for message differences, else null
	Kind    string   `json:"kind"`             // DiffMissingLive, DiffMissingArchive, DiffChanged or DiffNotVisible
	Fields  []string `json:"fields"`           // for DiffChanged: the JSON properties whose values differ, sorted
}

// MarshalJSON writes a nil Fields as [] rather than null: cli.md gives
// every difference a list of fields.
func (d Difference) MarshalJSON() ([]byte, error) {
	type plain Difference
	if d.Fields == nil {
		d.Fields = []string{}
	}
	return json.Marshal(plain(d))
}

// errOutOfOrder says the live service listed a channel's messages out of
// index order, so they cannot be merged with the archived ones.
var errOutOfOrder = errors.New("messages listed out of order")

// errChannelGone says the live service answered 404 for a channel it had
// just listed: the channel was deleted during the comparison.
var errChannelGone = errors.New("channel deleted during the comparison")

// Compare reads the live service v.Snapshot().Service (channels of both
// types, each channel's members, each channel's messages oldest first) and
// compares it with the snapshot v. It returns every user, channel, member and
// message that is missing on either side or changed, the users first (by
// SID), then sorted by channel SID;
// within a channel the channel itself comes first, then its members by SID,
// then its messages by index. It returns nil when they are equal.
//
// Compare only reads. A channel missing on one side is reported once: its
// members and messages are not listed. Messages are streamed from both
// sides and merged by index, so no channel's messages are held in memory.
// At most compareConcurrency channels are read at once. See doc.go for what
// counts as changed.
func Compare(ctx context.Context, src Source, v *store.View) ([]Difference, error) {
	snap := v.Snapshot()
	svc := snap.Service
	recs, err := v.Channels()
	if err != nil {
		return nil, fmt.Errorf("reading the channels of snapshot %d: %w", snap.ID, err)
	}
	archived := make(map[string][]byte, len(recs))
	for _, c := range recs {
		archived[c.SID] = c.Raw
	}
	sd := newSides(v, src)
	users, err := compareUsers(ctx, src, v, sd)
	if err != nil {
		return nil, err
	}
	live := make(map[string][]byte)
	for c, err := range src.ListChannels(ctx, svc, "public", "private") {
		if err != nil {
			return nil, fmt.Errorf("listing the channels of live service %s: %w", svc, err)
		}
		live[c.SID] = c.Raw
	}

	sids := sortedUnion(archived, live)
	results := make([][]Difference, len(sids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(compareConcurrency)
	for i, sid := range sids {
		a, inArchive := archived[sid]
		l, inLive := live[sid]
		if !inArchive || !inLive {
			kind, _ := classify(a, l, inArchive, inLive)
			if !inLive && sd.notVisible(a) {
				kind = DiffNotVisible
			}
			results[i] = []Difference{{Channel: sid, Kind: kind}}
			continue
		}
		if gctx.Err() != nil {
			break // a channel failed: Wait returns its error
		}
		g.Go(func() error {
			d, err := compareChannel(gctx, src, v, sd, sid, a, l)
			if err != nil {
				return fmt.Errorf("comparing channel %s of service %s with snapshot %d: %w", sid, svc, snap.ID, err)
			}
			results[i] = d
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("comparing snapshot %d with live service %s: %w", snap.ID, svc, err)
	}
	return slices.Concat(append([][]Difference{users}, results...)...), nil
}

// compareChannel compares one channel present on both sides: the channel
// resource, its members and its messages.
func compareChannel(ctx context.Context, src Source, v *store.View, sd sides, ch string, archived, live []byte) ([]Difference, error) {
	var out []Difference
	if kind, fields := sd.classify(remote.KindChannel, archived, live, true, true); kind != "" {
		out = append(out, Difference{Channel: ch, Kind: kind, Fields: fields})
	}
	members, err := compareMembers(ctx, src, v, sd, ch)
	if err == nil {
		out = append(out, members...)
		var messages []Difference
		messages, err = compareMessages(ctx, src, v, sd, ch)
		out = append(out, messages...)
	}
	switch {
	case errors.Is(err, errChannelGone):
		// The live service no longer has the channel: that is the one
		// difference to report.
		return []Difference{{Channel: ch, Kind: DiffMissingLive}}, nil
	case err != nil:
		return nil, err
	}
	return out, nil
}

// liveErr wraps an error of the live service's listing of what.
func liveErr(what string, err error) error {
	if errors.Is(err, remote.ErrNotFound) {
		return fmt.Errorf("%w: listing %s: %w", errChannelGone, what, err)
	}
	return fmt.Errorf("listing %s of the live service: %w", what, err)
}

// compareMembers compares the members of channel ch.
func compareMembers(ctx context.Context, src Source, v *store.View, sd sides, ch string) ([]Difference, error) {
	recs, err := v.Members(ch)
	if err != nil {
		return nil, fmt.Errorf("reading the archived members: %w", err)
	}
	archived := make(map[string][]byte, len(recs))
	for _, m := range recs {
		archived[m.SID] = m.Raw
	}
	live := make(map[string][]byte, len(recs))
	for m, err := range src.ListMembers(ctx, v.Snapshot().Service, ch, remote.ListOptions{PageSize: memberPageSize}) {
		if err != nil {
			return nil, liveErr("the members", err)
		}
		live[m.SID] = m.Raw
	}
	var out []Difference
	for _, sid := range sortedUnion(archived, live) {
		a, inArchive := archived[sid]
		l, inLive := live[sid]
		if kind, fields := sd.classify(remote.KindMember, a, l, inArchive, inLive); kind != "" {
			out = append(out, Difference{Channel: ch, Member: sid, Kind: kind, Fields: fields})
		}
	}
	return out, nil
}

// compareMessages walks the archived and the live messages of channel ch
// side by side, both in index order, one message of each side at a time.
func compareMessages(ctx context.Context, src Source, v *store.View, sd sides, ch string) ([]Difference, error) {
	nextArchived, stopArchived := iter.Pull2(v.Messages(ch))
	defer stopArchived()
	nextLive, stopLive := iter.Pull2(src.ListMessages(ctx, v.Snapshot().Service, ch, remote.ListOptions{PageSize: MaxPageSize, Order: "asc"}))
	defer stopLive()

	var a store.MessageRecord
	var l *remote.Message
	aok, lok := true, true
	lastLive := int64(-1) << 63
	advanceArchived := func() error {
		var err error
		if a, err, aok = nextArchived(); aok && err != nil {
			return fmt.Errorf("reading the archived messages: %w", err)
		}
		return nil
	}
	advanceLive := func() error {
		var err error
		if l, err, lok = nextLive(); !lok {
			return nil
		}
		switch {
		case err != nil:
			return liveErr("the messages", err)
		case l == nil:
			return errors.New("listing the messages of the live service: the service returned an empty message")
		case l.Index <= lastLive:
			return fmt.Errorf("listing the messages of the live service: message index %d came after %d: %w", l.Index, lastLive, errOutOfOrder)
		}
		lastLive = l.Index
		return nil
	}
	if err := errors.Join(advanceArchived(), advanceLive()); err != nil {
		return nil, err
	}

	var out []Difference
	for aok || lok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		switch {
		case lok && (!aok || l.Index < a.Index):
			out = append(out, Difference{Channel: ch, Message: new(l.SID), Kind: DiffMissingArchive})
			err = advanceLive()
		case aok && (!lok || a.Index < l.Index):
			out = append(out, Difference{Channel: ch, Message: new(a.SID), Kind: DiffMissingLive})
			err = advanceArchived()
		default: // the same index on both sides
			if kind, fields := sd.classify(remote.KindMessage, a.Raw, l.Raw, true, true); kind != "" {
				out = append(out, Difference{Channel: ch, Message: new(a.SID), Kind: kind, Fields: fields})
			}
			err = errors.Join(advanceArchived(), advanceLive())
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// classify says how a resource differs between the archive and the live
// service: kind "" when it is on both sides with equal JSON.
func classify(archived, live []byte, inArchive, inLive bool) (kind string, fields []string) {
	switch {
	case !inLive:
		return DiffMissingLive, nil
	case !inArchive:
		return DiffMissingArchive, nil
	}
	if fields, differ := diffJSON(archived, live); differ {
		return DiffChanged, fields
	}
	return "", nil
}

// diffJSON compares two JSON objects property by property: a property
// differs when one side lacks it or the compacted values are not the same
// bytes. It returns the differing properties, sorted. When either side is
// not a JSON object the whole values are compared and fields is nil.
func diffJSON(a, b []byte) (fields []string, differ bool) {
	if bytes.Equal(a, b) {
		return nil, false
	}
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil || ma == nil || mb == nil {
		return nil, !bytes.Equal(compact(a), compact(b))
	}
	for k, va := range ma {
		if vb, ok := mb[k]; !ok || !bytes.Equal(compact(va), compact(vb)) {
			fields = append(fields, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			fields = append(fields, k)
		}
	}
	slices.Sort(fields)
	return fields, len(fields) > 0
}

// compact returns JSON b without insignificant white space (b itself when it
// is not valid JSON).
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// sortedUnion returns the keys of a and b, sorted, each once.
func sortedUnion(a, b map[string][]byte) []string {
	keys := make([]string, 0, max(len(a), len(b)))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Chunk sizes of the short read transactions.
const (
	messageChunk = 512
	listChunk    = 4096
)

// Records as read back. Raw is the resource exactly as the API returned it
// (a private copy: callers may keep it).

type ChannelRecord struct {
	SID        string
	UniqueName string
	Raw        []byte
}

type MemberRecord struct {
	SID      string
	Identity string
	Raw      []byte
}

type MessageRecord struct {
	SID   string
	Index int64
	Raw   []byte
}

type RoleRecord struct {
	SID          string
	FriendlyName string
	Raw          []byte
}

// ChannelSync is the backup's durable per-channel progress (high-water
// marks and resume state). It is stored beside the channel, per service, and
// is not versioned by snapshot: it always describes the newest state.
type ChannelSync struct {
	SyncedIndex   int64  `json:"synced_index"`   // every message with index <= this has been read; -1 = none
	MessagesCount int    `json:"messages_count"` // channel's messages_count when last synced
	Marker        string `json:"marker"`         // what the channel showed of its changes when last synced: date_updated and links.last_message
	WalkTop       int64  `json:"walk_top"`       // an unfinished desc walk started at this index; -1 = none
	WalkNext      string `json:"walk_next"`      // next_page_url where that walk stopped
}

// bucket resolves l in tx, or nil, walking a channel's pages first (see
// vetBucket).
func (a *Archive) bucket(tx *bolt.Tx, l loc) (*bolt.Bucket, error) {
	sb := serviceBucket(tx, l.svc)
	if l.ch == "" {
		return child(sb, l.bkt), nil
	}
	cb := channelBucket(sb, l.ch)
	if err := a.vetChannel(cb, l.svc, l.ch); err != nil {
		return nil, err
	}
	return child(cb, l.bkt), nil
}

// item is a visible live version read by scan (copied out of bbolt).
type item struct {
	entity []byte
	label  string
	raw    []byte
}

// scan calls fn, outside any transaction, for every entity of l that is live
// as of snapshot asOf, in key order. It reads chunk entities per read
// transaction, resuming by key, so a writer is never held up for long.
// keysOnly skips copying the payload.
func (a *Archive) scan(l loc, asOf uint64, chunk int, keysOnly bool, fn func(item) error) error {
	return a.scanFrom(l, nil, asOf, chunk, keysOnly, fn)
}

// scanFrom is scan from the first entity at or after from (nil: the
// first).
func (a *Archive) scanFrom(l loc, from []byte, asOf uint64, chunk int, keysOnly bool, fn func(item) error) error {
	resume := from
	for {
		var items []item
		var next []byte
		err := a.read(func(tx *bolt.Tx) error {
			b, err := a.bucket(tx, l)
			if b == nil {
				return err
			}
			err = forEachEntity(b, resume, func(entity []byte, vs []version) (bool, error) {
				if l.numeric() && len(entity) != 8 {
					return false, a.errCorrupt(l.key(vs[0].key), errShape)
				}
				v, ok := visibleAt(vs, asOf)
				if !ok {
					return true, nil
				}
				r, err := a.decodeAt(l, v)
				if err != nil || !r.live() {
					return true, err
				}
				it := item{entity: bytes.Clone(entity), label: string(r.label)}
				if !keysOnly {
					it.raw = bytes.Clone(r.payload)
				}
				items = append(items, it)
				if len(items) >= chunk {
					next = entityAfter(entity)
					return false, nil
				}
				return true, nil
			})
			if errors.Is(err, errShape) {
				err = a.errCorrupt(l.String(), err)
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		resume = next
	}
}

// lookup returns the version of entity in l visible as of asOf; found is
// false when there is none or it is a tombstone.
func (a *Archive) lookup(l loc, entity []byte, asOf uint64) (it item, found bool, err error) {
	err = a.read(func(tx *bolt.Tx) error {
		b, err := a.bucket(tx, l)
		if b == nil {
			return err
		}
		v, ok, err := a.newestAt(b.Cursor(), l, entity, asOf, make([]byte, 0, len(entity)+8))
		if err != nil || !ok {
			return err
		}
		r, err := a.decodeAt(l, v)
		if err != nil || !r.live() {
			return err
		}
		it = item{entity: bytes.Clone(entity), label: string(r.label), raw: bytes.Clone(r.payload)}
		found = true
		return nil
	})
	return it, found, err
}

// View reads one snapshot's state as it was when the snapshot finished (or
// was interrupted). Every method reads in short transactions so a View may be
// held while the archive is written.
type View struct {
	a    *Archive
	snap Snapshot
}

// View opens snapshot snapshotID for reading.
func (a *Archive) View(snapshotID uint64) (*View, error) {
	var s Snapshot
	found := false
	err := a.read(func(tx *bolt.Tx) error {
		k := be64(snapshotID)
		v := tx.Bucket(bktSnapshots).Get(k)
		if v == nil {
			return nil
		}
		var err error
		if s, err = decodeSnapshot(k, v); err != nil {
			return a.errCorrupt(fmt.Sprintf("snapshots/%d", snapshotID), err)
		}
		found = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("archive %s has no snapshot %d; list them with `chatvault snapshots`: %w", a.path, snapshotID, ErrNoSnapshot)
	}
	return &View{a: a, snap: s}, nil
}

// Snapshot returns the snapshot record as read when the View was made.
func (v *View) Snapshot() Snapshot {
	s := v.snap
	s.Failed = slices.Clone(s.Failed)
	return s
}

func (v *View) loc(ch string, bkt []byte) loc { return loc{svc: v.snap.Service, ch: ch, bkt: bkt} }

// Channels lists the channels live in the snapshot, ordered by the
// date_created field of their JSON (RFC 3339; unparsable dates sort first),
// then by SID.
func (v *View) Channels() ([]ChannelRecord, error) {
	type keyed struct {
		rec     ChannelRecord
		created time.Time
	}
	var list []keyed
	err := v.a.scan(v.loc("", bktChannels), v.snap.ID, listChunk, false, func(it item) error {
		list = append(list, keyed{ChannelRecord{SID: string(it.entity), UniqueName: it.label, Raw: it.raw}, dateCreated(it.raw)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(list, func(x, y keyed) int {
		if c := x.created.Compare(y.created); c != 0 {
			return c
		}
		return strings.Compare(x.rec.SID, y.rec.SID)
	})
	out := make([]ChannelRecord, len(list))
	for i, k := range list {
		out[i] = k.rec
	}
	return out, nil
}

func dateCreated(raw []byte) time.Time {
	var d struct {
		DateCreated string `json:"date_created"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, d.DateCreated)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Channel returns the channel with that SID, or else the one with that
// unique name, live in the snapshot; ErrNotFound if none.
func (v *View) Channel(sidOrUniqueName string) (ChannelRecord, error) {
	if sidOrUniqueName == "" {
		return ChannelRecord{}, fmt.Errorf("archive %s: snapshot %d: empty channel name: %w", v.a.path, v.snap.ID, ErrNotFound)
	}
	it, found, err := v.a.lookup(v.loc("", bktChannels), []byte(sidOrUniqueName), v.snap.ID)
	if err != nil {
		return ChannelRecord{}, err
	}
	if found {
		return ChannelRecord{SID: sidOrUniqueName, UniqueName: it.label, Raw: it.raw}, nil
	}
	var rec ChannelRecord
	errFound := errors.New("found")
	err = v.a.scan(v.loc("", bktChannels), v.snap.ID, listChunk, false, func(it item) error {
		if it.label == sidOrUniqueName {
			rec = ChannelRecord{SID: string(it.entity), UniqueName: it.label, Raw: it.raw}
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return rec, nil
	case err != nil:
		return ChannelRecord{}, err
	}
	return ChannelRecord{}, fmt.Errorf("archive %s: channel %q is not in snapshot %d of service %s; list the channels with `chatvault ls`: %w",
		v.a.path, sidOrUniqueName, v.snap.ID, v.snap.Service, ErrNotFound)
}

// Roles lists the service's roles in the snapshot, ordered by SID.
func (v *View) Roles() ([]RoleRecord, error) {
	var out []RoleRecord
	err := v.a.scan(v.loc("", bktRoles), v.snap.ID, listChunk, false, func(it item) error {
		out = append(out, RoleRecord{SID: string(it.entity), FriendlyName: it.label, Raw: it.raw})
		return nil
	})
	return out, err
}

// Members lists the members of a channel live in the snapshot, ordered by
// SID. The channel may be given by SID or unique name; ErrNotFound when it
// is not in the snapshot.
func (v *View) Members(channelSID string) ([]MemberRecord, error) {
	ch, err := v.Channel(channelSID)
	if err != nil {
		return nil, err
	}
	var out []MemberRecord
	err = v.a.scan(v.loc(ch.SID, bktMembers), v.snap.ID, listChunk, false, func(it item) error {
		out = append(out, MemberRecord{SID: string(it.entity), Identity: it.label, Raw: it.raw})
		return nil
	})
	return out, err
}

// Messages yields the channel's messages in the snapshot in index order,
// reading 512 per transaction. The channel may be given by SID or unique
// name; an error (ErrNotFound when it is not in the snapshot) is yielded
// once and ends the sequence.
func (v *View) Messages(channelSID string) iter.Seq2[MessageRecord, error] {
	return func(yield func(MessageRecord, error) bool) {
		ch, err := v.Channel(channelSID)
		if err != nil {
			yield(MessageRecord{}, err)
			return
		}
		errStop := errors.New("stop")
		err = v.a.scan(v.loc(ch.SID, bktMessages), v.snap.ID, messageChunk, false, func(it item) error {
			m := MessageRecord{SID: it.label, Index: int64(binary.BigEndian.Uint64(it.entity)), Raw: it.raw}
			if !yield(m, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(MessageRecord{}, err)
		}
	}
}

// MessageCount returns the number of the channel's messages in the
// snapshot, from the stored per-channel count (no scan).
func (v *View) MessageCount(channelSID string) (int, error) {
	ch, err := v.Channel(channelSID)
	if err != nil {
		return 0, err
	}
	var n int
	err = v.a.read(func(tx *bolt.Tx) error {
		var err error
		n, err = v.a.countAt(child(serviceBucket(tx, v.snap.Service), bktCounts), v.loc("", bktCounts), []byte(ch.SID), v.snap.ID)
		return err
	})
	return n, err
}

// Service returns the raw service JSON of the snapshot (ErrNotFound if the
// backup never stored it).
func (v *View) Service() ([]byte, error) {
	it, found, err := v.a.lookup(v.loc("", bktService), nil, v.snap.ID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("archive %s: snapshot %d holds no service record: %w", v.a.path, v.snap.ID, ErrNotFound)
	}
	return it.raw, nil
}

// Sync returns the committed sync state of a channel (ok=false when none).
func (a *Archive) Sync(service, channelSID string) (s ChannelSync, ok bool, err error) {
	err = a.read(func(tx *bolt.Tx) error {
		b := child(serviceBucket(tx, service), bktSync)
		if b == nil || channelSID == "" {
			return nil
		}
		v := b.Get([]byte(channelSID))
		if v == nil {
			return nil
		}
		r, err := decodeRecord(v)
		if err == nil && !r.live() {
			err = errors.New("sync record is a tombstone")
		}
		if err == nil {
			err = json.Unmarshal(r.payload, &s)
		}
		if err != nil {
			return a.errCorrupt(fmt.Sprintf("svc/%s/sync/%q", service, channelSID), err)
		}
		ok = true
		return nil
	})
	return s, ok, err
}

// CurrentChannel returns the newest committed version of a channel, or
// ErrNotFound when none exists or it was deleted.
func (a *Archive) CurrentChannel(service, channelSID string) (ChannelRecord, error) {
	if channelSID == "" {
		return ChannelRecord{}, fmt.Errorf("archive %s: empty channel SID: %w", a.path, ErrNotFound)
	}
	it, found, err := a.lookup(loc{svc: service, bkt: bktChannels}, []byte(channelSID), snapInf)
	if err != nil {
		return ChannelRecord{}, err
	}
	if !found {
		return ChannelRecord{}, fmt.Errorf("archive %s: channel %s of service %s is not stored: %w", a.path, channelSID, service, ErrNotFound)
	}
	return ChannelRecord{SID: channelSID, UniqueName: it.label, Raw: it.raw}, nil
}

// LiveChannels lists the SIDs of the channels live in the newest committed
// state of service, sorted.
func (a *Archive) LiveChannels(service string) ([]string, error) {
	return a.liveKeys(loc{svc: service, bkt: bktChannels})
}

// LiveMembers lists the SIDs of the channel's live members, sorted.
func (a *Archive) LiveMembers(service, channelSID string) ([]string, error) {
	if channelSID == "" {
		return nil, nil
	}
	return a.liveKeys(loc{svc: service, ch: channelSID, bkt: bktMembers})
}

func (a *Archive) liveKeys(l loc) ([]string, error) {
	var out []string
	err := a.scan(l, snapInf, listChunk, true, func(it item) error {
		out = append(out, string(it.entity))
		return nil
	})
	return out, err
}

// LiveMessageIndexesIn lists the indexes in [lo, hi] of the channel's live
// messages in ascending order, reading only that range.
func (a *Archive) LiveMessageIndexesIn(service, channelSID string, lo, hi int64) ([]int64, error) {
	if channelSID == "" || hi < 0 || lo > hi {
		return nil, nil
	}
	from := binary.BigEndian.AppendUint64(nil, uint64(max(lo, 0)))
	var out []int64
	err := a.scanFrom(loc{svc: service, ch: channelSID, bkt: bktMessages}, from, snapInf, listChunk, true, func(it item) error {
		i := int64(binary.BigEndian.Uint64(it.entity))
		if i > hi {
			return errStopScan
		}
		out = append(out, i)
		return nil
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	return out, err
}

// errStopScan ends a scan early; it never leaves the package.
var errStopScan = errors.New("scan stopped")

// LiveMessageIndexes lists the indexes of the channel's live messages in
// ascending order.
func (a *Archive) LiveMessageIndexes(service, channelSID string) ([]int64, error) {
	return a.LiveMessageIndexesIn(service, channelSID, 0, math.MaxInt64)
}

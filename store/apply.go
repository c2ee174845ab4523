package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// appendFill is the fill percent of buckets whose keys mostly arrive in
// ascending order (messages by index, members and counts).
const appendFill = 1.0

// applier applies queued ops inside one write transaction. It caches bucket
// handles and per-channel live-message counts for the transaction only:
// nothing survives a rolled-back transaction.
type applier struct {
	a       *Archive
	tx      *bolt.Tx
	arena   []byte
	scratch []byte
	cursors map[*bolt.Bucket]*bolt.Cursor
	svcs    map[string]*svcBuckets
	counts  map[chanKey]*liveCount
	dirty   []chanKey
	format2 bool // the file is at format 2 (set by needFormat2)
}

type svcBuckets struct {
	name                                             string
	root, service, roles, channels, counts, sync, ch *bolt.Bucket
	chans                                            map[string]*chanBuckets
}

type chanBuckets struct{ members, messages *bolt.Bucket }

type chanKey struct{ svc, ch string }

type liveCount struct {
	w     *Writer
	n     int
	dirty bool
}

func newApplier(a *Archive, tx *bolt.Tx) *applier {
	return &applier{
		a: a, tx: tx, scratch: make([]byte, 0, maxEntityLen+8), cursors: map[*bolt.Bucket]*bolt.Cursor{},
		svcs: map[string]*svcBuckets{}, counts: map[chanKey]*liveCount{},
	}
}

// alloc returns n bytes that stay valid until the transaction ends (bbolt
// keeps references to Put's key and value until commit). The arena's blocks
// double from 4 KiB to 256 KiB: a transaction of a few records stays small.
func (ap *applier) alloc(n int) []byte {
	if cap(ap.arena)-len(ap.arena) < n {
		ap.arena = make([]byte, 0, max(n, min(2*cap(ap.arena), 256<<10), 4<<10))
	}
	s := ap.arena[len(ap.arena) : len(ap.arena)+n : len(ap.arena)+n]
	ap.arena = ap.arena[:len(ap.arena)+n]
	return s
}

// cursor returns the transaction's cursor over b, made once: every use
// starts with a Seek, which repositions it after the bucket was changed.
func (ap *applier) cursor(b *bolt.Bucket) *bolt.Cursor {
	c := ap.cursors[b]
	if c == nil {
		c = b.Cursor()
		ap.cursors[b] = c
	}
	return c
}

func (ap *applier) bytes(b []byte) []byte {
	s := ap.alloc(len(b))
	copy(s, b)
	return s
}

func (ap *applier) key(entity []byte, snap uint64) []byte {
	s := ap.alloc(len(entity) + 8)
	copy(s, entity)
	binary.BigEndian.PutUint64(s[len(entity):], snap)
	return s
}

func (ap *applier) encode(kind byte, label string, payload []byte) []byte {
	return appendRecord(ap.alloc(recordLen(kind, label, payload))[:0], kind, label, payload)
}

func (ap *applier) svc(name string) (*svcBuckets, error) {
	if sb := ap.svcs[name]; sb != nil {
		return sb, nil
	}
	root, err := ap.tx.Bucket(bktSvc).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, err
	}
	sb := &svcBuckets{name: name, root: root, chans: map[string]*chanBuckets{}}
	for _, c := range []struct {
		dst  **bolt.Bucket
		name []byte
	}{
		{&sb.service, bktService}, {&sb.roles, bktRoles}, {&sb.channels, bktChannels},
		{&sb.counts, bktCounts}, {&sb.sync, bktSync}, {&sb.ch, bktCh},
	} {
		if *c.dst, err = root.CreateBucketIfNotExists(c.name); err != nil {
			return nil, err
		}
	}
	sb.counts.FillPercent = appendFill
	ap.svcs[name] = sb
	return sb, nil
}

// chanB returns the channel's member and message buckets, creating them
// when create is set; nil when they do not exist and create is not set.
func (ap *applier) chanB(sb *svcBuckets, channel string, create bool) (*chanBuckets, error) {
	if cb := sb.chans[channel]; cb != nil {
		return cb, nil
	}
	var (
		root *bolt.Bucket
		err  error
	)
	if create {
		root, err = sb.ch.CreateBucketIfNotExists([]byte(channel))
	} else {
		root = sb.ch.Bucket([]byte(channel))
	}
	if err != nil || root == nil {
		return nil, err
	}
	if err := ap.a.vetChannel(root, sb.name, channel); err != nil {
		return nil, err
	}
	cb := &chanBuckets{}
	if cb.members, err = root.CreateBucketIfNotExists(bktMembers); err != nil {
		return nil, err
	}
	if cb.messages, err = root.CreateBucketIfNotExists(bktMessages); err != nil {
		return nil, err
	}
	cb.members.FillPercent = appendFill
	cb.messages.FillPercent = appendFill
	sb.chans[channel] = cb
	return cb, nil
}

// transition is what one versioned write did: the change in liveness of the
// entity's current state, and the change of the Added/Changed/Deleted
// counters of the snapshot written.
type transition struct {
	live                    int
	added, changed, deleted int
}

type class uint8

const (
	classNone class = iota
	classAdded
	classChanged
	classDeleted
)

// classify compares a state with the entity's state in the previous
// snapshot (base).
func classify(base record, kind byte, label string, payload []byte) class {
	switch {
	case !base.live() && kind == kindPut:
		return classAdded
	case base.live() && kind != kindPut:
		return classDeleted
	case base.live() && !base.sameAs(kind, label, payload):
		return classChanged
	}
	return classNone
}

func (t *transition) count(c class, d int) {
	switch c {
	case classAdded:
		t.added += d
	case classChanged:
		t.changed += d
	case classDeleted:
		t.deleted += d
	}
}

// putVersion makes kind/label/payload the current state of entity in b as
// of snapshot snap, the newest snapshot of the bucket's service:
//
//   - if the current version already holds that state, nothing is written;
//   - if the current version was written by snap itself, it is overwritten
//     in place, or deleted when the state returns to that of the version
//     before it;
//   - otherwise a new version entity|snap is added.
func (ap *applier) putVersion(b *bolt.Bucket, l loc, entity []byte, snap uint64, kind byte, label string, payload []byte) (transition, error) {
	return ap.putEncoded(b, l, entity, snap, kind, label, payload, nil)
}

// putEncoded is putVersion given the record kind/label/payload encoded as
// enc (nil: encode it here). With enc, payload may be nil: it is then
// decoded from enc if a stored version of other bytes needs comparing.
func (ap *applier) putEncoded(b *bolt.Bucket, l loc, entity []byte, snap uint64, kind byte, label string, payload, enc []byte) (transition, error) {
	var t transition
	c := ap.cursor(b)
	cur, found, err := ap.a.newestAt(c, l, entity, snap, ap.scratch)
	if err != nil {
		return t, err
	}
	if found && enc != nil && bytes.Equal(cur.val, enc) {
		// The same bytes hold the same state: an unchanged resource read
		// again costs neither a decompression nor a write. (Compression
		// is deterministic, so this is the common case; other encodings
		// of the same state are caught by the comparison below.)
		return t, nil
	}
	var curRec record
	if found {
		if curRec, err = ap.a.decodeAt(l, cur); err != nil {
			return t, err
		}
		if payload == nil && enc != nil {
			// Messages come encoded only: decode this one to compare.
			r, err := decodeRecord(enc)
			if err != nil {
				return t, fmt.Errorf("decoding a record to store: %w", err)
			}
			payload = r.payload
		}
	}
	if curRec.sameAs(kind, label, payload) {
		return t, nil
	}
	if enc == nil {
		enc = ap.a.appendResource(ap.alloc(recordLen(kind, label, payload))[:0], kind, label, payload)
	}
	if enc[0] == kindPutZstd {
		if err := ap.needFormat2(); err != nil {
			return t, err
		}
	}
	t.live = b2i(kind == kindPut) - b2i(curRec.live())
	if !found || cur.snap != snap {
		if err := b.Put(ap.key(entity, snap), enc); err != nil {
			return t, err
		}
		t.count(classify(curRec, kind, label, payload), 1)
		return t, nil
	}

	// The current version belongs to this snapshot: find the one before.
	var base record
	k, v := c.Prev()
	prev, pfound, err := ap.a.versionOf(l, entity, k, v)
	if err != nil {
		return t, err
	}
	if pfound {
		if base, err = ap.a.decodeAt(l, prev); err != nil {
			return t, err
		}
	}
	t.count(classify(base, curRec.kind, string(curRec.label), curRec.payload), -1)
	curKey := ap.bytes(cur.key)
	if base.sameAs(kind, label, payload) {
		return t, b.Delete(curKey)
	}
	if err := b.Put(curKey, enc); err != nil {
		return t, err
	}
	t.count(classify(base, kind, label, payload), 1)
	return t, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// liveEntities lists (copies of) the entities of b whose current version is live.
func (ap *applier) liveEntities(b *bolt.Bucket, l loc) ([][]byte, error) {
	var out [][]byte
	err := forEachEntity(b, nil, func(entity []byte, vs []version) (bool, error) {
		r, err := ap.a.decodeAt(l, vs[len(vs)-1])
		if err == nil && r.live() {
			out = append(out, ap.bytes(entity))
		}
		return true, err
	})
	if errors.Is(err, errShape) {
		err = ap.a.errCorrupt(l.String(), err)
	}
	return out, err
}

func (ap *applier) apply(o *op) error {
	switch o.kind {
	case opBarrier:
		return nil
	case opJournalPut:
		jb, err := ap.tx.Bucket(bktJournal).CreateBucketIfNotExists([]byte(o.j.name))
		if err == nil {
			err = ap.a.vetJournal(jb, o.j.name)
		}
		if err != nil {
			return err
		}
		return jb.Put(ap.bytes([]byte(o.sid)), ap.encode(kindPut, "", o.raw))
	case opStop:
		return ap.stop(o)
	case opBegin:
		return ap.begin(o)
	case opContentChunk:
		return ap.putChunk(o)
	case opContentDone:
		return ap.contentDone(o)
	case opContentDiscard:
		return ap.discardUpload(o)
	}
	w := o.w
	if w.closed {
		return nil // queued after Finish by a racing caller: dropped (doc.go)
	}
	sb, err := ap.svc(w.service)
	if err != nil {
		return err
	}
	switch o.kind {
	case opFinish:
		o.res.snap, err = ap.finish(w, o.status, o.requests, o.failed, o.finished)
		return err
	case opPutService:
		_, err = ap.putVersion(sb.service, loc{svc: w.service, bkt: bktService}, nil, w.id, kindPut, "", o.raw)
		return err
	case opPutRole:
		_, err = ap.putVersion(sb.roles, loc{svc: w.service, bkt: bktRoles}, []byte(o.sid), w.id, kindPut, o.label, o.raw)
		return err
	case opPutChannel:
		t, err := ap.putVersion(sb.channels, loc{svc: w.service, bkt: bktChannels}, []byte(o.sid), w.id, kindPut, o.label, o.raw)
		other(w, bktChannels, t)
		return err
	case opDeleteChannel:
		return ap.deleteChannel(w, sb, o.sid)
	case opSetSync:
		return sb.sync.Put(ap.bytes([]byte(o.channel)), ap.encode(kindPut, "", o.raw))
	case opSetAPI:
		return ap.setAPI(w, o.label)
	case opPutMedia, opDeleteMedia:
		return ap.serviceVersions(w, sb, bktMedia, o)
	case opPutUsers, opDeleteUsers:
		return ap.serviceVersions(w, sb, bktUsers, o)
	}

	cb, err := ap.chanB(sb, o.channel, o.kind == opPutMembers || o.kind == opPutMessages)
	if err != nil || cb == nil {
		return err // deleting from a channel never stored: nothing to do
	}
	lm := loc{svc: w.service, ch: o.channel, bkt: bktMembers}
	lg := loc{svc: w.service, ch: o.channel, bkt: bktMessages}
	switch o.kind {
	case opPutMembers:
		return ap.putLabelled(cb.members, lm, w, o.members)
	case opDeleteMembers:
		return ap.tombstones(cb.members, lm, w, o.sids)
	case opPutMessages:
		var e [8]byte
		for i, m := range o.messages {
			binary.BigEndian.PutUint64(e[:], uint64(m.Index))
			t, err := ap.putEncoded(cb.messages, lg, e[:], w.id, kindPut, m.SID, m.Raw, o.records[i])
			if err != nil {
				return err
			}
			if err := ap.tally(w, o.channel, t); err != nil {
				return err
			}
		}
	case opDeleteMessages:
		var e [8]byte
		for _, i := range o.indexes {
			binary.BigEndian.PutUint64(e[:], uint64(i))
			t, err := ap.putVersion(cb.messages, lg, e[:], w.id, kindTombstone, "", nil)
			if err != nil {
				return err
			}
			if err := ap.tally(w, o.channel, t); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown queued operation %d", o.kind)
	}
	return nil
}

// serviceVersions applies a put or delete of media or users, kept in the
// service's format-2 buckets.
func (ap *applier) serviceVersions(w *Writer, sb *svcBuckets, name []byte, o *op) error {
	put := o.kind == opPutMedia || o.kind == opPutUsers
	b, err := ap.format2Bucket(sb, name, put)
	if err != nil || b == nil {
		return err // deleting from a bucket never made: nothing to do
	}
	l := loc{svc: w.service, bkt: name}
	switch o.kind {
	case opPutMedia:
		_, err = ap.putVersion(b, l, []byte(o.sid), w.id, kindPut, o.label, o.raw)
		return err
	case opPutUsers:
		return ap.putLabelled(b, l, w, o.members)
	}
	return ap.tombstones(b, l, w, o.sids)
}

// putLabelled stores SID/label/raw records (members, users) as versions.
func (ap *applier) putLabelled(b *bolt.Bucket, l loc, w *Writer, ms []MemberRecord) error {
	for _, m := range ms {
		t, err := ap.putVersion(b, l, []byte(m.SID), w.id, kindPut, m.Identity, m.Raw)
		if err != nil {
			return err
		}
		other(w, l.bkt, t)
	}
	return nil
}

// tombstones records the deletion of string entities.
func (ap *applier) tombstones(b *bolt.Bucket, l loc, w *Writer, sids []string) error {
	for _, sid := range sids {
		t, err := ap.putVersion(b, l, []byte(sid), w.id, kindTombstone, "", nil)
		if err != nil {
			return err
		}
		other(w, l.bkt, t)
	}
	return nil
}

// other adds the transition of a channel, member or user to the writer's
// counters of changes besides messages (media are not counted).
func other(w *Writer, bkt []byte, t transition) {
	n := t.added + t.changed + t.deleted
	switch {
	case bytes.Equal(bkt, bktChannels):
		w.channelsChanged += n
	case bytes.Equal(bkt, bktMembers):
		w.membersChanged += n
	case bytes.Equal(bkt, bktUsers):
		w.usersChanged += n
	}
}

// tally adds a message transition to the writer's counters and the
// channel's live-message count.
func (ap *applier) tally(w *Writer, channel string, t transition) error {
	w.added += t.added
	w.changed += t.changed
	w.deleted += t.deleted
	if t.live == 0 {
		return nil
	}
	k := chanKey{w.service, channel}
	lc := ap.counts[k]
	if lc == nil {
		sb, err := ap.svc(w.service)
		if err != nil {
			return err
		}
		n, err := ap.a.countAt(sb.counts, loc{svc: w.service, bkt: bktCounts}, []byte(channel), snapInf)
		if err != nil {
			return err
		}
		lc = &liveCount{w: w, n: n}
		ap.counts[k] = lc
	}
	lc.n += t.live
	if lc.n < 0 {
		return ap.a.errCorrupt(loc{svc: w.service, bkt: bktCounts}.String()+"/"+channel, errNegativeCount)
	}
	if !lc.dirty {
		lc.dirty = true
		ap.dirty = append(ap.dirty, k)
	}
	return nil
}

// flushCounts writes the changed live-message counts as versions of the
// writers' snapshots.
func (ap *applier) flushCounts() error {
	for _, k := range ap.dirty {
		lc := ap.counts[k]
		sb, err := ap.svc(k.svc)
		if err != nil {
			return err
		}
		if _, err := ap.putVersion(sb.counts, loc{svc: k.svc, bkt: bktCounts}, []byte(k.ch), lc.w.id, kindPut, "", be64(uint64(lc.n))); err != nil {
			return err
		}
		lc.dirty = false
	}
	ap.dirty = ap.dirty[:0]
	return nil
}

func (ap *applier) begin(o *op) error {
	w := o.w
	snaps := ap.tx.Bucket(bktSnapshots)
	id, err := snaps.NextSequence()
	if err != nil {
		return err
	}
	if id > maxSnapID {
		return fmt.Errorf("snapshot ids are exhausted (%d)", id)
	}
	w.id = id
	o.res.id = id
	if err := putSnapshot(snaps, Snapshot{ID: id, Service: w.service, Started: w.started, Status: StatusRunning, Full: w.full}); err != nil {
		return err
	}
	_, err = ap.svc(w.service)
	return err
}

func (ap *applier) finish(w *Writer, status Status, requests int64, failed []string, finished time.Time) (Snapshot, error) {
	if err := ap.flushCounts(); err != nil {
		return Snapshot{}, err
	}
	snaps := ap.tx.Bucket(bktSnapshots)
	k := be64(w.id)
	v := snaps.Get(k)
	if v == nil {
		return Snapshot{}, fmt.Errorf("snapshot %d has no record (was it forgotten while running?)", w.id)
	}
	s, err := decodeSnapshot(k, v)
	if err != nil {
		return Snapshot{}, ap.a.errCorrupt(fmt.Sprintf("snapshots/%d", w.id), err)
	}
	s.Finished, s.Status, s.Requests, s.Failed = finished, status, requests, failed
	s.Added, s.Changed, s.Deleted = w.added, w.changed, w.deleted
	s.ChannelsChanged, s.MembersChanged, s.UsersChanged = w.channelsChanged, w.membersChanged, w.usersChanged
	if s.Channels, s.Messages, err = ap.a.totals(ap.tx, w.service, w.id); err != nil {
		return Snapshot{}, err
	}
	if err := putSnapshot(snaps, s); err != nil {
		return Snapshot{}, err
	}
	w.closed = true
	return s, nil
}

// stop marks the snapshots still being written as interrupted (Close).
func (ap *applier) stop(o *op) error {
	ap.a.wmu.Lock()
	var ws []*Writer
	for _, w := range ap.a.writers {
		ws = append(ws, w)
	}
	ap.a.wmu.Unlock()
	for _, w := range ws {
		if w.id == 0 || w.closed {
			continue
		}
		if _, err := ap.finish(w, StatusInterrupted, 0, nil, time.Now().UTC()); err != nil {
			return err
		}
	}
	return nil
}

// deleteChannel tombstones the channel and its live members and messages.
func (ap *applier) deleteChannel(w *Writer, sb *svcBuckets, channel string) error {
	t, err := ap.putVersion(sb.channels, loc{svc: w.service, bkt: bktChannels}, []byte(channel), w.id, kindTombstone, "", nil)
	if err != nil {
		return err
	}
	other(w, bktChannels, t) // its members and messages go with it, uncounted here
	cb, err := ap.chanB(sb, channel, false)
	if err != nil || cb == nil {
		return err
	}
	lm := loc{svc: w.service, ch: channel, bkt: bktMembers}
	members, err := ap.liveEntities(cb.members, lm)
	if err != nil {
		return err
	}
	for _, m := range members {
		if _, err := ap.putVersion(cb.members, lm, m, w.id, kindTombstone, "", nil); err != nil {
			return err
		}
	}
	lg := loc{svc: w.service, ch: channel, bkt: bktMessages}
	msgs, err := ap.liveEntities(cb.messages, lg)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		t, err := ap.putVersion(cb.messages, lg, m, w.id, kindTombstone, "", nil)
		if err != nil {
			return err
		}
		if err := ap.tally(w, channel, t); err != nil {
			return err
		}
	}
	return nil
}

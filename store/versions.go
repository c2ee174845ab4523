package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// loc names a versioned bucket for error messages: svc/SVC/BUCKET or
// svc/SVC/ch/CH/BUCKET.
type loc struct {
	svc, ch string
	bkt     []byte
}

func (l loc) String() string {
	if l.ch != "" {
		return fmt.Sprintf("svc/%s/ch/%s/%s", l.svc, l.ch, l.bkt)
	}
	return fmt.Sprintf("svc/%s/%s", l.svc, l.bkt)
}

func (l loc) numeric() bool { return bytes.Equal(l.bkt, bktMessages) }

func (l loc) key(k []byte) string { return describeKey(l.String(), k, l.numeric()) }

// version is one stored version of an entity. key and val alias bbolt
// memory: valid only inside the transaction.
type version struct {
	snap uint64
	key  []byte
	val  []byte
}

var errShape = errors.New("unexpected key shape")

// forEachEntity walks b in key order from the first key >= from (nil: the
// start), grouping the versions of each entity (oldest first) and calling
// fn for each group until fn returns false or an error. vs is reused.
func forEachEntity(b *bolt.Bucket, from []byte, fn func(entity []byte, vs []version) (bool, error)) error {
	c := b.Cursor()
	var k, v []byte
	if from == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(from)
	}
	var (
		vs   []version
		cur  []byte
		have bool
	)
	for ; k != nil; k, v = c.Next() {
		e, snap, ok := splitVersionKey(k)
		if !ok || v == nil {
			return fmt.Errorf("key %x: %w", k, errShape)
		}
		if have && !bytes.Equal(e, cur) {
			more, err := fn(cur, vs)
			if err != nil || !more {
				return err
			}
			vs = vs[:0]
		}
		cur, have = e, true
		vs = append(vs, version{snap: snap, key: k, val: v})
	}
	if have {
		_, err := fn(cur, vs)
		return err
	}
	return nil
}

// visibleAt returns the newest version with snap <= asOf.
func visibleAt(vs []version, asOf uint64) (version, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].snap <= asOf {
			return vs[i], true
		}
	}
	return version{}, false
}

// decodeAt decodes a version's value, naming it on failure.
func (a *Archive) decodeAt(l loc, v version) (record, error) {
	r, err := decodeRecord(v.val)
	if err != nil {
		return record{}, a.errCorrupt(l.key(v.key), err)
	}
	return r, nil
}

// newestAt finds the newest version of entity with snap <= asOf using c.
// found is false when the entity has no such version.
func (a *Archive) newestAt(c *bolt.Cursor, l loc, entity []byte, asOf uint64, scratch []byte) (v version, found bool, err error) {
	// Seek to the first key past the versions <= asOf, then step back. The
	// seek bound never exceeds maxSnapID+1: a larger suffix would sort
	// after entities that extend this one (see maxSnapID).
	seekSnap := uint64(maxSnapID + 1)
	if asOf < maxSnapID {
		seekSnap = asOf + 1
	}
	k, _ := c.Seek(versionKey(scratch[:0], entity, seekSnap))
	var val []byte
	if k == nil {
		k, val = c.Last()
	} else {
		k, val = c.Prev()
	}
	return a.versionOf(l, entity, k, val)
}

// keySnap returns k's snapshot id if k is a version key of entity.
func keySnap(k, entity []byte) (uint64, bool) {
	e, snap, ok := splitVersionKey(k)
	if !ok || !bytes.Equal(e, entity) {
		return 0, false
	}
	return snap, true
}

// versionOf turns a cursor position into a version of entity, if it is one.
func (a *Archive) versionOf(l loc, entity, k, val []byte) (version, bool, error) {
	if k == nil {
		return version{}, false, nil
	}
	snap, ok := keySnap(k, entity)
	if !ok {
		return version{}, false, nil
	}
	if val == nil {
		return version{}, false, a.errCorrupt(l.key(k), errShape)
	}
	return version{snap: snap, key: k, val: val}, true, nil
}

// countAt returns a channel's live-message count as of snapshot asOf.
func (a *Archive) countAt(counts *bolt.Bucket, l loc, channel []byte, asOf uint64) (int, error) {
	if counts == nil {
		return 0, nil
	}
	v, found, err := a.newestAt(counts.Cursor(), l, channel, asOf, make([]byte, 0, len(channel)+8))
	if err != nil || !found {
		return 0, err
	}
	r, err := a.decodeAt(l, v)
	if err != nil {
		return 0, err
	}
	if !r.live() {
		return 0, nil
	}
	if len(r.payload) != 8 {
		return 0, a.errCorrupt(l.key(v.key), fmt.Errorf("count is %d bytes, want 8", len(r.payload)))
	}
	return int(binary.BigEndian.Uint64(r.payload)), nil
}

// serviceBucket returns svc/SERVICE or nil.
func serviceBucket(tx *bolt.Tx, service string) *bolt.Bucket {
	return tx.Bucket(bktSvc).Bucket([]byte(service))
}

// channelBucket returns svc/SERVICE/ch/CHANNEL or nil.
func channelBucket(sb *bolt.Bucket, channel string) *bolt.Bucket {
	if sb == nil {
		return nil
	}
	ch := sb.Bucket(bktCh)
	if ch == nil {
		return nil
	}
	return ch.Bucket([]byte(channel))
}

func child(b *bolt.Bucket, name []byte) *bolt.Bucket {
	if b == nil {
		return nil
	}
	return b.Bucket(name)
}

// totals counts the channels live at snapshot snap of service and the
// messages live in them.
func (a *Archive) totals(tx *bolt.Tx, service string, snap uint64) (channels, messages int, err error) {
	sb := serviceBucket(tx, service)
	chB := child(sb, bktChannels)
	if chB == nil {
		return 0, 0, nil
	}
	counts := child(sb, bktCounts)
	lc := loc{svc: service, bkt: bktChannels}
	lcount := loc{svc: service, bkt: bktCounts}
	err = forEachEntity(chB, nil, func(entity []byte, vs []version) (bool, error) {
		v, ok := visibleAt(vs, snap)
		if !ok {
			return true, nil
		}
		r, err := a.decodeAt(lc, v)
		if err != nil || !r.live() {
			return true, err
		}
		channels++
		n, err := a.countAt(counts, lcount, entity, snap)
		messages += n
		return true, err
	})
	if errors.Is(err, errShape) {
		err = a.errCorrupt(lc.String(), err)
	}
	return channels, messages, err
}

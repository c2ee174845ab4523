package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/chatvault/chatvault/internal/jsonscan"
	bolt "go.etcd.io/bbolt"
)

// maxProblems caps the list Check returns; the rest are counted.
const maxProblems = 1000

// Problem is one integrity problem found by Check.
type Problem struct {
	Where string `json:"where"` // bucket/key path, human-readable
	What  string `json:"what"`
}

// Check verifies bbolt's page structure, every record's checksum and kind,
// key shapes, that every version refers to a snapshot id that was handed
// out (and, while that snapshot exists, belongs to the same service), and
// that the stored per-channel message counts match the messages live at
// every snapshot. It never modifies the file. It reads in one transaction:
// on a read-write Archive that is a write transaction that is rolled back,
// so queued writes wait until Check returns.
func (a *Archive) Check() ([]Problem, error) {
	c := &checker{a: a, snaps: map[uint64]Snapshot{}, bySvc: map[string][]uint64{}, passed: map[string]bool{}}
	err := a.checkTx(func(tx *bolt.Tx) error {
		if fi, err := os.Stat(a.path); err == nil && tx.Size() > fi.Size() {
			c.add("file", "truncated: %d bytes, but its pages need %d", fi.Size(), tx.Size())
			return nil
		}
		// Page bounds first, read from the file; then our walk, under
		// guard; bbolt's check runs in a goroutine of its own where a
		// memory fault could not be recovered, so it only runs when both
		// got through every page.
		f, err := os.Open(a.path)
		if err != nil {
			return fmt.Errorf("check archive %s: %v", a.path, err)
		}
		defer f.Close()
		pageSize := uint64(a.db.Info().PageSize)
		pw := &pageWalker{f: f, pageSize: pageSize, hwm: uint64(tx.Size()) / pageSize, seen: map[uint64]bool{},
			add: func(where, what string) { c.add(where, "%s", what) }}
		root := uint64(tx.Cursor().Bucket().Root())
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("check archive %s: %v", a.path, err)
		}
		if m, ok := activeMeta(f, fi.Size()); !ok || m.root != root || m.pgid != pw.hwm {
			c.add("file", "no valid meta page describes the data being checked")
			return nil
		} else if p := freelistProblem(f, m, fi.Size()); p != "" {
			c.add("file", "%s", p)
			return nil
		}
		pw.walk(root)
		if pw.problems > 0 {
			// Damage confined to channels, chunks and journals leaves
			// the rest to check, those buckets vetted one by one.
			if a.walkPages(tx, root, lazyBucket) != "" {
				return nil
			}
			c.damaged = true
		}
		if err := guard(func() error { c.walk(tx); return nil }); err != nil {
			c.add("file", "the check stopped at a damaged page: %v", err)
			return nil
		}
		if c.damaged {
			return nil // bbolt's check would read the damaged pages
		}
		for err := range tx.Check() {
			c.add("file", "bbolt structure: %v", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.more > 0 {
		c.ps = append(c.ps, Problem{Where: "archive", What: fmt.Sprintf("%d more problems not listed", c.more)})
	}
	return c.ps, nil
}

// checkTx runs fn in a transaction in which bbolt's tx.Check is safe: a
// read transaction when no writer can exist (read-only Archive), else a
// write transaction that is always rolled back.
func (a *Archive) checkTx(fn func(tx *bolt.Tx) error) error {
	if a.ro {
		return a.readUnchecked(fn)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.db == nil {
		return a.errClosed()
	}
	return a.errDamaged("checking", guard(func() error {
		tx, err := a.db.Begin(true)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		return fn(tx)
	}))
}

type checker struct {
	a      *Archive
	ps     []Problem
	more   int
	seq    uint64
	format uint32
	snaps  map[uint64]Snapshot
	bySvc  map[string][]uint64
	// content maps every content record's SHA-256 (hex) to "" when it
	// reads back whole, else to what is wrong with it.
	content map[string]string
	// damaged is set when the page walk found damage inside the buckets
	// Open leaves to the reads (lazyBucket) and nowhere else: the walk
	// then vets each such bucket before it descends (sound), and passes
	// over the damaged ones.
	damaged bool
	passed  map[string]bool // the damaged buckets reported
}

// sound reports whether the lazy bucket b at path can be read: always,
// unless the page walk found damage; then its pages are walked first
// (Archive.vetBucket), and a damaged one is reported and passed over.
// where names it in the problem.
func (c *checker) sound(b *bolt.Bucket, where string, path ...string) bool {
	if !c.damaged || b == nil {
		return true
	}
	if err := c.a.vetBucket(b, path...); err != nil {
		if !c.passed[where] { // a chunk is met twice: with its content, then alone
			c.add(where, "its pages are damaged, so its records were not checked (chatvault repair copies what is intact)")
		}
		c.passed[where] = true
		return false
	}
	return true
}

func (c *checker) add(where, format string, args ...any) {
	if len(c.ps) >= maxProblems {
		c.more++
		return
	}
	c.ps = append(c.ps, Problem{Where: where, What: fmt.Sprintf(format, args...)})
}

func (c *checker) walk(tx *bolt.Tx) {
	c.meta(tx.Bucket(bktMeta))
	_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		switch string(name) {
		case string(bktMeta), string(bktSnapshots), string(bktSvc), string(bktJournal):
		case string(bktContent), string(bktChunks), string(bktUploads):
			c.needs2(string(name))
		default:
			c.add(fmt.Sprintf("%q", name), "unexpected top-level bucket")
		}
		return nil
	})
	c.snapshots(tx.Bucket(bktSnapshots))
	c.contents(tx)
	if b := tx.Bucket(bktSvc); b == nil {
		c.add("svc", "bucket is missing")
	} else {
		c.services(b)
	}
	if b := tx.Bucket(bktJournal); b == nil {
		c.add("journal", "bucket is missing")
	} else {
		c.journals(b)
	}
}

func (c *checker) meta(b *bolt.Bucket) {
	if b == nil {
		c.add("meta", "bucket is missing")
		return
	}
	if string(b.Get(keyMagic)) != magic {
		c.add("meta/magic", "is %q, want %q", b.Get(keyMagic), magic)
	}
	if f := b.Get(keyFormat); len(f) != 4 {
		c.add("meta/format", "is %d bytes, want 4", len(f))
	} else if v := binary.BigEndian.Uint32(f); v == 0 || v > FormatVersion {
		c.add("meta/format", "is %d, want 1..%d", v, FormatVersion)
	} else {
		c.format = v
	}
	if _, err := time.Parse(time.RFC3339, string(b.Get(keyCreated))); err != nil {
		c.add("meta/created", "is not an RFC 3339 time: %v", err)
	}
	_ = b.ForEach(func(k, v []byte) error {
		switch string(k) {
		case string(keyMagic), string(keyFormat), string(keyCreated):
		default:
			c.add(fmt.Sprintf("meta/%q", k), "unexpected key")
		}
		return nil
	})
}

func (c *checker) snapshots(b *bolt.Bucket) {
	if b == nil {
		c.add("snapshots", "bucket is missing")
		return
	}
	c.seq = b.Sequence()
	if c.seq > maxSnapID {
		c.add("snapshots", "sequence %d is beyond the largest snapshot id %d", c.seq, uint64(maxSnapID))
	}
	_ = b.ForEach(func(k, v []byte) error {
		where := fmt.Sprintf("snapshots/%x", k)
		if len(k) == 8 {
			where = fmt.Sprintf("snapshots/%d", binary.BigEndian.Uint64(k))
		}
		if v == nil {
			c.add(where, "unexpected nested bucket")
			return nil
		}
		s, err := decodeSnapshot(k, v)
		if err != nil {
			c.add(where, "corrupt: %v", err)
			return nil
		}
		switch {
		case s.ID == 0 || s.ID > c.seq:
			c.add(where, "id %d was never handed out (sequence is %d)", s.ID, c.seq)
		case validEntity("service", s.Service) != nil:
			c.add(where, "bad service %q", s.Service)
		case !s.Status.valid():
			c.add(where, "unknown status %q", s.Status)
		case s.API != "" && s.API != APIChat && s.API != APIConversations:
			c.add(where, "unknown API %q", s.API)
		case s.API != "":
			c.needs2(where)
		}
		c.snaps[s.ID] = s
		c.bySvc[s.Service] = append(c.bySvc[s.Service], s.ID)
		return nil
	})
}

// cversion is a version as Check saw it.
type cversion struct {
	snap  uint64
	live  bool
	count int    // counts bucket only
	label string // media bucket only: the content's SHA-256
}

// versions checks every key and record of a versioned bucket and reports
// each entity's decodable versions (oldest first) to onEntity.
func (c *checker) versions(l loc, b *bolt.Bucket, onEntity func(entity []byte, vs []cversion)) {
	where := l.String()
	var (
		cur  []byte
		have bool
		vs   []cversion
	)
	flush := func() {
		if have && onEntity != nil {
			onEntity(cur, vs)
		}
		vs = vs[:0]
	}
	cu := b.Cursor()
	for k, v := cu.First(); k != nil; k, v = cu.Next() {
		if v == nil {
			c.add(where+fmt.Sprintf("/%q", k), "unexpected nested bucket")
			continue
		}
		e, snap, ok := splitVersionKey(k)
		if !ok {
			c.add(l.key(k), "key is %d bytes, shorter than a snapshot id", len(k))
			continue
		}
		if msg := c.entityProblem(l, e); msg != "" {
			c.add(l.key(k), "%s", msg)
			continue
		}
		switch s, exists := c.snaps[snap]; {
		case snap == 0 || snap > c.seq:
			c.add(l.key(k), "refers to snapshot %d, which was never created (sequence is %d)", snap, c.seq)
		case exists && s.Service != l.svc:
			c.add(l.key(k), "refers to snapshot %d, which is of service %s", snap, s.Service)
		}
		r, err := decodeRecord(v)
		if err != nil {
			c.add(l.key(k), "corrupt: %v", err)
			continue
		}
		if v[0] == kindPutZstd {
			c.needs2(l.key(k) + " (a compressed record)")
		}
		cv := cversion{snap: snap, live: r.live()}
		if r.live() {
			switch {
			case string(l.bkt) == string(bktCounts):
				if len(r.payload) != 8 {
					c.add(l.key(k), "count is %d bytes, want 8", len(r.payload))
					continue
				}
				cv.count = int(binary.BigEndian.Uint64(r.payload))
			case string(l.bkt) == string(bktMedia):
				cv.label = string(r.label)
				if m, err := decodeMedia(r.payload); err != nil || m.SID != string(e) || m.SHA256 != cv.label {
					c.add(l.key(k), "media record does not decode or does not match its key and label")
				}
			case !jsonscan.Valid(r.payload):
				c.add(l.key(k), "stored resource is not valid JSON")
			}
		} else if string(l.bkt) == string(bktCounts) {
			c.add(l.key(k), "a count cannot be a tombstone")
			continue
		}
		if have && string(e) != string(cur) {
			flush()
		}
		cur, have = append(cur[:0], e...), true
		vs = append(vs, cv)
	}
	flush()
}

func (c *checker) entityProblem(l loc, e []byte) string {
	switch string(l.bkt) {
	case string(bktService):
		if len(e) != 0 {
			return "service versions have no entity key"
		}
	case string(bktMessages):
		if len(e) != 8 {
			return fmt.Sprintf("message index is %d bytes, want 8", len(e))
		}
		if binary.BigEndian.Uint64(e) > math.MaxInt64 {
			return "message index is negative"
		}
	default:
		if err := validEntity("key", string(e)); err != nil {
			return err.Error()
		}
	}
	return ""
}

func (c *checker) services(svc *bolt.Bucket) {
	_ = svc.ForEach(func(name, v []byte) error {
		if v != nil {
			c.add(fmt.Sprintf("svc/%q", name), "unexpected key (want a service bucket)")
			return nil
		}
		c.service(string(name), svc.Bucket(name))
		return nil
	})
}

func (c *checker) service(name string, sb *bolt.Bucket) {
	// Points at which counts must agree with the messages: every existing
	// snapshot of the service and the current state.
	points := slices.Clone(c.bySvc[name])
	slices.Sort(points)
	points = append(points, snapInf)
	live := map[string][]int{}   // channel -> live messages per point
	counts := map[string][]int{} // channel -> stored count per point
	passed := map[string]bool{}  // channels whose pages are damaged: not counted

	_ = sb.ForEach(func(k, v []byte) error {
		l := loc{svc: name, bkt: k}
		if v != nil {
			c.add(fmt.Sprintf("svc/%s/%q", name, k), "unexpected key")
			return nil
		}
		b := sb.Bucket(k)
		switch string(k) {
		case string(bktService), string(bktRoles), string(bktChannels):
			c.versions(l, b, nil)
		case string(bktUsers):
			c.needs2(l.String())
			c.versions(l, b, nil)
		case string(bktMedia):
			c.needs2(l.String())
			c.media(l, b)
		case string(bktCounts):
			c.versions(l, b, func(e []byte, vs []cversion) {
				per := make([]int, len(points))
				for p, pt := range points {
					for i := len(vs) - 1; i >= 0; i-- {
						if vs[i].snap <= pt {
							per[p] = vs[i].count
							break
						}
					}
				}
				counts[string(e)] = per
			})
		case string(bktSync):
			c.syncs(name, b)
		case string(bktCh):
			_ = b.ForEach(func(ch, v []byte) error {
				if v != nil {
					c.add(fmt.Sprintf("svc/%s/ch/%q", name, ch), "unexpected key (want a channel bucket)")
					return nil
				}
				if !c.sound(b.Bucket(ch), fmt.Sprintf("svc/%s/ch/%s", name, ch), string(bktSvc), name, string(bktCh), string(ch)) {
					passed[string(ch)] = true
					return nil
				}
				live[string(ch)] = c.channel(name, string(ch), b.Bucket(ch), points)
				return nil
			})
		default:
			c.add(l.String(), "unexpected bucket")
		}
		return nil
	})

	for ch := range mergeKeys(live, counts) {
		if passed[ch] {
			continue
		}
		lv, ct := live[ch], counts[ch]
		for p, pt := range points {
			var n, m int
			if lv != nil {
				n = lv[p]
			}
			if ct != nil {
				m = ct[p]
			}
			if n == m {
				continue
			}
			at := "the current state"
			if pt != snapInf {
				at = fmt.Sprintf("snapshot %d", pt)
			}
			c.add(fmt.Sprintf("svc/%s/counts/%q", name, ch), "%s records %d live messages, but %d are stored", at, m, n)
		}
	}
}

func mergeKeys(a, b map[string][]int) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// channel checks a channel's buckets and returns its live messages per point.
func (c *checker) channel(svc, ch string, cb *bolt.Bucket, points []uint64) []int {
	if err := validEntity("channel", ch); err != nil {
		c.add(fmt.Sprintf("svc/%s/ch/%q", svc, ch), "%v", err)
	}
	diff := make([]int, len(points)+1)
	_ = cb.ForEach(func(k, v []byte) error {
		l := loc{svc: svc, ch: ch, bkt: k}
		if v != nil {
			c.add(fmt.Sprintf("svc/%s/ch/%s/%q", svc, ch, k), "unexpected key")
			return nil
		}
		switch string(k) {
		case string(bktMembers):
			c.versions(l, cb.Bucket(k), nil)
		case string(bktMessages):
			c.versions(l, cb.Bucket(k), func(_ []byte, vs []cversion) {
				for i, v := range vs {
					if !v.live {
						continue
					}
					from, _ := slices.BinarySearch(points, v.snap)
					to := len(points)
					if i+1 < len(vs) {
						to, _ = slices.BinarySearch(points, vs[i+1].snap)
					}
					diff[from]++
					diff[to]--
				}
			})
		default:
			c.add(l.String(), "unexpected bucket")
		}
		return nil
	})
	live := make([]int, len(points))
	n := 0
	for p := range points {
		n += diff[p]
		live[p] = n
	}
	return live
}

func (c *checker) syncs(svc string, b *bolt.Bucket) {
	_ = b.ForEach(func(k, v []byte) error {
		where := fmt.Sprintf("svc/%s/sync/%q", svc, k)
		if v == nil {
			c.add(where, "unexpected nested bucket")
			return nil
		}
		r, err := decodeRecord(v)
		if err != nil {
			c.add(where, "corrupt: %v", err)
			return nil
		}
		var s ChannelSync
		if !r.live() {
			c.add(where, "sync state is a tombstone")
		} else if err := json.Unmarshal(r.payload, &s); err != nil {
			c.add(where, "sync state does not decode: %v", err)
		}
		return nil
	})
}

func (c *checker) journals(jb *bolt.Bucket) {
	_ = jb.ForEach(func(name, v []byte) error {
		if v != nil {
			c.add(fmt.Sprintf("journal/%q", name), "unexpected key (want a journal bucket)")
			return nil
		}
		if !c.sound(jb.Bucket(name), fmt.Sprintf("journal/%s", name), string(bktJournal), string(name)) {
			return nil
		}
		_ = jb.Bucket(name).ForEach(func(k, v []byte) error {
			where := fmt.Sprintf("journal/%s/%q", name, k)
			if v == nil {
				c.add(where, "unexpected nested bucket")
				return nil
			}
			r, err := decodeRecord(v)
			if err != nil {
				c.add(where, "corrupt: %v", err)
			} else if !r.live() {
				c.add(where, "journal entry is a tombstone")
			}
			return nil
		})
		return nil
	})
}

// needs2 reports a format-2 structure in a file that says format 1.
func (c *checker) needs2(where string) {
	if c.format == 1 {
		c.add(where, "is part of format 2, but meta/format says 1")
	}
}

// media checks that every media version refers to content that is
// archived whole, naming the media SID and service when it is not.
func (c *checker) media(l loc, b *bolt.Bucket) {
	c.versions(l, b, func(e []byte, vs []cversion) {
		for _, v := range vs {
			if !v.live {
				continue
			}
			where := l.key(versionKey(nil, e, v.snap))
			switch why, ok := c.content[v.label]; {
			case !ok:
				c.add(where, "media %s of service %s refers to content %s, which the archive does not hold", e, l.svc, v.label)
			case why != "":
				c.add(where, "media %s of service %s refers to content %s, which is damaged (%s)", e, l.svc, v.label, why)
			}
		}
	})
}

// contents checks the content store: every content record, every chunk of
// it read back (checksums, lengths, SHA-256), the uploads entries, and
// that every chunk belongs to a content or to an unfinished put. Chunks of
// an unfinished put (a process died while storing a file) are not a
// problem: no content record makes them visible, and the next read-write
// Open frees them.
func (c *checker) contents(tx *bolt.Tx) {
	c.content = map[string]string{}
	cb, chb, ub := tx.Bucket(bktContent), tx.Bucket(bktChunks), tx.Bucket(bktUploads)
	var seq uint64
	if chb != nil {
		seq = chb.Sequence()
	}
	owners := map[uint64]contentDoc{}
	if cb != nil {
		_ = cb.ForEach(func(k, v []byte) error {
			where := fmt.Sprintf("content/%x", k)
			switch {
			case v == nil:
				c.add(where, "unexpected nested bucket")
				return nil
			case len(k) != sha256.Size:
				c.add(where, "key is %d bytes, want a 32-byte SHA-256", len(k))
				return nil
			}
			sha := hex.EncodeToString(k)
			doc, err := decodeContent(k, v)
			if err != nil {
				c.add(where, "corrupt: %v", err)
				c.content[sha] = "its record is corrupt"
				return nil
			}
			if o, dup := owners[doc.Extent]; dup && doc.Extent != 0 {
				c.add(where, "shares extent %d with content %s", doc.Extent, o.SHA256)
			}
			if doc.Extent > seq {
				c.add(where, "extent %d was never handed out (sequence is %d)", doc.Extent, seq)
			}
			owners[doc.Extent] = doc
			why := c.readBack(chb, doc)
			if why != "" {
				c.add(where, "%s", why)
			}
			c.content[sha] = why
			return nil
		})
	}
	pending := map[uint64]bool{}
	if ub != nil {
		_ = ub.ForEach(func(k, v []byte) error {
			where := fmt.Sprintf("uploads/%x", k)
			var d uploadDoc
			r, err := decodeRecord(v)
			switch {
			case len(k) != 8 || v == nil:
				c.add(where, "key is not an 8-byte extent")
				return nil
			case err != nil:
				c.add(where, "corrupt: %v", err)
			case !r.live() || json.Unmarshal(r.payload, &d) != nil:
				c.add(where, "not an unfinished put's record")
			}
			pending[binary.BigEndian.Uint64(k)] = true
			return nil
		})
	}
	if chb == nil {
		return
	}
	_ = chb.ForEach(func(k, v []byte) error {
		where := fmt.Sprintf("chunks/%x", k)
		if len(k) != 12 || v != nil {
			c.add(where, "is not a chunk (a bucket named by an 8-byte extent and a 4-byte index)")
			return nil
		}
		if !c.sound(chb.Bucket(k), where, string(bktChunks), string(k)) {
			return nil
		}
		cur := chb.Bucket(k).Cursor()
		first, _ := cur.First()
		if next, _ := cur.Next(); !bytes.Equal(first, keyChunkData) || next != nil {
			c.add(where, "a chunk's bucket must hold its data key and nothing else")
		}
		extent, index := binary.BigEndian.Uint64(k), binary.BigEndian.Uint32(k[8:])
		doc, owned := owners[extent]
		switch {
		case owned && extent != 0 && index >= doc.Chunks:
			c.add(where, "chunk %d lies past the %d chunks of content %s", index, doc.Chunks, doc.SHA256)
		case owned && extent != 0:
			// read back with its content
		case pending[extent]:
			if _, err := decodeRecord(chunkValue(chb, extent, index)); err != nil {
				c.add(where, "chunk of an unfinished put is corrupt: %v", err)
			}
		default:
			c.add(where, "chunk belongs to no content and to no unfinished put")
		}
		return nil
	})
}

// readBack reads a content's chunks and says what is wrong, or "".
func (c *checker) readBack(chunks *bolt.Bucket, doc contentDoc) string {
	h := sha256.New()
	var n int64
	for i := range doc.Chunks {
		k := chunkKey(doc.Extent, uint32(i))
		if chunks != nil && !c.sound(chunks.Bucket(k), fmt.Sprintf("chunks/%x", k), string(bktChunks), string(k)) {
			return fmt.Sprintf("chunk %d of %d: its pages are damaged", i, doc.Chunks)
		}
		data, err := chunkData(chunkValue(chunks, doc.Extent, i), i+1 == doc.Chunks)
		if err != nil {
			return fmt.Sprintf("chunk %d of %d: %v", i, doc.Chunks, err)
		}
		h.Write(data)
		n += int64(len(data))
	}
	if n != doc.Size {
		return fmt.Sprintf("its chunks hold %d bytes, its record says %d", n, doc.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != doc.SHA256 {
		return fmt.Sprintf("its bytes have SHA-256 %s", got)
	}
	return ""
}

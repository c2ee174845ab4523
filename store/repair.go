package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// StatusDamaged marks a snapshot that repair copied without some of the
// records it saw: it no longer reads back as it was taken.
const StatusDamaged Status = "damaged"

// RepairResult is what Repair copied and lost.
type RepairResult struct {
	Source    string             `json:"source"`
	Output    string             `json:"output"`
	Records   int                `json:"records_copied"`    // records (values) copied intact
	Content   int                `json:"content_copied"`    // media files copied whole
	Snapshots []RepairedSnapshot `json:"snapshots"`         // every snapshot copied, oldest first
	Lost      []Problem          `json:"lost"`              // what was not copied, up to maxProblems
	LostCount int                `json:"lost_count"`        // all of it
	Intact    bool               `json:"intact"`            // nothing was lost
	Damaged   int                `json:"damaged_snapshots"` // snapshots marked StatusDamaged
}

// RepairedSnapshot is one snapshot as repair copied it: Status is the
// status it had, or StatusDamaged.
type RepairedSnapshot struct {
	ID      uint64 `json:"id"`
	Service string `json:"service"`
	Status  Status `json:"status"`
	Was     Status `json:"was"`
}

// repairBatch is the puts one transaction of the new archive takes.
const repairBatch = 20_000

// Repair copies every record of the archive at src that still reads back
// intact into a new archive at dst, which must not exist, and never
// modifies src. A snapshot all of whose records were copied keeps its
// status; one that lost a record it saw is marked StatusDamaged. Media
// versions whose content is not whole, and the uploads of unfinished
// puts, are not copied. The new archive passes Check. See doc.go,
// "Repair".
func Repair(src, dst string) (res RepairResult, err error) {
	res = RepairResult{Source: src, Output: dst, Snapshots: []RepairedSnapshot{}, Lost: []Problem{}}
	padded := "" // the padded copy of a truncated src
	defer func() {
		if padded == "" {
			return
		}
		// Damage found in the padded copy is damage of src.
		for i := range res.Lost {
			res.Lost[i].What = strings.ReplaceAll(res.Lost[i].What, padded, src)
		}
		if err != nil {
			err = &renamedError{msg: strings.ReplaceAll(err.Error(), padded, src) + " (the archive is truncated: its missing pages read as empty)", err: err}
		}
	}()
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("repair: %s already exists; name a new file with --output (repair never overwrites)", dst)
	}
	dir, base := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	in, err := Open(src, Options{ReadOnly: true})
	var te *truncatedError
	if errors.As(err, &te) {
		// The pages past the end read as empty in a copy padded to the
		// size they need; repair loses what they held, and keeps the rest.
		var perr error
		padded, perr = paddedCopy(src, dir, base, te.need)
		if perr != nil {
			return res, perr
		}
		defer os.Remove(padded)
		if in, err = Open(padded, Options{ReadOnly: true}); err == nil {
			res.LostCount++
			res.Lost = append(res.Lost, Problem{Where: "file", What: fmt.Sprintf(
				"truncated: %d bytes of the %d its pages need; what the missing pages held is lost", te.have, te.need)})
		}
	}
	if err != nil {
		return res, err
	}
	defer in.Close()

	tmp, err := os.CreateTemp(dir, "."+base+".repair-*")
	if err != nil {
		return res, fmt.Errorf("repair: %v; check that the directory of %s exists and is writable", err, dst)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName)
	if err := os.Remove(tmpName); err != nil {
		return res, fmt.Errorf("repair: %v", err)
	}
	out := &Archive{path: tmpName, timeout: defaultTimeout, log: in.log}
	if err := out.create(); err != nil {
		return res, err
	}
	db, err := bolt.Open(tmpName, 0o600, &bolt.Options{Timeout: defaultTimeout})
	if err != nil {
		return res, fmt.Errorf("repair: opening the new archive: %v", err)
	}
	r := &repairer{in: in, db: db, res: &res, damage: map[string][][2]uint64{}, contentOK: map[string]bool{}}
	err = r.run()
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("repair: closing the new archive: %v", cerr)
	}
	if err != nil {
		return res, err
	}
	if err := os.Link(tmpName, dst); err != nil {
		return res, fmt.Errorf("repair: %v; the new archive was not kept (repair never overwrites)", err)
	}
	syncDir(dir)
	res.Intact = res.LostCount == 0
	return res, nil
}

// renamedError is err with a text that names the archive rather than its
// padded copy.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// paddedCopy copies the truncated archive src into a temporary file in
// dir, extended with zeros to size, and returns its name. src is only read.
func paddedCopy(src, dir, base string, size int64) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("repair: %v", err)
	}
	defer in.Close()
	f, err := os.CreateTemp(dir, "."+base+".padded-*")
	if err != nil {
		return "", fmt.Errorf("repair: %v; check that the directory of the output exists and is writable", err)
	}
	_, err = io.Copy(f, in)
	if err == nil {
		err = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("repair: copying the truncated archive %s to pad it: %v; check free space beside the output", src, err)
	}
	return f.Name(), nil
}

// repairer copies one archive into a new bbolt file.
type repairer struct {
	in  *Archive
	db  *bolt.DB
	res *RepairResult

	tx   *bolt.Tx
	puts int

	// damage holds, per service, the snapshot id ranges [from, to) that
	// saw a record that was lost.
	damage    map[string][][2]uint64
	contentOK map[string]bool // SHA-256 (hex) of content copied whole
	recount   map[string]bool // svc/ch whose counts are rebuilt
}

func (r *repairer) lose(where, format string, args ...any) {
	r.res.LostCount++
	if len(r.res.Lost) < maxProblems {
		r.res.Lost = append(r.res.Lost, Problem{Where: where, What: fmt.Sprintf(format, args...)})
	}
}

// damaged records that snapshots [from, to) of service saw a lost record.
func (r *repairer) damaged(service string, from, to uint64) {
	r.damage[service] = append(r.damage[service], [2]uint64{from, to})
}

func (r *repairer) run() error {
	r.recount = map[string]bool{}
	err := r.in.readUnchecked(func(stx *bolt.Tx) error {
		if why := r.in.walkPages(stx, uint64(stx.Cursor().Bucket().Root()), lazyAll); why != "" {
			return fmt.Errorf("repair: archive %s: the root of its page tree is damaged (%s); nothing can be copied", r.in.path, why)
		}
		if chunks := stx.Bucket(bktChunks); chunks != nil {
			// Chunks are copied with their content; extents stay unique.
			dst, err := r.dstBucket([][]byte{bktChunks})
			if err != nil {
				return err
			}
			if err := dst.SetSequence(chunks.Sequence()); err != nil {
				return fmt.Errorf("repair: writing the new archive: %v", err)
			}
		}
		for _, name := range [][]byte{bktSnapshots, bktSvc, bktJournal, bktContent} {
			b := stx.Bucket(name)
			if b == nil && bytes.Equal(name, bktContent) {
				continue // format 1, or no media yet
			}
			if err := r.copyBucket(stx, b, [][]byte{name}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.commit(); err != nil {
		return err
	}
	return r.finish()
}

// lazyAll makes a walk stop at every nested bucket with pages of its own.
func lazyAll([]string) bool { return true }

// begin returns the open write transaction of the new file, committing
// every repairBatch puts.
func (r *repairer) begin() (*bolt.Tx, error) {
	if r.tx != nil && r.puts >= repairBatch {
		if err := r.commit(); err != nil {
			return nil, err
		}
	}
	if r.tx == nil {
		tx, err := r.db.Begin(true)
		if err != nil {
			return nil, fmt.Errorf("repair: writing the new archive: %v", err)
		}
		r.tx, r.puts = tx, 0
	}
	return r.tx, nil
}

func (r *repairer) commit() error {
	if r.tx == nil {
		return nil
	}
	err := r.tx.Commit()
	r.tx = nil
	if err != nil {
		return fmt.Errorf("repair: writing the new archive: %v; check free space", err)
	}
	return nil
}

// dstBucket returns (creating) the bucket at path in the new file.
func (r *repairer) dstBucket(path [][]byte) (*bolt.Bucket, error) {
	tx, err := r.begin()
	if err != nil {
		return nil, err
	}
	b, err := tx.CreateBucketIfNotExists(path[0])
	for _, p := range path[1:] {
		if err != nil {
			break
		}
		b, err = b.CreateBucketIfNotExists(p)
	}
	if err != nil {
		return nil, fmt.Errorf("repair: writing the new archive: %v", err)
	}
	if last := path[len(path)-1]; bytes.Equal(last, bktMessages) || bytes.Equal(last, bktMembers) || bytes.Equal(last, bktChunks) {
		b.FillPercent = appendFill
	}
	return b, nil
}

func (r *repairer) put(path [][]byte, k, v []byte) error {
	b, err := r.dstBucket(path)
	if err != nil {
		return err
	}
	r.puts++
	if err := b.Put(bytes.Clone(k), bytes.Clone(v)); err != nil {
		return fmt.Errorf("repair: writing the new archive: %v", err)
	}
	return nil
}

func pathString(path [][]byte) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = string(p)
	}
	return strings.Join(parts, "/")
}

// copyBucket copies b (at path) and its nested buckets, each after
// walking its own pages: a bucket whose pages are damaged is lost whole.
func (r *repairer) copyBucket(stx *bolt.Tx, b *bolt.Bucket, path [][]byte) error {
	where := pathString(path)
	if b == nil {
		r.lose(where, "the bucket is missing")
		r.lostBucket(path)
		return nil
	}
	if b.Root() != 0 {
		if why := r.in.walkPages(stx, uint64(b.Root()), lazyAll); why != "" {
			r.lose(where, "its pages are damaged (%s); none of its records could be read", why)
			r.lostBucket(path)
			return nil
		}
	}
	dst, err := r.dstBucket(path)
	if err != nil {
		return err
	}
	if err := dst.SetSequence(b.Sequence()); err != nil {
		return fmt.Errorf("repair: writing the new archive: %v", err)
	}
	var nested [][]byte
	var lost *version // the last version lost, until the entity's next version
	versioned := len(path) >= 3 && bytes.Equal(path[0], bktSvc) && !bytes.Equal(path[len(path)-1], bktSync)
	werr := guard(func() error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				nested = append(nested, bytes.Clone(k))
				continue
			}
			if versioned {
				e, snap, ok := splitVersionKey(k)
				if lost != nil {
					le, _, _ := splitVersionKey(lost.key)
					to := snapInf
					if ok && bytes.Equal(e, le) {
						to = snap
					}
					r.damaged(string(path[1]), lost.snap, to)
					lost = nil
				}
				_, err := decodeRecord(v)
				if !ok {
					err = errShape
				}
				if err != nil {
					r.lose(describeKey(where, k, bytes.Equal(path[len(path)-1], bktMessages)), "not copied: %v", err)
					lost = &version{snap: snap, key: bytes.Clone(k)}
					r.recountFor(path)
					continue
				}
			} else if err := r.checkValue(path, k, v); err != nil {
				r.lose(fmt.Sprintf("%s/%x", where, k), "not copied: %v", err)
				continue
			}
			if bytes.Equal(path[0], bktContent) && len(path) == 1 {
				if err := r.copyContent(stx, k, v); err != nil {
					return err
				}
				continue
			}
			if err := r.put(path, k, v); err != nil {
				return err
			}
			r.res.Records++
		}
		if lost != nil {
			r.damaged(string(path[1]), lost.snap, snapInf)
		}
		return nil
	})
	var pe *panicError
	if errors.As(werr, &pe) {
		r.lose(where, "a page could not be read (%v); the records after it were not copied", pe.v)
		r.lostBucket(path)
		werr = nil
	}
	if werr != nil {
		return werr
	}
	for _, name := range nested {
		var nb *bolt.Bucket
		if err := guard(func() error { nb = b.Bucket(name); return nil }); err != nil {
			nb = nil
		}
		if err := r.copyBucket(stx, nb, append(slices.Clone(path), name)); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks an unversioned value: a record that decodes.
func (r *repairer) checkValue(path [][]byte, k, v []byte) error {
	rec, err := decodeRecord(v)
	if err != nil {
		return err
	}
	if bytes.Equal(path[0], bktSnapshots) {
		_, err = decodeSnapshot(k, v)
	} else if !rec.live() && !bytes.Equal(path[0], bktSvc) {
		err = errors.New("a tombstone where none belongs")
	}
	return err
}

// recountFor marks the channel of a versioned bucket path for a rebuild of
// its counts (a message or count version was lost).
func (r *repairer) recountFor(path [][]byte) {
	switch {
	case len(path) == 5 && bytes.Equal(path[2], bktCh) && bytes.Equal(path[4], bktMessages):
		r.recount[string(path[1])+"\x00"+string(path[3])] = true
	case len(path) == 3 && bytes.Equal(path[2], bktCounts):
		r.recount[string(path[1])+"\x00*"] = true
	}
}

// lostBucket notes the snapshots a bucket lost whole was seen by.
func (r *repairer) lostBucket(path [][]byte) {
	switch {
	case bytes.Equal(path[0], bktSvc) && len(path) >= 2:
		r.damaged(string(path[1]), 0, snapInf)
		if len(path) >= 4 && bytes.Equal(path[2], bktCh) {
			r.recount[string(path[1])+"\x00"+string(path[3])] = true
		} else {
			r.recount[string(path[1])+"\x00*"] = true
		}
	case bytes.Equal(path[0], bktSvc), bytes.Equal(path[0], bktSnapshots):
		r.damage["*"] = append(r.damage["*"], [2]uint64{0, snapInf})
	}
}

// copyContent copies one content record and its chunks when every chunk
// reads back intact; otherwise the content is lost.
func (r *repairer) copyContent(stx *bolt.Tx, k, v []byte) error {
	doc, err := decodeContent(k, v)
	sha := hex.EncodeToString(k)
	if err != nil {
		r.lose("content/"+sha, "not copied: %v", err)
		return nil
	}
	chunks := stx.Bucket(bktChunks)
	vals := make([][]byte, 0, doc.Chunks)
	for i := range doc.Chunks {
		var cv []byte
		err := guard(func() error {
			b, err := r.in.chunkBucket(chunks, doc.Extent, i)
			if err != nil {
				return err
			}
			if b != nil {
				cv = bytes.Clone(b.Get(keyChunkData))
			}
			_, err = chunkData(cv, i+1 == doc.Chunks)
			return err
		})
		if err != nil {
			r.lose("content/"+sha, "chunk %d of %d could not be read (%v); the content was not copied", i, doc.Chunks, err)
			return nil
		}
		vals = append(vals, cv)
	}
	for i, cv := range vals {
		if err := r.put([][]byte{bktChunks, chunkKey(doc.Extent, uint32(i))}, keyChunkData, cv); err != nil {
			return err
		}
	}
	if err := r.put([][]byte{bktContent}, k, v); err != nil {
		return err
	}
	r.contentOK[sha] = true
	r.res.Content++
	r.res.Records++
	return nil
}

// finish drops media versions whose content was not copied, rebuilds the
// counts of channels that lost message or count versions, and writes every
// snapshot's status.
func (r *repairer) finish() error {
	err := r.db.Update(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bktSnapshots)
		if snaps == nil {
			return nil
		}
		svcs := tx.Bucket(bktSvc)
		if err := svcs.ForEachBucket(func(svc []byte) error {
			sb := svcs.Bucket(svc)
			if err := r.dropOrphanMedia(string(svc), sb.Bucket(bktMedia)); err != nil {
				return err
			}
			return r.rebuildCounts(string(svc), sb)
		}); err != nil {
			return err
		}
		var all []Snapshot
		if err := snaps.ForEach(func(k, v []byte) error {
			s, err := decodeSnapshot(k, v)
			if err == nil {
				all = append(all, s)
			}
			return err
		}); err != nil {
			return err
		}
		for _, s := range all {
			rs := RepairedSnapshot{ID: s.ID, Service: s.Service, Status: s.Status, Was: s.Status}
			if r.sawDamage(s) {
				rs.Status, s.Status = StatusDamaged, StatusDamaged
				r.res.Damaged++
				if err := putSnapshot(snaps, s); err != nil {
					return err
				}
			}
			r.res.Snapshots = append(r.res.Snapshots, rs)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("repair: writing the new archive: %v", err)
	}
	return nil
}

func (r *repairer) sawDamage(s Snapshot) bool {
	for _, rg := range append(r.damage[s.Service], r.damage["*"]...) {
		if rg[0] <= s.ID && s.ID < rg[1] {
			return true
		}
	}
	return false
}

// dropOrphanMedia deletes media versions whose content was not copied
// whole, as lost records.
func (r *repairer) dropOrphanMedia(svc string, b *bolt.Bucket) error {
	if b == nil {
		return nil
	}
	var drop [][]byte
	var after []uint64
	err := b.ForEach(func(k, v []byte) error {
		rec, err := decodeRecord(v)
		if err != nil || !rec.live() || r.contentOK[string(rec.label)] {
			return err
		}
		_, snap, _ := splitVersionKey(k)
		drop = append(drop, bytes.Clone(k))
		after = append(after, snap)
		r.lose(describeKey("svc/"+svc+"/media", k, false), "not copied: its content %s was not copied whole", rec.label)
		return nil
	})
	if err != nil {
		return err
	}
	for i, k := range drop {
		r.damaged(svc, after[i], snapInf)
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// rebuildCounts rewrites the counts versions of the channels marked for
// it from their message versions: one version at every snapshot id where
// the number of live messages changes.
func (r *repairer) rebuildCounts(svc string, sb *bolt.Bucket) error {
	counts, chs := sb.Bucket(bktCounts), sb.Bucket(bktCh)
	if counts == nil {
		return nil
	}
	all := r.recount[svc+"\x00*"]
	var channels [][]byte
	if err := counts.ForEach(func(k, _ []byte) error {
		if e, _, ok := splitVersionKey(k); ok && (all || r.recount[svc+"\x00"+string(e)]) &&
			(len(channels) == 0 || !bytes.Equal(channels[len(channels)-1], e)) {
			channels = append(channels, bytes.Clone(e))
		}
		return nil
	}); err != nil {
		return err
	}
	for key := range r.recount {
		if s, ch, _ := strings.Cut(key, "\x00"); s == svc && ch != "*" && !slices.ContainsFunc(channels, func(c []byte) bool { return string(c) == ch }) {
			channels = append(channels, []byte(ch))
		}
	}
	for _, ch := range channels {
		// Delete the channel's count versions, then write them anew.
		var old [][]byte
		c := counts.Cursor()
		for k, _ := c.Seek(ch); k != nil; k, _ = c.Next() {
			if e, _, ok := splitVersionKey(k); !ok || !bytes.Equal(e, ch) {
				break
			}
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			if err := counts.Delete(k); err != nil {
				return err
			}
		}
		var msgs *bolt.Bucket
		if cb := child(chs, ch); cb != nil {
			msgs = cb.Bucket(bktMessages)
		}
		if msgs == nil {
			continue
		}
		// delta[s] is the change in live messages at snapshot s.
		delta := map[uint64]int{}
		var prevLive bool
		var prevEntity []byte
		if err := msgs.ForEach(func(k, v []byte) error {
			e, snap, _ := splitVersionKey(k)
			rec, err := decodeRecord(v)
			if err != nil {
				return err
			}
			if !bytes.Equal(e, prevEntity) {
				prevLive, prevEntity = false, bytes.Clone(e)
			}
			if rec.live() != prevLive {
				delta[snap] += b2i(rec.live()) - b2i(prevLive)
				prevLive = rec.live()
			}
			return nil
		}); err != nil {
			return err
		}
		snaps := make([]uint64, 0, len(delta))
		for s := range delta {
			snaps = append(snaps, s)
		}
		slices.Sort(snaps)
		n := 0
		for _, s := range snaps {
			if delta[s] == 0 {
				continue
			}
			n += delta[s]
			if err := counts.Put(versionKey(nil, ch, s), encodeRecord(kindPut, "", binary.BigEndian.AppendUint64(nil, uint64(n)))); err != nil {
				return err
			}
		}
	}
	return nil
}

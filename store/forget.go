package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize bounds each transaction of the copy made by Compact.
const compactTxSize = 64 << 20

// Policy says which snapshots forget keeps (restic's rules).
type Policy struct {
	Last, Daily, Weekly, Monthly int
}

func (p Policy) validate() error {
	if p.Last < 0 || p.Daily < 0 || p.Weekly < 0 || p.Monthly < 0 {
		return errors.New("forget: keep counts cannot be negative")
	}
	if p.Last+p.Daily+p.Weekly+p.Monthly == 0 {
		return errors.New("forget: no keep rule given, which would remove every snapshot; give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly")
	}
	return nil
}

// ForgetResult reports what Forget removed (or would remove with dryRun).
type ForgetResult struct {
	Keep         []uint64 `json:"keep"`
	Remove       []uint64 `json:"remove"`
	FreedRecords int      `json:"freed_records"`
	FreedContent int      `json:"freed_content"`       // contents (files) no remaining media version refers to
	FreedBytes   int64    `json:"freed_content_bytes"` // their bytes
}

// snapTime is the time keep rules sort and bucket by: Finished, or Started
// for a snapshot that never finished, in UTC.
func snapTime(s Snapshot) time.Time {
	if s.Finished.IsZero() {
		return s.Started.UTC()
	}
	return s.Finished.UTC()
}

// selectKeep applies p to the snapshots of one service and returns the ids
// it keeps. Snapshots are ranked newest first (by snapTime, then id).
// keep-last keeps the first N; each period rule keeps the newest snapshot
// of each of the N most recent periods (UTC day, ISO week, month) that have
// snapshots. Running snapshots are always kept.
func selectKeep(snaps []Snapshot, p Policy) map[uint64]bool {
	list := slices.Clone(snaps)
	slices.SortFunc(list, func(x, y Snapshot) int {
		if c := snapTime(y).Compare(snapTime(x)); c != 0 {
			return c
		}
		return cmp.Compare(y.ID, x.ID)
	})
	type rule struct {
		left   int
		last   string
		period func(time.Time) string
	}
	rules := []*rule{
		{left: p.Daily, period: func(t time.Time) string { return t.Format("2006-01-02") }},
		{left: p.Weekly, period: func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{left: p.Monthly, period: func(t time.Time) string { return t.Format("2006-01") }},
	}
	keep := map[uint64]bool{}
	for i, s := range list {
		if i < p.Last || s.Status == StatusRunning {
			keep[s.ID] = true
		}
		t := snapTime(s)
		for _, r := range rules {
			if r.left == 0 {
				continue
			}
			if per := r.period(t); per != r.last {
				r.last = per
				r.left--
				keep[s.ID] = true
			}
		}
	}
	return keep
}

// Forget removes snapshots the policy does not keep and the records no kept
// snapshot refers to. The current state of every service (the newest
// version of each entity) is always kept, so incremental backups continue
// unaffected. With dryRun nothing is written and the result says what
// would be removed and freed.
func (a *Archive) Forget(p Policy, dryRun bool) (ForgetResult, error) {
	if err := p.validate(); err != nil {
		return ForgetResult{}, fmt.Errorf("archive %s: %w", a.path, err)
	}
	if a.ro && !dryRun {
		return ForgetResult{}, a.errReadOnly("forget snapshots")
	}
	res := ForgetResult{Keep: []uint64{}, Remove: []uint64{}}
	fn := func(tx *bolt.Tx) error {
		res = ForgetResult{Keep: []uint64{}, Remove: []uint64{}}
		all, err := a.snapshots(tx)
		if err != nil {
			return err
		}
		bySvc := map[string][]Snapshot{}
		for _, s := range all {
			bySvc[s.Service] = append(bySvc[s.Service], s)
		}
		keptBySvc := map[string][]uint64{}
		for svc, list := range bySvc {
			keep := selectKeep(list, p)
			for _, s := range list {
				if keep[s.ID] {
					res.Keep = append(res.Keep, s.ID)
					keptBySvc[svc] = append(keptBySvc[svc], s.ID)
				} else {
					res.Remove = append(res.Remove, s.ID)
				}
			}
		}
		slices.Sort(res.Keep)
		slices.Sort(res.Remove)

		apply := !dryRun
		referenced := map[string]bool{} // content SHA-256s of the media versions that stay
		err = tx.Bucket(bktSvc).ForEachBucket(func(name []byte) error {
			kept := keptBySvc[string(name)]
			slices.Sort(kept)
			n, err := a.freeService(tx.Bucket(bktSvc).Bucket(name), string(name), kept, apply, referenced)
			res.FreedRecords += n
			return err
		})
		if err != nil {
			return err
		}
		if res.FreedContent, res.FreedBytes, err = a.freeContent(tx, referenced, apply); err != nil || !apply {
			return err
		}
		snaps := tx.Bucket(bktSnapshots)
		for _, id := range res.Remove {
			if err := snaps.Delete(be64(id)); err != nil {
				return err
			}
		}
		return nil
	}
	// Forget reads every version: walk every page before bbolt does.
	a.mu.RLock()
	err := a.errClosed()
	if a.db != nil {
		err = a.wholeTreeDamage(a.db)
	}
	a.mu.RUnlock()
	switch {
	case err != nil:
	case dryRun:
		err = a.read(fn)
	default:
		err = a.update(fn)
	}
	if err != nil {
		return ForgetResult{}, fmt.Errorf("archive %s: forget: %w", a.path, err)
	}
	if !dryRun {
		a.log.Info("forgot snapshots", "archive", a.path, "removed", len(res.Remove), "freed_records", res.FreedRecords,
			"freed_content", res.FreedContent, "freed_content_bytes", res.FreedBytes)
	}
	return res, nil
}

// freeService frees the versions of one service that no kept snapshot and
// not the current state can see, and adds the content of the media
// versions that stay to referenced.
func (a *Archive) freeService(sb *bolt.Bucket, svc string, kept []uint64, apply bool, referenced map[string]bool) (int, error) {
	freed := 0
	for _, name := range [][]byte{bktService, bktRoles, bktChannels, bktCounts, bktUsers, bktMedia} {
		var onKeep func(record)
		if bytes.Equal(name, bktMedia) {
			onKeep = func(r record) { referenced[string(r.label)] = true }
		}
		if b := sb.Bucket(name); b != nil {
			n, err := a.freeVersions(b, loc{svc: svc, bkt: name}, kept, apply, onKeep)
			freed += n
			if err != nil {
				return freed, err
			}
		}
	}
	chs := sb.Bucket(bktCh)
	if chs == nil {
		return freed, nil
	}
	err := chs.ForEachBucket(func(ch []byte) error {
		cb := chs.Bucket(ch)
		for _, name := range [][]byte{bktMembers, bktMessages} {
			if b := cb.Bucket(name); b != nil {
				n, err := a.freeVersions(b, loc{svc: svc, ch: string(ch), bkt: name}, kept, apply, nil)
				freed += n
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	return freed, err
}

// freeVersions frees, in one versioned bucket, every version v (snapshot s,
// next version at s' or none) that is not the newest and that no kept
// snapshot k with s <= k < s' sees; then every remaining tombstone that
// follows nothing live (it hides nothing any more). It returns how many
// records it freed (or would free), and passes every live version that
// stays to onKeep (when not nil).
func (a *Archive) freeVersions(b *bolt.Bucket, l loc, kept []uint64, apply bool, onKeep func(record)) (int, error) {
	var del [][]byte
	var remaining []version
	err := forEachEntity(b, nil, func(_ []byte, vs []version) (bool, error) {
		remaining = remaining[:0]
		for i, v := range vs {
			if i == len(vs)-1 || keptIn(kept, v.snap, vs[i+1].snap) {
				remaining = append(remaining, v)
			} else {
				del = append(del, bytes.Clone(v.key))
			}
		}
		prevLive := false
		for _, v := range remaining {
			r, err := a.decodeAt(l, v)
			if err != nil {
				return false, err
			}
			if !r.live() && !prevLive {
				del = append(del, bytes.Clone(v.key))
				continue
			}
			prevLive = r.live()
			if prevLive && onKeep != nil {
				onKeep(r)
			}
		}
		return true, nil
	})
	if errors.Is(err, errShape) {
		err = a.errCorrupt(l.String(), err)
	}
	if err != nil || !apply {
		return len(del), err
	}
	for _, k := range del {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(del), nil
}

// freeContent frees (or counts, without apply) every content that no
// remaining media version refers to: its record and its chunks. Content
// this Archive stored or found (pinned) is kept: a caller may be about to
// record media that refer to it.
func (a *Archive) freeContent(tx *bolt.Tx, referenced map[string]bool, apply bool) (n int, freed int64, err error) {
	cb := tx.Bucket(bktContent)
	if cb == nil {
		return 0, 0, nil
	}
	type victim struct {
		key []byte
		doc contentDoc
	}
	var victims []victim
	err = cb.ForEach(func(k, v []byte) error {
		sha := fmt.Sprintf("%x", k)
		if referenced[sha] || a.isPinned(sha) {
			return nil
		}
		doc, err := decodeContent(k, v)
		if err != nil {
			return a.errCorrupt(a.contentWhere(sha), err)
		}
		victims = append(victims, victim{bytes.Clone(k), doc})
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for _, vc := range victims {
		n++
		freed += vc.doc.Size
		if !apply {
			continue
		}
		if err := cb.Delete(vc.key); err != nil {
			return 0, 0, err
		}
		if _, err := a.discardExtent(tx.Bucket(bktChunks), nil, vc.doc.Extent); err != nil {
			return 0, 0, err
		}
	}
	return n, freed, nil
}

// keptIn reports whether a kept snapshot id lies in [from, to).
func keptIn(kept []uint64, from, to uint64) bool {
	i, _ := slices.BinarySearch(kept, from)
	return i < len(kept) && kept[i] < to
}

// Compact rewrites the file so freed space returns to the file system: the
// data is copied into a new file (mode 0600) in the same directory, which
// then replaces the archive. Queued writes are committed first; reads and
// writes wait while it runs; the Archive stays usable afterwards.
func (a *Archive) Compact() error {
	if a.ro {
		return a.errReadOnly("compact")
	}
	if _, err := a.call(context.Background(), &op{kind: opBarrier}); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.db == nil {
		return a.errClosed()
	}
	if err := a.wholeTreeDamage(a.db); err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("compact archive %s: %v; the archive is unchanged — check free space in its directory and retry", a.path, err)
	}
	dir, base := filepath.Split(a.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".compact-*")
	if err != nil {
		return fail(err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // no-op after the rename
	before, _ := os.Stat(a.path)

	dst, err := bolt.Open(tmpName, 0o600, &bolt.Options{Timeout: a.timeout})
	if err != nil {
		return fail(err)
	}
	err = guard(func() error { return bolt.Compact(dst, a.db, compactTxSize) })
	if err == nil {
		err = trimToPages(dst, tmpName)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(a.errDamaged("copying", err))
	}
	if err := os.Chmod(tmpName, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpName, a.path); err != nil {
		return fail(err)
	}
	syncDir(dir)

	// Lock the new file before letting go of the old one, so no other
	// process slips in between.
	db, err := a.openBolt(false)
	if err != nil {
		err = fmt.Errorf("archive %s was compacted but could not be reopened (%w); close it and open it again", a.path, err)
		a.errMu.Lock()
		if a.werr == nil {
			a.werr = err
		}
		a.errMu.Unlock()
		return err
	}
	old := a.db
	a.db = db
	closeQuietly(old)
	if after, err := os.Stat(a.path); err == nil && before != nil {
		a.log.Info("compacted archive", "archive", a.path, "bytes_before", before.Size(), "bytes_after", after.Size())
	}
	return nil
}

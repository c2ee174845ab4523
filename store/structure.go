package store

import (
	"fmt"
	"os"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// structureDamage walks the page tree of db's file from the root (see
// pageWalker) and describes the first problem it finds, or returns "".
// bbolt trusts that tree: a branch page that leads back to itself, or an
// inline bucket page whose type is damaged, makes its cursors descend
// forever, allocating until the process dies, and guard cannot stop that.
// So every page is walked before bbolt reads it: Open walks all but the
// buckets lazyBucket names (whose pages grow with the archive), and a read
// that opens one of those walks it first (vetBucket). Open therefore reads
// a few pages per service and channel, whatever the archive's size. A
// file shorter than its pages is left to inspect, which reports it as
// truncated. With lazy false the whole tree is walked (Forget, Compact).
func (a *Archive) structureDamage(db *bolt.DB, lazy bool) string {
	var first string
	err := guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			var skip func([]string) bool
			if lazy {
				skip = lazyBucket
			}
			first = a.walkPages(tx, uint64(tx.Cursor().Bucket().Root()), skip)
			return nil
		})
	})
	if err != nil && first == "" {
		first = err.Error()
	}
	return first
}

// walkPages walks the tree under page root in tx's file, but the buckets
// lazy names (see pageWalker), and describes the first problem, or
// returns "".
func (a *Archive) walkPages(tx *bolt.Tx, root uint64, lazy func([]string) bool) string {
	f, err := os.Open(a.path)
	if err != nil {
		return fmt.Sprintf("cannot read the file: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || tx.Size() > fi.Size() {
		return ""
	}
	pageSize := uint64(tx.DB().Info().PageSize)
	var first string
	pw := &pageWalker{f: f, pageSize: pageSize, hwm: uint64(tx.Size()) / pageSize, seen: map[uint64]bool{},
		add: func(where, what string) {
			if first == "" {
				first = where + ": " + what
			}
		}}
	pw.lazy = lazy
	pw.walk(root)
	return first
}

// lazyBucket names the buckets Open does not walk: one channel's
// (svc/SERVICE/ch/CHANNEL, holding its members and messages), one chunk's
// (chunks/NAME) and one restore journal's (journal/PAIR). Each is walked
// by the first read that opens it.
func lazyBucket(path []string) bool {
	switch len(path) {
	case 2:
		return path[0] == string(bktChunks) || path[0] == string(bktJournal)
	case 4:
		return path[0] == string(bktSvc) && path[2] == string(bktCh)
	}
	return false
}

// vetted remembers the lazy buckets an Archive has walked: the result
// (nil or the damage found) by bucket path.
type vetted struct {
	mu   sync.Mutex
	seen map[string]error
}

// vetBucket walks the pages of b, a bucket lazyBucket names (path are its
// bucket names), before anything reads it through bbolt, once per Archive
// handle: later transactions of this handle find the same pages or pages
// its own writer wrote. ErrCorrupt names the bucket when it is damaged. A
// nil or inline bucket (walked with its parent) needs nothing.
func (a *Archive) vetBucket(b *bolt.Bucket, path ...string) error {
	if b == nil || b.Root() == 0 {
		return nil
	}
	key := strings.Join(path, "/")
	a.vet.mu.Lock()
	defer a.vet.mu.Unlock()
	if err, ok := a.vet.seen[key]; ok {
		return err
	}
	var err error
	if why := a.walkPages(b.Tx(), uint64(b.Root()), nil); why != "" {
		err = a.errDamagedTree(key + ": " + why)
	}
	if a.vet.seen == nil {
		a.vet.seen = map[string]error{}
	}
	a.vet.seen[key] = err
	return err
}

// vetChannel is vetBucket for the bucket of channel ch of service svc.
func (a *Archive) vetChannel(b *bolt.Bucket, svc, ch string) error {
	return a.vetBucket(b, string(bktSvc), svc, string(bktCh), ch)
}

// vetJournal is vetBucket for the restore journal of pair name.
func (a *Archive) vetJournal(b *bolt.Bucket, name string) error {
	return a.vetBucket(b, string(bktJournal), name)
}

// chunkBucket returns the bucket of one content chunk, walked first (see
// vetBucket), or nil.
func (a *Archive) chunkBucket(chunks *bolt.Bucket, extent uint64, index uint32) (*bolt.Bucket, error) {
	if chunks == nil {
		return nil, nil
	}
	name := chunkKey(extent, index)
	b := chunks.Bucket(name)
	return b, a.vetBucket(b, string(bktChunks), fmt.Sprintf("%x", name))
}

// wholeTreeDamage walks every page of db, for operations that read the
// whole archive through bbolt (Forget, Compact): ErrCorrupt if damaged.
func (a *Archive) wholeTreeDamage(db *bolt.DB) error {
	if why := a.structureDamage(db, false); why != "" {
		return a.errDamagedTree(why)
	}
	return nil
}

// errDamagedTree is the error for damage a page walk found.
func (a *Archive) errDamagedTree(why string) error {
	return fmt.Errorf("archive %s is damaged (%s); %s: %w", a.path, why, damageAdvice, ErrCorrupt)
}

// vetService walks the pages of every channel of service that this handle
// has not walked yet, and returns the first damage this handle has found
// anywhere: BeginSnapshot refuses a damaged archive before it records a
// snapshot. With Open's walk this covers every page a backup of the
// service reads or writes but the content chunks (walked when read).
func (a *Archive) vetService(service string) error {
	err := a.read(func(tx *bolt.Tx) error {
		chs := child(serviceBucket(tx, service), bktCh)
		if chs == nil {
			return nil
		}
		return chs.ForEachBucket(func(ch []byte) error {
			return a.vetChannel(chs.Bucket(ch), service, string(ch))
		})
	})
	if err != nil {
		return err
	}
	a.vet.mu.Lock()
	defer a.vet.mu.Unlock()
	for _, err := range a.vet.seen {
		if err != nil {
			return err
		}
	}
	return nil
}

package store

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// structureDamage walks the page tree of db's file (see pageWalker) and
// describes the first problem it finds, or returns "". bbolt trusts that
// tree: a branch page that leads back to itself, or an inline bucket page
// whose type is damaged, makes its cursors descend forever, allocating
// until the process dies, and guard cannot stop that. So Open runs this
// walk, under the shared lock, before anything reads through bbolt. It
// costs one read of every reachable page. A file shorter than its pages is
// left to inspect, which reports it as truncated.
func (a *Archive) structureDamage(db *bolt.DB) string {
	f, err := os.Open(a.path)
	if err != nil {
		return fmt.Sprintf("cannot read the file: %v", err)
	}
	defer f.Close()
	var first string
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			fi, err := f.Stat()
			if err != nil || tx.Size() > fi.Size() {
				return nil
			}
			pageSize := uint64(db.Info().PageSize)
			pw := &pageWalker{f: f, pageSize: pageSize, hwm: uint64(tx.Size()) / pageSize, seen: map[uint64]bool{},
				add: func(where, what string) {
					if first == "" {
						first = where + ": " + what
					}
				}}
			pw.walk(uint64(tx.Cursor().Bucket().Root()))
			return nil
		})
	})
	if err != nil && first == "" {
		first = err.Error()
	}
	return first
}

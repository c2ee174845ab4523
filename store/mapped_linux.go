//go:build linux

package store

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// mapping is the bbolt mapping releaseMapped last checked.
type mapping struct {
	mu   sync.Mutex
	db   *bolt.DB
	base uintptr
	len  uintptr // 0: not this archive's file; never released
}

// releaseMapped drops the archive file's pages from this process's page
// tables: madvise(MADV_DONTNEED) over bbolt's shared, read-only mapping of
// the file. Called by the writer goroutine after its commits.
//
// Why: bbolt reads pages through the mapping, and the kernel maps up to 16
// neighbouring pages on each fault ("fault-around"). The pages a commit
// reads were mostly written by the commits before it, so they and their
// neighbours are in the page cache, and over a long backup the process
// comes to map a share of everything it wrote: its resident size grew with
// the archive (about a fifth of it). Those pages are clean page cache, but
// they count as the process's memory until unmapped.
//
// Dropping them loses nothing: the pages stay in the page cache, and the
// next read maps them again (a minor fault, no disk read). It runs inside a
// read transaction, during which bbolt cannot remap the file, and only on a
// mapping that /proc/self/maps shows to start at the address bbolt gives
// and to map this archive's file from its first byte.
func (a *Archive) releaseMapped() {
	a.mu.RLock()
	defer a.mu.RUnlock()
	db := a.db
	if db == nil {
		return
	}
	_ = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			base := db.Info().Data
			m := &a.mapped
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.db != db || m.base != base {
				m.db, m.base, m.len = db, base, mappingLen(base, db.Path())
			}
			n := min(m.len, uintptr(tx.Size()))
			if n > 0 {
				_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, base, n, syscall.MADV_DONTNEED)
			}
			return nil
		})
	})
}

// mappingLen returns the length of the mapping that starts at base if it is
// a shared, read-only mapping of the file at path from offset 0 (one that
// MADV_DONTNEED cannot change the contents of), and 0 otherwise.
func mappingLen(base uintptr, path string) uintptr {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 5 {
			continue
		}
		lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
		if !ok {
			continue
		}
		start, err := strconv.ParseUint(string(lo), 16, 64)
		if err != nil || uintptr(start) != base {
			continue
		}
		end, err1 := strconv.ParseUint(string(hi), 16, 64)
		off, err2 := strconv.ParseUint(string(fields[2]), 16, 64)
		ino, err3 := strconv.ParseUint(string(fields[4]), 10, 64)
		perms := fields[1]
		shared := len(perms) == 4 && perms[1] == '-' && perms[3] == 's'
		if err1 != nil || err2 != nil || err3 != nil || !shared || off != 0 || ino != st.Ino || end <= start {
			return 0
		}
		return uintptr(end - start)
	}
	return 0
}

package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the archive format this build writes and reads (it
// reads format 1 too; see doc.go).
const FormatVersion = 2

// formatBytes is a format version as stored in meta.
func formatBytes(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

const (
	defaultTimeout = time.Second
	magic          = "chatvault"
)

// Bucket and key names (see doc.go for the layout).
var (
	bktMeta      = []byte("meta")
	bktSnapshots = []byte("snapshots")
	bktSvc       = []byte("svc")
	bktJournal   = []byte("journal")
	bktContent   = []byte("content") // format 2
	bktChunks    = []byte("chunks")  // format 2
	bktUploads   = []byte("uploads") // format 2

	keyMagic   = []byte("magic")
	keyFormat  = []byte("format")
	keyCreated = []byte("created")

	bktService  = []byte("service")
	bktRoles    = []byte("roles")
	bktChannels = []byte("channels")
	bktCounts   = []byte("counts")
	bktSync     = []byte("sync")
	bktCh       = []byte("ch")
	bktMembers  = []byte("members")
	bktMessages = []byte("messages")
	bktMedia    = []byte("media") // format 2
	bktUsers    = []byte("users") // format 2
)

// Options shape Open.
type Options struct {
	Create   bool          // create the file (mode 0600) when it does not exist
	ReadOnly bool          // open shared, for reading only (no lock against other readers)
	Timeout  time.Duration // how long to wait for the lock; 0 means 1s
	Logger   *slog.Logger  // optional; nil discards
}

// Status of a snapshot.
type Status string

const (
	StatusRunning     Status = "running"
	StatusComplete    Status = "complete"
	StatusPartial     Status = "partial"
	StatusInterrupted Status = "interrupted"
)

func (s Status) valid() bool {
	switch s {
	case StatusRunning, StatusComplete, StatusPartial, StatusInterrupted, StatusDamaged:
		return true
	}
	return false
}

// Snapshot describes one backup run.
type Snapshot struct {
	ID       uint64    `json:"id"`
	Service  string    `json:"service"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"` // zero while running
	Status   Status    `json:"status"`
	Full     bool      `json:"full"`
	Channels int       `json:"channels"` // channels live in the snapshot
	Messages int       `json:"messages"` // messages live in the snapshot
	Added    int       `json:"added"`    // messages added relative to the previous snapshot of the service
	Changed  int       `json:"changed"`
	Deleted  int       `json:"deleted"`
	// Channels, members and users added, changed or deleted relative to
	// the previous snapshot of the service (each kind's sum).
	ChannelsChanged int      `json:"channels_changed,omitempty"`
	MembersChanged  int      `json:"members_changed,omitempty"`
	UsersChanged    int      `json:"users_changed,omitempty"`
	Requests        int64    `json:"requests"`
	Failed          []string `json:"failed,omitempty"` // channel SIDs that failed
	API             string   `json:"api,omitempty"`    // APIChat or APIConversations; "" (earlier releases) means chat
}

// Archive is an open archive file. Its methods are safe for concurrent use.
type Archive struct {
	path    string
	ro      bool
	timeout time.Duration
	log     *slog.Logger

	// mu guards db: every transaction holds it shared; Compact and Close
	// hold it exclusively while they swap or close the handle.
	mu sync.RWMutex
	db *bolt.DB

	// Writer goroutine (read-write archives only).
	ops       chan *op
	done      chan struct{} // closed after the writer goroutine stopped
	stopped   chan struct{} // closed by the writer goroutine on exit
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	errMu sync.Mutex
	werr  error // sticky writer error

	queue     queueBudget // bytes of the queued ops (writer goroutine's backpressure)
	chunkBufs sync.Pool   // *[]byte buffers of content chunks, reused once committed
	// chunkScratch holds *[]byte buffers compressChunk writes into.
	chunkScratch sync.Pool
	mapped       mapping // the mapping releaseMapped last checked

	vet vetted // lazy buckets walked (see vetBucket)

	// damaged is set by a read-only Open of a file whose page tree is
	// damaged (see structureDamage): every read but Check fails with it.
	damaged error

	wmu      sync.Mutex
	writers  map[string]*Writer  // running Writers by service
	journals map[string]*Journal // by "SOURCE>TARGET"

	committed atomic.Bool // a write transaction of this handle committed (see trimTail)
	plain     bool        // tests only: store resources uncompressed (see appendResource)

	cmu    sync.Mutex
	pinned map[string]bool // content SHA-256s this Archive stored or found: its Forget keeps them
}

// Open opens the archive at path. See Options and the package documentation
// for the checks it makes before trusting (or writing to) a file.
func Open(path string, o Options) (*Archive, error) {
	if path == "" {
		return nil, errors.New("open archive: no path given; pass --archive FILE")
	}
	a := &Archive{path: path, ro: o.ReadOnly, timeout: o.Timeout, log: o.Logger}
	a.chunkScratch.New = func() any { b := make([]byte, 0, contentChunk); return &b }
	if a.timeout <= 0 {
		a.timeout = defaultTimeout
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}

	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !o.Create {
			return nil, fmt.Errorf("archive %s does not exist; check the path, or run a backup to create it: %w", path, ErrMissing)
		}
		if err := a.create(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("open archive %s: %v; check the path and its permissions", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a chatvault archive (not a regular file); check the path: %w", path, ErrNotArchive)
	case fi.Size() == 0:
		return nil, fmt.Errorf("%s is not a chatvault archive (the file is empty); check the path, or remove the empty file and run a backup to create the archive: %w", path, ErrNotArchive)
	}

	// Inspect read-only first: a file that is not ours, or is newer than
	// us, is never opened for writing.
	db, err := a.openBolt(true)
	if err != nil {
		return nil, err
	}
	if why := a.structureDamage(db, true); why != "" {
		err := a.errDamagedTree(why)
		if !o.ReadOnly {
			closeQuietly(db)
			return nil, errRefused(err)
		}
		// Check still walks and reports it; every other read fails.
		a.damaged = err
		a.db = db
		return a, nil
	}
	if err := a.inspect(db); err != nil {
		closeQuietly(db)
		return nil, err
	}
	// A read-write open makes bbolt load the free-page list, trusting its
	// count; check it first. (A read-only open never loads it unless
	// Check, which checks it first, asks bbolt to.)
	damage := a.freelistDamage()
	if o.ReadOnly {
		a.db = db
		return a, nil
	}
	closeQuietly(db)
	if damage != "" {
		return nil, errRefused(fmt.Errorf("archive %s is damaged (%s); it cannot be written, but read-only commands such as verify, ls and export still work; %s: %w",
			a.path, damage, damageAdvice, ErrCorrupt))
	}

	if db, err = a.openBolt(false); err != nil {
		return nil, err
	}
	if err := a.inspect(db); err != nil {
		closeQuietly(db)
		return nil, err
	}
	a.db = db
	if err := a.recoverRunning(); err != nil {
		closeQuietly(db)
		return nil, err
	}
	if err := a.sweepUploads(); err != nil {
		closeQuietly(db)
		return nil, err
	}
	a.ops = make(chan *op, opQueueLen)
	a.done = make(chan struct{})
	a.stopped = make(chan struct{})
	a.writers = make(map[string]*Writer)
	go a.run()
	return a, nil
}

func closeQuietly(db *bolt.DB) { _ = guard(db.Close) }

// guard runs fn with memory faults turned into panics and panics turned
// into a *panicError, so a damaged file never crashes the process.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{r}
		}
	}()
	return fn()
}

// openBolt opens the file with bbolt, read-only (shared lock) or read-write
// (exclusive lock), never creating it. After locking it checks that path
// still names the file it locked (Compact renames a new file into place; a
// process that waited on the old file must not use it) and retries if not.
func (a *Archive) openBolt(readOnly bool) (*bolt.DB, error) {
	for attempt := 0; ; attempt++ {
		var f *os.File
		opts := &bolt.Options{
			Timeout:  a.timeout,
			ReadOnly: readOnly,
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				var err error
				f, err = os.OpenFile(name, flag&^os.O_CREATE, perm)
				return f, err
			},
		}
		var db *bolt.DB
		err := guard(func() error {
			var err error
			db, err = bolt.Open(a.path, 0o600, opts)
			return err
		})
		if err != nil {
			var pe *panicError
			if errors.As(err, &pe) && f != nil {
				_ = f.Close() // bbolt did not get to close it; release the lock
			}
			return nil, a.openError(err)
		}
		if same, serr := sameFile(f, a.path); serr == nil && !same && attempt < 3 {
			closeQuietly(db)
			continue
		}
		return db, nil
	}
}

func sameFile(f *os.File, path string) (bool, error) {
	if f == nil {
		return true, nil
	}
	fi1, err := f.Stat()
	if err != nil {
		return false, err
	}
	fi2, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(fi1, fi2), nil
}

func (a *Archive) openError(err error) error {
	var pe *panicError
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return explain(ErrLocked, "archive %s is locked by another chatvault process; wait for it to finish or stop it", a.path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("archive %s does not exist; check the path, or run a backup to create it: %w", a.path, ErrMissing)
	case errors.As(err, &pathErr):
		return fmt.Errorf("open archive %s: %v; check the file's permissions", a.path, pathErr.Err)
	case errors.As(err, &pe):
		return fmt.Errorf("%s is not a chatvault archive (damaged: %v); check the path or restore the archive from a copy: %w", a.path, pe.v, ErrNotArchive)
	default:
		return fmt.Errorf("%s is not a chatvault archive (%v); check the path — chatvault does not modify such a file: %w", a.path, err, ErrNotArchive)
	}
}

// truncatedError is an archive shorter than its pages: a copy cut short,
// or a disk that filled up. Repair salvages what the pages it has hold.
type truncatedError struct {
	path       string
	have, need int64
}

func (e *truncatedError) Error() string {
	return fmt.Sprintf("%s is not a chatvault archive (truncated: %d bytes, but its pages need %d); restore the archive from a copy, "+
		"or salvage what it holds with chatvault repair: %v", e.path, e.have, e.need, ErrNotArchive)
}

func (e *truncatedError) Unwrap() error { return ErrNotArchive }

// inspect checks that db is a chatvault archive this build can read: the
// file is not shorter than its pages, and meta holds our magic and a format
// we know.
func (a *Archive) inspect(db *bolt.DB) error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("open archive %s: %v; check the path and its permissions", a.path, err)
	}
	notArchive := func(why string) error {
		return fmt.Errorf("%s is not a chatvault archive (%s); check the path — chatvault does not modify such a file: %w", a.path, why, ErrNotArchive)
	}
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > fi.Size() {
				return &truncatedError{path: a.path, have: fi.Size(), need: tx.Size()}
			}
			meta := tx.Bucket(bktMeta)
			if meta == nil {
				return notArchive("a bbolt database without chatvault metadata")
			}
			if string(meta.Get(keyMagic)) != magic {
				return notArchive("a bbolt database with foreign metadata")
			}
			f := meta.Get(keyFormat)
			if len(f) != 4 {
				return notArchive("its format version is unreadable")
			}
			switch v := binary.BigEndian.Uint32(f); {
			case v == 0:
				return notArchive("format version 0")
			case v > FormatVersion:
				return fmt.Errorf("archive %s has format %d, but this chatvault reads format %d at most; upgrade chatvault to read it: %w",
					a.path, v, FormatVersion, ErrNewerFormat)
			}
			for _, name := range [][]byte{bktSnapshots, bktSvc, bktJournal} {
				if tx.Bucket(name) == nil {
					return notArchive(fmt.Sprintf("bucket %q is missing", name))
				}
			}
			return nil
		})
	})
	var pe *panicError
	if errors.As(err, &pe) {
		return notArchive(fmt.Sprintf("damaged: %v", pe.v))
	}
	return err
}

// freelistDamage describes damage to the free-page list of the file, or
// returns "". Callers hold at least a shared lock on the file.
func (a *Archive) freelistDamage() string {
	f, err := os.Open(a.path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	m, ok := activeMeta(f, fi.Size())
	if !ok {
		return ""
	}
	return freelistProblem(f, m, fi.Size())
}

// create makes a new archive atomically: it is built under a temporary name
// in the same directory and linked into place, so a crash never leaves a
// half-made file at path.
func (a *Archive) create() error {
	dir, base := filepath.Split(a.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".new-*")
	if err != nil {
		return fmt.Errorf("create archive %s: %v; check that the directory exists and is writable", a.path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("create archive %s: %v", a.path, err)
	}
	_ = tmp.Close()

	db, err := bolt.Open(tmpName, 0o600, &bolt.Options{Timeout: a.timeout})
	if err != nil {
		return fmt.Errorf("create archive %s: %v; check free space and permissions", a.path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bktMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyMagic, []byte(magic)); err != nil {
			return err
		}
		if err := meta.Put(keyFormat, formatBytes(FormatVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyCreated, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		for _, name := range [][]byte{bktSnapshots, bktSvc, bktJournal} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create archive %s: %v; check free space and permissions", a.path, err)
	}
	// Link fails if someone created path meanwhile: then we open theirs.
	if err := os.Link(tmpName, a.path); err != nil && !errors.Is(err, fs.ErrExist) {
		if err := os.Rename(tmpName, a.path); err != nil {
			return fmt.Errorf("create archive %s: %v; check that the directory is writable", a.path, err)
		}
	}
	syncDir(dir)
	a.log.Info("created archive", "path", a.path)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// recoverRunning marks snapshots left running by a process that died as
// interrupted and fills in their totals. Finished stays zero: the time of
// death is unknown.
func (a *Archive) recoverRunning() error {
	// Roll back when nothing was left running: even an empty bbolt commit
	// rewrites a meta page, and opening an archive must not change it.
	errNone := errors.New("no snapshot was left running")
	err := a.update(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bktSnapshots)
		var fix []Snapshot
		err := snaps.ForEach(func(k, v []byte) error {
			s, err := decodeSnapshot(k, v)
			if err != nil {
				return a.errCorrupt(fmt.Sprintf("snapshots/%x", k), err)
			}
			if s.Status == StatusRunning {
				fix = append(fix, s)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(fix) == 0 {
			return errNone
		}
		for _, s := range fix {
			s.Status = StatusInterrupted
			if s.Channels, s.Messages, err = a.totals(tx, s.Service, s.ID); err != nil {
				return err
			}
			if err := putSnapshot(snaps, s); err != nil {
				return err
			}
			a.log.Info("snapshot was left running by a stopped process; marked interrupted", "archive", a.path, "snapshot", s.ID)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNone) {
		return fmt.Errorf("archive %s: marking interrupted snapshots: %w", a.path, err)
	}
	return nil
}

// Close flushes queued writes, marks snapshots still being written as
// interrupted, and closes the file. It returns the first write error, if any.
func (a *Archive) Close() error {
	a.closeOnce.Do(func() {
		if !a.ro {
			a.closing.Store(true)
			reply := make(chan opResult, 1)
			a.ops <- &op{kind: opStop, reply: reply}
			<-a.stopped
			close(a.done)
			a.closeErr = (<-reply).err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.committed.Load() {
			a.trimTail()
		}
		if err := guard(a.db.Close); err != nil && a.closeErr == nil {
			a.closeErr = fmt.Errorf("close archive %s: %v", a.path, err)
		}
		a.db = nil
	})
	return a.closeErr
}

// trimTail cuts the file to its pages in use (see trimToPages). Only a
// handle that committed trims (a read-write Open that writes nothing
// leaves the file as it was). It runs while the file is still locked,
// with the writer goroutine stopped.
func (a *Archive) trimTail() {
	if err := trimToPages(a.db, a.path); err != nil {
		a.log.Warn("could not trim the archive's unused tail", "archive", a.path, "err", err)
	}
}

// trimToPages cuts db's file at path to its pages in use. bbolt grows a
// file ahead of its pages (to the size of its memory map, then 16 MiB at
// a time) and never shrinks it; the pages past the high-water mark hold
// nothing and bbolt never reads them, so the mapping left beyond the new
// end is unused, and an archive at rest is no larger than its data.
func trimToPages(db *bolt.DB, path string) error {
	var hwm int64
	if err := guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			hwm = tx.Size()
			return nil
		})
	}); err != nil || hwm <= 0 {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= hwm {
		return err
	}
	return os.Truncate(path, hwm)
}

// Path returns the archive's file name as given to Open.
func (a *Archive) Path() string { return a.path }

// read runs fn in a read transaction.
func (a *Archive) read(fn func(tx *bolt.Tx) error) error {
	if a.damaged != nil {
		return a.damaged
	}
	return a.readUnchecked(fn)
}

// readUnchecked is read even when the file's page tree is damaged: only for
// Check, which walks the pages itself before bbolt reads them.
func (a *Archive) readUnchecked(fn func(tx *bolt.Tx) error) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.db == nil {
		return a.errClosed()
	}
	return a.errDamaged("reading", guard(func() error { return a.db.View(fn) }))
}

// update runs fn in a write transaction outside the writer goroutine
// (bbolt serialises it with the goroutine's transactions).
func (a *Archive) update(fn func(tx *bolt.Tx) error) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.db == nil {
		return a.errClosed()
	}
	if a.ro {
		return a.errReadOnly("write")
	}
	err := guard(func() error { return a.db.Update(fn) })
	a.committed.Store(a.committed.Load() || err == nil)
	return a.errDamaged("writing", err)
}

func decodeSnapshot(k, v []byte) (Snapshot, error) {
	if len(k) != 8 {
		return Snapshot{}, fmt.Errorf("key is %d bytes, want 8", len(k))
	}
	r, err := decodeRecord(v)
	if err != nil {
		return Snapshot{}, err
	}
	if !r.live() {
		return Snapshot{}, errors.New("snapshot record is a tombstone")
	}
	var s Snapshot
	if err := json.Unmarshal(r.payload, &s); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot JSON: %v", err)
	}
	if id := binary.BigEndian.Uint64(k); s.ID != id {
		return Snapshot{}, fmt.Errorf("record says id %d under key %d", s.ID, id)
	}
	return s, nil
}

func putSnapshot(b *bolt.Bucket, s Snapshot) error {
	js, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.Put(be64(s.ID), encodeRecord(kindPut, "", js))
}

func (a *Archive) snapshots(tx *bolt.Tx) ([]Snapshot, error) {
	var out []Snapshot
	err := tx.Bucket(bktSnapshots).ForEach(func(k, v []byte) error {
		s, err := decodeSnapshot(k, v)
		if err != nil {
			return a.errCorrupt(fmt.Sprintf("snapshots/%x", k), err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// Snapshots lists all snapshots, oldest first.
func (a *Archive) Snapshots() ([]Snapshot, error) {
	var out []Snapshot
	err := a.read(func(tx *bolt.Tx) error {
		var err error
		out, err = a.snapshots(tx)
		return err
	})
	return out, err
}

// Services lists the service SIDs that have snapshots, sorted.
func (a *Archive) Services() ([]string, error) {
	snaps, err := a.Snapshots()
	if err != nil {
		return nil, err
	}
	return servicesOf(snaps), nil
}

func servicesOf(snaps []Snapshot) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range snaps {
		if !seen[s.Service] {
			seen[s.Service] = true
			out = append(out, s.Service)
		}
	}
	slices.Sort(out)
	return out
}

// pickService resolves service "" to the archive's only service.
func (a *Archive) pickService(snaps []Snapshot, service string) (string, error) {
	if service != "" {
		return service, nil
	}
	svcs := servicesOf(snaps)
	switch len(svcs) {
	case 0:
		return "", explain(ErrNoSnapshot, "archive %s holds no snapshot; run a backup first", a.path)
	case 1:
		return svcs[0], nil
	default:
		return "", fmt.Errorf("archive %s holds snapshots of %d services (%s, …); choose one with --service/--source: %w",
			a.path, len(svcs), svcs[0], ErrAmbiguousService)
	}
}

// ResolveSnapshot picks a snapshot: sel is "latest" (or "") for the newest
// snapshot of service, whatever its status (any service when service is ""
// and only one exists; ErrAmbiguousService when several do), or a decimal
// id, which must then belong to service when service is not "".
// ErrNoSnapshot when nothing matches.
func (a *Archive) ResolveSnapshot(sel, service string) (Snapshot, error) {
	snaps, err := a.Snapshots()
	if err != nil {
		return Snapshot{}, err
	}
	if sel == "" || sel == "latest" {
		svc, err := a.pickService(snaps, service)
		if err != nil {
			return Snapshot{}, err
		}
		for i := len(snaps) - 1; i >= 0; i-- {
			if snaps[i].Service == svc {
				return snaps[i], nil
			}
		}
		return Snapshot{}, explain(ErrNoSnapshot, "archive %s holds no snapshot of service %s; list them with `chatvault snapshots`", a.path, svc)
	}
	id, err := parseID(sel)
	if err != nil {
		return Snapshot{}, explain(ErrNoSnapshot, "snapshot %q: want a snapshot id (a number) or \"latest\"", sel)
	}
	for _, s := range snaps {
		if s.ID != id {
			continue
		}
		if service != "" && s.Service != service {
			return Snapshot{}, explain(ErrNoSnapshot, "archive %s: snapshot %d is of service %s, not %s; list them with `chatvault snapshots`",
				a.path, id, s.Service, service)
		}
		return s, nil
	}
	return Snapshot{}, explain(ErrNoSnapshot, "archive %s has no snapshot %d; list them with `chatvault snapshots`", a.path, id)
}

// SnapshotAsOf returns the newest complete snapshot of service finished at
// or before t (service "" as in ResolveSnapshot).
func (a *Archive) SnapshotAsOf(service string, t time.Time) (Snapshot, error) {
	snaps, err := a.Snapshots()
	if err != nil {
		return Snapshot{}, err
	}
	svc, err := a.pickService(snaps, service)
	if err != nil {
		return Snapshot{}, err
	}
	var best Snapshot
	found := false
	for _, s := range snaps {
		if s.Service != svc || s.Status != StatusComplete || s.Finished.IsZero() || s.Finished.After(t) {
			continue
		}
		if !found || s.Finished.After(best.Finished) || (s.Finished.Equal(best.Finished) && s.ID > best.ID) {
			best, found = s, true
		}
	}
	if !found {
		return Snapshot{}, fmt.Errorf("archive %s has no complete snapshot of service %s finished at or before %s; list them with `chatvault snapshots`: %w",
			a.path, svc, t.UTC().Format(time.RFC3339), ErrNoSnapshot)
	}
	return best, nil
}

func parseID(s string) (uint64, error) {
	var id uint64
	if s == "" || len(s) > 19 {
		return 0, errors.New("bad id")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("bad id")
		}
		id = id*10 + uint64(c-'0')
	}
	if id == 0 {
		return 0, errors.New("bad id")
	}
	return id, nil
}

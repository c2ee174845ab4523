package store

import (
	"context"
	"errors"
	"iter"
	"time"
)

// CONTRACT STUB: the agreed API of package store. Bodies are being
// implemented; callers (backup, restore, main) may compile against it now.

// FormatVersion is the archive format this build writes and reads.
const FormatVersion = 1

var (
	// ErrNotArchive: the file exists but is not a chatvault archive (or is damaged beyond opening).
	ErrNotArchive = errors.New("not a chatvault archive")
	// ErrNewerFormat: the archive was written by a newer chatvault.
	ErrNewerFormat = errors.New("archive written by a newer chatvault")
	// ErrMissing: the archive does not exist and Options.Create was not set.
	ErrMissing = errors.New("archive does not exist")
	// ErrLocked: another process holds the archive open for writing.
	ErrLocked = errors.New("archive is locked by another chatvault process")
	// ErrCorrupt: a record failed its checksum or could not be decoded.
	ErrCorrupt = errors.New("archive record is corrupt")
	// ErrNoSnapshot: no snapshot matches the selection.
	ErrNoSnapshot = errors.New("no such snapshot")
	// ErrNotFound: no record with that key (e.g. a channel not in the snapshot).
	ErrNotFound = errors.New("not found in archive")
)

// Options shape Open.
type Options struct {
	Create   bool          // create the file (mode 0600) when it does not exist
	ReadOnly bool          // open shared, for reading only (no lock against other readers)
	Timeout  time.Duration // how long to wait for the lock; 0 means 1s
}

// Status of a snapshot.
type Status string

const (
	StatusRunning     Status = "running"
	StatusComplete    Status = "complete"
	StatusPartial     Status = "partial"
	StatusInterrupted Status = "interrupted"
)

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
	Requests int64     `json:"requests"`
	Failed   []string  `json:"failed,omitempty"` // channel SIDs that failed
}

// Archive is an open archive file.
type Archive struct{}

func Open(path string, o Options) (*Archive, error) { panic("unimplemented") }
func (a *Archive) Close() error                     { panic("unimplemented") }
func (a *Archive) Path() string                     { panic("unimplemented") }

// Snapshots lists all snapshots, oldest first.
func (a *Archive) Snapshots() ([]Snapshot, error) { panic("unimplemented") }

// Services lists the service SIDs that have snapshots, sorted.
func (a *Archive) Services() ([]string, error) { panic("unimplemented") }

// ResolveSnapshot picks a snapshot: sel is "latest" (or "") for the newest
// snapshot of service (any service when service is "" and only one exists) or
// a decimal id. ErrNoSnapshot when nothing matches.
func (a *Archive) ResolveSnapshot(sel, service string) (Snapshot, error) { panic("unimplemented") }

// SnapshotAsOf returns the newest complete snapshot of service finished at or before t.
func (a *Archive) SnapshotAsOf(service string, t time.Time) (Snapshot, error) {
	panic("unimplemented")
}

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
	DateUpdated   string `json:"date_updated"`   // channel's date_updated when last synced
	WalkTop       int64  `json:"walk_top"`       // an unfinished desc walk started at this index; -1 = none
	WalkNext      string `json:"walk_next"`      // next_page_url where that walk stopped
}

// View reads one snapshot's state as it was when the snapshot finished (or
// was interrupted). Every method reads in short transactions so a View may be
// held while the archive is written.
type View struct{}

func (a *Archive) View(snapshotID uint64) (*View, error)                   { panic("unimplemented") }
func (v *View) Snapshot() Snapshot                                         { panic("unimplemented") }
func (v *View) Channels() ([]ChannelRecord, error)                         { panic("unimplemented") } // ordered by date_created, then SID
func (v *View) Channel(sidOrUniqueName string) (ChannelRecord, error)      { panic("unimplemented") }
func (v *View) Roles() ([]RoleRecord, error)                               { panic("unimplemented") }
func (v *View) Members(channelSID string) ([]MemberRecord, error)          { panic("unimplemented") }
func (v *View) Messages(channelSID string) iter.Seq2[MessageRecord, error] { panic("unimplemented") } // index order, chunked reads
func (v *View) MessageCount(channelSID string) (int, error)                { panic("unimplemented") }
func (v *View) Service() ([]byte, error)                                   { panic("unimplemented") } // raw service JSON

// Writer records one snapshot. Its methods are safe for concurrent use: they
// queue operations to the archive's single writer goroutine, which applies
// them in order, many per transaction. An error from the writer goroutine is
// returned by the next call and by Flush/Finish.
type Writer struct{}

// BeginSnapshot starts a snapshot of service in state running.
func (a *Archive) BeginSnapshot(service string, full bool, started time.Time) (*Writer, error) {
	panic("unimplemented")
}
func (w *Writer) ID() uint64 { panic("unimplemented") }

// PutService / PutRole store the raw resource if it differs from the current version.
func (w *Writer) PutService(raw []byte) error                        { panic("unimplemented") }
func (w *Writer) PutRole(sid, friendlyName string, raw []byte) error { panic("unimplemented") }

// PutChannel stores the channel if it differs from the current version.
func (w *Writer) PutChannel(sid, uniqueName string, raw []byte) error { panic("unimplemented") }

// DeleteChannel records that the channel no longer exists (its members and messages with it).
func (w *Writer) DeleteChannel(sid string) error { panic("unimplemented") }

// PutMembers / PutMessages store each record that differs from its current version.
func (w *Writer) PutMembers(channelSID string, ms []MemberRecord) error   { panic("unimplemented") }
func (w *Writer) PutMessages(channelSID string, ms []MessageRecord) error { panic("unimplemented") }

// DeleteMembers / DeleteMessages record deletions (tombstones) of live records.
func (w *Writer) DeleteMembers(channelSID string, sids []string) error    { panic("unimplemented") }
func (w *Writer) DeleteMessages(channelSID string, indexes []int64) error { panic("unimplemented") }

// SetSync stores the channel's sync state, ordered after the operations queued before it.
func (w *Writer) SetSync(channelSID string, s ChannelSync) error { panic("unimplemented") }

// Flush waits until every queued operation is committed.
func (w *Writer) Flush(ctx context.Context) error { panic("unimplemented") }

// Finish flushes and closes the snapshot with its final status and request count.
func (w *Writer) Finish(status Status, requests int64, failed []string) (Snapshot, error) {
	panic("unimplemented")
}

// Sync returns the committed sync state of a channel (ok=false when none).
func (a *Archive) Sync(service, channelSID string) (s ChannelSync, ok bool, err error) {
	panic("unimplemented")
}

// Current returns the newest committed version of a channel, or ErrNotFound
// when none exists or it was deleted.
func (a *Archive) CurrentChannel(service, channelSID string) (ChannelRecord, error) {
	panic("unimplemented")
}

// LiveChannels / LiveMembers / LiveMessageIndexes list what is live in the
// newest committed state of service (used by backup to record deletions).
func (a *Archive) LiveChannels(service string) ([]string, error)            { panic("unimplemented") }
func (a *Archive) LiveMembers(service, channelSID string) ([]string, error) { panic("unimplemented") }
func (a *Archive) LiveMessageIndexes(service, channelSID string) ([]int64, error) {
	panic("unimplemented")
}

// Journal is restore's durable map for one (source service, target service)
// pair: string keys to small values, written through the same writer
// goroutine in batches. Get sees queued values too (read-your-writes).
type Journal struct{}

func (a *Archive) Journal(source, target string) (*Journal, error) { panic("unimplemented") }
func (j *Journal) Get(key string) ([]byte, bool, error)            { panic("unimplemented") }
func (j *Journal) Put(key string, value []byte) error              { panic("unimplemented") }
func (j *Journal) Scan(prefix string, fn func(key string, value []byte) error) error {
	panic("unimplemented")
}
func (j *Journal) Flush(ctx context.Context) error { panic("unimplemented") }

// Problem is one integrity problem found by Check.
type Problem struct {
	Where string `json:"where"` // bucket/key path, human-readable
	What  string `json:"what"`
}

// Check verifies every record's checksum, the structure and every
// snapshot's references. It never modifies the file.
func (a *Archive) Check() ([]Problem, error) { panic("unimplemented") }

// Policy says which snapshots forget keeps (restic's rules).
type Policy struct {
	Last, Daily, Weekly, Monthly int
}

// ForgetResult reports what Forget removed (or would remove with dryRun).
type ForgetResult struct {
	Keep         []uint64 `json:"keep"`
	Remove       []uint64 `json:"remove"`
	FreedRecords int      `json:"freed_records"`
}

// Forget removes snapshots the policy does not keep and the records no kept
// snapshot refers to.
func (a *Archive) Forget(p Policy, dryRun bool) (ForgetResult, error) { panic("unimplemented") }

// Compact rewrites the file so freed space returns to the file system.
func (a *Archive) Compact() error { panic("unimplemented") }

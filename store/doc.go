// Package store is chatvault's archive: one bbolt file holding every
// snapshot (backup run) of one or more Chat services, each resource stored
// once per distinct version, exactly as the API returned it, plus restore's
// journals. It imports neither remote nor backup nor restore.
//
// # Layout
//
// Top-level buckets:
//
//	meta        magic = "chatvault", format = uint32 BE (FormatVersion),
//	            created = RFC 3339 time of creation.
//	snapshots   key: snapshot id, uint64 BE, handed out by the bucket's
//	            NextSequence (so ids are never reused, even after forget);
//	            value: record(JSON of Snapshot).
//	svc         one bucket per service SID, holding:
//	  service     versions of the service resource (entity key empty)
//	  roles       versions, entity = role SID, label = friendly_name
//	  channels    versions, entity = channel SID, label = unique_name
//	  counts      versions, entity = channel SID, payload = uint64 BE number
//	              of live messages of the channel
//	  sync        key = channel SID, value = record(JSON of ChannelSync);
//	              not versioned: always the newest backup progress
//	  ch          one bucket per channel SID, holding:
//	    members     versions, entity = member SID, label = identity
//	    messages    versions, entity = index as uint64 BE, label = message SID
//	journal     one bucket per "SOURCE>TARGET" service pair: key = restore's
//	            string key, value = record(value).
//
// A versioned key is entity + snapshot id (uint64 BE) of the snapshot that
// first saw that version. A value is a record:
//
//	[kind: 1 = put, 2 = tombstone][CRC-32C, 4 bytes BE][put only:
//	uvarint len(label), label, payload]
//
// The CRC (Castagnoli) covers the kind byte and everything after the CRC,
// and is verified on every read: a mismatch is ErrCorrupt naming the bucket
// and key. The payload of a resource is its raw JSON, byte for byte (unknown
// fields, spacing and unicode untouched); the label is the one parsed field
// callers look records up by.
//
// Invariants:
//
//   - Entity strings are 1..255 bytes without NUL bytes, and snapshot ids are
//     below 1<<56, so every snapshot suffix starts with a zero byte and all
//     versions of an entity are contiguous in key order, oldest first.
//     Message indexes are >= 0 and so sort numerically as uint64 BE.
//   - A version is written only when its state differs from the entity's
//     current (newest) version: unchanged resources are stored once, not
//     once per snapshot. Writing an entity twice in one snapshot overwrites
//     that snapshot's version in place, and deletes it when the state
//     returns to that of the version before it.
//   - Every version key's snapshot id is between 1 and the snapshots
//     bucket's sequence; while that snapshot exists it is of the same
//     service. (After forget, a version may outlive the snapshot that wrote
//     it when a kept snapshot still sees it.)
//   - counts is maintained in the same transaction as the messages, so for
//     every snapshot of the service (and the current state) the count visible
//     there equals the number of messages live there. Check verifies this.
//
// # Reconstructing a snapshot
//
// Snapshot S of service X sees, for each entity in X's buckets, the newest
// version whose snapshot id is <= S; a tombstone, or no such version, means
// absent. Ids are global, but X's buckets only hold versions written by X's
// snapshots. Snapshot totals (channels, messages) are computed from the
// channels and counts buckets when a snapshot finishes, so View.MessageCount
// is a single lookup, not a scan.
//
// DeleteChannel writes tombstones for the channel and for every live member
// and message of it (each message counts as Deleted), so reconstruction
// needs no special case for deleted channels.
//
// # Writing
//
// One goroutine per read-write Archive owns all write transactions (of
// snapshot Writers and Journals alike). Public methods validate their
// arguments, copy the caller's slices and queue an op (PutMessages copies
// the messages as the encoded records, so the goroutine, which every
// caller waits on, does not encode them); the goroutine takes whatever is
// queued (up to 5,000 records or 16 MiB) into one bbolt transaction,
// applies the ops in queue order and commits. The queue holds at most 256
// ops and 4 MiB of resources (one larger op when it is empty): callers
// block while it is full, so they cannot read from the service faster than
// the disk takes it, and memory stays bounded whatever the records' size.
// The first failure sticks: every later call, Flush and Finish return it,
// and nothing more is written by this Archive. Flush queues a barrier and
// waits for its commit. Ops a caller queues for a Writer after its Finish
// are dropped.
//
// On Linux the goroutine drops the file's pages from the process's page
// tables after each commit (madvise MADV_DONTNEED over bbolt's read-only
// shared mapping, inside a read transaction so bbolt cannot remap
// meanwhile, and only on a mapping /proc/self/maps shows to be this file's).
// bbolt reads pages through the mapping and the kernel maps up to 16
// neighbours of each page read; the pages a commit reads were mostly
// written by the commits before it, so without this a long backup came to
// map a fifth of the archive and its resident size grew with the history.
// The pages stay in the page cache: nothing is read from disk again.
//
// BeginSnapshot commits a record with status running before it returns.
// Finish records status, times, counters and totals. Close commits what is
// queued and marks the snapshots still being written as interrupted (with
// Finished set); a process that dies leaves them running, and the next
// read-write Open marks them interrupted with their totals but a zero
// Finished (the time of death is unknown) and zero Added/Changed/Deleted
// (those counters live in memory). Only one Writer per service may be open
// in an Archive.
//
// Crash safety comes from bbolt: a transaction is all or nothing, so at
// any kill the file opens with every earlier snapshot intact, and the
// versions committed by an interrupted run are the current state the next
// run compares against (identical puts are no-ops).
//
// # Reading
//
// View and the Live/Current helpers read in short read transactions (512
// messages or 4,096 other records per transaction, resuming by key) and run
// caller code outside them: a long-lived bbolt read transaction would stop
// the writer from growing the file. Raw slices returned are private copies.
// Channels are ordered by date_created parsed from their JSON (RFC 3339;
// unparsable dates sort first), then SID; roles and members by SID;
// messages by index.
//
// # Opening
//
// Open never modifies a file it has not recognised: an existing file is
// first opened read-only (shared lock) and inspected: a zero-length file,
// a file bbolt rejects, a file shorter than its pages (truncated), or a
// bbolt file without our meta bucket is ErrNotArchive; a format above
// FormatVersion is ErrNewerFormat. Only then is it reopened read-write
// (exclusive lock, without O_CREATE). Lock waits are bounded by
// Options.Timeout (1s default) and reported as ErrLocked. A new archive is
// built under a temporary name and linked into place, so a kill during
// creation leaves no half-made file. bbolt trusts the pages it maps, so
// every bbolt call runs with memory faults turned into panics and panics
// recovered into ErrNotArchive (open) or ErrCorrupt (reads): a damaged file
// never crashes the process. A fault cannot stop a loop, though: a branch
// page that leads back to itself would make bbolt descend forever. So,
// under the shared lock and before bbolt reads anything, Open walks the
// page tree (one read of every page in use; see structure.go). If the tree
// is damaged, a read-write Open fails with ErrCorrupt, and a read-only
// Open succeeds so that Check can list the damage, while every other read
// fails with ErrCorrupt.
//
// An Archive opened read-write that writes nothing (no snapshot, no
// journal entry, no snapshot left running by a dead process) commits no
// transaction, so the file stays byte for byte as it was: an empty bbolt
// commit would still rewrite a meta page.
//
// # Forget and compaction
//
// Forget applies restic's rules per service (keep-last N; keep-daily,
// -weekly, -monthly N: the newest snapshot of each of the N most recent UTC
// days, ISO weeks, months that have snapshots; ranked by Finished, or
// Started when Finished is zero); running snapshots are always kept. It
// deletes the removed snapshot records, then in every versioned bucket frees
// version v (snapshot s, next version at s') unless it is the entity's
// newest version or some kept snapshot k of the service has s <= k < s';
// then it frees every remaining tombstone not preceded by a live version
// (it hides nothing). Keeping newest versions keeps the current state, so
// incremental backups and the sync bucket stay valid. All of it is one
// transaction. Every kept snapshot reads exactly as before.
//
// Compact copies the data with bolt.Compact into a new file in the same
// directory, renames it over the archive and reopens it, locking the new
// file before closing the old one; a process that was waiting for the old
// file notices the rename and opens the new one.
//
// # Check
//
// Check first validates the page tree by reading the file (not the map):
// the meta page bbolt uses (chosen as bbolt chooses it), the free-page list
// (its count must fit its pages), and every reachable page (inside the
// file, reached once, elements inside their page). Only then does it walk
// every bucket under guard (record checksums and kinds, key shapes, JSON
// validity of resources, snapshot references, and counts against messages
// at every snapshot) and run bbolt's own tx.Check. The order matters:
// tx.Check reads every key in a goroutine of its own, where a fault cannot
// be recovered, and loops on a damaged free-page list. Check reads in one
// transaction (a rolled-back write transaction on a read-write Archive,
// which tx.Check needs to be safe against the writer goroutine). Problems
// are listed up to 1,000, then counted. A read-write Open refuses a file
// whose free-page list is damaged (bbolt would load it trusting its
// count); a read-only Open never loads it.
//
// Caveat: under -race (which turns on checkptr), bbolt building a slice
// over a damaged inline-bucket page is a fatal checkptr error rather than a
// recoverable fault; normal builds are unaffected.
package store

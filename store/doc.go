// Package store is chatvault's archive: one bbolt file holding every
// snapshot (backup run) of one or more Chat services, each resource stored
// once per distinct version, exactly as the API returned it, the bytes of
// their media files once per content, plus restore's journals. It imports
// neither remote nor backup nor restore.
//
// # Layout
//
// Top-level buckets:
//
//	meta        magic = "chatvault", format = uint32 BE (FormatVersion),
//	            created = RFC 3339 time of creation.
//	snapshots   key: snapshot id, uint64 BE, handed out by the bucket's
//	            NextSequence (so ids are never reused, even after forget);
//	            value: record(JSON of Snapshot; "api" from format 2).
//	content     (format 2) key: SHA-256 of a file's bytes (32 bytes);
//	            value: record(JSON {sha256, size, chunks, extent}): the
//	            content is archived whole, in chunks extent|0..chunks-1.
//	chunks      (format 2) one bucket per chunk, named by extent (uint64
//	            BE, handed out by the chunks bucket's NextSequence, one per
//	            put) + chunk index (uint32 BE), holding one key "d" whose
//	            value is a record with an empty label and the payload
//	            [encoding byte][data]. Encoding 0 is the data as is, 1 a
//	            zstd frame of it (no dictionary); readers refuse an
//	            encoding they do not know. Every chunk
//	            holds 1 MiB of data but the last, which holds the rest
//	            (1 byte to 1 MiB); a 0-byte content has no chunk.
//	uploads     (format 2) key: extent; value: record(JSON {started}): a
//	            put that has committed chunks but not its content record.
//	svc         one bucket per service SID, holding:
//	  service     versions of the service resource (entity key empty)
//	  roles       versions, entity = role SID, label = friendly_name
//	  users       (format 2) versions, entity = user SID, label = identity
//	  media       (format 2) versions, entity = media SID, label = the
//	              content's SHA-256 (hex), payload = JSON {sid, sha256,
//	              size, content_type, filename, resource}: resource is the
//	              Media resource as the service returned it (white space
//	              around it dropped), absent when not given
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
//	[kind: 1 = put, 2 = tombstone, 3 = compressed put][CRC-32C, 4 bytes
//	BE][kind 1: uvarint len(label), label, payload][kind 3: uvarint
//	len(label), zstd frame of label+payload without its magic number]
//
// The CRC (Castagnoli) covers the kind byte and everything after the CRC
// (the stored, compressed bytes), and is verified on every read: a
// mismatch, or a frame that does not decompress, is ErrCorrupt naming the
// bucket and key. The payload of a resource is its raw JSON, byte for byte
// (unknown fields, spacing and unicode untouched) once decompressed; the
// label is the one parsed field callers look records up by. Kind 3 is
// format 2; only resource versions use it (see Compression).
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
// # Formats
//
// Format 1 is the layout of the previous release: everything above but the
// buckets and fields marked format 2. Format 2 adds them, and compressed
// records (kind 3) and chunks (encoding 1): compression folds into format
// 2 rather than making a format 3 because format 2 was never released, so
// no reader exists that knows format 2 but not kind 3, and one upgrade
// rule covers both. This build reads both formats and writes format 2 into
// new files. A format-1 archive is read as it is, never rewritten: its
// plain records stay valid records of format 2, so opening it costs
// nothing and every old snapshot reads exactly as before (testdata/v1).
// A format-1 file stays format 1 until a transaction first writes
// something format 1 cannot hold (a chunk, a content record, a media or
// user version, a snapshot's API, a compressed record: in practice the
// first backup with a message);
// that same transaction sets meta/format to 2, so the upgrade is as crash
// safe as any commit and an archive that never holds the new data can
// still be read by the previous release. The previous release must refuse
// a format-2 file rather than read it: its verify would call the new
// buckets damage, its forget would never free content, and it would read
// snapshots taken through Conversations as Chat. Check reports format-2
// buckets or fields in a file that says format 1. testdata/v1 holds an
// archive written by the previous release, with its contents as that
// release read them. Check reports a compressed record in a file that
// says format 1.
//
// # Compression
//
// Resource versions are compressed one record at a time with zstd
// (github.com/klauspost/compress) at its fastest level and a 33 KB
// dictionary shipped in the binary (zstd.dict, built from emulator history
// by TestWriteDictionary -write-dict; it can never change, since every
// record written with it must read back). Label and payload are one frame
// (the label, a SID, is in the payload too, so it costs once), the
// frame's magic number is left out, and zstd's own checksum is off (the
// record's CRC covers the stored bytes). A payload under 64 bytes, or one
// that does not shrink, stays a plain record, so small records stay small.
//
// Measured on 100 channels × 1,000 messages of emulator history
// (BenchmarkArchiveSize, 2 shared cores): 861 bytes a message stored raw
// as format 1 did, 219 compressed (whole file over messages). A message of
// 650 bytes becomes a record of about 150; the rest is bbolt's key (16),
// element (16) and page fill (messages are filled to 100%: they arrive
// mostly in key order). Per message, without a dictionary: 386 bytes
// (SIDs, dates and field names do not repeat within one message); with
// it: 148. Compressing blocks of consecutive messages instead gives 59
// bytes for 16 messages a block, 51 for 64, but a block is not a version:
// every change or deletion of one message would rewrite its block, and a
// snapshot's reconstruction and incremental compare would need a second
// index, so the per-record scheme was chosen, which keeps the layout and
// every invariant above unchanged. The cost is CPU: 8-12 µs a message to
// compress (BenchmarkResourceRecord; 40% of it is zstd resetting the
// dictionary's tables on every call, 25% building the literals' Huffman
// table), done in the callers of PutMessages (backup's workers, in
// parallel), not in the writer goroutine; decoding takes about 2 µs. On
// the shared 2-core machine this took a backup without latency from 116k
// to 72k messages/s at load 1.9, 50k to 25k at load 3.7 (the figures move
// with the other users' load). Blocks would cost a zstd call per block,
// not per message: the way to win the speed back if it matters more than
// the layout.
//
// The single writer goroutine is not what holds a backup back; the
// machine's CPU is. Profiled on BenchmarkBackupNoLatency/media=off
// (package backup, 100 channels × 1,000 messages, 3 runs, load 0.8-1.1):
// 72-75k messages/s, the process using 181% of the 2 cores; compression
// took 44% of that CPU, 99% of it already in PutMessages' callers, and
// the writer goroutine (comparing, bbolt's Put and Commit, its pwrite)
// 11%, so it is idle four fifths of the run. Moving the compression of
// members, users, roles and channels into their callers too (records
// encoded in putLabelled, PutRole and PutChannel, as PutMessages does)
// was measured and left out: alternating runs gave 71.8-78.0k messages/s
// with it and 73.6-77.7k without (means 74.7k and 74.9k, load 0.9-1.1),
// and BenchmarkArchiveSize 75.3k/47.4k against 76.2k/46.5k compressed
// (115.8k/71.8k against 123.1k/78.8k uncompressed, all within the
// run-to-run noise): those records are a few per channel, 1-2% of the
// compression's CPU. What would pay is less CPU a message: half of
// EncodeAll's time is the reset below.
//
// Later changes around the compression took the same benchmark from
// 86-89k to 101-114k messages/s on the quiet machine (load 1-2; each
// step measured with -benchtime 3x, alternating builds): the check that a
// message is JSON went from encoding/json.Valid to the scanner remote
// decodes pages with (internal/jsonscan, 2.7 times as fast; it was 9 % of
// the CPU), the frame's input buffer is pooled, and a page's queued copy
// holds only the encoded records, not the raw messages too (the writer
// decodes a record back only when a stored version has other bytes):
// 98-105k. Then the writer goroutine was made to let a small batch that
// no caller waits on linger up to 2 ms for more before committing. That
// was needed once a backup's walks ask for their next page before storing
// the current one (package backup): their pages arrive spread out rather
// than in bursts, and committing each alone cost an fdatasync a page
// (fdatasync went from 0.18 to 0.55 s of a 5-run profile and the rate
// fell to 86-92k); with the linger, 110-114k in those alternating runs,
// and 101-104k in the README's later run of every benchmark in a row. A
// later session's machine of the same kind was slower for this work: the
// same build gave 55-80k there, the next one 66.6-72.8k, and its profile
// of a Conversations backup at 50 ms put EncodeAll at 45 % of the CPU,
// about 30 µs a message, most of it the table copy below (memmove): the
// copy is bound by the memory's bandwidth, which such a machine shares.
//
// The reset is the fast encoder's 256 KiB match table, copied back from
// the dictionary's whenever a call touched more than two thirds of its
// 512 shards (with messages of about 650 bytes it is, in the profiles),
// and the 33 KB of dictionary
// history copied into its window: fixed costs of a call, whatever the
// options. Encoder options measured on 2,000 emulator-like messages
// (EncodeAll alone, load 1.0): as shipped, 193 bytes and 10.2 µs a
// message; without WithLowerEncoderMem 193 bytes, 10.8 µs; a 1 KiB window
// 193 bytes, 13.8 µs; SpeedDefault 202 bytes, 29.5 µs;
// WithEncoderConcurrency(1) 193 bytes, 10.2 µs (EncodeAll already takes
// one of the Encoder's own GOMAXPROCS encoders, so a sync.Pool of
// encoders would add nothing, and the decoder is shared the same way);
// WithNoEntropyCompression 218 bytes and 7.2 µs, but it took
// TestEmulatorHistoryCompact's archive from 239 to 322 bytes a message,
// over the 250 target. So the options stay as they are.
//
// An unchanged resource costs no decompression: the writer first compares
// the new record with the stored version as bytes (compression is
// deterministic, so a message read again encodes to the stored bytes), and
// decodes the stored version only when they differ (another encoding of
// the same state, such as a plain record of format 1, is still no change).
// The decoding ran in the writer goroutine, which every caller waits on:
// a --full backup over an archive that holds every message
// (BenchmarkBackupFullRerun in package backup, 100 channels × 1,000
// messages, load 8-9) went from 25-28k to 49-81k messages/s.
//
// Content chunks are compressed without a dictionary, in the caller of
// PutContent, only when that saves an eighth (a 64 KiB sample is tried
// first, so a PNG or MP4 chunk costs little and stays raw).
//
// Every encoder has a 1 MiB window (a chunk's size) and the decoder runs
// in zstd's low-memory mode: each encoder keeps a history buffer the size
// of its window, and with the default 8 MiB the encoders held 24 MiB of
// a 100k-message backup's 35 MiB live heap (BenchmarkBackupRSS in package
// backup: 1M messages then peaked at 125-137 MB resident). A message
// encodes to the same bytes with either window (a frame under the window
// is one segment, its header sized by the input), so archives written
// before still compare as bytes.
//
// Close trims the file to its pages in use when the handle wrote: bbolt
// grows a file ahead of its pages (to its map size, then 16 MiB at a time)
// and never gives the tail back.
//
// # Content
//
// PutContent reads its reader 1 MiB at a time, hashing as it goes, and
// queues each chunk as an op of the writer goroutine, already encoded as
// its record (so the goroutine does not copy it). The queue's 4 MiB budget
// applies to chunks as to other records and one transaction takes at most
// 4 chunks, so memory stays a few MiB whatever the file's size; chunk
// buffers are reused once their transaction commits. The first chunk's
// transaction hands out the put's extent and writes its uploads entry; at
// the end, one transaction writes the content record and deletes the
// uploads entry. The content is visible (HasContent, OpenContent, PutMedia)
// only from that commit on: a kill mid-file leaves chunks that no content
// record names.
//
// Unfinished puts are freed by the next read-write Open (which holds the
// file's exclusive lock, so no other process can be storing), one
// transaction per put, found through the uploads entries rather than by a
// scan. A put that fails in a live process (the reader's error, a
// cancelled context, a length or SHA-256 other than expected:
// ErrContentMismatch) frees its chunks at once. Check verifies the chunks
// of unfinished puts like any record but does not count them as a
// problem: nothing reads them and they do not outlive the next read-write
// Open. A chunk that belongs to no content and no unfinished put is a
// problem.
//
// Content is stored once: when the content record of that SHA-256 exists
// by the time a put finishes (stored earlier, or by a concurrent put that
// finished first), the put frees its own chunks instead. Without wantSHA
// the bytes are written before their SHA-256 is known, so storing a
// duplicate costs its writes once. With wantSHA of archived content,
// PutContent does not read at all.
//
// Why a bucket per chunk: bbolt keeps a value in its leaf page and never
// splits a leaf of 4 keys or fewer, so with the chunks as plain values
// every transaction that appended one rewrote the (up to 3) chunks before
// it in the same leaf: a large file cost twice its size in page writes and
// a run of 100 KiB files six times. A chunk's own bucket gets its own
// pages; the chunks bucket's leaves hold only 12-byte names and 16-byte
// bucket headers (a chunk under a quarter page stays inline there), so a
// file is written once (about 1.2 times for 100 KiB files, from page
// rounding).
//
// OpenContent reads one chunk per short read transaction, checking its
// record checksum, encoding and length, and at EOF the total length and
// SHA-256 against the content record; any mismatch is ErrCorrupt naming
// the content (and chunk). Every 4 chunks it drops the file's mapped pages
// as the writer does after a commit (see "Writing"): reading a 150 MiB
// file otherwise left all of it mapped (BenchmarkRestoreRSS150MiB in
// package restore peaked at 170 MB resident, 160 MB of it the file's
// pages; now 27 MB). PutMedia requires the content to be archived; media
// versions are kept like roles' and forget frees their content.
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
// caller waits on, does not encode them; other resources, a few per
// channel, are encoded in the goroutine, which costs nothing measurable:
// see "Compression"); the goroutine takes whatever is
// queued (up to 5,000 records, 16 MiB or 4 content chunks) into one bbolt
// transaction, applies the ops in queue order and commits. The queue holds at most 256
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
// Finish records status, times, counters and totals; SetAPI writes the
// API into the snapshot record when it is applied, so a run that dies
// still says which API it read through (snapshots of format 1 have none,
// which means Chat). Close commits what is
// queued and marks the snapshots still being written as interrupted (with
// Finished set); a process that dies leaves them running, and the next
// read-write Open marks them interrupted with their totals but a zero
// Finished (the time of death is unknown) and zero Added/Changed/Deleted
// and ChannelsChanged/MembersChanged/UsersChanged (those counters live in
// memory). Added, Changed and Deleted count messages; the other three sum
// each kind's additions, changes and deletions (a deleted channel counts
// once in ChannelsChanged, its messages in Deleted, its members not). Only one Writer per service may be open
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
// unparsable dates sort first), then SID; roles, users and members by SID;
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
// page that leads back to itself would make bbolt descend forever. So no
// page is read through bbolt before it has been walked from the file (its
// type, its elements inside it, its children inside the file and reached
// once; see structure.go), and the walk, unlike bbolt, is bounded: it
// visits each page at most once. Open, under the shared lock, walks every
// page but those of the buckets that grow with the archive: each channel's
// (svc/S/ch/C), each content chunk's and each restore journal's, of which
// it checks only the root page number. So Open reads the meta, snapshot,
// service and channel-list pages, a few per service and channel, whatever
// the number of messages (BenchmarkOpenList, read-only Open + Snapshots +
// Close, shared 2-core machine: 0.08 ms at 0 messages, 0.09 ms at 100k,
// 0.54 ms at 1M in 1,000 channels, 0.60 ms for 1M in a format-1 file of
// 837 MB; the walk of every page took 1.8 s on a 903 MB archive before).
// The first read of this handle that opens one of those
// buckets walks that bucket's pages then (vetBucket, once per handle and
// bucket; later transactions find the same pages or pages this handle's
// writer wrote), which costs about what the read costs. Forget and Compact
// read everything, so they walk everything first.
//
// If the part Open walks is damaged, a read-write Open fails with
// ErrCorrupt, and a read-only Open succeeds so that Check can list the
// damage, while every other read fails with ErrCorrupt. Damage inside one
// channel fails the reads that touch that channel with ErrCorrupt naming
// it (snapshots, which reads no channel, still answers); Check (verify)
// still walks every page.
//
// Damage a backup is refused for: BeginSnapshot walks every channel bucket
// of its service this handle has not walked (one read of the service's
// pages: 30 ms at 100k messages, 218 ms at 1M, 788 ms for 1M stored plain
// as format 1 did, in BenchmarkOpenList's walk_service_ms) and refuses
// with ErrCorrupt, before recording anything, when that walk or any earlier
// walk of this handle found damage. With Open's walk this covers every
// page a backup of that service reads or writes. Damage it cannot see
// cheaply, a record whose checksum fails (the pages are sound but a value
// is not), shows when the backup reads that record: the write fails, the
// run stops and its snapshot is left interrupted; verify lists both kinds
// and repair (the CLI) copies what is intact.
//
// A read command during a running backup: the backup holds bbolt's
// exclusive lock on the file for its whole run, so a read-only Open waits
// Options.Timeout (1 s by default) and fails with ErrLocked (the CLI's
// exit 11). It is refused rather than answered from the last committed
// state: answering would need the shared lock, which bbolt's writer
// excludes.
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
// incremental backups and the sync bucket stay valid. Then it frees every
// content (record and chunks) that no remaining media version of any
// service refers to, except content this Archive handle stored or found
// since it was opened (a caller may be about to record media for it).
// All of it is one transaction. Every kept snapshot reads exactly as
// before. Media only stops referring to content once DeleteMedia has
// tombstoned it and the snapshots that saw it are forgotten.
//
// Compact copies the data with bolt.Compact into a new file in the same
// directory, renames it over the archive and reopens it, locking the new
// file before closing the old one; a process that was waiting for the old
// file notices the rename and opens the new one.
//
// # Repair
//
// Repair copies an archive into a new file, record by record, through a
// read-only Open of the source (never modified) and a bbolt file built
// under a temporary name in the output's directory and linked into place
// (an existing output is refused). Each bucket's own pages are walked
// first (nested buckets one at a time), and a bucket whose pages are
// damaged is lost whole; every value of a sound bucket is copied as
// stored (compressed records stay compressed) when it decodes (checksum,
// kind, frame), and lost otherwise. Content is copied with all its chunks
// or not at all, and a media version whose content was not copied is
// dropped. Uploads of unfinished puts are not copied. Bucket sequences
// are kept, so snapshot ids and extents are never reused. A truncated
// source (shorter than its pages: a copy cut short, a full disk), which
// Open refuses, is first copied beside the output and padded with zeros to
// the size its pages need: the missing pages read as empty, so what they
// held is lost like any damaged page, the rest is copied, and the
// truncation is the first loss reported.
//
// A lost version of entity e written by snapshot s makes every snapshot
// of the service from s up to (not including) e's next version damaged;
// a bucket of a service lost whole makes every snapshot of that service
// damaged. Damaged snapshots get StatusDamaged; the others keep their
// status. The counts of channels that lost message or count versions are
// rebuilt from the message versions copied, so the new archive passes
// Check, and it takes backups like any other.
//
// # Check
//
// Check first validates the page tree by reading the file (not the map):
// the meta page bbolt uses (chosen as bbolt chooses it), the free-page list
// (its count must fit its pages), and every reachable page (inside the
// file, reached once, elements inside their page). Only then does it walk
// every bucket under guard (record checksums and kinds, key shapes, JSON
// validity of resources, snapshot references, and counts against messages
// at every snapshot), read every content back (each chunk's checksum,
// encoding and length, then the whole content's SHA-256), report each
// media version whose content is missing or damaged by media SID and
// service, and run bbolt's own tx.Check. The order matters:
// tx.Check reads every key in a goroutine of its own, where a fault cannot
// be recovered, and loops on a damaged free-page list. When the damaged
// pages all lie inside channels, chunks or journals (the buckets Open
// leaves to the reads) and the rest of the tree is sound, Check goes on:
// it walks each such bucket's pages before reading it, as reads do,
// reports each damaged one as passed over (its records unchecked, its
// counts not compared), checks everything else, and leaves out
// tx.Check. So a file with one damaged channel page still has its other
// damage listed. Check reads in one
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

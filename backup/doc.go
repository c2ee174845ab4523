// Package backup copies a Twilio Programmable Chat service into a chatvault
// archive, through Chat v2 or Conversations v1: one call to Run records one
// snapshot of the service (its service resource, roles, users, channels
// public and private, members and messages), each resource stored as the
// bytes the API returned, in that API's shape.
//
// # Who owns what
//
// backup decides what to read and in which order. Package remote talks HTTP
// (paging, retries, rate limits, request counting); backup sees it through
// the small Source interface, which *remote.Client (Chat) and
// Client.Conversations() (Conversations) satisfy and tests fake. Run is one
// code path for both APIs: what differs between them for the incremental
// strategy is read from the API's row of remote.CapabilitiesOf (message
// counts, links.last_message, public channels), never from its name. The
// snapshot records the API (Writer.SetAPI) and Result.API names it.
// Package store owns the file: versioning, the single writer goroutine,
// snapshot bookkeeping, added/changed/deleted counts. backup only queues
// Put/Delete/SetSync operations on a store.Writer and reads the newest
// committed state (Sync, LiveChannels, LiveMembers, LiveMessageIndexes).
//
// # Shape of a run
//
// The service is fetched while the channels are listed (both types, or each
// channel of Options.Channels fetched by SID or unique name) and the roles
// and users are read. Users are archived with every snapshot (PutUsers);
// archived users a complete listing no longer has are recorded as deleted;
// Result.Users counts those listed. A failed user listing is a failure of
// the run, like the roles'. A snapshot is begun only when the service answered, so a
// mistyped service SID or wrong credentials leave no snapshot behind (what
// was read meanwhile is dropped). With Options.Channels, the snapshot is
// also held back until each named channel was looked up: when the service
// has none of them, Run fails with ErrUnknownChannel, naming the nearest
// channel names, and records nothing (select.go). Channels are backed up as the listing
// yields them, without waiting for its last page: each time a job ends,
// the channel with the most messages among those listed and not yet
// started goes next, so that long channels do not finish alone at the end
// of the run. A channel's members are a job of their own, which goes after
// every channel's messages (schedule.go): a message walk is a chain of
// requests one after another, a members listing most often one request,
// so the listings fill the places that the walks ending first leave idle
// at the end of the run, instead of lengthening every walk's chain by one
// (BenchmarkBackupLatency, alternating builds, three runs each: the places
// were busy 87.1-87.7 % of a Conversations backup, whose channels cannot be
// ordered by size, and 91.9-92.1 % after; Chat 91.9-92.5 and 92.7-93.1 %;
// the Conversations backup went from 74.5-79.0 % of the bound to
// 80.3-82.7 %). A channel listed twice is backed up once. When the listing
// has completed, Progress.Start is called (ChannelDone events are held
// until then) and channels it no longer has are recorded as deleted (only
// without Options.Channels, and only when the listing completed).
//
// Options.Concurrency bounds the requests in flight: the run has that many
// places, each a goroutine that sends one request at a time (schedule.go,
// places). The service fetch, the channel listing, the roles and the users
// go first; a walk takes a place for each page it asks for, and a
// channel's members for their listing, which goes last. Four times as
// many jobs as places run at once, so that when a place comes free there
// is a walk waiting for it, and the place goes to the walk with the most
// pages left (by messages_count or the archived size), so the walks end
// together instead of in waves: with each channel holding a place for its
// whole walk, 100 channels of 1,000 messages at concurrency 32 ended with
// the last 4 walking alone for a third of the run. With `chatvault
// emulate` in its own process at 50 ms that backup went from 81-83 % of
// the bound to 88.3-91.4 %; 96 channels, which made whole waves, from
// 87.5-89.3 % to 87-88 %. The place that has read an answer sends the
// next request waiting at once, so no request waits for a goroutine to
// wake up while the pages that answered together are being stored. The
// cost is without latency: with requests answered at once, the machine's
// CPU is the bound, and the extra walks only interleave more channels and
// more media files on it. A backup of 100 channels with their 2,000
// files went from 24,200-30,200 messages/s to 16,500-20,000 (alternating
// runs; without the files, no difference); most of that was the store
// allocating a 1 MiB chunk buffer for every file, which the extra walks
// made the collector empty from its pool more often, and with buffers
// sized to small files it is 23,100-27,100 against 26,600-29,000. Starting the extra walks only
// while requests took four times longer than storing a page was tried
// and left out: on two busy cores a request without latency took 16-22
// ms, long enough to start them anyway. A real service answers in tens of
// milliseconds, where the extra walks are what keeps the places busy.
// Media downloads have places of their own, Options.MediaConcurrency (see
// Media). The client's own limit (remote.Limits.MaxInFlight) should be at
// least the sum of the two, or it is the bound.
//
// A channel that still fails after the client's retries is recorded in
// Result.Failures and the others go on; the snapshot ends "partial". A
// failed listing of the roles or of the channels is recorded the same way,
// with an empty Channel: the roles keep their previous state, the channels
// listed before the failure are still backed up, and no channel is recorded
// as deleted. Three things end the whole run instead: ctx cancelled (the
// snapshot ends "interrupted", the error wraps ctx.Err()), the service
// refusing the credentials (remote.ErrAuthentication; "interrupted") and the
// archive failing. In every case Run finishes the snapshot with
// Writer.Finish, which commits what was queued (unless the archive itself
// failed), so Run never leaves a snapshot "running".
//
// # Per channel
//
// The channel resource is stored, then its messages are brought up to
// date. Its members, in their own job (started once the channel's record
// is queued), are listed completely (one page per 100 members) and
// archived members missing from the listing are recorded as deleted. A
// channel whose two jobs both fail is one failure naming both errors.
//
// # Messages: the incremental strategy
//
// Every channel has a store.ChannelSync in the archive: SyncedIndex (every
// message at or below it has been read), the messages_count and the change
// marker the channel had when it was last synced (its date_updated and its
// links.last_message, the URL of its newest message), and WalkTop/WalkNext,
// the resume point of an unfinished walk.
//
// All walks read newest first (Order=desc) with Options.PageSize, storing
// each page with PutMessages as it arrives (the store ignores identical
// bytes). A walk asks for its next page once it has queued the current
// one, and holds at most one page. While it stores a page, the place it
// used serves another walk (see places), so nothing is gained by asking
// for the next page first: an earlier release did, from a goroutine of
// the walk's own (BenchmarkBackupLatency went from 80 to 83 % of the
// bound through Chat when each channel held a place for its whole walk),
// but with four times as many walks as places it held two pages a walk
// and a goroutine more, and gave the same figures without it (in
// process, alternating builds, -benchtime 3x: Chat 85.7-86.7 % against
// 86.6-87.1 %, Conversations 82.0-83.8 against 82.9-83.9; out of process
// 89.3-90.2 % against 88.6-90.0 at concurrency 16). A walk that is
// stopped asks for no page after that; the request it waits on is
// withdrawn if no place has taken it, or fails with the walk's context.
//
// Where the rest of the time goes at 50 ms (BenchmarkBackupLatency, 64
// channels, concurrency 16, 290 requests, a bound of 906 ms). The
// benchmark splits it in two: ms/req, a request's mean time from its
// start to its answer read, and %busy, the share of the places' time a
// request was in flight; %bound is about 50 / ms/req × %busy.
//   - Places idle, 7-8 % in the benchmark: the first round can only list
//     the channels and read the service, its roles and its users (4
//     requests for 16 places, one latency: 37.5 ms, 3.7 % of the run),
//     so about 96 % busy is the most any schedule reaches (%bound_dep
//     counts this in its bound). Traced request by request with the
//     emulator in its own process, every place is busy from the second
//     round to the last (see places).
//   - Slower answers: 54-58 ms a request in the benchmark's process,
//     52.4 ms with `chatvault emulate` in its own process at concurrency
//     16 (median 51.3, 90th percentile 53.9) and 54.2 ms at 32. A request
//     alone takes 50.8 ms from a Go client: Go's poller wakes an idle
//     process's timers on a millisecond grid. The rest is the pages that
//     answer together being decoded and stored on two cores while the
//     next answers wait for a CPU. It is not compression: a build that
//     stored the messages uncompressed gave the same figures out of
//     process (concurrency 32: 84.4-89.3 % of the bound against
//     86.1-87.6 %; 16: 88.8-89.3 against 87.7-88.7). Two ways to give
//     the waiting requests the CPU first were measured and left out when
//     each channel still held a place for its whole walk: yielding the
//     processor every 8 records while compressing (+2 points in process,
//     none out of process, and 10 % off the rate without latency), and
//     compressing on at most GOMAXPROCS-1 goroutines at once (+2 points
//     in process, none out of process, 20 % off the rate without
//     latency). So did running the benchmark with GOMAXPROCS 4 or 8 on
//     the two cores (+1-3 points in process).
//
// With the emulator in its own process, as the issue measured, a backup
// reaches 88.7-90.2 % of the bound at concurrency 16 on those 64
// channels (92.4-93.9 % of the dependency-aware one), and 88.3-91.4 % at
// concurrency 32 on 100 channels of 1,000 messages, the setting.
//
//   - Unchanged channel (plain run): messages_count and the change marker
//     equal the sync state and no walk is pending. No message request is
//     sent. The marker matters: a message posted while an old one is
//     deleted leaves messages_count alone, and the service need not move
//     date_updated for a new message, but links.last_message changes.
//   - New channel, or Options.Full: walk from the newest message to the
//     oldest.
//   - Changed channel (plain run): walk from the newest message down to the
//     first page holding an index at or below SyncedIndex. Then compare the
//     channel's messages_count with the number of its messages live in the
//     archive (a single lookup in the store's counts). If they differ, look
//     for deleted messages, cheapest first: in the index ranges the walk
//     covered (below); then fetch the channel once more, since messages
//     posted after the listing make the archive hold more than the listed
//     count (if it changed, store it and read the newest messages again);
//     and if the numbers still differ, walk the whole channel. That is how a
//     plain run notices deleted old messages. If the service's count is
//     simply wrong, this costs a complete walk only when the channel next
//     changes, since the sync state remembers the count it had.
//
// Deletions are found from coverage, not from a set of every message seen:
// a page of a newest-first walk holds every message whose index lies between
// its lowest index and the previous page's lowest index (without bound above
// on the first page from the newest, without bound below on the last page).
// An archived message in that range that the page does not hold was deleted
// from the service. Walks that read the whole channel (--full, new
// channels, the fallback above) load the channel's live indexes from the
// archive first (LiveMessageIndexes, a sorted []int64: 8 bytes a message,
// the only per-channel state that grows with history) and queue
// DeleteMessages with each page, so even an interrupted --full run keeps
// the deletions it found. Incremental walks do not load them (that would
// read the channel's whole archived history on every change): they note the
// ranges covered and the indexes read in them, and compare with the live
// indexes only when the count says something was deleted.
//
// Coverage assumes a next_page_url names a position in the list, not an
// offset. The emulator's page tokens do (they name an index); Twilio's
// format is not documented. Were a service to page by offset, a message
// deleted during a walk could make the next page skip one: that message
// would be recorded as deleted by mistake, and a later run's count check
// would notice the difference and read it again.
//
// # Through Conversations
//
// Conversations gives a conversation no messages_count and no
// links.last_message, and a new message does not move its date_updated. So
// a plain run checks each conversation with one newest-first page of
// probePageSize (5) messages: the conversation is unchanged when its
// date_updated and the newest message's index, SID and date_updated (null
// until an edit) equal the marker saved in its sync state, and then
// nothing more is read or stored. Otherwise the probe page is the first
// page of the walk: when it reaches SyncedIndex the walk ends there; if
// not, the walk goes on from the newest message in full pages (the probe's
// own next_page_url would continue in pages of 5). After a walk that did
// not read the whole conversation, the archived messages in the ranges it
// covered that it did not read are recorded as deleted (the live indexes
// are loaded for that, as the count check does for Chat).
//
// Without messages_count, a conversation is sized for scheduling by the
// highest index its sync state holds: later runs start the longest first,
// a first backup in listing order.
//
// An idle rerun therefore sends, besides the service, roles, users and the
// conversation list, two requests per conversation: its participants (as
// for Chat, members are re-listed every run) and the probe.
//
// Through Conversations a plain run notices new messages, edits and
// deletions of the newest message, deletions and edits among the messages
// of the pages it reads anyway (the probe page included: when the newest
// message is as archived, the probe's other messages are stored too, and
// deletions looked for in the range it covers, since an edit below the
// newest, or one in the same second as the message's date_updated, moves
// no marker), conversation metadata and every change of participants. Without a message count it does NOT notice deleted or
// edited messages below the pages it reads, nor the participant_sid that
// Conversations clears on the older messages of a removed participant:
// Options.Full does, as for Chat.
//
// # Changing API between snapshots
//
// The archive stores every record in the shape of the API that read it,
// and a run re-stores only what it reads. When a service's previous
// snapshot was read through another API, Run adds a warning to the result
// and goes on incrementally: the first Conversations run after Chat
// re-stores the service, roles, users, conversations, participants and the
// messages it reads (each conversation's probe page at least), so only
// those count as changed, not every message; older messages keep Chat's
// shape. Readers handle both: remote.ChatShape returns a record that is in
// Chat's shape already as it is, so a snapshot read through Conversations
// reads the same through ls, export and restore. --full re-reads every
// message into the new shape, and then counts each one whose bytes differ
// as changed.
//
// Public channels are not visible through Conversations. An archived
// channel whose record says "type":"public" (a record read through Chat)
// that a Conversations listing does not show is NOT recorded as deleted:
// it stays in the snapshot as it was last archived, with its members and
// messages, and the result carries a warning naming the channels and what
// to do: make them private with Chat v3 (remote.Client.MakeChannelPrivate;
// see the README's runbook "Moving from Programmable Chat to
// Conversations"), or back up through --api chat while Chat still answers.
// A private channel a Conversations listing no longer shows was deleted,
// and is recorded so.
//
// # What a plain run notices, and what it does not
//
// Through Chat, a plain run notices new messages, deleted messages (through the
// messages_count check above), changes of channel metadata, and every change
// of members (they are re-listed each run). It notices edits of messages
// only in the pages it reads anyway (the newest page or two of a changed
// channel). Edits of messages older than SyncedIndex are NOT noticed by a
// plain run, nor is an edit of the newest message of a channel that shows no
// other change (an edit moves neither messages_count nor links.last_message).
// Options.Full re-reads every message of every channel and notices all of
// these.
//
// # Resuming after a kill
//
// A walk that has more pages to read saves its resume point after each page:
// SetSync{WalkTop: highest index read, WalkNext: next_page_url, SyncedIndex:
// the index the walk is headed for}. The store applies queued operations in
// order, so the resume point is committed after the page it follows: state
// never runs ahead of data. When the walk ends, the sync state becomes
// {SyncedIndex: highest index read, no pending walk, the channel's
// messages_count and change marker}.
//
// A run that finds a pending walk first reads the messages posted since it
// began (newest first, down to WalkTop; this part saves no resume point, so
// a kill during it repeats it), then continues the pending walk from
// WalkNext, fetched verbatim, down to SyncedIndex (or to the oldest message
// with Options.Full). If the service refuses WalkNext with a 4xx (an expired
// page token, say), the channel is walked again from its newest message;
// pages stored already cost requests but no archive space. After a resumed
// walk the messages_count check always runs, since the part read by the
// killed run may have changed since.
//
// A killed process leaves its snapshot "running"; the store marks it
// "interrupted" at the next read-write Open (see package store). Run itself
// never leaves one running.
//
// # Media
//
// A media message's metadata is archived with the message; its file is
// archived too, once per media SID, unless Options.NoMedia. Each page a walk
// stores hands its media SIDs to the run's media fetcher. A SID the run has
// seen already joins that SID's download; one the archive holds
// (Archive.CurrentMedia, with its content whole: HasContent) needs nothing,
// so a run that finds no new media sends no media request, whatever pages
// it reads; any other is downloaded: OpenMedia streams the file into
// Archive.PutContent (checked against the size the metadata gives, in
// chunks, never whole in memory), then Writer.PutMedia records the SID in
// the snapshot. The downloads run Options.MediaConcurrency at a time, in
// the run's errgroup, beside the message walks, which do not wait for them
// page by page, unless they are far ahead: a walk that asks for a file
// while mediaBacklog files a media place are asked for and not ended
// waits until one ends. Unbounded, once four walks ran a place (see
// places), a backup of a million messages (100
// channels × 10,000, 19,671 files, no latency) held 9,000 goroutines
// waiting for a media place, whose stacks (13 MB) left the heap so little
// room under the memory limit (see Memory) that it was collected 3,400
// times: 67-83 s and 121 MB; bounded, 30.8 s, 256 collections and 71 MB.
// Progress.MediaBytes counts the bytes.
//
// A download whose bytes do not match the metadata (remote.ErrMediaCorrupt)
// is refused, nothing is archived, and it is tried once more. A file that
// still cannot be archived (404, 5xx after the client's retries, corrupt
// twice) fails its channel: before the channel's sync state is saved, the
// walk waits for the channel's downloads; if one failed, the sync state is
// set below the lowest message whose file is missing, with a count that
// makes the channel look changed, so the next run reads those messages
// again and retries the files, even with nothing else changed. The
// snapshot is "partial". A refused credential or a failing archive ends
// the run, as elsewhere.
//
// A kill must not lose a file either: a walk's resume point is saved only
// when the channel's downloads so far are archived (otherwise the next run
// would resume below pages whose files it never fetched), so a channel with
// downloads in flight saves resume points less often. The sync state is
// thus the durable record of the files still wanted: a message stored
// whose file is not archived always lies where the next run, plain or
// not, reads again: above the saved SyncedIndex, or with a walk pending
// above its WalkTop or on the pages from its resume point down
// (TestKilledBeforeMediaFetchedPlainRerunFetches).
//
// What is not fetched: the files of messages archived by a run with
// NoMedia, or by a release before media were archived, are fetched only by
// a run that reads those messages again (Options.Full).
//
// Media of deleted messages: a plain run does not know which media the
// messages it finds deleted held. A run with Options.Full over all channels
// that fails nowhere has seen every live message's media, and records the
// archived media it did not see as deleted (Writer.DeleteMedia), so forget
// frees their files once no kept snapshot sees them. Unless one of its walks
// resumed an interrupted walk (a killed --full run's resume point): the
// pages above that point were read by the killed run, not by this one, so
// their media were not seen, and recording them deleted would leave live
// messages without their files for every later plain run. Such a run sweeps
// nothing; the next --full run that reads every page does. A run through
// Conversations that kept public channels archived without reading them
// (see Conversations) did not see their messages' media either: it reads
// those channels' messages from the archive (the service's newest earlier
// snapshot), and the media they hold are not swept. An earlier build swept
// them, letting forget free files that live messages hold; such a run also
// records live again each of them whose file is still in the archive, from
// its newest live record (store.Archive.LastLiveMedia).
//
// # Memory
//
// A run's live heap stays about 35 MiB whatever the history's size: a page
// of messages per walk (at most 4 × Options.Concurrency walks, each holding
// one page; see places), the archive's write queue and its zstd encoders,
// a buffer per media chunk in flight (1 MiB, or the file's size when
// smaller), and at most mediaBacklog × MediaConcurrency media files asked
// for and waiting (see Media). With the Go
// collector's default headroom the heap grew to twice that and freed pages
// went back to the system late, so a million messages peaked at 106 MB
// resident (after the store's zstd windows shrank; 125-137 MB before).
// So Run lowers the runtime's soft memory limit to 64 MiB for its
// duration when the process has none (GOMEMLIMIT or debug.SetMemoryLimit
// set one: then it is kept), and sets it back when it returns: the
// collector runs sooner and returns freed pages at once. Peak RSS of the
// million-message BenchmarkBackupRSS went to 76 MB (58 MB anonymous), at
// the same speed. A live heap over the limit is not an error: the
// collector then uses at most half the CPU, and the run goes on slower.
//
// # Comparing a snapshot with the live service
//
// Compare (behind `chatvault verify --service`) only reads. It lists the
// live channels of both types and, for each channel on both sides (8 at a
// time), the live members and the live messages oldest first, 100 a page.
// Archived and live messages are walked side by side, each in index order,
// and merged by index, so a channel's messages are never all in memory:
// only the channel list and one channel's members are. A channel on one
// side only is one difference; its members and messages are not listed. A
// channel that answers 404 while its members or messages are read was
// deleted meanwhile, and is reported missing_live. Any other failure, after
// the client's retries, ends the comparison with an error: a partial
// comparison must not pass for an equal one.
//
// Two versions of a resource differ when their JSON objects differ: each
// is decoded into its top-level properties, and a property differs when one
// side lacks it or the two values, compacted, are not the same bytes. So
// the order of the top-level properties and white space do not count, while
// null against "", 1 against 1.0, a differently escaped string or nested
// objects with their keys in another order do. A message with the same index
// but another SID is "changed" with field "sid", named by its archived SID.
// The service resource and the roles are not compared. Users are compared
// first, by SID, in identity, friendly_name, attributes and role_sid only
// (not the counts and dates the service keeps).
//
// Through either API (compare_api.go): when the snapshot and the live
// service were not both read through Chat, both sides are put in Chat's
// shape (remote.ChatShape) before comparing, and a field one API cannot
// carry into the other (remote.Losses), a field only one side has, url and
// links, a null message date_updated against one equal to its date_created,
// and a null body against "" are not differences. An archived public
// channel that the live API does not show (Conversations lists private
// channels only) is reported as not_visible, never as missing_live; verify
// lists those apart and they do not fail it.
package backup

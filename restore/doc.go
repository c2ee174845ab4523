// Package restore replays one archived snapshot into a service, through
// Programmable Chat or Conversations, exactly once: no user, channel,
// member or message is ever created twice, not after a lost response, not
// after the process is killed, not on a rerun.
//
// # Either API, one code path
//
// The Target is a *remote.Client (Chat v2) or its Conversations view
// (client.Conversations()); Run and VerifyTarget are the same code for
// both, since the remote client speaks each API's names and shapes and
// returns Chat's types. A snapshot read through either API is restored
// through either: its records are read through remote.ChatShape(snapshot's
// API, kind, raw), so the source types of source.go read Chat's shape
// (author is from, last_read_message_index is last_consumed_message_index,
// a media array is its first element, a null body is empty).
//
// Through Conversations, a conversation is created with unique name,
// friendly name, attributes and dates; a participant with identity,
// attributes, role (mapped by friendly name) and dates, and its read
// horizon is set afterwards by update (LastReadMessageIndex and
// LastReadTimestamp, which Conversations takes on update only; a member
// with a read timestamp and no read index gets an update of its own);
// messages with Author, Body, Attributes, DateCreated, DateUpdated and
// MediaSid, the media uploaded through the Media service as for Chat.
// Writes carry X-Twilio-Webhook-Enabled: false through either API.
// Conversations gives no messages_count: a channel found by unique name is
// known to be empty by reading its newest message (one request), and the
// rerun check for messages deleted from a finished channel (see Caveats)
// is made through Chat only.
//
// # What one API cannot carry into the other
//
// The fields below (remote.Losses, the one table; a test holds this copy
// to it) are not restored across the APIs. Result.Losses and a line of
// Result.Warnings each, in the dry run as in the restore, name those that
// the records restored actually hold (a Chat channel's type only when it
// is public, a conversation's state only when it is not active, a media
// array only when it holds more than one file), with how many records
// hold them; none is dropped silently.
//
// From Chat into Conversations:
//
//	channel  type                   Conversations has private conversations only: a public channel becomes private, and the type is not kept
//	channel  created_by             Conversations records no creator of a conversation
//	message  was_edited             Conversations does not say whether a message was edited
//	message  last_updated_by        Conversations records no editor of a message
//
// From Conversations into Chat:
//
//	channel  messaging_service_sid  Chat has no messaging service: the conversation's SMS and WhatsApp settings are not kept
//	channel  state                  Chat channels have no state: an inactive or closed conversation becomes an open channel
//	channel  timers                 Chat channels have no timers: the conversation will not close or go inactive by itself
//	channel  bindings               Chat channels have no email bindings
//	member   messaging_binding      Chat members are chat users only: an SMS or WhatsApp participant's binding is not kept
//	message  media                  Chat carries one media file a message: of a message with several, only the first is kept
//	message  content_sid            Chat has no content templates: the message keeps its body and media only
//
// Such a field is never a difference: adoption, reconciliation and
// VerifyTarget leave out the fields that the snapshot's API cannot carry
// into the API the target is read through, nor into any API a restore
// wrote into the target through (the journal's api/ keys), so a target
// restored through Conversations verifies through Chat too. Two more rules
// come from how Conversations shows what Chat does (remote/emulator's
// doc.go): a message never edited has a null date_updated there, which is
// read as its date_created (what Chat shows); an empty body is null there,
// which is read as "" (what Chat shows, and what restore sends).
//
// # Users
//
// Once the first channels are created or found (as many as
// Options.Concurrency, or all when fewer), each archived user the target
// lacks (all the snapshot's users; with Options.Channels, only those that
// are members of the named channels, since a service may hold more users
// than a restore of one channel should wait for at 25 creates a second)
// is created with
// its identity, friendly name, attributes and role (mapped by friendly
// name onto the target's deployment roles, "service" roles in
// Conversations); a user this restore created (journaled) that differs is
// updated. A user that exists in the target and was not created by this
// restore is left as it is; when it differs, a line of Result.Warnings
// names it and the differing fields. Exactly once: a "pending" mark is
// journaled and flushed for every user before its create is sent, so a
// user found under a marked identity is ours; a create answered "exists"
// (50201) or with an unknown outcome is followed by a fetch by identity.
// Result.Users counts the users created or updated, Plan.Users those left
// to. VerifyTarget compares the same users by identity (friendly_name,
// attributes, role_sid); target users the snapshot lacks are not
// differences, as the service makes users of its own. An update answered
// with an unknown outcome is read back by identity rather than sent again,
// so that a sync sends one write a change.
//
// Why the users wait for the first channels, and the channels' members
// wait for the users: channel and user creates share the service's one
// bucket of writes (remote.Limits.ServiceWriteRate), and with every user
// first, every channel's chain of writes started after them. A channel's
// messages need no user, but adding a member makes the member's user when
// there is none (with the service's defaults, not the archived fields), so
// a channel restores its messages first and its members after the users. A
// failure of the users stops the run as before; the channels' messages
// restored meanwhile are journaled, and a rerun goes on from them.
//
// # Design
//
// Run picks the snapshot: by default ("latest") the newest complete
// snapshot of the source service, or when none completed its newest
// snapshot of any status; a snapshot id; or SnapshotAsOf for a point in
// time. A snapshot that did not complete (interrupted, partial, running)
// is restored as it is, with a line in Result.Warnings naming it and its
// status. Run then reads the target's roles (the first request: it proves
// the target exists and the credentials work; a dry run assumes the median
// round trip of this read and its channel lookups, since the first alone
// also pays for opening the connection), and restores the selected channels
// concurrently (an errgroup bounded by Options.Concurrency), those with the
// most archived messages first. Within a channel everything is strictly
// sequential:
//
//  1. the channel: found in the journal and read back from the target (one
//     request), or looked up (by unique name) and adopted when it is
//     provably ours, or created with its archived unique_name,
//     friendly_name, type, attributes, created_by and dates;
//  2. its messages in source index order, streamed from the archive, kept
//     when date_created lies in [Since, Until]: From, Body (an empty body
//     explicitly), Attributes exactly as archived, DateCreated, DateUpdated,
//     LastUpdatedBy when not null, and the MediaSid of its file (see Media);
//  3. once the users are restored (see Users), its members, with their role
//     mapped by friendly name (an archived role the target lacks is left
//     out, so the target's default applies, and logged), attributes, dates
//     and last_consumption_timestamp; a member without identity (a
//     conversation's SMS or WhatsApp participant, known by its address) is
//     left out, in Result.Skipped as "participant": Chat cannot hold it,
//     and adding it through Conversations would send the restored
//     conversation's next messages to that address (verify passes over
//     it too);
//  4. each member's last_consumed_message_index, mapped onto the restored
//     indexes: the target index of the newest restored message whose source
//     index is at or below the archived one (none: left unset);
//  5. the channel is marked finished.
//
// Writes are paced by the remote client (remote.Limits) and carry
// X-Twilio-Webhook-Enabled: false unless the client was built with
// remote.WithWebhooks(true). A dry run sends only reads and fills
// Result.Plan. A channel's writes form one chain, each waiting for the
// previous one's answer and for the channel's write rate, so a chain of n
// writes takes n × max(latency, 1/WriteRate); the estimate packs the
// chains, longest first, onto min(Concurrency, channels) workers, each
// chain onto the worker free earliest, and takes the busiest worker's
// time (or total writes × latency / Concurrency when that is longer, or
// the users' writes, Concurrency at a time, which run beside the
// channels'). It leaves out the reads and the service-wide pacing of
// channel creates.
//
// Where a restore's time goes, traced request by request on
// BenchmarkRestoreLatency (16 channels, 50 ms latency, concurrency 16,
// 7.5 s against a bound of 6.3 s, when the users came first): a message
// costs 52.0 ms in the create call (the emulator answers in 50.8) and
// 30-60 µs between two creates (journal, state, the next archived
// message; the 1.2 ms mean gap seen with 16 channels is mostly the
// uploads of media messages, which the bound counts as writes of their
// own); and the channels' chains started between 0.7 and 1.3 s in,
// after the roles and users reads, the users (12 creates) and the channel
// creates before theirs, all paced on the service's one bucket at 25
// writes/s. Two changes took that start-up out (alternating builds, one
// run of each of the four benchmarks):
//   - the users wait for the first channels and the members for the users
//     (see Users): Chat 85.7 / 81.7 % of the bound at concurrency 8 / 16
//     went to 88.5 / 90.3 %, Conversations 85.8 / 83.4 % to 89.1 / 89.6 %;
//   - the channels start longest first, so that the longest chain is not
//     the one whose create waits longest in the bucket, and at
//     concurrency 8 the last chains to start are short ones: 91.7-91.8 /
//     90.4-90.8 % through Chat, 91.7-91.9 / 90.4-90.6 % through
//     Conversations (two runs).
//
// A later trace (concurrency 16, 6.9 s) showed two more delays:
//   - the creates went in the order the channels' unique-name lookups
//     answered, not in the order the channels started, so a long channel
//     could be created twelfth, 0.5 s in, and end the run; now each
//     channel creates in its turn (turns, restore.go): the next channel's
//     create waits until this one's request is written (it has then
//     taken its place in the pacing), or it found it needs none;
//   - media uploads shared the service's bucket with the channel and user
//     creates, so a channel's upload waited behind them (400-570 ms of
//     waiting in the chains of channels with 3-4 files); they now have a
//     bucket of their own (remote's package doc, "Media").
//
// With both, in alternating runs against the build before: concurrency
// 16 went from 90.1-91.0 % to 94.7-95.1 % of the bound through either
// API, BenchmarkRestoreMediaLatency from 90.9-93.4 % to 96.1-96.3 %, and
// concurrency 8 stayed at 91.8-92.4 %. The uploads' bucket alone gave
// 90.5-95.4 % at concurrency 16: where the longest channel's create
// fell was left to chance.
//
// What is left is mostly the 1-2 ms a write spends beyond the latency,
// the roles read and the lookups before the first create (0.15 s), and
// the channel creates that still come one after another (the sixteenth
// 0.6 s in, at 25 a second): the bound leaves out the service's pacing.
//
// Problems confined to one channel do not stop the others: a conflict
// (the target holds something this restore did not create) is reported in
// Result.Conflicts and the channel is left as it is; any other error is
// reported in Result.Failed. Both make the status "partial", as do the
// messages in Result.Skipped; a run without any is "complete". An
// authentication failure, an archive failure or ctx's cancellation stops
// the run and is returned with the Result so far; the journal is flushed
// first, so a rerun continues. Whenever Run returns an error the status
// is "interrupted" (ctx was cancelled) or "failed" (any other error,
// including options rejected before anything was sent), never "complete".
//
// # Journal
//
// Progress lives in the archive's journal for the (source service, target
// service) pair (store.Journal). Keys and values:
//
//	ch/<source CH>                          {"target":"CH…","pending":bool,"members_done":bool,
//	                                         "messages_done":bool,"last_src_index":n,
//	                                         "last_tgt_index":n,"finished":bool,
//	                                         "restored":n,"gen":g,"hash":h,"syncing":bool,
//	                                         "from":n}  (-1 = none)
//	mb/<source MB>[@g]                      target MB SID
//	wb/<source CH>[@g]/<source MB>          {"t":"MB…","h":h,"foreign":bool,"del":bool}
//	wm/<source CH>[@g]/<source index, %020d> {"t":"IM…","h":h,"d":unix date_created,"del":bool}
//	ix/<source CH>[@g]/<source index, %020d> target index (decimal); "-" once a sync deleted it
//	lcmi/<source MB>[@g]                    target last_consumed_message_index last sent (decimal)
//	us/<identity>                           target US SID of a user this restore created, "pending", or "deleted" once a sync deleted it
//	api/<chat|conversations>                "1": a restore wrote into the target through this API
//	me/<source CH>[@g]/<source ME>          target ME SID of the file uploaded for it
//
// "from" is the source index of the first message restored into the
// channel in its generation: where its restored range begins. A restore
// with Since begins it late; a later run without Since leaves the archived
// messages older than it out, as that restore did (Result.
// MessagesBeforeRange), rather than reporting each as behind (SkipBehind,
// which makes a run partial) run after run. Journals from before it have
// none, and report them behind as before.
//
// "restored" counts the channel's ix entries (the messages this restore
// put into the target channel). "gen" is the channel's generation, 0 at
// first and left out then, as is "@g" from the other keys: when a rerun
// finds a journaled target channel deleted (404), it writes the channel's
// state anew with gen+1, which forgets every mb/, ix/ and lcmi/ entry of
// the channel at once (the journal has no delete; the old entries stay,
// unused), and restores the channel from scratch. One write cannot be
// half done, so a kill never leaves the channel half forgotten.
//
// The wb/ and wm/ entries and "hash" record what restore last wrote, for
// Options.Sync (see Sync): h is a hash (SHA-256, 96 bits, hex) of the
// parameters a create or update of the member, message or channel sent,
// so it changes exactly when the archived record changes in a field
// restore writes. A wm/ entry is queued with its ix entry, before the
// state that points past them; a wb/ entry with the mb/ entry.
//
// The store applies journal writes in the order they were queued, many per
// transaction, so what survives a kill is always a prefix of what was
// written. Restore queues an ix entry before the ch state that points past
// it, and flushes the journal when a channel is created, every 200 messages,
// before reading the index map, and at channel end.
//
// # Media
//
// A media SID belongs to one service. Into another service, the archived
// file (store.View.Media names its content, Archive.OpenContent streams
// it) is uploaded to the target's Media service and the message created
// with the new MediaSid. Into the source service the media is reused while
// FetchMedia answers 200, and uploaded again from the archive when it
// answers 404. A media message whose file is not archived (a backup with
// --no-media, or one made before files were archived) cannot go to another
// service, nor back into its own once the service lost the media: it is
// reported in Result.Skipped (kind "media", the reason names the cause and
// the cure) and the status is "partial". A file whose archived chunks are
// damaged fails its channel only (Result.Failed names the media and the
// archive's error); the other channels go on.
//
// Each upload is journaled (me/ key) and the journal flushed before the
// message that uses it is created: a kill, a lost answer or a refused
// create between the two reuses the upload on the next attempt or run,
// instead of sending the file again. An upload whose own answer is lost
// (or that a kill cuts off after the service stored it) is sent again: the
// Media service cannot be searched for the first copy, which stays
// unattached. A dry run counts the uploads and their bytes in the Plan
// (into the source service it asks FetchMedia which media are still
// there), and its estimate adds each channel's upload bytes at
// Options.UploadRate to the channel's chain.
//
// # Why exactly once
//
// Channels. A channel's journal entry is flushed right after it is created,
// before anything is written into it, so a channel that holds anything is
// always known to the journal. A channel not in the journal is looked up
// before being created: with a unique name, a target channel of that name
// that is empty and equal to the archived one (attributes, created_by,
// date_created, friendly_name, type) can only be ours from a run whose
// journal entry was lost, and is adopted; one that holds messages or
// differs is a conflict and is left untouched. A channel without unique
// name has no such key, so a "pending" mark is flushed before its create is
// sent; when a later run (or the same run, after an unknown outcome) finds
// the mark, it adopts an equal, empty, unjournaled channel from the target's
// list instead of creating another.
//
// Members. Identity is unique within a channel: a create answered "member
// exists" (50404), or whose outcome is unknown, is followed by a fetch by
// identity, and the member found is adopted.
//
// Messages. A channel is written by one goroutine only, and the service
// numbers messages in creation order. After an unknown outcome, the newest
// target messages are read: if the only message above the journal's
// last_tgt_index equals the source message (from, body, attributes,
// date_created) it is adopted, if there is none the message is sent again,
// anything else is a conflict. When a channel whose journal is not finished
// is resumed, the journal may lack its last batch: the target's messages
// above last_tgt_index are listed (newest first, down to it) and must
// match, one for one and in order, the next archived messages after
// last_src_index; they are adopted and the run continues after them. A
// mismatch is a conflict: something else wrote into the channel.
//
// Reruns. Each journaled target channel is read back (FetchChannel by its
// SID). A deleted one is restored again from scratch, in a new generation
// (see Journal), so restoring a point in time after the target lost a
// channel brings the channel back. A finished channel whose archive holds
// nothing past last_src_index is then left without any other request; a
// rerun of a finished restore therefore sends one read for the roles, one
// for the users (when the snapshot has any) and one per channel, no write,
// and counts the channels and messages as skipped. Restoring a newer snapshot into the same target appends the
// messages after last_src_index and creates new members.
//
// # Verifying a restore
//
// VerifyTarget reads the target back and compares it with the snapshot,
// field by field, selecting what Run selects from the same Options. Target
// channels are paired with archived ones through the journal (ch/ entries),
// or by unique name when the journal does not know a channel (another
// archive, a lost journal); a channel with neither cannot be found and is
// reported missing. Target messages, listed oldest first, are paired with
// the archived messages Run would restore through the journal's ix/ map
// (of the channel's current generation),
// so a deleted or added message is one difference and the rest still
// pair; a channel paired by unique name has no map, and its messages are
// paired one for one in order, so there a message deleted from the middle
// shifts all that follow. A restored media message equals the archived one
// when its media has the same size, content type and filename: its SID
// differs from service to service (the bytes themselves are not fetched;
// the demo and the tests compare them). Read positions are expected where Run puts them
// (the same ix/ map, or the order pairing). Run and VerifyTarget share one
// comparison (match.go): channelDiffs, memberDiffs and messageDiffs list
// every differing field; Run's adoption and reconciliation stop at the
// first one that identifies the resource (they leave out date_updated and
// last_updated_by). A field Run does not send when it is null in the
// archive (attributes, created_by, from, role, dates) is the service's to
// choose and matches anything; a null friendly_name, last_updated_by, read
// position or consumption timestamp must stay null. Media messages Run
// cannot restore (no archived file, another service) are not differences;
// a member whose archived role has no namesake in the target differs in
// role_sid.
//
// # Sync
//
// With Options.Sync (restore --sync), a run into a target whose journal
// knows at least one channel (else ErrNotRestored, before any request)
// also brings what restore wrote to the chosen snapshot, per channel, in
// this order, after the read of the journaled target channel that every
// rerun sends:
//
//  1. the channel's own fields, when channelHash of the archived channel
//     differs from the state's "hash" (type cannot change; a journal from
//     before sync compares with the target channel just read instead);
//  2. deletions of the members whose source SID has a wb/ entry but is not
//     in the snapshot, before the creates (an identity removed and added
//     again is a new member);
//  3. creates of new members, as a plain rerun;
//  4. the messages: the archived ones and the channel's wm/ entries up to
//     last_src_index are walked together in index order; an archived
//     message whose hash differs is updated (UpdateMessage by the entry's
//     SID), an entry without archived message is deleted; then new
//     messages are created as a plain rerun, media uploaded as in any run
//     (see Media). An update never sends media again: a message's media
//     cannot change, and the hash is of the parameters with the source
//     media SID, so an uploaded copy's new SID is no change;
//  5. each member with a wb/ entry whose hash differs, or whose mapped
//     read position differs from lcmi/, is updated in one write (read
//     position included); a member restore found in the target (50404)
//     rather than created ("foreign") is never updated or deleted: its
//     changes are reported in Result.Conflicts.
//
// Users (see Users): a user restore created is updated when it differs, as
// in any run; a user someone else created is updated too, but only with
// Sync, and named in Result.Warnings. A user restore created (journaled)
// that the snapshot no longer has is deleted (when no channel is selected
// by name: other channels' members may need it), before any user is created,
// and its mark becomes "deleted": a delete whose answer was lost is
// checked by a fetch (404 is success), and one the target's list of users
// lacks is already gone (a killed sync deleted it), so nothing is sent. A
// user someone else created is never deleted; one found under the
// identity of a user restore created but with another SID is named in
// Result.Warnings. A dry run lists each delete (Action Kind "user");
// Result.Deleted counts them. Channels
// the journal maps whose source channel the snapshot no longer has are
// deleted (when no channel is selected by name), with all they hold.
//
// A sync to an older snapshot than the last one restored takes back what
// the newer brought: edits are reverted, and new messages deleted, after
// which last_src_index is the newest message the target keeps, so a later
// sync to the newer snapshot appends them again, in order. A message the
// target lost in the middle is not re-created (its ix/ entry is "-"): it
// is reported in Result.Skipped as behind.
//
// With --since/--until the range bounds what is created or updated (by
// the archived message's date_created); a message gone from the snapshot
// is deleted only when its date_created (kept in its wm/ entry) is in the
// range, and no channel is deleted; Plan.Notes says so.
//
// What restore did not create is never updated or deleted: members found
// in the target are "foreign" in their wb/ entry; a target channel holding
// more messages or members than the journal says restore put there
// (messages_count and members_count where the API carries them; else one
// listing of the members and a read of the newest message) is reported
// in Result.Conflicts and left alone, as is a message deleted from the
// target by someone else whose change therefore cannot be applied.
//
// Cost follows the change. Nothing in a sync lists a target channel's
// history: what changed is found by comparing hashes of the archive with
// the journal, on this machine. A sync therefore sends, beyond the writes,
// the read of the roles, the list of users, one read per channel (the
// fetch every rerun sends), and, through an API without counts
// (Conversations), a listing of the members, a read of the newest message
// and one page of the newest messages in a channel that gains messages;
// each change is one write (an edited
// message: one update; a removed member: one delete; a new message: one
// create, plus the read position of a member who read it). A sync with
// nothing changed writes nothing. Where the API carries messages_count, a
// channel that gains messages is not listed either: the count read back
// proves nothing follows the journal's last message. BenchmarkSync (20
// channels, 9,597 messages, 1% of them edited, deleted or added at the
// source, 20ms latency, default pacing) measured 95 writes for 95 changes
// and 22 reads (the roles, the users, one per channel), in 0.65 to 0.8s
// on a shared 2-core machine: 60 to 75% of the least time those writes can
// take at that pacing.
//
// Exactly once. An update or delete whose answer is lost (an unknown
// outcome) is checked before anything else is sent: the resource is read
// back (FetchChannel, FetchMember, FetchMessage) and the write counts as
// done when the target already holds the archived state (an update) or
// answers 404 (a delete); only otherwise is it sent again. A delete
// answered 404 is a success. Before its first update or delete, a channel's
// state is saved with "syncing": true (cleared when its sync ends), so
// after a kill, which may lose a write's journal entry, the next sync reads
// each update or delete of that channel back the same way before sending
// it; channels that were not interrupted cost no such read. The
// channel's "restored" count is recomputed from its wm/ entries at each
// sync, so it never drifts from what a kill kept of the entries.
//
// A delete and the count check. The check of a finished channel (see
// Caveats) compares messages_count, read when the sync starts, minus the
// messages this run's deletes removed since, with "restored". A delete a
// kill cut off from its journal entries (the ix/ "-" and the wm/ "del")
// leaves its message counted in "restored" and absent from the target:
// the next sync, resumed by "syncing", reads it back (404: done), counts
// it as gone before the count was read, not as removed since, and lowers
// "restored" as it journals it. A delete whose answer is lost is read back
// the same way and counts as removed since: the count was read before it
// was sent. So only a message someone else deleted is left to the check.
// This relies on a killed run's writes having finished before the next
// run reads the count (see What it relies on): a write that lands after
// it, from a run killed a moment before, is a false conflict or a
// duplicate; the kill tests wait for the emulator to serve nothing before
// the next run starts.
//
// # What it relies on
//
//   - The service assigns message indexes in creation order within a
//     channel, and a created message is visible to the next read.
//   - DateCreated and DateUpdated sent on create are stored (to the second).
//   - Member identity is unique per channel; channel unique names are unique
//     per service.
//   - A request answered 429 (or refused with a 4xx) was not carried out;
//     one whose answer was lost or was a 5xx may have been, and the client
//     reports it as remote.ErrUnknownOutcome rather than resending it.
//   - A write whose connection was lost has finished on the service by the
//     time a following read is answered.
//   - Nobody else writes into a channel while it is being restored.
//   - A message update with an empty LastUpdatedBy clears it (a sync sends
//     one where the archive has null, to take back an edit).
//   - A fetched channel's messages_count is the number of messages it holds
//     (used only to report messages deleted from the target).
//
// # Caveats
//
//   - Messages deleted from a restored target channel are not put back: a
//     message cannot be inserted before later ones. A rerun notices it
//     when the channel is finished and its messages_count is below the
//     journal's "restored" count, and reports the channel in
//     Result.Conflicts (status "partial"), advising to delete the target
//     channel and rerun, which restores it whole. Journals written before
//     the count existed cannot tell. Members deleted from the target are
//     not noticed and not put back.
//   - Without Sync a rerun does not revisit what it restored: edits or
//     deletions in a newer snapshot of messages and members already
//     restored are not carried over (Sync carries them). Either way,
//     messages older than the newest restored one that an earlier run did
//     not restore (another --since, say) cannot be inserted before it; they
//     are reported in Result.Skipped.
//   - A channel restored by a version before sync has no wb/ or wm/
//     entries. Its first sync lists its target messages once (reads in
//     proportion to its history, that one time) to learn their SIDs and
//     which still equal the archive, and writes each of its journaled
//     members once more; a member removed from the source cannot be found
//     in such a journal (mb/ keys are not per channel) and is not deleted.
//   - A message a sync deletes has its ix/ entry set to "-": read
//     positions then map as a restore of the snapshot would map them, in
//     Run and VerifyTarget alike.
//   - Deleted source messages leave gaps in source indexes; the target's
//     indexes are dense, hence the last_consumed_message_index mapping.
//   - A user that exists in the target but was not created by this
//     restore is updated only by a sync, which says so.
package restore

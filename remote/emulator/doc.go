// Package emulator is a local, stateful stand-in for the Twilio Programmable
// Chat v2 and Conversations v1 REST APIs, used by `chatvault emulate`, by
// `chatvault demo`, and by tests and benchmarks of the client. It is held
// to the published OpenAPI descriptions (testdata/twilio_chat_v2.json and
// testdata/twilio_conversations_v1.json) on its own and never imports
// package remote, so it can catch the client's mistakes instead of sharing
// them.
//
// # One state, two views
//
// As in Twilio's backend, Chat and Conversations are two views of one
// state: a channel is a conversation with the same CH SID, a member is a
// participant with the same MB SID, a message is the same message (from is
// author; Chat's one media object is a one-element media array), and
// last_consumed_message_index and last_consumption_timestamp are
// last_read_message_index and last_read_timestamp. Conversations shows
// private channels only; a conversation created through it is a private
// channel in the Chat view. Both APIs share a root (Info.BaseURL and
// Info.ConversationsURL are the same): Chat lives under /v2, Conversations
// under /v1, and Chat v3's channel update under /v3. Handlers that differ
// between the views only in shape are shared and render through the view
// of the request's path (conv_serve.go); what only Conversations has is in
// conv_handlers.go, its renderers in conv_render.go.
//
// # Use
//
// New builds the state from a Config; Start listens and serves in the
// background; Info gives what `chatvault emulate` prints; SetFaults changes
// the fault switches while serving; Shutdown stops (it closes connections
// that never sent a request at once, answers requests still waiting out the
// latency with 503, and waits for the rest). Handler serves the same
// API for an httptest server; without Start, the URLs in answers are built
// from each request's Host header.
//
// # State
//
// services[0] holds generated history and services[1] is empty; both have
// the four default roles ("service admin", "service user" of type
// deployment, "channel admin", "channel user" of type channel) with their
// own RL SIDs. Services created through the API get the same roles.
// Each service also holds its media files (ME…), uploaded or generated.
//
// A world lock guards the list of services; each service has its own
// RWMutex guarding its users, channels, members and messages. Reads take
// the read lock and render straight from the state, so they run in
// parallel; writes take the write lock for a few microseconds. Messages are
// stored by value in a per-channel slice kept in index order, with a map
// from SID to index: about 150 bytes a message plus its text, so a million
// messages seed in well under a second and take about 200 MB of heap. JSON
// is rendered by hand-written appenders in a fixed field order, so the same
// state always gives the same bytes.
//
// # Generated history
//
// Everything is drawn from PCG generators (math/rand/v2) seeded with
// Config.Seed, one stream per concern: the account SID, the auth token (32
// hex digits) and the service and role SIDs come from one stream, so they
// do not change with Channels or Messages; the history from a second; the
// SIDs of resources created through the API from a third (the same only
// when the same requests arrive in the same order); the fault decisions
// from a fourth. Each channel's messages come from a generator of their own
// drawn in order, so channels are filled in parallel and the result is
// still byte-for-byte the same for the same seed.
//
// The history has twelve users (one a service admin) and Config.Channels
// channels named like "general-3", about 30% private, with friendly names
// in several scripts, JSON attributes (some "{}") and a creator or
// "system". Each channel has 2 to 8 members; about 60% have a read position
// (last_consumed_message_index and last_consumption_timestamp), the others
// null. Each channel has Config.Messages ± 20% messages from its members
// (and sometimes "system") with emoji, CJK, right-to-left and escaped text,
// some (about 4%) empty bodies, about 28% non-empty attributes, 2% media messages,
// 5% edited (date_updated later, last_updated_by set, was_edited true), and
// about 3% gaps in index where messages were deleted; sometimes the newest
// messages were deleted too, so the next index skips. Dates start at
// 2025-01-01T00:00:00Z: channels are spread over 30 days and each channel's
// messages over at most about 240 days, rising with the index.
//
// # Requests
//
// Only HTTP Basic with the printed AccountSID:AuthToken is accepted
// (compared in constant time); anything else gets 401 code 20003. Chat v2
// paths are those of its spec: Services (list, create, fetch), Roles
// (list), Users (list, create; fetch, update, delete by SID or identity), Channels (list,
// create, fetch, update, delete, by SID or unique name), Members (list,
// create, fetch, update, delete, by SID or identity) and Messages (list,
// create, fetch, update, delete, by IM SID only). Conversations v1 paths
// are /v1/Services/{IS} (fetch), …/Roles (list), …/Users (list, create;
// fetch, update, delete by SID or identity), …/Conversations (list,
// create; fetch, update, delete by SID or unique name), and below a
// conversation …/Participants (list, create; fetch, update, delete by SID
// or identity) and …/Messages (list, create; fetch, update, delete by IM
// SID). Chat v3 serves POST /v3/Services/{IS}/Channels/{CH} only. Other
// paths get 404 code 20404, and other methods on a served path 405 code
// 20004 with an Allow header. Path segments are unescaped one by one, so a
// unique name or identity may hold an escaped "/". With Config.ChatAPI
// APIOff (`--chat-api off`) every /v2 path answers 404 code 20404 once the
// request is authenticated, as after Chat's shutdown; /v1 and /v3 keep
// answering.
//
// Create and update parameters are form fields, read from the body (and the
// query string). Dates are RFC 3339 with any offset and optional fraction,
// or without an offset (taken as UTC); they are kept in whole seconds and
// written back in UTC with a Z. Attributes must be valid JSON of at most 16
// KiB and are kept byte for byte; an empty Attributes resets them to "{}".
// Channel FriendlyName and UniqueName are limited to 64 characters on
// create and 256 on update. MediaSid must look like an ME SID (400 code
// 50510 otherwise) and name a file of the same service, uploaded or
// generated (400 code 50510 otherwise, a check of the state); the
// message's media object is that file's. An update that sends none of its
// parameters is refused with 20161. X-Twilio-Webhook-Enabled may be "true"
// or "false" on any write; anything else is refused with 400. No webhook is
// ever called.
//
// Once a request is past the checks listed under Faults, a request with
// several problems is answered for the first of: a missing service; bad
// paging (PageSize, Page, PageToken); a bad list filter (Type, Order); a
// missing channel; the channel's write rate; a missing user, member or
// message; malformed write parameters; an update with nothing to change;
// and last what depends on the state (an unknown role, a name or identity
// already taken). Handlers in a channel get this order from one helper,
// lockChannel, which takes the service's lock, finds the channel and spends
// its write allowance.
//
// # Paging
//
// PageSize defaults to 50. A PageSize above the maximum of 100 is lowered
// to 100 rather than refused, because twilio-go sends page sizes of up to
// 1000; meta.page_size and the page URLs then say 100. Zero, negative or
// non-numeric sizes are refused (400, code 20001). Without PageToken, Page
// is taken as an offset of Page×PageSize. A page token names a position:
// "PT<k>" is "the items after k" and "PB<k>" "the items before k" in the
// list's order, where k is the message index or the creation sequence
// number of a service, user, channel or member. So next_page_url and
// previous_page_url stay correct while items are added or deleted: no item
// is skipped or repeated, and a message created during a walk appears at
// its end. A malformed token gets 400 code 21481. Page URLs are absolute,
// use SIDs (never unique names), keep the list's filters (Type, Identity,
// Order) and are null where there is no next or previous page. Channels,
// members, users and services are listed in creation order, roles in their
// fixed order, messages by index (Order asc, the default, or desc). Channels
// are listed public only unless Type says otherwise, as the real API does.
//
// Conversations pages the same way, with meta.key conversations,
// participants, messages, users and roles; its Users and Roles lists allow
// at most 50 a page (larger sizes are lowered to 50), the others 100.
// Conversations are listed private only, in creation order; StartDate and
// EndDate filter on date_created (inclusive) and, as the spec says, list
// newest first (ties in creation order, newest first too); State filters on
// the state. Each of StartDate and EndDate may be a day (2025-01-31, the
// day's first second for StartDate and its last for EndDate) or a date as
// everywhere else. Page URLs keep StartDate, EndDate, State and Order.
//
// # Media
//
// The emulator also serves Twilio's Media Content Service, under /mcs of
// the same root (Info.MediaURL). It shares the Chat API's state,
// credentials, faults and counters:
//
//   - POST /mcs/v1/Services/{IS}/Media stores the body as a file of that
//     service and answers 201 with the Media resource. The body is the raw
//     file, its Content-Type the file's (application/octet-stream when
//     missing) and a filename parameter of Content-Disposition its name; or
//     a multipart/form-data body whose part Media is the file (with that
//     part's Content-Type and file name) and whose part FileName, if sent,
//     names it. A Content-Size header, if sent, must equal the bytes sent.
//   - GET …/Media/{ME} answers the Media resource: sid, account_sid,
//     service_sid, date_created, date_updated, channel_sid, message_sid,
//     size, content_type, filename, author, url and links (content, and
//     content_direct_temporary, a fresh temporary URL).
//   - GET …/Media/{ME}/Content answers 307 with Location a temporary URL,
//     /mcs/temp/{token}, which serves the bytes with their Content-Type and
//     Content-Length to anyone, without credentials, like a signed URL.
//
// Files are refused above Config.MediaUploadLimit (150 MiB by default): 413
// code 50512, decided from Content-Length or Content-Size before the body
// is read, or, for a chunked or multipart body, as soon as the bytes read
// pass the limit; nothing of the file is kept then. An uploaded file is kept
// in memory once, in the slice it was read into, and served from it. A
// media SID unknown to the service (or of another service) gets 404 code
// 20404. There is no list or delete of media.
//
// Generated files are not stored: each one's layout and size are drawn
// from its SID, and its bytes are produced while it is served, so seeding a
// million messages costs nothing more than before. Most are small: 1×1 PNG
// images of 1 to 128 KiB (60%) and one-page PDFs of 4 to 256 KiB. The 3rd,
// 6th, 12th, 24th… file of the history (in channel order, then by index) is
// an MP4 video of 1 MiB up to Config.MediaMaxSize (8 MiB by default), so any
// history has a handful of large files: 4 of the 41 in the default history,
// 13 of about 20,000 (0.9 GB in all) in a million messages. Every size is
// at least 1 KiB and at most MediaMaxSize. The payload is pseudo-random
// bytes inside a well-formed frame (a private PNG chunk, a PDF stream, an
// MP4 mdat box), so the files open and their checksums differ. The
// message's media object, the Media resource and the bytes served agree on
// size, content type and file name; the same seed gives the same bytes.
//
// # Behaviour the API does not document, as the emulator decides it
//
//   - A resource created without DateCreated is dated now (Config.Now); its
//     date_updated is DateUpdated if sent, otherwise its date_created. An
//     update sets date_updated to DateUpdated if sent, otherwise to now.
//   - A message is created with was_edited true only when DateUpdated is
//     later than DateCreated. An update that sends Body or Attributes sets
//     was_edited to whether the new date_updated is later than date_created;
//     other updates (From, LastUpdatedBy, dates) leave it alone.
//     last_updated_by is null until LastUpdatedBy is sent; an empty
//     LastUpdatedBy makes it null again.
//   - From defaults to "system", and so does an empty From; CreatedBy the
//     same. Body missing or empty is "". Empty FriendlyName or UniqueName
//     is null; setting UniqueName to "" frees the name.
//   - Indexes: the next index in a channel is one more than the highest ever
//     assigned there, so deletions leave gaps and an index is never reused.
//   - messages_count and members_count are the current numbers (a delete
//     lowers them). A new message does not change the channel's
//     date_updated. links.last_message is the URL of the message with the
//     highest index, or null.
//   - Deleting a channel deletes its members and messages; users stay, with
//     joined_channels_count lowered.
//   - Adding a member whose user does not exist creates the user (default
//     service role). LastConsumedMessageIndex and LastConsumptionTimestamp
//     are set independently; an empty value of either makes it null.
//   - A user's RoleSid must be a deployment role of the service and a
//     member's a channel role (400 codes 50100 and 50101 otherwise).
//   - is_online and is_notifiable are always null: reachability is off.
//   - …/Content answers 307 (not 302), with an empty body. A temporary URL
//     serves the file for 300 s from when it was issued (on the Config.Now
//     clock) and answers 403 code 20403 after that, as it does to a token
//     the emulator did not issue. It is signed with a key derived from the
//     credentials, so the same seed and clock give the same URLs.
//   - Multipart uploads with the parts Media and FileName are accepted, as
//     some clients send them; Twilio's documentation names only the raw body.
//     A multipart body more than 64 KiB longer than the upload limit is
//     refused before it is read.
//   - An uploaded file has a null author and null channel_sid and
//     message_sid until a message is created with it; then channel_sid and
//     message_sid name that message and date_updated is the time of the
//     create. A file may be used by several messages of its service (a
//     restore into the source service reuses it); the resource names the
//     newest. A generated file's author, dates, channel and message are
//     those of its message. Deleting the message or its channel leaves the
//     file in place. A file uploaded without a name has a null filename.
//
// In the Conversations view:
//
//   - Anything missing (service, conversation, participant, message, user)
//     is 404 code 20404; a public channel is missing there too, with a
//     message that names Chat v3's make-private call. Malformed parameters
//     get the codes Chat gives the same parameter (50003, 50304, 50306,
//     50307, 50308, 50309, 50100, 50101, 50201, 50204, 50404, 50405, 50406,
//     50510, 20161), as Conversations runs on Chat's backend; State, Timers.*,
//     MessagingServiceSid, StartDate and EndDate get 400 code 20001.
//   - FriendlyName and UniqueName are limited to 256 characters on create
//     and update. A conversation created through Conversations has
//     created_by "system" in Chat. CreatedBy, Type and LastUpdatedBy are not
//     Conversations parameters and are not taken from a Conversations
//     request; a Chat channel's type and created_by and a message's
//     last_updated_by have no Conversations field.
//   - state is "active" unless State set it; any state may follow any
//     other, and no state is enforced (a closed conversation still takes
//     messages). Timers.Inactive and Timers.Closed (ISO 8601 days, hours,
//     minutes and seconds, up to 100 years) set timers.date_inactive and
//     timers.date_closed to the request's time plus the duration; the timers
//     never fire. timers is {} without them.
//   - messaging_service_sid is null unless MessagingServiceSid (or Chat v3)
//     set it: the emulator has no default messaging service. bindings is
//     null unless Bindings.Email.Address or .Name was sent, then
//     {"email":{"address":…,"name":…}}.
//   - A message's body is null when it is empty (a Chat media message, or
//     a Chat message with an empty body); date_updated is null unless the
//     message was edited (Chat's was_edited), as the spec describes;
//     participant_sid is the current participant whose identity is the
//     author, null for "system" or an author who is not a participant;
//     delivery and content_sid are null; links are delivery_receipts and
//     channel_metadata (not served). Author defaults to "system". ContentSid,
//     ContentVariables and Subject are ignored.
//   - A participant needs an Identity (400 code 50204 without one): the
//     emulator serves chat participants only; MessagingBinding.* is ignored
//     and messaging_binding is always null. LastReadMessageIndex and
//     LastReadTimestamp are taken on update only (a create ignores them,
//     as the spec has no such create parameters) and follow the rules of
//     Chat's read position. Identity on update is ignored. The list takes
//     Chat's Identity filter too.
//   - Roles show type "service" for Chat's deployment roles and
//     "conversation" for channel roles, with Chat's permission names.
//   - A user update (FriendlyName, Attributes, RoleSid; an empty
//     FriendlyName makes it null) sets date_updated to now. Deleting a user
//     leaves its participants; the user is gone from both views.
//   - Chat v3's channel update takes Type=private (Type=public only on a
//     public channel, where it changes nothing) and MessagingServiceSid,
//     answers with the Chat v2 channel (its /v2 URLs even when Chat v2 is
//     off), leaves date_updated alone and spends from the channel's write
//     allowance like a channel update.
//
// HTTP statuses of Twilio codes whose status Twilio does not state:
// 409 for 50201, 50307 and 50404 (already exists); 404 for 50050, 50200,
// 50300, 50402 and 50500 (not found); 400 for the malformed-parameter codes
// 50000, 50003, 50004, 50100, 50101, 50204, 50206, 50303, 50304, 50306,
// 50308, 50309, 50405, 50406 and 50510, for 20161, and for the emulator's
// own 20001 (bad PageSize, Page, Order, Type or webhook header, and a
// malformed upload); 413 for 50512 (file too large); 403 for 20403.
//
// # Faults
//
// Each API request, media requests included, goes through, in order: the
// concurrency limit, the latency (a write's; a read's comes after its
// handler), authentication (not for a temporary URL, which needs none),
// routing, the write count and webhook header check, the fault rate, the
// handler (where the per-channel write rate is applied after the channel
// is found), and the lost-response rate.
//
//   - MaxConcurrency N: a request arriving while N are in flight is answered
//     429 code 20429 at once, without the latency and without taking a place.
//   - Latency: every admitted write waits that long before it is handled;
//     a read is handled when it arrives and answered once that long has
//     passed since (it sees the state it arrived at, and its handling
//     counts in the latency, so a read takes the latency asked for, not
//     that plus the time to render a page). The wait ends early if the
//     client goes away (no answer) or the server shuts down (503).
//   - WriteRate N: POST and DELETE on members and messages and POST on a
//     channel (update) spend from the channel's allowance of N writes a
//     second (a token bucket holding up to N, on the Config.Now clock), and
//     so do the same writes through Conversations and Chat v3;
//     a write beyond it gets 429 code 50063 and is not carried out. Channel
//     create and delete, users and services are not limited. Changing the
//     rate with SetFaults gives every channel a full allowance.
//   - FaultRate F: that fraction of API requests is answered 500 (20500) or
//     503 (20503) without acting.
//   - LostResponseRate F: that fraction of successful writes is carried out
//     and then the connection is closed without an answer (the connection
//     is hijacked and closed; if it cannot be, the handler aborts).
//
// No Retry-After or Twilio-Concurrent-Requests header is sent: Twilio does
// not document them for Chat.
//
// # Stats
//
// GET /emulator/stats needs no credentials, is never faulted or counted,
// and returns Stats as JSON. requests counts every API request by method
// and path template ("GET /v2/Services/{sid}/Channels",
// "POST /v1/Services/{sid}/Conversations/{sid}/Messages"; unknown paths as
// "GET (unknown path)"); status counts answers by status code (lost
// responses have none and are counted in lost_responses); writes counts
// POST and DELETE requests that passed authentication and routing (a served
// path and method), whatever came of them afterwards (a refused header, a
// fault, a rate limit, a 4xx, success); webhooks_enabled_writes counts those
// that carried
// X-Twilio-Webhook-Enabled: true; in_flight is the number of API requests
// being served. Media routes are counted like the others ("POST
// /mcs/v1/Services/{sid}/Media", "GET /mcs/temp/{token}"), and an upload
// is a write. media_uploads and media_upload_bytes count files stored by
// uploads (a lost response included); media_downloads and
// media_download_bytes count the temporary-URL answers that served a file
// and the bytes they sent.
//
// # Caveats
//
// The emulator does not enforce permissions, members-per-channel or
// channels-per-user limits, or body length; it serves no bindings,
// invites, channel webhooks, user channels, credentials, role updates, user
// updates through Chat, Conversations' configuration, receipts,
// participant conversations or non-chat participants; it never calls
// webhooks. A service holds at most 2^24 users and channels created in all
// (the date-ordered conversation list keys on that). Generated history is limited to 10
// million messages (Channels × Messages). State lives in memory only.
package emulator

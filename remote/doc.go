// Package remote is chatvault's client for the Twilio Programmable Chat v2
// REST API (https://chat.twilio.com/v2) and for the same services through
// Conversations v1 (https://conversations.twilio.com/v1; see
// Conversations below). It reads services, roles, users, channels, members
// and messages for backups, and writes channels, members and messages for
// restores. It knows nothing of the archive.
//
// # Shape
//
// NewClient takes Credentials (AccountSID with AuthToken, or an SK API key
// with its secret; the key pair wins when both are given) and options:
// WithBaseURL, WithConversationsURL, WithMediaURL, WithHTTPClient,
// WithTimeout, WithLimits, WithWebhooks, WithLogger. Credentials and the
// roots are checked before any request:
// http:// is accepted only for loopback hosts, so a local emulator works but
// credentials never cross a network in clear text. Error messages name the
// field at fault and never its value.
//
// Every method takes a context first. Fetch and write methods return the
// decoded resource; list methods return an iter.Seq2[*T, error] that follows
// meta.next_page_url until it is null, and stops cleanly when the consumer
// breaks out of the loop. MessagesPage, MembersPage and ChannelsPage fetch
// one page at a time for walks that must resume: they return the
// next_page_url to continue from, and accept one back. A next_page_url is
// followed verbatim, but only on the base URL's scheme, host and port: the
// client will not send credentials to a host an answer names (nor from one
// API's root to the other's). Channel lists
// ask for both public and private channels, since the API's default is public
// only.
//
// Identifiers in paths (channel unique names, member and user identities) are
// escaped with url.PathEscape, so "team/ops" addresses one channel.
//
// Every decoded resource keeps Raw, the exact bytes of its JSON object in the
// answer, so fields this package does not model survive a backup. Dates sent
// to the API are RFC 3339 in UTC, whole seconds.
//
// Answers are decoded in one pass (internal/jsonscan, which store uses too):
// a small scanner checks the
// syntax, accepting exactly what encoding/json accepts, and hands each
// record's bytes to a decoder of its top-level fields, which leaves to
// encoding/json whatever it is not sure to decode the same way (escaped or
// case-folded member names, repeated members, values of unexpected types).
// The records of one page share the answer's buffer: each Raw is a capped
// slice of it, so keeping one record keeps its page. The fuzz tests hold
// the results, and which answers are refused, to encoding/json's.
//
// # Errors
//
// A non-2xx answer is an *APIError (method, path, status, Twilio code,
// message, more_info, details); its body is read through a 64 KiB limit and
// never echoed unless it is Twilio's JSON error shape. errors.Is matches it
// against ErrNotFound (404), ErrAuthentication (401, and 403 unless the code
// is one of Chat's own 50xxx codes, which Chat uses for counter limits),
// ErrRateLimited (429) and ErrConflict (codes 50201, 50404, 50307, and
// Conversations' 50353, 50433 and 50437). Error
// strings carry the method and the URL path, never the query string or a
// credential.
//
// # Conversations
//
// Client.Conversations returns a view of the same client on the
// Conversations v1 root (WithConversationsURL; http:// for loopback only,
// as the base URL). It has the methods backup and restore use of the Chat
// client — the methods are written once, on an unexported api value that
// Client and Conversations both embed, which holds what differs: the root,
// the version prefix (/v1), and the names in paths and lists
// (Conversations, Participants; list keys "conversations",
// "participants", "messages", "users", "roles"). Each call carries its API
// (call.api): a next_page_url must stay on that API's root, and answers are
// read in its shapes. Transport, credentials, limits, write buckets (the
// service counts writes to a channel whichever API sends them), counters
// and the webhook setting are the client's, shared.
//
// The correspondence between the two APIs' records and parameters is one
// table, in shape.go, held to both OpenAPI specs by the tests:
//
//   - A Conversations record is read by putting it in Chat's shape
//     (ChatShape) and decoding that into the same types as Chat's; Raw is
//     the exact bytes Conversations sent, unknown fields included. author is
//     From, conversation_sid ChannelSID, chat_service_sid ServiceSID,
//     last_read_message_index and last_read_timestamp are the member's
//     LastConsumedMessageIndex and LastConsumptionTimestamp (an empty
//     last_read_timestamp is null); the first element of the media array is
//     Media, and Type is "media" or "text" after it; a conversation's Type is
//     "private"; a role's "conversation" and "service" types are "channel"
//     and "deployment".
//   - Writes build Chat's parameters, then rename them: From is sent as
//     Author, LastConsumedMessageIndex and LastConsumptionTimestamp as
//     LastReadMessageIndex and LastReadTimestamp on update. Conversations
//     takes a participant's read horizon on update only, so CreateMember
//     leaves those two out (restore sets them afterwards with UpdateMember).
//     What Conversations cannot take — a channel's Type and CreatedBy, a
//     message's LastUpdatedBy — is not sent; Losses lists it, both ways,
//     for restore's warnings.
//   - ListChannels through Conversations checks its types but does not send
//     them: Conversations lists private channels only. Client's
//     MakeChannelPrivate (Chat v3) makes a public channel visible to it.
//
// ChatShape and Losses are exported for the packages that read archived
// records of either API (restore, verify, export, ls): they read Chat's
// shape only, and name the losses from the table rather than their own.
// A snapshot read through Conversations may hold records in Chat's shape
// that an earlier snapshot read through Chat (public channels, messages an
// incremental run did not read again); ChatShape returns such a record
// (it has service_sid and no chat_service_sid) as it is.
//
// What each API shows of changes is one row of Capabilities per API
// (CapabilitiesOf: message counts, links.last_message, public channels,
// dates of unedited messages), read by backup to choose its checks rather
// than testing the API's name. Conversations' Users and Roles lists are
// asked for 50 a page, their largest; the others 100.
//
// # Choosing the API
//
// Client.ForAPI(ctx, service, want) decides which API reads and writes a
// service: APIAuto fetches the service through Chat and takes Chat when it
// answers, Conversations when Chat answers 404 or cannot be reached and
// Conversations answers; APIChat and APIConversations insist. An API that
// cannot be used gives an error matching ErrNoAPI that names the roots
// tried (and, for APIChat when only Conversations has the service, says to
// use Conversations); refused credentials stay ErrAuthentication.
// CheckAPI validates a user's choice. The caller then reads through the
// Client (Chat) or Client.Conversations().
//
// The Conversations conflict codes (50353, 50433, 50437) come from
// Twilio's error dictionary, which the OpenAPI spec does not carry (see
// errors.go); that a taken user identity is Chat's 50201 through
// Conversations too is an assumption.
//
// # Retries and unknown outcomes
//
// One helper, Client.do, sends every request and is the only place that
// retries. Each attempt waits for its rate limiter, then for a slot among
// the requests in flight, then is sent with the per-request timeout.
//
//   - 429 is retried for every method: Twilio does not carry out a request
//     it answers 429.
//   - GET is also retried after a 5xx answer, a transport error or a timeout.
//   - A write (POST or DELETE) is retried after a transport error only when
//     the request was never written to the connection (as told by
//     net/http/httptrace), e.g. a refused dial. Once written, a lost
//     connection, timeout or 5xx answer gives an *UnknownOutcomeError
//     (errors.Is(err, ErrUnknownOutcome)) at once, and the write is not sent
//     again: the service may have carried it out, and only the caller can
//     check (for example by listing the channel's messages) before sending it
//     again. A 2xx answer to a write that cannot be decoded is reported the
//     same way. The client never re-sends a write on its own because the
//     Chat API has no idempotency keys; resending would duplicate messages.
//
// Waits between attempts honour Retry-After (delay-seconds or an HTTP date)
// when the service sends one, up to five minutes (a longer one ends the
// retries); otherwise they back off exponentially with jitter between
// Limits.MinBackoff and Limits.MaxBackoff. After Limits.MaxRetries retries
// the last failure is returned, wrapped so errors.Is and errors.As still see
// it. Cancelling the context ends any wait at once.
//
// # Limits
//
// Limits (see DefaultLimits and Limits.Validate) bound the load the client
// puts on the service:
//
//   - MaxInFlight: a semaphore over requests in flight, held only while a
//     request is on the wire, never during a back-off.
//   - ChannelWriteRate: one token bucket per service and channel paces the
//     writes the service counts per channel: channel update, and member and
//     message create, update and delete. The service allows 30 per second;
//     the default is 25.
//   - ServiceWriteRate: one bucket per service paces channel create and
//     delete and user create; another, at the same rate, the service's
//     media uploads (see Media).
//
// The buckets hold a single token, so writes are spaced evenly. They are
// keyed by the identifiers the caller passes: a channel written to by SID and
// by unique name in the same run gets two buckets, so callers should address
// a channel one way. Buckets are kept for the client's life.
//
// Requests and Writes count the HTTP requests handed to the transport,
// retries included.
//
// # Media
//
// The files behind media messages live in the Media Content Service, on its
// own root (WithMediaURL, default DefaultMediaURL, checked like the base
// URL; a path prefix such as the emulator's /mcs is kept), under
// /v1/Services/{IS}/Media. Service and media SIDs must be IS… and ME… SIDs
// and are checked before any request. Media requests go through Client.do
// like every other: same credentials, User-Agent, limits, typed errors,
// retries and counting.
//
//   - FetchMedia reads a Media resource (MediaFile, with Raw).
//   - OpenMedia reads the metadata, then GET …/Content, which answers 307
//     to a temporary URL, often on another host. The client follows it
//     itself (the default HTTP client follows no redirect) and sends
//     credentials only when the URL is on the media root's scheme, host and
//     port; it takes https, or http on loopback. (An HTTP client given with
//     WithHTTPClient that follows redirects applies its own rule instead:
//     Go's forwards credentials to the same host name and its subdomains.) A 403 from the temporary URL
//     means it expired: the metadata is fetched again and its
//     links.content_direct_temporary (or …/Content again) is tried once
//     more; a second 403 is an error that does not match ErrAuthentication.
//     Each of these GETs is retried on 429, 5xx and transport errors until
//     the answer's headers arrive. The body then streams to the caller and
//     is counted: reading it to its end gives an error wrapping
//     ErrMediaCorrupt when its length is not the metadata's size, short or
//     long. An error mid-body (lost connection, cancelled context, stall) is
//     the caller's to handle, by calling OpenMedia again.
//   - UploadMedia POSTs the file as the raw body, with its Content-Type,
//     Content-Length and, when it has a name, a Content-Disposition
//     filename. The body streams from MediaUpload.Open, called anew for each
//     attempt; a file above MaxMediaSize is refused before any request, and
//     one whose bytes do not match its Size fails the upload before its last
//     byte is sent (so the service holds no complete request, and the error
//     is not an unknown outcome). It is a write: 429 and a refused dial are
//     retried, a lost answer or a 5xx gives an *UnknownOutcomeError and the
//     file is not sent again. Uploads are paced at ServiceWriteRate, in a
//     bucket per service of their own: Twilio documents no rate for the
//     Media Content Service, and the Chat service's 30 actions a second
//     count channel, user and role writes, not uploads, so an upload does
//     not delay a channel create or a user, nor wait behind them.
//
// Neither direction holds a whole file in memory. A download's body holds
// its slot among the MaxInFlight requests until it is read to its end, fails
// or is closed: it is a request on the wire. A caller that keeps MaxInFlight
// bodies open therefore blocks its own next request; close each promptly.
// The per-request timeout bounds a streamed transfer by its stalls, not as
// a whole: an upload fails when the transport takes no byte of the file for
// that long (or, once all is sent, gets no answer), a download when a read
// waits that long for a byte. A 150 MiB file may take minutes; a stuck one
// fails.
//
// # Logging
//
// The package prints nothing. WithLogger receives debug records of retries;
// they carry the method, path, attempt, delay and error, never credentials.
package remote

// Package remote is chatvault's client for the Twilio Programmable Chat v2
// REST API (https://chat.twilio.com/v2). It reads services, roles, users,
// channels, members and messages for backups, and writes channels, members
// and messages for restores. It knows nothing of the archive.
//
// # Shape
//
// NewClient takes Credentials (AccountSID with AuthToken, or an SK API key
// with its secret; the key pair wins when both are given) and options:
// WithBaseURL, WithMediaURL, WithHTTPClient, WithTimeout, WithLimits,
// WithWebhooks, WithLogger. Credentials and the roots are checked before any
// request:
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
// client will not send credentials to a host an answer names. Channel lists
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
// Answers are decoded in one pass (jsonscan.go): a small scanner checks the
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
// ErrRateLimited (429) and ErrConflict (codes 50201, 50404, 50307). Error
// strings carry the method and the URL path, never the query string or a
// credential.
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
//     delete and user create.
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
//     file is not sent again. Uploads are paced by ServiceWriteRate, in the
//     service's bucket.
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

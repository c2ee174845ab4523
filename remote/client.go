package remote

import (
	"context"
	"iter"
	"net/http"
	"time"
)

// CONTRACT STUB: the signatures below are the agreed API of package remote.
// Bodies are being implemented; callers may compile against them now.

// Credentials authenticate to the API: AccountSID with AuthToken, or
// APIKey (SK…) with APISecret. AccountSID is always needed for API keys too.
type Credentials struct {
	AccountSID string
	AuthToken  string
	APIKey     string
	APISecret  string
}

// Limits bound what the client asks of the service. The zero value of a field
// means its default (see DefaultLimits).
type Limits struct {
	MaxInFlight      int           // requests in flight at once; default 32
	ChannelWriteRate float64       // writes per second to one channel; default 25 (below the service's 30)
	ServiceWriteRate float64       // service-scoped writes per second (channel create/delete, users); default 25
	MaxRetries       int           // attempts after the first for retryable failures; default 8
	MinBackoff       time.Duration // first backoff; default 200ms
	MaxBackoff       time.Duration // backoff cap; default 10s
}

// Option configures a Client.
type Option func(*Client) error

func WithBaseURL(u string) Option          { panic("unimplemented") }
func WithHTTPClient(h *http.Client) Option { panic("unimplemented") }
func WithTimeout(d time.Duration) Option   { panic("unimplemented") }
func WithLimits(l Limits) Option           { panic("unimplemented") }

// WithWebhooks sets the X-Twilio-Webhook-Enabled header sent on every write.
// The default is false: chatvault's writes fire no webhooks.
func WithWebhooks(enabled bool) Option { panic("unimplemented") }

// Client talks to the Chat v2 REST API. It is safe for concurrent use.
type Client struct{}

func NewClient(creds Credentials, opts ...Option) (*Client, error) { panic("unimplemented") }

// Page is one page of a list.
type Page[T any] struct {
	Items       []T
	NextPageURL string // "" on the last page
}

// Requests returns how many HTTP requests the client has sent (retries included).
func (c *Client) Requests() int64 { panic("unimplemented") }

func (c *Client) ListServices(ctx context.Context) iter.Seq2[*Service, error] { panic("unimplemented") }
func (c *Client) FetchService(ctx context.Context, sid string) (*Service, error) {
	panic("unimplemented")
}
func (c *Client) CreateService(ctx context.Context, p ServiceParams) (*Service, error) {
	panic("unimplemented")
}

func (c *Client) ListRoles(ctx context.Context, service string) iter.Seq2[*Role, error] {
	panic("unimplemented")
}

func (c *Client) ListUsers(ctx context.Context, service string) iter.Seq2[*User, error] {
	panic("unimplemented")
}
func (c *Client) FetchUser(ctx context.Context, service, sidOrIdentity string) (*User, error) {
	panic("unimplemented")
}
func (c *Client) CreateUser(ctx context.Context, service string, p UserParams) (*User, error) {
	panic("unimplemented")
}

// ListChannels lists channels of the given types; no types means both
// "public" and "private" (the API's own default is public only).
func (c *Client) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*Channel, error] {
	panic("unimplemented")
}
func (c *Client) FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*Channel, error) {
	panic("unimplemented")
}
func (c *Client) CreateChannel(ctx context.Context, service string, p ChannelParams) (*Channel, error) {
	panic("unimplemented")
}
func (c *Client) UpdateChannel(ctx context.Context, service, channel string, p ChannelParams) (*Channel, error) {
	panic("unimplemented")
}
func (c *Client) DeleteChannel(ctx context.Context, service, channel string) error {
	panic("unimplemented")
}

func (c *Client) ListMembers(ctx context.Context, service, channel string, o ListOptions) iter.Seq2[*Member, error] {
	panic("unimplemented")
}

// MembersPage fetches one page: pageURL "" means the first page built from o,
// otherwise pageURL (a next_page_url) is fetched verbatim.
func (c *Client) MembersPage(ctx context.Context, service, channel string, o ListOptions, pageURL string) (*Page[*Member], error) {
	panic("unimplemented")
}
func (c *Client) FetchMember(ctx context.Context, service, channel, sidOrIdentity string) (*Member, error) {
	panic("unimplemented")
}
func (c *Client) CreateMember(ctx context.Context, service, channel string, p MemberParams) (*Member, error) {
	panic("unimplemented")
}
func (c *Client) UpdateMember(ctx context.Context, service, channel, member string, p MemberParams) (*Member, error) {
	panic("unimplemented")
}
func (c *Client) DeleteMember(ctx context.Context, service, channel, member string) error {
	panic("unimplemented")
}

func (c *Client) ListMessages(ctx context.Context, service, channel string, o ListOptions) iter.Seq2[*Message, error] {
	panic("unimplemented")
}

// MessagesPage fetches one page: pageURL "" means the first page built from o,
// otherwise pageURL (a next_page_url) is fetched verbatim.
func (c *Client) MessagesPage(ctx context.Context, service, channel string, o ListOptions, pageURL string) (*Page[*Message], error) {
	panic("unimplemented")
}
func (c *Client) FetchMessage(ctx context.Context, service, channel, sid string) (*Message, error) {
	panic("unimplemented")
}
func (c *Client) CreateMessage(ctx context.Context, service, channel string, p MessageParams) (*Message, error) {
	panic("unimplemented")
}
func (c *Client) UpdateMessage(ctx context.Context, service, channel, sid string, p MessageParams) (*Message, error) {
	panic("unimplemented")
}
func (c *Client) DeleteMessage(ctx context.Context, service, channel, sid string) error {
	panic("unimplemented")
}

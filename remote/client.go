package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultVersion is the chatvault version the User-Agent names unless
// WithVersion says otherwise.
const DefaultVersion = "dev"

// DefaultBaseURL is the API root used when WithBaseURL is not given.
const DefaultBaseURL = "https://chat.twilio.com"

// DefaultConversationsURL is the Conversations v1 root used when
// WithConversationsURL is not given.
const DefaultConversationsURL = "https://conversations.twilio.com"

// DefaultTimeout bounds one HTTP request (one attempt, body included) unless
// WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// Credentials authenticate to the API: AccountSID with AuthToken, or
// APIKey (SK…) with APISecret. AccountSID is always needed for API keys too.
// When APIKey or APISecret is set the key pair is used and AuthToken is
// ignored.
type Credentials struct {
	AccountSID string
	AuthToken  string
	APIKey     string
	APISecret  string
}

// usesAPIKey reports whether the API key pair, not the auth token, is used.
func (cr Credentials) usesAPIKey() bool { return cr.APIKey != "" || cr.APISecret != "" }

// validate checks the shape of the credentials. Its errors name the field
// and what is wrong with it, never the value: a secret pasted into the wrong
// field must not end up on a terminal or in a log.
func (cr Credentials) validate() error {
	if err := checkSIDShape("account SID", "AC", cr.AccountSID); err != nil {
		return err
	}
	if cr.usesAPIKey() {
		if err := checkSIDShape("API key", "SK", cr.APIKey); err != nil {
			return err
		}
		return checkSecret("API secret", cr.APISecret, "the API key")
	}
	return checkSecret("auth token", cr.AuthToken, "the account SID")
}

// checkSIDShape checks sid against ^XX[0-9a-fA-F]{32}$ with XX = prefix.
func checkSIDShape(what, prefix, sid string) error {
	if sid == "" {
		return fmt.Errorf("%s is missing: give the %s… SID from the Twilio console", what, prefix)
	}
	if !isSID(prefix, sid) {
		return fmt.Errorf("%s is malformed (%d characters): expected %q followed by 32 hexadecimal digits", what, len(sid), prefix)
	}
	return nil
}

// isSID reports whether s is prefix followed by 32 hexadecimal digits.
func isSID(prefix, s string) bool {
	if len(s) != len(prefix)+32 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s[len(prefix):] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

// checkSecret rejects an empty secret or one carrying whitespace or control
// characters (typically a newline read from a file along with it).
func checkSecret(what, secret, pairedWith string) error {
	if secret == "" {
		return fmt.Errorf("%s is missing: it is required with %s", what, pairedWith)
	}
	if strings.ContainsFunc(secret, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%s contains whitespace or control characters: check for a stray newline or space around it", what)
	}
	return nil
}

// Option configures a Client.
type Option func(*Client) error

// WithBaseURL sets the API root (default https://chat.twilio.com). Plain
// http:// is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost),
// such as a local emulator. A path prefix is kept; a query, fragment or user
// information is refused.
func WithBaseURL(u string) Option {
	return func(c *Client) error {
		base, err := parseBaseURL(u)
		if err != nil {
			return err
		}
		c.root = base
		return nil
	}
}

// WithConversationsURL sets the Conversations v1 root (default
// https://conversations.twilio.com), under the same rules as WithBaseURL.
func WithConversationsURL(u string) Option {
	return func(c *Client) error {
		root, err := parseRoot("Conversations URL", DefaultConversationsURL, u)
		if err != nil {
			return err
		}
		c.conv.root = root
		return nil
	}
}

// WithHTTPClient replaces the HTTP client that sends the requests. Its
// redirect policy and transport are used as given; the default client does not
// follow redirects.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		if h == nil {
			return errors.New("WithHTTPClient: the HTTP client is nil")
		}
		c.http = h
		return nil
	}
}

// WithTimeout bounds each HTTP request, from sending it to reading the whole
// answer (default 30s). A media file's upload or download is bounded by
// each stall instead: it fails when no byte moves for that long. Zero means
// no per-request bound; the context still applies.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("WithTimeout: timeout %s is negative: use 0 for none or a positive duration", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLimits sets the client's limits; zero fields take their defaults. The
// limits are validated (see Limits.Validate).
func WithLimits(l Limits) Option {
	return func(c *Client) error {
		if err := l.Validate(); err != nil {
			return err
		}
		c.limits = l.withDefaults()
		return nil
	}
}

// WithVersion names the chatvault version in the User-Agent header.
func WithVersion(v string) Option {
	return func(c *Client) error {
		c.version = v
		return nil
	}
}

// WithWebhooks sets the X-Twilio-Webhook-Enabled header sent on every write.
// The default is false: chatvault's writes fire no webhooks.
func WithWebhooks(enabled bool) Option {
	return func(c *Client) error {
		c.webhooks = enabled
		return nil
	}
}

// WithLogger makes the client report retries and back-offs at debug level.
// The default discards everything. Credentials are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.log = l
		return nil
	}
}

// Client talks to the Chat v2 REST API, and through Conversations to the
// Conversations v1 API. It is safe for concurrent use.
//
// The Chat v2 methods are those of the embedded api, which the
// Conversations view shares, so both have the same method set by
// construction.
type Client struct {
	*api                      // Chat v2, on the base URL
	conv       *Conversations // Conversations v1, on the Conversations URL
	user, pass string         // HTTP Basic credentials
	version    string         // chatvault's, for the User-Agent
	http       *http.Client
	timeout    time.Duration
	limits     Limits
	webhooks   bool
	userAgent  string
	log        *slog.Logger

	sem         chan struct{} // one token per request in flight
	channelRate *limiterSet   // per service+channel writes
	serviceRate *limiterSet   // per service service-scoped writes
	mediaRate   *limiterSet   // per service uploads to the Media Content Service

	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a number in [0, 1); tests replace it.
	jitter func() float64

	requests atomic.Int64
	writes   atomic.Int64

	media    *url.URL // the Media Content Service's root
	mediaStr string   // media without a trailing slash
}

// NewClient checks the credentials and options and builds a Client. It sends
// no request.
func NewClient(creds Credentials, opts ...Option) (*Client, error) {
	if err := creds.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		timeout: DefaultTimeout,
		limits:  DefaultLimits(),
		log:     slog.New(slog.DiscardHandler),
		sleep:   sleepCtx,
		jitter:  randFloat,
	}
	if creds.usesAPIKey() {
		c.user, c.pass = creds.APIKey, creds.APISecret
	} else {
		c.user, c.pass = creds.AccountSID, creds.AuthToken
	}
	c.api = newAPI(c, chatAPI)
	c.conv = &Conversations{newAPI(c, conversationsAPI)}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	c.api.ready()
	c.conv.ready()
	if c.http == nil {
		c.http = defaultHTTPClient(c.limits.MaxInFlight)
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	c.userAgent = fmt.Sprintf("chatvault/%s (go; %s/%s)", c.version, runtime.GOOS, runtime.GOARCH)
	c.sem = make(chan struct{}, c.limits.MaxInFlight)
	c.channelRate = newLimiterSet(c.limits.ChannelWriteRate)
	c.serviceRate = newLimiterSet(c.limits.ServiceWriteRate)
	c.mediaRate = newLimiterSet(c.limits.ServiceWriteRate)
	if c.media == nil {
		media, err := parseMediaURL(DefaultMediaURL)
		if err != nil {
			return nil, err
		}
		c.media = media
	}
	c.mediaStr = strings.TrimSuffix(c.media.String(), "/")
	return c, nil
}

// defaultHTTPClient keeps as many idle connections as requests may be in
// flight, and does not follow redirects: the API does not redirect, and a
// followed redirect would re-send a write.
func defaultHTTPClient(maxInFlight int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxInFlight
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// parseBaseURL validates the Chat API root.
func parseBaseURL(raw string) (*url.URL, error) {
	return parseRoot("base URL", DefaultBaseURL, raw)
}

// parseRoot validates an API root; what names it in errors and example is
// a valid one. Its errors show the URL with any password redacted.
func parseRoot(what, example, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s is not a valid URL (%v): give one like %s", what, err, example)
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%s %q must start with https:// (like %s)", what, shown, example)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%s %q has no host: give one like %s", what, shown, example)
	case u.User != nil:
		return nil, fmt.Errorf("%s %q must not contain credentials: pass them as credentials instead", what, shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%s %q must not have a query or fragment", what, shown)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("%s %q uses plain http, which is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost): use https", what, shown)
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Conversations returns the client's Conversations v1 view: the same
// methods as the Client's, sent to the Conversations URL and read in
// Conversations' shapes (see doc.go). It shares the client's transport,
// credentials, limits, counters and webhook setting.
func (c *Client) Conversations() *Conversations { return c.conv }

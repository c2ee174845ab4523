package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMediaURL is the Media Content Service's root.
const DefaultMediaURL = "https://mcs.us1.twilio.com"

// MaxMediaSize is the largest file the Media Content Service takes (150 MiB).
const MaxMediaSize = 150 << 20

// ErrMediaCorrupt is returned (wrapped) when a download's bytes do not match
// what the service said of the file (its size). The download may be retried.
var ErrMediaCorrupt = errors.New("media download does not match its metadata")

// MediaFile is a Media Content Service resource (ME…).
type MediaFile struct {
	SID         string    `json:"sid"`
	ServiceSID  string    `json:"service_sid"`
	ChannelSID  string    `json:"channel_sid"`
	MessageSID  string    `json:"message_sid"`
	Author      string    `json:"author"`
	ContentType string    `json:"content_type"`
	Filename    string    `json:"filename"`
	Size        int64     `json:"size"`
	DateCreated time.Time `json:"date_created"`
	DateUpdated time.Time `json:"date_updated"`
	URL         string    `json:"url"`

	Raw json.RawMessage `json:"-"`
}

func (m *MediaFile) setRaw(b json.RawMessage) { m.Raw = b }

// MediaUpload describes a file to upload. Open is called once per attempt
// (a 429 answer is retried with a fresh body) and must return the file from
// its first byte; Size is its length in bytes.
type MediaUpload struct {
	ContentType string
	Filename    string
	Size        int64
	Open        func() (io.ReadCloser, error)
}

// defaultMediaType is sent for an upload without a content type.
const defaultMediaType = "application/octet-stream"

// check says what is wrong with u before anything is sent, and returns its
// content type.
func (u MediaUpload) check() (string, error) {
	switch {
	case u.Open == nil:
		return "", errors.New("the upload has no Open function: give one that returns the file from its first byte")
	case u.Size < 0:
		return "", fmt.Errorf("the file's size is %d bytes: give its length in bytes", u.Size)
	case u.Size > MaxMediaSize:
		return "", fmt.Errorf("the file is %d bytes, larger than the %d bytes (150 MiB) the Media Content Service takes: it cannot be uploaded", u.Size, MaxMediaSize)
	case u.ContentType == "":
		return defaultMediaType, nil
	}
	if _, _, err := mime.ParseMediaType(u.ContentType); err != nil {
		return "", fmt.Errorf("content type %q is not a media type (%v): give one like image/png", printable(u.ContentType), err)
	}
	return u.ContentType, nil
}

// WithMediaURL sets the Media Content Service's root (default
// DefaultMediaURL), checked like the base URL: http:// only for loopback
// hosts; a path prefix is kept.
func WithMediaURL(u string) Option {
	return func(c *Client) error {
		root, err := parseMediaURL(u)
		if err != nil {
			return err
		}
		c.media = root
		return nil
	}
}

// MediaURL returns the Media Content Service's root the client talks to.
func (c *Client) MediaURL() string { return c.mediaStr }

// mediaPath is /v1/Services/{service}/Media/{sid}, once both are SIDs.
func mediaPath(service, sid string) (string, error) {
	if err := checkSIDShape("service SID", "IS", service); err != nil {
		return "", err
	}
	if err := checkSIDShape("media SID", "ME", sid); err != nil {
		return "", err
	}
	return "/v1/Services/" + service + "/Media/" + sid, nil
}

// parseMediaURL validates the Media Content Service's root.
func parseMediaURL(raw string) (*url.URL, error) {
	return parseRoot("media URL", DefaultMediaURL, raw)
}

// mediaCall builds a call for path (escaped, starting with /v1/) under the
// media root.
func (c *Client) mediaCall(method, path string) *call {
	return &call{method: method, url: c.mediaStr + path, path: strings.TrimSuffix(c.media.EscapedPath(), "/") + path,
		hint: "check that the media URL points at the Media Content Service"}
}

// FetchMedia fetches a Media resource's metadata.
func (c *Client) FetchMedia(ctx context.Context, service, sid string) (*MediaFile, error) {
	p, err := mediaPath(service, sid)
	if err != nil {
		return nil, fmt.Errorf("fetch media: %w", err)
	}
	return one[MediaFile](ctx, c, c.mediaCall(http.MethodGet, p), "media resource")
}

// OpenMedia fetches the metadata, then opens the file's content (following
// …/Content's redirect to the temporary URL, re-fetching it once through the
// metadata when it has expired). The body streams; reading it to EOF returns
// an error wrapping ErrMediaCorrupt when the byte count differs from Size.
// An error while reading it (a lost connection, the context's end, no byte
// within the client's timeout) is returned as the transport gives it: call
// OpenMedia again to start over.
//
// The caller closes the body. Until it is read to its end, fails or is
// closed, it holds one of the client's Limits.MaxInFlight slots: it is a
// request in flight, so a caller that keeps that many bodies open blocks
// its own next request.
//
// Credentials go only to the media root: the temporary URL, which may be on
// another host, is fetched without them.
func (c *Client) OpenMedia(ctx context.Context, service, sid string) (*MediaFile, io.ReadCloser, error) {
	p, err := mediaPath(service, sid)
	if err != nil {
		return nil, nil, fmt.Errorf("open media: %w", err)
	}
	m, err := one[MediaFile](ctx, c, c.mediaCall(http.MethodGet, p), "media resource")
	if err != nil {
		return nil, nil, err
	}
	body, expired, err := c.openContent(ctx, p, "")
	if expired {
		// The temporary URL lapsed between the redirect and its fetch: ask
		// the metadata for a fresh one, once.
		if m, err = one[MediaFile](ctx, c, c.mediaCall(http.MethodGet, p), "media resource"); err != nil {
			return nil, nil, err
		}
		body, expired, err = c.openContent(ctx, p, temporaryLink(m.Raw))
		if expired {
			// Not %w: a 403 from a URL that takes no credentials must not
			// pass for ErrAuthentication.
			err = fmt.Errorf("open media %s: its temporary URL was refused twice, the second time right after it was issued (%v): try again later", sid, err)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return m, &mediaReader{body: body, sid: sid, want: m.Size}, nil
}

// openContent opens a file's bytes: through direct, a temporary URL, or
// else through p+"/Content" and the redirect it answers with. expired
// reports that the temporary URL answered 403.
func (c *Client) openContent(ctx context.Context, p, direct string) (body io.ReadCloser, expired bool, err error) {
	target := direct
	if target == "" {
		r := c.mediaCall(http.MethodGet, p+"/Content")
		r.redirect, r.stream = true, true
		o, err := c.run(ctx, r)
		if err != nil {
			return nil, false, err
		}
		if o.stream != nil {
			return o.stream, false, nil // served in place, or by an HTTP client that follows redirects
		}
		target = o.location
	}
	r, err := c.temporaryCall(target)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", c.media.EscapedPath()+p+"/Content", err)
	}
	r.stream = true
	o, err := c.run(ctx, r)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		return nil, true, err
	}
	return o.stream, false, err
}

// temporaryCall builds the GET of a file's temporary URL, resolved against
// the media root. It carries credentials only when it is on the media root's
// scheme, host and port. Errors name its scheme, host and path, never its
// query (which holds its signature).
func (c *Client) temporaryCall(raw string) (*call, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("the temporary URL of the file is not a valid URL: check --media-url, or the proxy in front of the service")
	}
	u = c.media.ResolveReference(u)
	switch {
	case u.User != nil:
		return nil, errors.New("the temporary URL of the file carries user information: refusing to follow it")
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		return nil, fmt.Errorf("the temporary URL of the file is on %s://%s, which is neither https nor a loopback host: refusing to follow it", printable(u.Scheme), printable(u.Host))
	}
	u.Fragment, u.RawFragment = "", ""
	shown := u.Scheme + "://" + u.Host + u.EscapedPath()
	return &call{method: http.MethodGet, url: u.String(), path: shown, anon: !sameOrigin(u, c.media)}, nil
}

// temporaryLink is links.content_direct_temporary of a Media resource, or
// "" when it has none.
func temporaryLink(raw json.RawMessage) string {
	var v struct {
		Links struct {
			Direct string `json:"content_direct_temporary"`
		} `json:"links"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.Links.Direct
}

// mediaReader counts a download's bytes against the metadata's size.
type mediaReader struct {
	body      io.ReadCloser
	sid       string
	want, got int64
}

func (m *mediaReader) Read(p []byte) (int, error) {
	n, err := m.body.Read(p)
	m.got += int64(n)
	switch {
	case m.got > m.want:
		m.body.Close() // give the slot back now; the rest is of no use
		return n, fmt.Errorf("media %s: %w: the download runs past the %d bytes its metadata gives: download it again", m.sid, ErrMediaCorrupt, m.want)
	case err == io.EOF && m.got < m.want:
		return n, fmt.Errorf("media %s: %w: the download ended after %d of the %d bytes its metadata gives: download it again", m.sid, ErrMediaCorrupt, m.got, m.want)
	}
	return n, err
}

func (m *mediaReader) Close() error { return m.body.Close() }

// UploadMedia uploads a file to the service's Media Content Service and
// returns the new Media resource. Like every write, a lost answer gives an
// *UnknownOutcomeError and is not sent again.
//
// The body streams from u.Open, opened anew for each attempt (a 429 answer,
// or a connection refused before anything was sent). A file larger than
// MaxMediaSize is refused before any request, and one that does not have
// u.Size bytes fails the upload before its last byte is sent. Uploads are
// paced at the service's write rate (Limits.ServiceWriteRate) in a bucket of
// their own (see the package doc, "Media"). An empty
// content type is sent as application/octet-stream; u.Filename, when set,
// is sent as the Content-Disposition's filename.
func (c *Client) UploadMedia(ctx context.Context, service string, u MediaUpload) (*MediaFile, error) {
	if err := checkSIDShape("service SID", "IS", service); err != nil {
		return nil, fmt.Errorf("upload media: %w", err)
	}
	ct, err := u.check()
	if err != nil {
		return nil, fmt.Errorf("upload media: %w", err)
	}
	r := c.mediaCall(http.MethodPost, "/v1/Services/"+service+"/Media")
	r.send, r.sendSize, r.sendType, r.sendName = u.Open, u.Size, ct, u.Filename
	r.limiter = c.mediaRate.get(service)
	return one[MediaFile](ctx, c, r, "media resource")
}

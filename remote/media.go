package remote

// CONTRACT STUB (this round's media issue). The remote-media work replaces
// every body below; the signatures are what backup and restore code against.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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

// MediaUpload describes a file to upload. Open is called once per attempt
// (a 429 answer is retried with a fresh body) and must return the file from
// its first byte; Size is its length in bytes.
type MediaUpload struct {
	ContentType string
	Filename    string
	Size        int64
	Open        func() (io.ReadCloser, error)
}

var errMediaStub = errors.New("remote: media client not implemented yet")

// WithMediaURL sets the Media Content Service's root (default DefaultMediaURL).
func WithMediaURL(u string) Option { return func(*Client) error { return nil } }

// FetchMedia fetches a Media resource's metadata.
func (c *Client) FetchMedia(ctx context.Context, service, sid string) (*MediaFile, error) {
	return nil, errMediaStub
}

// OpenMedia fetches the metadata, then opens the file's content (following
// …/Content's redirect to the temporary URL, re-fetching it once through the
// metadata when it has expired). The body streams; reading it to EOF returns
// an error wrapping ErrMediaCorrupt when the byte count differs from Size.
// The caller closes it.
func (c *Client) OpenMedia(ctx context.Context, service, sid string) (*MediaFile, io.ReadCloser, error) {
	return nil, nil, errMediaStub
}

// UploadMedia uploads a file to the service's Media Content Service and
// returns the new Media resource. Like every write, a lost answer gives an
// *UnknownOutcomeError and is not sent again.
func (c *Client) UploadMedia(ctx context.Context, service string, u MediaUpload) (*MediaFile, error) {
	return nil, errMediaStub
}

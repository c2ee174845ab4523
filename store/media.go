package store

// CONTRACT STUB (this round's media issue). The store-media work replaces
// every body below; the signatures are what backup and restore code against.

import (
	"context"
	"errors"
	"io"
)

// MediaRecord ties a service's media SID to the archived file's content.
// It is versioned like the other resources of the service (entity = ME SID),
// so snapshots see the media of their time and forget frees what no kept
// snapshot sees; the content is stored once per SHA-256 across services.
type MediaRecord struct {
	SID         string `json:"sid"`
	SHA256      string `json:"sha256"` // lower-case hex of the content
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"`
	Raw         []byte `json:"-"` // the Media resource as the service returned it, if any
}

// UserRecord is an archived user (US…).
type UserRecord struct {
	SID      string
	Identity string
	Raw      []byte
}

var errMediaStub = errors.New("store: media not implemented yet")

// PutContent streams r into the archive's content store in checksummed
// chunks (never one value or one transaction for a large file) and returns
// the content's SHA-256 (hex) and length. When want > 0 and the length
// differs, or wantSHA is set and differs, nothing is kept and the error
// says so. Content already archived is not stored twice.
func (a *Archive) PutContent(ctx context.Context, r io.Reader, want int64, wantSHA string) (sha string, size int64, err error) {
	return "", 0, errMediaStub
}

// HasContent reports whether content with that SHA-256 is archived whole.
func (a *Archive) HasContent(sha string) (bool, error) { return false, errMediaStub }

// OpenContent streams archived content, checking every chunk's checksum
// and, at EOF, the SHA-256 (a mismatch is ErrCorrupt naming the content).
func (a *Archive) OpenContent(sha string) (io.ReadCloser, error) { return nil, errMediaStub }

// CurrentMedia returns the newest archived record of a service's media SID.
func (a *Archive) CurrentMedia(service, mediaSID string) (MediaRecord, bool, error) {
	return MediaRecord{}, false, errMediaStub
}

// PutMedia records a media SID of the writer's service in its snapshot.
// The content must have been stored with PutContent first.
func (w *Writer) PutMedia(m MediaRecord) error { return errMediaStub }

// Media returns the media record the snapshot sees for a media SID.
func (v *View) Media(mediaSID string) (MediaRecord, bool, error) {
	return MediaRecord{}, false, errMediaStub
}

// PutUsers records users (versioned, entity = US SID, label = identity).
func (w *Writer) PutUsers(us []UserRecord) error { return errMediaStub }

// DeleteUsers records that users are gone from the service.
func (w *Writer) DeleteUsers(sids []string) error { return errMediaStub }

// LiveUsers lists the SIDs of the service's users in the current state.
func (a *Archive) LiveUsers(service string) ([]string, error) { return nil, errMediaStub }

// Users returns the users the snapshot sees, ordered by SID.
func (v *View) Users() ([]UserRecord, error) { return nil, errMediaStub }

// SetAPI records which API ("chat" or "conversations") the snapshot was read
// through; Snapshot.API reports it ("" for snapshots of earlier releases,
// which were all read through Chat).
func (w *Writer) SetAPI(api string) error { return errMediaStub }

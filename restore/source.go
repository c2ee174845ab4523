package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/chatvault/chatvault/store"
)

// archive is what restore reads from and journals into; storeArchive adapts
// *store.Archive, and the unit tests use an in-memory fake.
type archive interface {
	Services() ([]string, error)
	Snapshots() ([]store.Snapshot, error)
	ResolveSnapshot(sel, service string) (store.Snapshot, error)
	SnapshotAsOf(service string, t time.Time) (store.Snapshot, error)
	View(snapshotID uint64) (snapshotView, error)
	Journal(source, target string) (journal, error)
	HasContent(sha string) (bool, error)
	OpenContent(sha string) (io.ReadCloser, error)
}

// snapshotView is the part of *store.View restore reads.
type snapshotView interface {
	Channels() ([]store.ChannelRecord, error)
	Channel(sidOrUniqueName string) (store.ChannelRecord, error)
	Roles() ([]store.RoleRecord, error)
	Members(channelSID string) ([]store.MemberRecord, error)
	Messages(channelSID string) iter.Seq2[store.MessageRecord, error]
	MessageCount(channelSID string) (int, error)
	Users() ([]store.UserRecord, error)
	Media(mediaSID string) (store.MediaRecord, bool, error)
}

// journal is *store.Journal.
type journal interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, value []byte) error
	Scan(prefix string, fn func(key string, value []byte) error) error
	Flush(ctx context.Context) error
}

var (
	_ snapshotView = (*store.View)(nil)
	_ journal      = (*store.Journal)(nil)
)

type storeArchive struct{ a *store.Archive }

func (s storeArchive) Services() ([]string, error)          { return s.a.Services() }
func (s storeArchive) Snapshots() ([]store.Snapshot, error) { return s.a.Snapshots() }
func (s storeArchive) ResolveSnapshot(sel, service string) (store.Snapshot, error) {
	return s.a.ResolveSnapshot(sel, service)
}
func (s storeArchive) SnapshotAsOf(service string, t time.Time) (store.Snapshot, error) {
	return s.a.SnapshotAsOf(service, t)
}
func (s storeArchive) View(id uint64) (snapshotView, error) { return s.a.View(id) }
func (s storeArchive) Journal(source, target string) (journal, error) {
	return s.a.Journal(source, target)
}
func (s storeArchive) HasContent(sha string) (bool, error)           { return s.a.HasContent(sha) }
func (s storeArchive) OpenContent(sha string) (io.ReadCloser, error) { return s.a.OpenContent(sha) }

// The archived resources are decoded from their raw JSON into these types
// rather than the remote ones, because restore must tell null from "" (and
// from absent) for the fields it sends: a nil pointer is not sent.

type srcChannel struct {
	SID          string     `json:"sid"`
	FriendlyName *string    `json:"friendly_name"`
	UniqueName   *string    `json:"unique_name"`
	Attributes   *string    `json:"attributes"`
	Type         string     `json:"type"`
	CreatedBy    *string    `json:"created_by"`
	DateCreated  *time.Time `json:"date_created"`
	DateUpdated  *time.Time `json:"date_updated"`
}

type srcMember struct {
	SID                      string     `json:"sid"`
	Identity                 string     `json:"identity"`
	RoleSID                  *string    `json:"role_sid"`
	Attributes               *string    `json:"attributes"`
	DateCreated              *time.Time `json:"date_created"`
	DateUpdated              *time.Time `json:"date_updated"`
	LastConsumedMessageIndex *int64     `json:"last_consumed_message_index"`
	LastConsumptionTimestamp *time.Time `json:"last_consumption_timestamp"`
}

type srcMessage struct {
	SID           string     `json:"sid"`
	Index         int64      `json:"index"`
	From          *string    `json:"from"`
	Body          *string    `json:"body"`
	Attributes    *string    `json:"attributes"`
	Type          string     `json:"type"`
	Media         *srcMedia  `json:"media"`
	LastUpdatedBy *string    `json:"last_updated_by"`
	DateCreated   *time.Time `json:"date_created"`
	DateUpdated   *time.Time `json:"date_updated"`
}

type srcMedia struct {
	SID         string `json:"sid"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"`
}

func parseChannel(rec store.ChannelRecord) (*srcChannel, error) {
	var c srcChannel
	if err := json.Unmarshal(rec.Raw, &c); err != nil {
		return nil, fmt.Errorf("decode archived channel %s: %w", rec.SID, err)
	}
	if c.SID == "" {
		c.SID = rec.SID
	}
	return &c, nil
}

func parseMember(rec store.MemberRecord) (*srcMember, error) {
	var m srcMember
	if err := json.Unmarshal(rec.Raw, &m); err != nil {
		return nil, fmt.Errorf("decode archived member %s: %w", rec.SID, err)
	}
	if m.SID == "" {
		m.SID = rec.SID
	}
	if m.Identity == "" {
		m.Identity = rec.Identity
	}
	if m.Identity == "" {
		return nil, fmt.Errorf("archived member %s: %w", rec.SID, errNoIdentity)
	}
	return &m, nil
}

// errNoIdentity is parseMember's error for a member without identity: a
// conversation's SMS or WhatsApp participant, known by its address alone.
// Restore leaves it out (SkipParticipant).
var errNoIdentity = errors.New("has no identity")

func parseMessage(rec store.MessageRecord) (*srcMessage, error) {
	var m srcMessage
	if err := json.Unmarshal(rec.Raw, &m); err != nil {
		return nil, fmt.Errorf("decode archived message %s (index %d): %w", rec.SID, rec.Index, err)
	}
	if m.SID == "" {
		m.SID = rec.SID
	}
	m.Index = rec.Index
	return &m, nil
}

// media returns the SID of the message's media, "" for a text message.
func (m *srcMessage) media() string {
	if m.Media != nil && m.Media.SID != "" {
		return m.Media.SID
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// utc returns a copy of t in UTC, whole seconds (what the API stores).
func utc(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

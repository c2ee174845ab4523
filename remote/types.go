package remote

import (
	"encoding/json"
	"time"
)

// Every resource type below is decoded from the API's JSON into typed fields
// and also keeps Raw, the exact bytes the API returned for that object, so the
// archive can store it losslessly (unknown fields included). Raw is never
// re-encoded: it is a copy of the bytes inside the response body. The types
// are Chat v2's; a Conversations v1 record fills them through the table of
// shape.go (a conversation is a Channel, a participant a Member), and its
// Raw is in Conversations' shape.
//
// Nullable strings from the API decode to "" and nullable dates to the zero
// time.Time; callers that must tell null from "" read Raw.

// Service is a Chat v2 Service (IS…).
type Service struct {
	SID                          string    `json:"sid"`
	AccountSID                   string    `json:"account_sid"`
	FriendlyName                 string    `json:"friendly_name"`
	DateCreated                  time.Time `json:"date_created"`
	DateUpdated                  time.Time `json:"date_updated"`
	DefaultServiceRoleSID        string    `json:"default_service_role_sid"`
	DefaultChannelRoleSID        string    `json:"default_channel_role_sid"`
	DefaultChannelCreatorRoleSID string    `json:"default_channel_creator_role_sid"`
	URL                          string    `json:"url"`

	Raw json.RawMessage `json:"-"`
}

// Role is a Chat v2 Role (RL…).
type Role struct {
	SID          string    `json:"sid"`
	ServiceSID   string    `json:"service_sid"`
	FriendlyName string    `json:"friendly_name"`
	Type         string    `json:"type"` // "channel" or "deployment"
	Permissions  []string  `json:"permissions"`
	DateCreated  time.Time `json:"date_created"`
	DateUpdated  time.Time `json:"date_updated"`

	Raw json.RawMessage `json:"-"`
}

// User is a Chat v2 User (US…).
type User struct {
	SID          string    `json:"sid"`
	ServiceSID   string    `json:"service_sid"`
	Identity     string    `json:"identity"`
	FriendlyName string    `json:"friendly_name"`
	Attributes   string    `json:"attributes"`
	RoleSID      string    `json:"role_sid"`
	DateCreated  time.Time `json:"date_created"`
	DateUpdated  time.Time `json:"date_updated"`

	Raw json.RawMessage `json:"-"`
}

// Channel is a Chat v2 Channel (CH…).
type Channel struct {
	SID           string    `json:"sid"`
	ServiceSID    string    `json:"service_sid"`
	FriendlyName  string    `json:"friendly_name"`
	UniqueName    string    `json:"unique_name"`
	Attributes    string    `json:"attributes"`
	Type          string    `json:"type"` // "public" or "private"
	CreatedBy     string    `json:"created_by"`
	DateCreated   time.Time `json:"date_created"`
	DateUpdated   time.Time `json:"date_updated"`
	MembersCount  int       `json:"members_count"`
	MessagesCount int       `json:"messages_count"`
	URL           string    `json:"url"`

	Raw json.RawMessage `json:"-"`
}

// Member is a Chat v2 Member (MB…) of a channel.
type Member struct {
	SID                      string     `json:"sid"`
	ChannelSID               string     `json:"channel_sid"`
	ServiceSID               string     `json:"service_sid"`
	Identity                 string     `json:"identity"`
	RoleSID                  string     `json:"role_sid"`
	Attributes               string     `json:"attributes"`
	DateCreated              time.Time  `json:"date_created"`
	DateUpdated              time.Time  `json:"date_updated"`
	LastConsumedMessageIndex *int       `json:"last_consumed_message_index"`
	LastConsumptionTimestamp *time.Time `json:"last_consumption_timestamp"`
	URL                      string     `json:"url"`

	Raw json.RawMessage `json:"-"`
}

// Message is a Chat v2 Message (IM…) in a channel.
type Message struct {
	SID           string    `json:"sid"`
	ChannelSID    string    `json:"channel_sid"`
	ServiceSID    string    `json:"service_sid"`
	To            string    `json:"to"`
	From          string    `json:"from"`
	Body          string    `json:"body"`
	Attributes    string    `json:"attributes"`
	Index         int64     `json:"index"`
	Type          string    `json:"type"` // "text" or "media"
	Media         *Media    `json:"media"`
	WasEdited     bool      `json:"was_edited"`
	LastUpdatedBy string    `json:"last_updated_by"`
	DateCreated   time.Time `json:"date_created"`
	DateUpdated   time.Time `json:"date_updated"`
	URL           string    `json:"url"`

	Raw json.RawMessage `json:"-"`
}

// Media describes the media attached to a media message.
type Media struct {
	SID         string `json:"sid"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"`
}

// Parameters of create and update calls. A nil pointer means "not sent", so
// the service applies its default; a non-nil pointer is sent even when it
// points at the zero value (an explicit empty Body or "{}" Attributes).
// Dates are sent as RFC 3339 in UTC, whole seconds.

// ServiceParams are the parameters of CreateService.
type ServiceParams struct {
	FriendlyName string
}

// UserParams are the parameters of CreateUser and UpdateUser. Identity is
// sent on create only.
type UserParams struct {
	Identity     string // required on create
	RoleSID      *string
	Attributes   *string
	FriendlyName *string
}

// ChannelParams are the parameters of CreateChannel and UpdateChannel.
// Type is sent on create only.
type ChannelParams struct {
	FriendlyName *string
	UniqueName   *string
	Attributes   *string
	Type         string // "public" or "private"; create only, "" = service default
	CreatedBy    *string
	DateCreated  *time.Time
	DateUpdated  *time.Time
}

// MemberParams are the parameters of CreateMember and UpdateMember.
// Identity is sent on create only.
type MemberParams struct {
	Identity                 string // required on create
	RoleSID                  *string
	Attributes               *string
	LastConsumedMessageIndex *int
	LastConsumptionTimestamp *time.Time
	DateCreated              *time.Time
	DateUpdated              *time.Time
}

// MessageParams are the parameters of CreateMessage and UpdateMessage.
// MediaSID is sent on create only.
type MessageParams struct {
	From          *string
	Body          *string
	Attributes    *string
	LastUpdatedBy *string
	MediaSID      *string
	DateCreated   *time.Time
	DateUpdated   *time.Time
}

// ListOptions shape a list call. The zero value lists in the API's default
// order with the API's maximum page size (100).
type ListOptions struct {
	PageSize int    // 1..100; 0 means 100
	Order    string // messages only: "asc" (default) or "desc"
}

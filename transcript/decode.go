package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/chatvault/chatvault/store"
)

// The resources as the transcript reads them. Chat v2 and Conversations
// v1 name a few fields differently; both spellings are read.

type rawChannel struct {
	UniqueName   string `json:"unique_name"`
	FriendlyName string `json:"friendly_name"`
	Type         string `json:"type"`
	State        string `json:"state"`
	CreatedBy    string `json:"created_by"`
	DateCreated  string `json:"date_created"`
	Attributes   string `json:"attributes"`
}

type rawMember struct {
	Identity                 string `json:"identity"`
	Attributes               string `json:"attributes"`
	DateCreated              string `json:"date_created"`
	LastConsumedMessageIndex *int64 `json:"last_consumed_message_index"`
	LastConsumptionTimestamp string `json:"last_consumption_timestamp"`
	LastReadMessageIndex     *int64 `json:"last_read_message_index"`
	LastReadTimestamp        string `json:"last_read_timestamp"`
}

// Media is the file attached to a media message.
type Media struct {
	SID         string `json:"sid"`
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
}

type rawMessage struct {
	From          string          `json:"from"`
	Author        string          `json:"author"`
	Body          *string         `json:"body"`
	Attributes    string          `json:"attributes"`
	DateCreated   string          `json:"date_created"`
	DateUpdated   string          `json:"date_updated"`
	WasEdited     *bool           `json:"was_edited"` // Chat only
	LastUpdatedBy string          `json:"last_updated_by"`
	Media         json.RawMessage `json:"media"`
}

func decodeChannel(ch store.ChannelRecord, w *writer) (channelInfo, error) {
	var c rawChannel
	if err := json.Unmarshal(ch.Raw, &c); err != nil {
		return channelInfo{}, fmt.Errorf("the channel in the archive is not JSON: %w", err)
	}
	info := channelInfo{SID: ch.SID, UniqueName: c.UniqueName, Title: c.FriendlyName, Type: c.Type,
		CreatedBy: c.CreatedBy, Attributes: prettyAttributes(c.Attributes)}
	if info.Type == "" {
		info.Type = "private" // a conversation is a private channel
	}
	if info.Title == "" {
		info.Title = c.UniqueName
	}
	if info.Title == "" {
		info.Title = ch.SID
	}
	if t, ok := parseTime(c.DateCreated); ok {
		info.Created = w.localFull(t)
	}
	return info, nil
}

// members lists the channel's members by identity, and who read up to
// which message index.
func (w *writer) members(channel string) ([]memberView, map[int64][]string, error) {
	recs, err := w.v.Members(channel)
	if err != nil {
		return nil, nil, err
	}
	out := make([]memberView, 0, len(recs))
	readBy := make(map[int64][]string)
	for _, r := range recs {
		var m rawMember
		if err := json.Unmarshal(r.Raw, &m); err != nil {
			return nil, nil, fmt.Errorf("member %s in the archive is not JSON: %w", r.SID, err)
		}
		mv := memberView{Identity: m.Identity, Attributes: prettyAttributes(m.Attributes)}
		if mv.Identity == "" {
			mv.Identity = r.Identity
		}
		if t, ok := parseTime(m.DateCreated); ok {
			mv.Joined = w.localFull(t)
		}
		idx, at := m.LastConsumedMessageIndex, m.LastConsumptionTimestamp
		if idx == nil {
			idx, at = m.LastReadMessageIndex, m.LastReadTimestamp
		}
		if idx != nil {
			mv.HasRead, mv.ReadIndex = true, *idx
			readBy[*idx] = append(readBy[*idx], mv.Identity)
		}
		if t, ok := parseTime(at); ok {
			mv.ReadAt = w.localFull(t)
		}
		out = append(out, mv)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Identity < out[j].Identity })
	for _, ids := range readBy {
		sort.Strings(ids)
	}
	return out, readBy, nil
}

// message turns an archived message into what its page shows, and returns
// its creation time.
func (w *writer) message(m store.MessageRecord) (messageView, time.Time, error) {
	var r rawMessage
	if err := json.Unmarshal(m.Raw, &r); err != nil {
		return messageView{}, time.Time{}, fmt.Errorf("message %s in the archive is not JSON: %w", m.SID, err)
	}
	mv := messageView{Index: m.Index, Author: r.From, Attributes: prettyAttributes(r.Attributes)}
	if mv.Author == "" {
		mv.Author = r.Author
	}
	if mv.Author == "" {
		mv.Author = "(system)"
	}
	if r.Body != nil {
		mv.Body = *r.Body
	}
	created, ok := parseTime(r.DateCreated)
	if ok {
		mv.ISO = created.UTC().Format(time.RFC3339)
		local := created.In(w.o.Location)
		mv.Local = local.Format("15:04:05")
		mv.LocalFull = w.localFull(created)
		mv.UTC = created.UTC().Format("15:04:05 UTC")
	}
	updated, uok := parseTime(r.DateUpdated)
	if r.edited() {
		mv.Edited = true
		mv.EditedBy = r.LastUpdatedBy
		if uok {
			mv.EditedAt = w.localFull(updated)
		}
	}
	if md := decodeMedia(r.Media); md != nil {
		name := md.Filename
		if name == "" {
			name = MediaFileName(md.SID, md.ContentType)
		}
		mv.Media = &mediaView{
			Path:  "media/" + MediaFileName(md.SID, md.ContentType),
			Name:  name,
			Type:  md.ContentType,
			Size:  HumanSize(md.Size),
			Image: isImage(md.ContentType),
		}
	}
	return mv, created, nil
}

// MessageMedia returns the media of an archived message (its JSON as the
// API returned it): Chat's media object, or the first element of
// Conversations' media array. ok is false when the message has none.
func MessageMedia(rawMessage []byte) (m Media, ok bool) {
	var r struct {
		Media json.RawMessage `json:"media"`
	}
	if json.Unmarshal(rawMessage, &r) != nil {
		return Media{}, false
	}
	if p := decodeMedia(r.Media); p != nil {
		return *p, true
	}
	return Media{}, false
}

// edited tells whether the message was edited: was_edited, in Chat's
// shape; else (Conversations, where a message never edited has no
// date_updated) a date_updated later than date_created. An editor named
// with a later date_updated counts too.
func (r rawMessage) edited() bool {
	created, cok := parseTime(r.DateCreated)
	updated, uok := parseTime(r.DateUpdated)
	later := cok && uok && updated.After(created)
	return r.WasEdited != nil && *r.WasEdited || later && (r.LastUpdatedBy != "" || r.WasEdited == nil)
}

// MessageEdit tells whether an archived message (in either API's shape)
// was edited, by whom (last_updated_by, when archived) and when
// (date_updated as archived), by the rule the transcripts use.
func MessageEdit(rawMsg []byte) (edited bool, by, at string) {
	var r rawMessage
	if json.Unmarshal(rawMsg, &r) != nil || !r.edited() {
		return false, "", ""
	}
	return true, r.LastUpdatedBy, r.DateUpdated
}

// decodeMedia reads Chat's media object or the first element of
// Conversations' media array; nil when the message has none.
func decodeMedia(raw json.RawMessage) *Media {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var one Media
	if raw[0] == '[' {
		var list []Media
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return nil
		}
		one = list[0]
	} else if json.Unmarshal(raw, &one) != nil {
		return nil
	}
	if one.SID == "" {
		return nil
	}
	return &one
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func (w *writer) localFull(t time.Time) string {
	return t.In(w.o.Location).Format("2006-01-02 15:04:05 MST")
}

func (w *writer) day(t time.Time) string {
	if t.IsZero() {
		return "unknown date"
	}
	return t.In(w.o.Location).Format("Monday, 2 January 2006")
}

func zoneName(loc *time.Location) string {
	if loc.String() == "Local" {
		name, _ := time.Now().Zone()
		return name
	}
	return loc.String()
}

// prettyAttributes indents a JSON attributes string for reading; "" and an
// empty object give "", so no attributes box is shown.
func prettyAttributes(s string) string {
	s = string(bytes.TrimSpace([]byte(s)))
	if s == "" || s == "{}" || s == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(s), "", "  ") != nil {
		return s
	}
	return buf.String()
}

// HumanSize formats a byte count for people: "512 B", "1.5 KiB", "8.0 MiB".
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

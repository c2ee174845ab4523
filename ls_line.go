package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
	"github.com/chatvault/chatvault/transcript"
)

// lsMessage is the part of a message `ls --channel` shows.
type lsMessage struct {
	From          string `json:"from"`
	Body          string `json:"body"`
	DateCreated   string `json:"date_created"`
	DateUpdated   string `json:"date_updated"`
	WasEdited     *bool  `json:"was_edited"` // nil: Conversations, whose date_updated is null until an edit
	LastUpdatedBy string `json:"last_updated_by"`
}

// lsLine is one message as `ls --channel` prints it: index, SID, time,
// author, then the body quoted, a media message as
// [media: filename (type, size)], and an edited one marked with who and when.
// The message was archived by a snapshot read through api, and is read in
// Chat's shape (remote.ChatShape).
func lsLine(api string, m store.MessageRecord) string {
	var msg lsMessage
	raw, err := remote.ChatShape(api, remote.KindMessage, m.Raw)
	if err == nil {
		err = json.Unmarshal(raw, &msg)
	}
	if err != nil {
		return fmt.Sprintf("%6d  %s  (not JSON in the archive: run chatvault verify)\n", m.Index, m.SID)
	}
	from := msg.From
	var parts []string
	if md, ok := transcript.MessageMedia(raw); ok {
		name := md.Filename
		if name == "" {
			name = md.SID
		}
		parts = append(parts, fmt.Sprintf("[media: %s (%s, %s)]", name, md.ContentType, transcript.HumanSize(md.Size)))
		if msg.Body != "" {
			parts = append(parts, fmt.Sprintf("%q", msg.Body))
		}
	} else {
		parts = append(parts, fmt.Sprintf("%q", msg.Body))
	}
	if edited, by, at := transcript.MessageEdit(raw); edited {
		mark := "[edited"
		if by != "" {
			mark += " by " + by
		}
		if at != "" {
			mark += " at " + at
		}
		parts = append(parts, mark+"]")
	}
	return fmt.Sprintf("%6d  %s  %s  %-16s %s\n", m.Index, m.SID, msg.DateCreated, from, strings.Join(parts, " "))
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/store"
	"github.com/chatvault/chatvault/transcript"
)

// lsMessage is the part of a message `ls --channel` shows.
type lsMessage struct {
	From          string `json:"from"`
	Author        string `json:"author"` // Conversations
	Body          string `json:"body"`
	DateCreated   string `json:"date_created"`
	DateUpdated   string `json:"date_updated"`
	WasEdited     bool   `json:"was_edited"`
	LastUpdatedBy string `json:"last_updated_by"`
}

// lsLine is one message as `ls --channel` prints it: index, SID, time,
// author, then the body quoted, a media message as
// [media: filename (type, size)], and an edited one marked with who and when.
func lsLine(m store.MessageRecord) string {
	var msg lsMessage
	if err := json.Unmarshal(m.Raw, &msg); err != nil {
		return fmt.Sprintf("%6d  %s  (not JSON in the archive: run chatvault verify)\n", m.Index, m.SID)
	}
	from := msg.From
	if from == "" {
		from = msg.Author
	}
	var parts []string
	if md, ok := transcript.MessageMedia(m.Raw); ok {
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
	if msg.WasEdited || (msg.LastUpdatedBy != "" && msg.DateUpdated > msg.DateCreated) {
		mark := "[edited"
		if msg.LastUpdatedBy != "" {
			mark += " by " + msg.LastUpdatedBy
		}
		if msg.DateUpdated != "" {
			mark += " at " + msg.DateUpdated
		}
		parts = append(parts, mark+"]")
	}
	return fmt.Sprintf("%6d  %s  %s  %-16s %s\n", m.Index, m.SID, msg.DateCreated, from, strings.Join(parts, " "))
}

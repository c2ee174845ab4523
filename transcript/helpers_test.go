package transcript

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/store"
)

const (
	testService = "IS00000000000000000000000000000001"
	testChannel = "CH00000000000000000000000000000001"
)

// Bodies every transcript test carries: injection attempts, line breaks,
// unicode and an empty body.
var (
	scriptBody = `<script>alert(1)</script>`
	attrBody   = `"><img src=x onerror=alert(1)>`
)

// testMessage is a message a fixture stores.
type testMessage struct {
	From, Body, Attributes string
	Edited                 bool
	Media                  map[string]any
}

// fixture writes one snapshot holding one channel with msgs (index i for
// msgs[i], one minute apart, crossing midnight in CET) and two members, and
// returns a view of it. The archive is checked and closed at cleanup.
func fixture(t *testing.T, msgs []testMessage) *store.View {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.vault")
	a, err := store.Open(path, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if problems, err := a.Check(); err != nil || len(problems) > 0 {
			t.Errorf("archive check: %v %v", problems, err)
		}
		a.Close()
	})
	w, err := a.BeginSnapshot(testService, true, time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.PutService(mustJSON(map[string]any{"sid": testService, "friendly_name": "Support <desk>"})))
	must(w.PutChannel(testChannel, "general-1", mustJSON(map[string]any{
		"sid": testChannel, "unique_name": "general-1", "friendly_name": "General & <b>friends</b>", "type": "public",
		"created_by": "alice", "date_created": "2026-11-01T09:00:00Z", "attributes": `{"topic":"</pre><script>x()</script>"}`,
	})))
	must(w.PutMembers(testChannel, []store.MemberRecord{
		{SID: "MB00000000000000000000000000000001", Identity: "alice", Raw: mustJSON(map[string]any{
			"identity": "alice", "last_consumed_message_index": 1, "last_consumption_timestamp": "2026-11-21T00:00:00Z", "date_created": "2026-11-01T09:00:00Z"})},
		{SID: "MB00000000000000000000000000000002", Identity: "<bob>", Raw: mustJSON(map[string]any{
			"identity": "<bob>", "last_consumed_message_index": nil, "date_created": "2026-11-01T09:00:00Z"})},
	}))
	base := time.Date(2026, 11, 20, 22, 58, 0, 0, time.UTC)
	recs := make([]store.MessageRecord, len(msgs))
	for i, m := range msgs {
		created := base.Add(time.Duration(i) * time.Minute)
		raw := map[string]any{
			"sid": sidOf("IM", i), "index": i, "from": m.From, "body": m.Body, "attributes": m.Attributes,
			"date_created": created.Format(time.RFC3339), "date_updated": created.Format(time.RFC3339),
			"was_edited": false, "last_updated_by": nil, "media": nil, "type": "text",
		}
		if m.Edited {
			raw["was_edited"] = true
			raw["last_updated_by"] = "moderator"
			raw["date_updated"] = created.Add(time.Hour).Format(time.RFC3339)
		}
		if m.Media != nil {
			raw["media"] = m.Media
			raw["type"] = "media"
			raw["body"] = nil
		}
		recs[i] = store.MessageRecord{SID: sidOf("IM", i), Index: int64(i), Raw: mustJSON(raw)}
	}
	must(w.PutMessages(testChannel, recs))
	if _, err := w.Finish(store.StatusComplete, 1, nil); err != nil {
		t.Fatal(err)
	}
	v, err := a.View(w.ID())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sidOf(prefix string, i int) string { return fmt.Sprintf("%s%032x", prefix, i) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// sampleMessages is a small channel with every kind of message.
func sampleMessages() []testMessage {
	return []testMessage{
		{From: "alice", Body: "hello\nsecond line", Attributes: `{"mood":"<happy>"}`},
		{From: "mallory", Body: scriptBody},
		{From: "mallory", Body: attrBody, Edited: true},
		{From: "bob", Body: ""},
		{From: "carol", Body: "日本語 👋 & ampersand"},
		{From: "alice", Media: map[string]any{"sid": sidOf("ME", 1), "content_type": "image/png", "filename": "cat <1>.png", "size": 2048}},
		{From: "bob", Media: map[string]any{"sid": sidOf("ME", 2), "content_type": "application/pdf", "filename": "report.pdf", "size": 3 << 20}},
	}
}

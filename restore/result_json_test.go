package restore

import (
	"encoding/json"
	"testing"
)

// TestResultJSONFields: the JSON result always has a skipped list (empty,
// not null) and messages_already_restored, which equals the older
// messages_skipped on a rerun that finds everything restored.
func TestResultJSONFields(t *testing.T) {
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(genHistory(histOpts{channels: 2, messages: 6, seed: 5}))
	type fields struct {
		Skipped         *[]Skipped `json:"skipped"`
		Already         *int       `json:"messages_already_restored"`
		MessagesSkipped int        `json:"messages_skipped"`
		Messages        int        `json:"messages"`
	}
	decode := func(res Result) fields {
		t.Helper()
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		var f fields
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if f.Skipped == nil || *f.Skipped == nil || f.Already == nil {
			t.Fatalf("JSON result lacks skipped [] or messages_already_restored: %s", b)
		}
		return f
	}
	first, err := run(t.Context(), ft, fa, Options{Target: dstSvc})
	if err != nil {
		t.Fatal(err)
	}
	f := decode(first)
	if len(*f.Skipped) != 0 || *f.Already != 0 || f.Messages == 0 {
		t.Errorf("first run: %+v", f)
	}
	again, err := run(t.Context(), ft, fa, Options{Target: dstSvc})
	if err != nil {
		t.Fatal(err)
	}
	f2 := decode(again)
	if *f2.Already != f.Messages || f2.MessagesSkipped != *f2.Already || f2.Messages != 0 {
		t.Errorf("rerun: %d already restored, %d skipped (old name), %d created; want %d, %d, 0", *f2.Already, f2.MessagesSkipped, f2.Messages, f.Messages, f.Messages)
	}
}

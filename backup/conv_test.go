package backup

import (
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// TestConversationsIncremental runs a source without message counts or
// links.last_message: each plain run checks a conversation with one short
// page, and walks only what changed.
func TestConversationsIncremental(t *testing.T) {
	for _, tt := range []struct {
		name     string
		change   func(f *fakeSource)
		messages int // message requests of the rerun
		added    int
		changed  int
		deleted  int
	}{
		{name: "nothing changed: one probe per conversation", change: func(*fakeSource) {}, messages: 2},
		{name: "a few new messages: the probe page is the walk", change: func(f *fakeSource) { f.postMessages(1, 3) }, messages: 2, added: 3},
		{name: "more new messages than a probe: walk again in full pages", change: func(f *fakeSource) { f.postMessages(1, 12) }, messages: 2 + 2, added: 12},
		{name: "newest message edited", change: func(f *fakeSource) { f.editMessage(1, 34, "edited") }, messages: 2, changed: 1},
		{name: "newest message deleted", change: func(f *fakeSource) { f.deleteMessage(1, 34) }, messages: 2, deleted: 1},
		{name: "old message edited: not seen by a plain run", change: func(f *fakeSource) { f.editMessage(1, 3, "edited") }, messages: 2},
		{name: "old message deleted: not seen by a plain run", change: func(f *fakeSource) { f.deleteMessage(1, 3) }, messages: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSource(4, 35).conversations() // channels 1 and 3 are private
			a := newArchive(t)
			first := mustRun(t, f, a, opts(f))
			expect(t, "api", first.API, remote.APIConversations)
			expect(t, "channels", first.Channels, 2)
			expect(t, "messages", first.Messages, 70)
			f.resetCounts()
			tt.change(f)
			res := mustRun(t, f, a, opts(f))
			wantCounts(t, f, map[string]int{kService: 1, kRoles: 1, kChannels: 1, kMembers: 2, kMessages: tt.messages})
			expect(t, "added", res.Added, tt.added)
			expect(t, "changed", res.Changed, tt.changed)
			expect(t, "deleted", res.Deleted, tt.deleted)

			// --full finds what the plain run could not.
			f.resetCounts()
			full := mustRun(t, f, a, Options{Service: f.sid, PageSize: 10, Concurrency: 4, Full: true})
			assertArchived(t, a, full.Snapshot, f)
		})
	}
}

// TestChatThenConversationsKeepsPublicChannels backs up through Chat, then
// through Conversations, which does not show public channels: they are not
// recorded as deleted, and the result says what to do. A private channel
// deleted meanwhile is.
func TestChatThenConversationsKeepsPublicChannels(t *testing.T) {
	f := newFakeSource(4, 12)
	a := newArchive(t)
	chat := mustRun(t, f, a, opts(f))
	expect(t, "api", chat.API, remote.APIChat)
	if len(chat.Warnings) != 0 {
		t.Errorf("first run warnings = %q, want none", chat.Warnings)
	}
	f.deleteChannel(3) // private
	f.conversations()
	conv := mustRun(t, f, a, opts(f))
	expect(t, "api", conv.API, remote.APIConversations)
	expect(t, "channels", conv.Channels, 3) // two public kept, one private read again
	all := strings.Join(conv.Warnings, "\n")
	for _, want := range []string{"previous snapshot of the service through chat", "2 public channels", f.channels[0].sid, "make them private with Chat v3", "--api chat"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", conv.Warnings, want)
		}
	}
	v, err := a.View(conv.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Channel(f.channels[0].sid); err != nil {
		t.Errorf("public channel %s is gone from the snapshot: %v", f.channels[0].sid, err)
	}
	if _, err := v.Channel(hexSID("CH", 4)); err == nil {
		t.Errorf("deleted private channel %s is still in the snapshot", hexSID("CH", 4))
	}
	if n, err := v.MessageCount(f.channels[0].sid); err != nil || n != 12 {
		t.Errorf("public channel keeps %d messages (%v), want 12", n, err)
	}
}

// TestUsers archives the users with every snapshot and records the
// deletion of those a listing no longer has; a failed listing deletes none.
func TestUsers(t *testing.T) {
	f := newFakeSource(1, 3)
	a := newArchive(t)
	res := mustRun(t, f, a, opts(f))
	expect(t, "users", res.Users, 3)
	f.mu.Lock()
	f.users = f.users[1:]
	f.mu.Unlock()
	res = mustRun(t, f, a, opts(f))
	expect(t, "users", res.Users, 2)
	v, err := a.View(res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	us, err := v.Users()
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].SID != hexSID("US", 2) || us[0].Identity != "user-1" {
		t.Errorf("users after one was deleted = %+v", us)
	}

	f.fail = func(kind, _ string) error {
		if kind == kUsers {
			return &remote.APIError{Method: "GET", Path: "/v2/Services/x/Users", Status: 500}
		}
		return nil
	}
	res, err = Run(t.Context(), f, a, opts(f))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "status", res.Status, "partial")
	if len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Error, "listing the users") {
		t.Errorf("failures = %+v, want the user listing", res.Failures)
	}
	if v, err = a.View(res.Snapshot); err != nil {
		t.Fatal(err)
	}
	if us, err = v.Users(); err != nil || len(us) != 2 {
		t.Errorf("users after a failed listing = %d (%v), want the 2 archived", len(us), err)
	}
}

// TestConversationsScheduleByArchivedSize: without messages_count, a
// channel's size for scheduling is what the archive holds of it, so the
// longest channels start first on later runs (jobHeap; TestJobQueue).
func TestConversationsScheduleByArchivedSize(t *testing.T) {
	f := newFakeSource(6, 5).conversations() // private: channels 1, 3 and 5
	f.postMessages(3, 40)
	f.postMessages(5, 20)
	a := newArchive(t)
	mustRun(t, f, a, opts(f))
	r := &run{a: a, o: Options{Service: f.sid}, caps: remote.CapabilitiesOf(f.API())}
	var got []int
	for _, i := range []int{3, 5, 1} {
		c := f.channel(i)
		got = append(got, r.newJob(c.remote(f.sid, f.API())).size)
	}
	// The highest archived index plus one: 45, 25 and 5 messages.
	if want := []int{45, 25, 5}; !slices.Equal(got, want) {
		t.Errorf("sizes of channels 3, 5 and 1 for scheduling = %v, want %v", got, want)
	}
	if j := newJob(f.channel(3).remote(f.sid, f.API())); j.size != 0 {
		t.Errorf("a channel's size without the archive = %d, want 0 (Conversations has no messages_count)", j.size)
	}
}

package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// edit returns raw with the given fields set (nil: null).
func edit(t *testing.T, raw []byte, fields map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		m[k] = v
	}
	return rawJSON(m)
}

// nextSnap copies s as snapshot id, for a test to change.
func nextSnap(s *fakeSnap, id uint64) *fakeSnap {
	n := &fakeSnap{meta: s.meta, channels: slices.Clone(s.channels), roles: slices.Clone(s.roles),
		members: map[string][]store.MemberRecord{}, messages: map[string][]store.MessageRecord{}, media: maps.Clone(s.media)}
	n.meta.ID = id
	n.meta.Started = s.meta.Started.Add(time.Duration(id) * time.Hour)
	n.meta.Finished = n.meta.Started.Add(time.Minute)
	for k, v := range s.members {
		n.members[k] = slices.Clone(v)
	}
	for k, v := range s.messages {
		n.messages[k] = slices.Clone(v)
	}
	return n
}

// change is what TestSync changes at the source between snapshots 1 and 2.
type change struct {
	editMsgs, delMsgs, addMsgs int // in channel 0, editing and deleting from position 1 on (user1's read position stays mapped alike)
	channelAttrs               bool
	delMember, addMember       bool // channel 0: user2 removed, user9 added
	memberAttrs                bool // channel 1: user1's attributes
	delChannel                 bool // channel 2 is gone
	delRead                    bool // channel 0: the newest message, which user0 has read, is gone
}

// writes is how many writes a sync of c sends (read positions: user0 of
// channel 0 follows added messages).
func (c change) writes() int {
	n := c.editMsgs + c.delMsgs + c.addMsgs
	if c.addMsgs > 0 {
		n++ // user0's read position
	}
	if c.delRead {
		n += 2 // the delete, and user0's read position, which maps to the message before
	}
	for _, b := range []bool{c.channelAttrs, c.delMember, c.addMember, c.memberAttrs, c.delChannel} {
		if b {
			n++
		}
	}
	return n
}

func (c change) apply(t *testing.T, s *fakeSnap) *fakeSnap {
	n := nextSnap(s, s.meta.ID+1)
	ch0, ch1 := n.channels[0].SID, n.channels[1].SID
	msgs := n.messages[ch0]
	for i := range c.editMsgs {
		r := &msgs[1+i]
		r.Raw = edit(t, r.Raw, map[string]any{"body": fmt.Sprintf("edited %d", i), "last_updated_by": "user2",
			"date_updated": ts(t0.Add(48 * time.Hour)), "attributes": `{"edited":true}`})
	}
	msgs = slices.Delete(msgs, 1+c.editMsgs, 1+c.editMsgs+c.delMsgs)
	if c.delRead {
		msgs = msgs[:len(msgs)-1]
	}
	last := msgs[len(msgs)-1].Index
	for i := range c.addMsgs {
		idx := last + 1 + int64(i)
		sid := fmt.Sprintf("IM%016x%016x", 0xff, idx)
		msgs = append(msgs, store.MessageRecord{SID: sid, Index: idx, Raw: rawJSON(map[string]any{
			"sid": sid, "index": idx, "from": "user0", "body": fmt.Sprintf("new %d", i), "attributes": "{}", "type": "text",
			"date_created": ts(t0.Add(72*time.Hour + time.Duration(i)*time.Second)), "date_updated": ts(t0.Add(72*time.Hour + time.Duration(i)*time.Second)),
		})})
	}
	n.messages[ch0] = msgs
	if c.addMsgs > 0 {
		// user0 has read everything, the new messages too
		m := &n.members[ch0][0]
		m.Raw = edit(t, m.Raw, map[string]any{"last_consumed_message_index": msgs[len(msgs)-1].Index})
	}
	if c.channelAttrs {
		n.channels[0].Raw = edit(t, n.channels[0].Raw, map[string]any{"attributes": `{"topic":"changed"}`, "friendly_name": "Renamed"})
	}
	if c.delMember {
		n.members[ch0] = slices.DeleteFunc(n.members[ch0], func(m store.MemberRecord) bool { return m.Identity == "user2" })
	}
	if c.addMember {
		sid := fmt.Sprintf("MB%032x", 0x99)
		n.members[ch0] = append(n.members[ch0], store.MemberRecord{SID: sid, Identity: "user9", Raw: rawJSON(map[string]any{
			"sid": sid, "identity": "user9", "attributes": `{"new":1}`, "role_sid": roleUser,
			"date_created": ts(t0.Add(50 * time.Hour)), "date_updated": ts(t0.Add(50 * time.Hour)),
		})})
	}
	if c.memberAttrs {
		m := &n.members[ch1][1]
		m.Raw = edit(t, m.Raw, map[string]any{"attributes": `{"k":"changed"}`, "date_updated": ts(t0.Add(49 * time.Hour))})
	}
	if c.delChannel {
		delete(n.members, n.channels[2].SID)
		delete(n.messages, n.channels[2].SID)
		n.channels = slices.Delete(n.channels, 2, 3)
	}
	return n
}

func countOps(ops []string, want ...string) int {
	n := 0
	for _, o := range ops {
		if slices.Contains(want, o) {
			n++
		}
	}
	return n
}

// recordOps makes ft record each write's op (read the list after the run).
func recordOps(ft *fakeTarget, f func(op string, n int64) fault) *[]string {
	var ops []string
	var mu sync.Mutex // users are written concurrently
	ft.onWrite = func(op string, n int64) fault {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		if f != nil {
			return f(op, n)
		}
		return faultNone
	}
	return &ops
}

// TestSync restores snapshot 1, changes the source, and syncs snapshot 2:
// the target then equals snapshot 2, the writes are the changes, and a
// further sync writes nothing.
func TestSync(t *testing.T) {
	all := change{editMsgs: 2, delMsgs: 2, addMsgs: 3, channelAttrs: true, delMember: true, addMember: true, memberAttrs: true, delChannel: true}
	cases := []struct {
		name                       string
		c                          change
		updated, deleted, messages int
	}{
		{"nothing changed", change{}, 0, 0, 0},
		{"message edits", change{editMsgs: 3}, 3, 0, 0},
		{"message deletions", change{delMsgs: 2}, 0, 2, 0},
		{"new messages", change{addMsgs: 4}, 1, 0, 4},
		{"channel attributes", change{channelAttrs: true}, 1, 0, 0},
		{"member removed", change{delMember: true}, 0, 1, 0},
		{"member removed and added", change{delMember: true, addMember: true}, 0, 1, 0},
		{"member changed", change{memberAttrs: true}, 1, 0, 0},
		{"channel gone", change{delChannel: true}, 0, 1, 0},
		{"message read by a member gone", change{delRead: true}, 1, 1, 0},
		{"everything", all, 2 + 1 + 1 + 1, 2 + 1 + 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s1 := genHistory(histOpts{channels: 3, messages: 12, seed: 31})
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(s1)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatalf("restore: %v", err)
			}
			s2 := tc.c.apply(t, s1)
			fa.snaps = append(fa.snaps, s2)
			ops := recordOps(ft, nil)
			reqs := ft.Requests()
			res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if res.Status != StatusComplete || res.Snapshot != 2 {
				t.Errorf("sync result %+v", res)
			}
			if len(*ops) != tc.c.writes() {
				t.Errorf("sync sent %d writes %v, want %d", len(*ops), *ops, tc.c.writes())
			}
			if res.Updated != tc.updated || res.Deleted != tc.deleted || res.Messages != tc.messages {
				t.Errorf("updated %d, deleted %d, messages %d; want %d, %d, %d", res.Updated, res.Deleted, res.Messages, tc.updated, tc.deleted, tc.messages)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, s2, nil))
			// reads: the roles, one per channel, and one listing where messages were added
			reads := ft.Requests() - reqs - int64(len(*ops))
			if want := int64(1 + len(s2.channels)); reads < want || reads > want+1 {
				t.Errorf("sync sent %d reads, want %d (+1 with new messages)", reads, want)
			}

			*ops = nil
			reqs = ft.Requests()
			res, err = run(t.Context(), ft, fa, opts(Options{Sync: true}))
			if err != nil || res.Status != StatusComplete || res.Updated != 0 || res.Deleted != 0 || res.Messages != 0 {
				t.Fatalf("second sync: %v, %+v", err, res)
			}
			if len(*ops) != 0 || ft.Requests()-reqs != int64(1+len(s2.channels)) {
				t.Errorf("second sync sent writes %v and %d requests, want none and %d", *ops, ft.Requests()-reqs, 1+len(s2.channels))
			}
		})
	}
}

// TestSyncWithoutSyncChangesNothing: a plain rerun with a changed snapshot
// appends, as before, and never updates or deletes.
func TestSyncWithoutSyncChangesNothing(t *testing.T) {
	s1 := genHistory(histOpts{channels: 3, messages: 12, seed: 32})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(s1)
	if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
		t.Fatal(err)
	}
	fa.snaps = append(fa.snaps, change{editMsgs: 2, delMsgs: 1, channelAttrs: true, memberAttrs: true, delChannel: true}.apply(t, s1))
	ops := recordOps(ft, nil)
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(*ops) != 0 || res.Updated != 0 || res.Deleted != 0 {
		t.Errorf("plain rerun wrote %v, result %+v", *ops, res)
	}
}

// TestSyncNeverRestored: a sync needs a target the journal knows, and
// says so before any request.
func TestSyncNeverRestored(t *testing.T) {
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(genHistory(histOpts{channels: 2, messages: 3}))
	res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
	if !errors.Is(err, ErrNotRestored) || !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "run a plain restore") {
		t.Fatalf("got %v, want ErrNotRestored saying to run a plain restore", err)
	}
	if ft.Requests() != 0 || res.Status != StatusFailed {
		t.Errorf("requests %d, status %s; want none, failed", ft.Requests(), res.Status)
	}
}

// TestSyncConflicts: what restore did not create is reported and left alone.
func TestSyncConflicts(t *testing.T) {
	s1 := genHistory(histOpts{channels: 3, messages: 8, seed: 33})
	cases := []struct {
		name   string
		hand   func(ft *fakeTarget, ch *fakeChannel) // done to the target by hand after the restore
		c      change
		reason string
	}{
		{"member added by hand", func(ft *fakeTarget, ch *fakeChannel) {
			ch.members = append(ch.members, &remote.Member{SID: "MB" + strings.Repeat("e", 32), Identity: "intruder", Attributes: `{"hand":1}`})
		}, change{memberAttrs: true}, "members that restore did not create"},
		{"member of the same identity added by hand", func(ft *fakeTarget, ch *fakeChannel) {
			ch.members = append(ch.members, &remote.Member{SID: "MB" + strings.Repeat("e", 32), Identity: "user9", Attributes: `{"hand":1}`})
		}, change{addMember: true}, `member "user9"`},
		{"message added by hand", func(ft *fakeTarget, ch *fakeChannel) {
			ft.addMessage(ch, remote.MessageParams{Body: new("by hand")})
		}, change{editMsgs: 1}, "messages that restore did not create"},
		{"message deleted by hand", func(ft *fakeTarget, ch *fakeChannel) {
			ch.messages = slices.Delete(ch.messages, 1, 2)
		}, change{editMsgs: 1}, "deleted from target channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(s1)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			tgt := targetOf(t, fa, s1, 0)
			ft.mu.Lock()
			tc.hand(ft, ft.find(dstSvc, tgt))
			ft.mu.Unlock()
			before := ft.channelsOf(dstSvc)[0]
			fa.snaps = append(fa.snaps, tc.c.apply(t, s1))
			res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusPartial || !slices.ContainsFunc(res.Conflicts, func(c Conflict) bool { return strings.Contains(c.Reason, tc.reason) }) {
				t.Fatalf("status %s, conflicts %+v; want one saying %q", res.Status, res.Conflicts, tc.reason)
			}
			after := ft.channelsOf(dstSvc)[0]
			for _, m := range before.members {
				if m.Attributes == `{"hand":1}` && !slices.ContainsFunc(after.members, func(a *remote.Member) bool { return a.SID == m.SID && a.Attributes == m.Attributes }) {
					t.Errorf("member added by hand %+v was changed or removed", m)
				}
			}
			for _, m := range before.messages {
				if m.Body == "by hand" && !slices.ContainsFunc(after.messages, func(a *remote.Message) bool { return a.SID == m.SID && a.Body == m.Body }) {
					t.Errorf("message added by hand was changed or removed")
				}
			}
		})
	}
}

// TestSyncLostResponses: an update or delete whose answer is lost is read
// back, not sent again, when it took effect; sent again when it did not.
func TestSyncLostResponses(t *testing.T) {
	all := change{editMsgs: 3, delMsgs: 2, addMsgs: 2, channelAttrs: true, delMember: true, addMember: true, memberAttrs: true, delChannel: true}
	for _, f := range []fault{faultLost, faultFail} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			s1 := genHistory(histOpts{channels: 3, messages: 12, seed: 34})
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(s1)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			s2 := all.apply(t, s1)
			fa.snaps = append(fa.snaps, s2)
			failed := map[string]bool{}
			ops := recordOps(ft, func(op string, n int64) fault {
				if !failed[op] && (strings.HasPrefix(op, "Update") || strings.HasPrefix(op, "Delete")) {
					failed[op] = true // the first of each kind
					return f
				}
				return faultNone
			})
			res, err := run(t.Context(), ft, fa, opts(Options{Sync: true, Concurrency: 1}))
			if err != nil || res.Status != StatusComplete {
				t.Fatalf("sync: %v %+v", err, res)
			}
			extra := 0
			if f == faultFail {
				extra = len(failed) // not carried out: sent again after the read back
			}
			if len(*ops) != all.writes()+extra {
				t.Errorf("sync sent %d writes %v, want %d", len(*ops), *ops, all.writes()+extra)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, s2, nil))
		})
	}
}

// TestSyncKill kills a sync at each of its writes in turn; one more sync
// then completes it with nothing duplicated or lost.
func TestSyncKill(t *testing.T) {
	all := change{editMsgs: 2, delMsgs: 2, addMsgs: 2, channelAttrs: true, delMember: true, addMember: true, memberAttrs: true, delChannel: true}
	s1 := genHistory(histOpts{channels: 3, messages: 10, seed: 35})
	s2 := all.apply(t, s1)
	for n := int64(1); n <= int64(all.writes()); n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ft, fa := restoredBefore(t, s1, s2)
			ops := recordOps(ft, nil)
			killRun(t, ft, fa, n, opts(Options{Sync: true, Concurrency: 1}))
			res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
			if err != nil || res.Status != StatusComplete {
				t.Fatalf("sync after kill at write %d: %v %+v", n, err, res)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, s2, nil))
			// The update the kill interrupted is read back, not sent again:
			// the channel, two messages, user1 of channel 1, user0's read position.
			if u := countOps(*ops, "UpdateChannel", "UpdateMessage", "UpdateMember"); u != 5 {
				t.Errorf("%d updates sent in all, want 5: %v", u, *ops)
			}
		})
	}
}

// TestSyncDryRun lists each write and sends none; with --since, what lies
// outside the range is neither updated nor deleted, and the plan says so.
func TestSyncDryRun(t *testing.T) {
	all := change{editMsgs: 2, delMsgs: 2, addMsgs: 2, channelAttrs: true, delMember: true, addMember: true, memberAttrs: true, delChannel: true}
	s1 := genHistory(histOpts{channels: 3, messages: 12, seed: 36})
	s2 := all.apply(t, s1)
	ops := func(p *Plan) map[string]int {
		out := map[string]int{}
		for _, a := range p.Actions {
			out[a.Op+" "+a.Kind]++
		}
		return out
	}
	cases := []struct {
		name  string
		since time.Time
		want  map[string]int
		note  string
	}{
		{"everything", time.Time{}, map[string]int{"create member": 1, "create message": 2, "update channel": 1, "update member": 2,
			"update message": 2, "delete member": 1, "delete message": 2, "delete channel": 1}, ""},
		// Only the new messages are at or after t0+72h: edits and deletions are older.
		{"since", t0.Add(72 * time.Hour), map[string]int{"create member": 1, "create message": 2, "update channel": 1, "update member": 2,
			"delete member": 1}, "not deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(s1)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			fa.snaps = append(fa.snaps, s2)
			w := ft.writes.Load()
			res, err := run(t.Context(), ft, fa, opts(Options{Sync: true, DryRun: true, Since: tc.since}))
			if err != nil || res.Plan == nil {
				t.Fatalf("dry run: %v %+v", err, res)
			}
			if ft.writes.Load() != w {
				t.Errorf("dry run wrote %d times", ft.writes.Load()-w)
			}
			if got := ops(res.Plan); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("actions %v, want %v", got, tc.want)
			}
			p := res.Plan
			if p.Updates != tc.want["update channel"]+tc.want["update member"]+tc.want["update message"] ||
				p.Deletes != tc.want["delete member"]+tc.want["delete message"]+tc.want["delete channel"] {
				t.Errorf("plan counts %+v", p)
			}
			if tc.note != "" && !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("plan notes %q, want one saying %q", p.Notes, tc.note)
			}
			// The real sync with the same range does what the plan said.
			res, err = run(t.Context(), ft, fa, opts(Options{Sync: true, Since: tc.since}))
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Updated + res.Deleted; got != p.Updates+p.Deletes {
				t.Errorf("sync updated %d and deleted %d, the plan said %d and %d", res.Updated, res.Deleted, p.Updates, p.Deletes)
			}
		})
	}
}

// TestSyncUsers: a sync updates the users restore created whose archived
// fields changed, and a user someone else created only with --sync,
// saying so; a further sync writes nothing.
func TestSyncUsers(t *testing.T) {
	s1 := withUsers(genHistory(histOpts{channels: 1, messages: 3, seed: 37}))
	ft := newFakeTarget(srcSvc, dstSvc)
	ft.addUser(dstSvc, remote.User{Identity: "carol", FriendlyName: "Someone else", Attributes: "{}"})
	fa := newFakeArchive(s1)
	if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
		t.Fatal(err)
	}
	s2 := nextSnap(s1, 2)
	s2.users = slices.Clone(s1.users)
	s2.users[0].Raw = edit(t, s2.users[0].Raw, map[string]any{"friendly_name": "Ann Renamed", "attributes": `{"u":"new"}`})
	fa.snaps = append(fa.snaps, s2)

	ops := recordOps(ft, nil)
	res, err := run(t.Context(), ft, fa, opts(Options{Sync: true, DryRun: true}))
	if err != nil || len(*ops) != 0 {
		t.Fatalf("dry run: %v, writes %v", err, *ops)
	}
	var planned []string
	for _, a := range res.Plan.Actions {
		planned = append(planned, a.Op+" "+a.Kind+" "+a.Source)
	}
	slices.Sort(planned)
	if want := []string{"update user ann", "update user carol"}; !slices.Equal(planned, want) || res.Plan.Updates != 2 {
		t.Errorf("planned %q (%d updates), want %q", planned, res.Plan.Updates, want)
	}
	res, err = run(t.Context(), ft, fa, opts(Options{Sync: true}))
	if err != nil || res.Updated != 2 || len(*ops) != 2 {
		t.Fatalf("sync: %v, updated %d, writes %v", err, res.Updated, *ops)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool {
		return strings.Contains(w, `user "carol"`) && strings.Contains(w, "--sync updates it")
	}) {
		t.Errorf("warnings %q do not report carol", res.Warnings)
	}
	for _, u := range ft.usersOf(dstSvc) {
		switch u.Identity {
		case "ann":
			if u.FriendlyName != "Ann Renamed" || u.Attributes != `{"u":"new"}` {
				t.Errorf("ann: %+v", u)
			}
		case "carol":
			if u.FriendlyName != "Carol" {
				t.Errorf("carol: %+v", u)
			}
		}
	}
	*ops = nil
	if res, err = run(t.Context(), ft, fa, opts(Options{Sync: true})); err != nil || len(*ops) != 0 || res.Updated != 0 {
		t.Errorf("second sync: %v, writes %v, updated %d", err, *ops, res.Updated)
	}
}

// TestSyncLegacyJournal: a target restored before the journal kept what
// restore wrote is synced too: the first sync lists each channel's
// messages once to learn them, then the target equals the snapshot, and a
// further sync writes nothing.
func TestSyncLegacyJournal(t *testing.T) {
	s1 := genHistory(histOpts{channels: 3, messages: 12, seed: 38})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(s1)
	if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
		t.Fatal(err)
	}
	j := journalOf(t, fa, srcSvc, dstSvc)
	j.mu.Lock()
	for k, v := range j.committed {
		switch {
		case strings.HasPrefix(k, keyWrittenMember), strings.HasPrefix(k, keyWrittenMessage):
			delete(j.committed, k)
		case strings.HasPrefix(k, keyChannel):
			var st chanState
			if err := json.Unmarshal(v, &st); err != nil {
				t.Fatal(err)
			}
			st.Hash, st.Restored = "", 0
			j.committed[k], _ = json.Marshal(st)
		}
	}
	j.mu.Unlock()
	s2 := change{editMsgs: 2, delMsgs: 2, channelAttrs: true, memberAttrs: true}.apply(t, s1)
	fa.snaps = append(fa.snaps, s2)
	res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
	if err != nil || res.Status != StatusComplete || res.Deleted != 2 {
		t.Fatalf("sync: %v %+v", err, res)
	}
	checkRestored(t, ft, dstSvc, j, expected(t, s2, nil))
	ops := recordOps(ft, nil)
	if res, err := run(t.Context(), ft, fa, opts(Options{Sync: true})); err != nil || len(*ops) != 0 || res.Status != StatusComplete {
		t.Errorf("second sync: %v, writes %v, %+v", err, *ops, res)
	}
}

// TestSyncBackAndForth: a sync to an older snapshot takes back what the
// newer one brought (new messages deleted, edits reverted), and a sync to
// the newer one again brings it back, in order.
func TestSyncBackAndForth(t *testing.T) {
	s1 := genHistory(histOpts{channels: 2, messages: 10, seed: 39})
	s2 := change{editMsgs: 2, addMsgs: 3}.apply(t, s1)
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(s1, s2)
	if _, err := run(t.Context(), ft, fa, opts(Options{Snapshot: "1"})); err != nil {
		t.Fatal(err)
	}
	j := journalOf(t, fa, srcSvc, dstSvc)
	for i, tc := range []struct {
		snap                       string
		want                       *fakeSnap
		updated, deleted, messages int
	}{
		{"2", s2, 3, 0, 3}, // two edits, user0's read position; three new messages
		{"1", s1, 3, 3, 0}, // back: the edits and the read position, the new messages deleted
		{"2", s2, 3, 0, 3},
	} {
		res, err := run(t.Context(), ft, fa, opts(Options{Sync: true, Snapshot: tc.snap}))
		if err != nil || res.Status != StatusComplete || res.Updated != tc.updated || res.Deleted != tc.deleted || res.Messages != tc.messages {
			t.Fatalf("sync %d to snapshot %s: %v %+v", i, tc.snap, err, res)
		}
		checkRestored(t, ft, dstSvc, j, expected(t, tc.want, nil))
	}
}

// TestSyncMedia restores media messages into another service (their files
// uploaded), then syncs a snapshot in which channel 0's media messages
// were edited and one of channel 1's deleted: the edits are updates that
// never send the media again (the fake refuses a MediaSid on update, as
// Twilio does), nothing is uploaded again, each media message keeps both
// its upload's me/ entry and its wm/ entry with the new hash, and a
// further sync writes nothing.
func TestSyncMedia(t *testing.T) {
	s1 := genHistory(histOpts{channels: 2, messages: 10, mediaEvery: 3, seed: 13})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(s1)
	fa.archiveFiles(s1)
	first, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil || first.Status != StatusComplete || first.MediaUploaded != 6 {
		t.Fatalf("restore: %+v, %v", first, err)
	}

	s2 := nextSnap(s1, 2)
	ch0, ch1 := s2.channels[0].SID, s2.channels[1].SID
	edited := 0
	for i, r := range s2.messages[ch0] {
		m, err := parseMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		if m.media() != "" {
			s2.messages[ch0][i].Raw = edit(t, r.Raw, map[string]any{"body": fmt.Sprintf("caption %d", i), "attributes": `{"captioned":true}`})
			edited++
		}
	}
	gone := -1
	for i, r := range s2.messages[ch1] {
		if m, err := parseMessage(r); err == nil && m.media() != "" {
			gone = i
		}
	}
	goneIdx := s2.messages[ch1][gone].Index
	s2.messages[ch1] = slices.Delete(s2.messages[ch1], gone, gone+1)
	fa.snaps = append(fa.snaps, s2)

	ops := recordOps(ft, nil)
	res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
	if err != nil || res.Status != StatusComplete {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	if res.Updated != edited || res.Deleted != 1 || res.MediaUploaded != 0 || ft.uploads.Load() != 6 {
		t.Errorf("sync updated %d, deleted %d, uploaded %d (service saw %d uploads); want %d, 1, 0 (6)",
			res.Updated, res.Deleted, res.MediaUploaded, ft.uploads.Load(), edited)
	}
	if u, d := countOps(*ops, "UpdateMessage"), countOps(*ops, "DeleteMessage"); u != edited || d != 1 || len(*ops) != edited+1 {
		t.Errorf("sync sent %v; want %d message updates and 1 delete", *ops, edited)
	}
	checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, s2, nil))
	if n := checkFiles(t, ft, dstSvc, s2); n != 5 {
		t.Errorf("%d media messages in the target, want 5", n)
	}

	j := journalOf(t, fa, srcSvc, dstSvc)
	st, _ := j.value(chanKey(ch0))
	for _, r := range s2.messages[ch0] {
		m, err := parseMessage(r)
		if err != nil || m.media() == "" {
			continue
		}
		v, ok, err := j.Get(st.mediaKey(ch0, m.media()))
		if err != nil || !ok || !strings.HasPrefix(string(v), "ME") {
			t.Errorf("message %d: media entry %q, %v, %v", m.Index, v, ok, err)
		}
		var w written
		b, ok, _ := j.Get(fmt.Sprintf("%s%020d", st.writtenMessagePrefix(ch0), m.Index))
		if err := json.Unmarshal(b, &w); !ok || err != nil || w.Hash != messageHash(m) {
			t.Errorf("message %d: written entry %s (%v), want hash %s", m.Index, b, err, messageHash(m))
		}
	}
	if st1, _ := j.value(chanKey(ch1)); st1.LastSrcIndex < goneIdx {
		t.Errorf("channel 1's last_src_index %d dropped below the deleted message %d, which was not its newest", st1.LastSrcIndex, goneIdx)
	}

	*ops = nil
	again, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
	if err != nil || len(*ops) != 0 || again.Updated != 0 || again.MediaUploaded != 0 {
		t.Errorf("second sync sent %v: %+v, %v", *ops, again, err)
	}
}

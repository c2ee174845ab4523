package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// sourceChanges edits, deletes and adds messages, adds and removes
// members and changes channel attributes at the source, in every channel
// that has non-media messages to spare; every step skips
// messages a read position points at, so the read positions map alike
// however the deleted ones are counted. It returns the number of changes.
func sourceChanges(t testing.TB, cl *remote.Client, svc string, l live, perChannel int) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for name, c := range l.channels {
		read := map[int64]bool{}
		for _, m := range c.members {
			if m.LastConsumedMessageIndex != nil {
				read[int64(*m.LastConsumedMessageIndex)] = true
			}
		}
		var plain []*remote.Message
		for _, m := range c.messages {
			if m.Media == nil && !read[m.Index] {
				plain = append(plain, m)
			}
		}
		if len(plain) < 2*perChannel+2 {
			continue
		}
		for i := range perChannel {
			m := plain[1+i]
			body, attrs := fmt.Sprintf("edited %d in %s", i, name), `{"edited":true}`
			if _, err := cl.UpdateMessage(ctx, svc, c.ch.SID, m.SID, remote.MessageParams{Body: &body, Attributes: &attrs}); err != nil {
				t.Fatalf("edit message at the source: %v", err)
			}
			if err := cl.DeleteMessage(ctx, svc, c.ch.SID, plain[1+perChannel+i].SID); err != nil {
				t.Fatalf("delete message at the source: %v", err)
			}
			from, nb := "user-new", fmt.Sprintf("new %d", i)
			if _, err := cl.CreateMessage(ctx, svc, c.ch.SID, remote.MessageParams{From: &from, Body: &nb}); err != nil {
				t.Fatalf("add message at the source: %v", err)
			}
			n += 3
		}
		attrs := fmt.Sprintf(`{"changed":%q}`, name)
		if _, err := cl.UpdateChannel(ctx, svc, c.ch.SID, remote.ChannelParams{Attributes: &attrs}); err != nil {
			t.Fatalf("change channel at the source: %v", err)
		}
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range c.members {
				if !yield(id) {
					return
				}
			}
		})
		if len(ids) > 1 {
			if err := cl.DeleteMember(ctx, svc, c.ch.SID, c.members[ids[0]].SID); err != nil {
				t.Fatalf("remove member at the source: %v", err)
			}
			n++
		}
		if _, err := cl.CreateMember(ctx, svc, c.ch.SID, remote.MemberParams{Identity: "joiner-" + name}); err != nil {
			t.Fatalf("add member at the source: %v", err)
		}
		n += 3 // the attributes, the member and the user the service makes for a new identity
	}
	return n
}

// sourceUserChanges changes the friendly name and attributes of the
// source's first user (by identity), deletes its last one and adds one. It
// returns the number of changes and the identity deleted.
func sourceUserChanges(t testing.TB, cl *remote.Client, svc string) (int, string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for u, err := range cl.ListUsers(ctx, svc) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.Identity)
	}
	slices.Sort(ids)
	if len(ids) < 2 {
		t.Fatalf("the source has %d users, want 2 or more", len(ids))
	}
	if _, err := cl.UpdateUser(ctx, svc, ids[0], remote.UserParams{FriendlyName: new("Renamed at the source"), Attributes: new(`{"changed":true}`)}); err != nil {
		t.Fatalf("change user at the source: %v", err)
	}
	gone := ids[len(ids)-1]
	if err := cl.DeleteUser(ctx, svc, gone); err != nil {
		t.Fatalf("delete user at the source: %v", err)
	}
	if _, err := cl.CreateUser(ctx, svc, remote.UserParams{Identity: "newcomer", FriendlyName: new("Newcomer"), Attributes: new(`{"new":true}`)}); err != nil {
		t.Fatalf("add user at the source: %v", err)
	}
	return 3, gone
}

// compareUsers checks the target's users against the source's, by
// identity, and that the target lacks the identities of gone.
func compareUsers(t testing.TB, cl *remote.Client, src, dst string, gone ...string) {
	t.Helper()
	read := func(svc string) map[string]*remote.User {
		out := map[string]*remote.User{}
		for u, err := range cl.ListUsers(context.Background(), svc) {
			if err != nil {
				t.Fatal(err)
			}
			out[u.Identity] = u
		}
		return out
	}
	s, d := read(src), read(dst)
	for id, su := range s {
		du := d[id]
		if du == nil {
			t.Errorf("user %q missing from the target", id)
			continue
		}
		if su.FriendlyName != du.FriendlyName || !sameJSON(su.Attributes, du.Attributes) {
			t.Errorf("user %q differs: source %q %s, target %q %s", id, su.FriendlyName, su.Attributes, du.FriendlyName, du.Attributes)
		}
	}
	for _, id := range gone {
		if du := d[id]; du != nil {
			t.Errorf("user %q (%s), gone from the source, is still in the target", id, du.SID)
		}
	}
}

// archivedUsers counts the users in the archive's newest snapshot.
func archivedUsers(t testing.TB, e *env) int {
	n := 0
	e.withArchive(t, func(a *store.Archive) {
		snaps, err := a.Snapshots()
		if err != nil || len(snaps) == 0 {
			t.Fatalf("snapshots: %v", err)
		}
		v, err := a.View(snaps[len(snaps)-1].ID)
		if err != nil {
			t.Fatal(err)
		}
		us, err := v.Users()
		if err != nil {
			t.Fatal(err)
		}
		n = len(us)
	})
	return n
}

// TestIntegrationSync: back up, restore, change the source, back up again
// and sync: the target equals the source field for field, a further sync
// writes nothing and VerifyTarget finds no difference (users included: one
// changed, one deleted and one added at the source); a member added to
// the target by hand is left alone and reported; lost responses during the
// sync neither duplicate nor lose a change.
func TestIntegrationSync(t *testing.T) {
	cases := []struct {
		api  string
		lost float64
	}{{remote.APIChat, 0}, {remote.APIChat, 0.05}, {remote.APIConversations, 0.05}}
	for _, tc := range cases {
		lost := tc.lost
		t.Run(fmt.Sprintf("%s, lost responses %v", tc.api, lost), func(t *testing.T) {
			e := newEnv(t, smallConfig())
			var dst Target = e.cl
			if tc.api == remote.APIConversations {
				dst = e.cl.Conversations()
			}
			e.backup(t, false)
			if res, err := e.restore(t, dst, Options{}); err != nil || len(res.Conflicts)+len(res.Failed) > 0 {
				t.Fatalf("restore: %v %+v", err, res)
			}
			changes := sourceChanges(t, e.cl, e.src, capture(t, e.cl, e.src), 2)
			userChanges, goneUser := sourceUserChanges(t, e.cl, e.src)
			changes += userChanges
			if changes < 10 {
				t.Fatalf("only %d changes made at the source", changes)
			}
			e.backup(t, true)

			// By hand: a member in the first restored channel of the target.
			var hand *remote.Member
			var handCh string
			for c, err := range e.cl.ListChannels(context.Background(), e.dst) {
				if err != nil {
					t.Fatal(err)
				}
				handCh = c.SID
				break
			}
			hand, err := e.cl.CreateMember(context.Background(), e.dst, handCh, remote.MemberParams{Identity: "by-hand", Attributes: new(`{"hand":1}`)})
			if err != nil {
				t.Fatal(err)
			}

			e.srv.SetFaults(0, 0, 0, 0, lost)
			w0 := e.srv.Stats()
			res, err := e.restore(t, dst, Options{Sync: true, Concurrency: 4})
			e.srv.SetFaults(0, 0, 0, 0, 0)
			if err != nil || len(res.Failed) > 0 {
				t.Fatalf("sync: %v %+v", err, res)
			}
			w1 := e.srv.Stats()
			if lost > 0 && w1.LostResponses == w0.LostResponses {
				t.Errorf("no response was lost")
			}
			t.Logf("%d changes at the source; the sync sent %d writes (%d lost answers), %d requests; updated %d, deleted %d, created %d messages, %d members",
				changes, w1.Writes-w0.Writes, w1.LostResponses-w0.LostResponses, res.Requests, res.Updated, res.Deleted, res.Messages, res.Members)
			if w := w1.Writes - w0.Writes; w > int64(changes) {
				for k, v := range w1.Requests {
					if d := v - w0.Requests[k]; d > 0 && !strings.HasPrefix(k, "GET") {
						t.Logf("%d writes: %s", d, k)
					}
				}
				t.Errorf("the sync sent %d writes for %d changes", w, changes)
			}
			counted := remote.CapabilitiesOf(dst.API()).MessageCounts // else the member is not seen
			if counted && !slices.ContainsFunc(res.Conflicts, func(c Conflict) bool { return strings.Contains(c.Reason, "members that restore did not create") }) {
				t.Errorf("the member added by hand is not reported: %+v", res.Conflicts)
			}
			if got, err := e.cl.FetchMember(context.Background(), e.dst, handCh, "by-hand"); err != nil || got.Attributes != hand.Attributes {
				t.Errorf("the member added by hand was touched: %+v, %v", got, err)
			}
			if err := e.cl.DeleteMember(context.Background(), e.dst, handCh, hand.SID); err != nil {
				t.Fatal(err)
			}
			if tc.api == remote.APIConversations {
				compareLive(t, underMapping(capture(t, e.cl, e.src)), underMapping(capture(t, e.cl, e.dst)), nil, nil)
			} else {
				compareLive(t, capture(t, e.cl, e.src), capture(t, e.cl, e.dst), nil, nil)
			}
			if archivedUsers(t, e) == 0 {
				t.Fatal("the archive holds no users")
			}
			compareUsers(t, e.cl, e.src, e.dst, goneUser)
			if res.Deleted == 0 {
				t.Errorf("the sync deleted nothing, though user %q is gone from the source", goneUser)
			}

			w0 = e.srv.Stats()
			res, err = e.restore(t, dst, Options{Sync: true})
			if err != nil || e.srv.Stats().Writes != w0.Writes || res.Updated+res.Deleted+res.Messages+res.Members != 0 {
				t.Errorf("a further sync wrote %d times: %v %+v", e.srv.Stats().Writes-w0.Writes, err, res)
			}
			var diffs []Difference
			e.withArchive(t, func(a *store.Archive) {
				diffs, err = VerifyTarget(context.Background(), dst, a, Options{Target: e.dst})
			})
			if err != nil || len(diffs) != 0 {
				t.Errorf("VerifyTarget: %v %+v", err, diffs)
			}
		})
	}
}

// TestIntegrationSyncKill kills syncing processes with SIGKILL at random
// moments, with 5% of answers lost, then finishes the sync: the target
// equals the source, with no change made twice or lost.
func TestIntegrationSyncKill(t *testing.T) {
	e := newEnv(t, emulator.Config{Seed: 13, Channels: 4, Messages: 60, Latency: 3 * time.Millisecond})
	e.backup(t, false)
	if _, err := e.restore(t, e.cl, Options{}); err != nil {
		t.Fatal(err)
	}
	changes := sourceEdits(t, e.cl, e.src, capture(t, e.cl, e.src), 150)
	e.backup(t, true)

	e.srv.SetFaults(3*time.Millisecond, 0, 0, 0, 0.05)
	kills := killHelpers(t, e, 30, envSync+"=1")
	e.srv.SetFaults(0, 0, 0, 0, 0)
	if kills < 3 {
		t.Errorf("only %d helpers were killed mid-sync", kills)
	}
	res, err := e.restore(t, e.cl, Options{Sync: true})
	if err != nil || len(res.Failed)+len(res.Conflicts) > 0 {
		t.Fatalf("final sync: %+v, %v", res, err)
	}
	t.Logf("%d changes; after %d kills the final sync updated %d, deleted %d, created %d", changes, kills, res.Updated, res.Deleted, res.Messages)
	compareLive(t, capture(t, e.cl, e.src), capture(t, e.cl, e.dst), nil, nil)
	w := e.srv.Stats().Writes
	if res, err := e.restore(t, e.cl, Options{Sync: true}); err != nil || e.srv.Stats().Writes != w {
		t.Errorf("a sync after the final one wrote %d times: %+v, %v", e.srv.Stats().Writes-w, res, err)
	}
}

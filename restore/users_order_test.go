package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/store"
)

// runWithin runs a restore and fails the test when it does not end within
// 20 s: the users and the channels wait for each other (users.go).
func runWithin(t *testing.T, ctx context.Context, ft *fakeTarget, fa *fakeArchive, o Options) (Result, error) {
	t.Helper()
	type out struct {
		res Result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		res, err := run(ctx, ft, fa, o)
		ch <- out{res, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-time.After(20 * time.Second):
		t.Fatal("run did not end: deadlock")
		return Result{}, nil
	}
}

// TestUsersBesideChannels: the users, restored beside the channels, end
// every run as they should: no channel, failing users, channels failing
// before they are ready.
func TestUsersBesideChannels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		channels int
		conc     int
		onWrite  func() func(op string, n int64) fault
		wantErr  string
		status   string
	}{
		{"zero channels", 0, 4, nil, "", StatusComplete},
		{"users fail", 3, 2, failFirst("CreateUser", faultError, 1<<30), "user", StatusFailed},
		{"users auth", 5, 2, failFirst("CreateUser", faultAuth, 1<<30), "credentials", StatusFailed},
		{"first wave all fail before ready", 5, 2, failFirst("CreateChannel", faultError, 3), "", StatusPartial},
		{"every channel fails before ready", 3, 8, failFirst("CreateChannel", faultError, 1<<30), "", StatusPartial},
		{"concurrency 1", 4, 1, nil, "", StatusComplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := withUsers(genHistory(histOpts{channels: tc.channels, messages: 5, seed: 7}))
			ft := newFakeTarget(dstSvc)
			if tc.onWrite != nil {
				ft.onWrite = tc.onWrite()
			}
			fa := newFakeArchive(snap)
			res, err := runWithin(t, t.Context(), ft, fa, opts(Options{Concurrency: tc.conc}))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want containing %q", err, tc.wantErr)
			}
			if res.Status != tc.status {
				t.Errorf("status %q, want %q (err %v)", res.Status, tc.status, err)
			}
			t.Logf("status %s err %v users %d failed %d", res.Status, err, res.Users, len(res.Failed))
		})
	}
}

// failFirst returns a fault plan: the first n writes op send fail with f.
func failFirst(op string, f fault, n int64) func() func(string, int64) fault {
	return func() func(string, int64) fault {
		var k atomic.Int64
		return func(o string, _ int64) fault {
			if o == op && k.Add(1) <= n {
				return f
			}
			return faultNone
		}
	}
}

// TestCancelWhileUsersWait: a run cancelled at any of its first writes
// ends interrupted, and its rerun completes.
func TestCancelWhileUsersWait(t *testing.T) {
	for i := range 20 {
		snap := withUsers(genHistory(histOpts{channels: 6, messages: 20, seed: 9}))
		ft := newFakeTarget(dstSvc)
		ctx, cancel := context.WithCancel(t.Context())
		var k atomic.Int64
		ft.onWrite = func(op string, n int64) fault {
			if k.Add(1) == int64(1+i) {
				cancel()
			}
			return faultNone
		}
		fa := newFakeArchive(snap)
		res, err := runWithin(t, ctx, ft, fa, opts(Options{Concurrency: 3}))
		if err == nil || res.Status != StatusInterrupted {
			t.Errorf("i=%d: %v %s", i, err, res.Status)
		}
		cancel()
		res, err = runWithin(t, t.Context(), ft, fa, opts(Options{Concurrency: 3}))
		if err != nil || res.Status != StatusComplete {
			t.Errorf("i=%d rerun: %v %s", i, err, res.Status)
		}
	}
}

// TestUserUpdateLostAnswer: an update whose answer is lost is read back,
// not sent again; one that failed is sent again.
func TestUserUpdateLostAnswer(t *testing.T) {
	for _, f := range []fault{faultLost, faultFail} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			snap := withUsers(genHistory(histOpts{channels: 2, messages: 3, seed: 4}))
			ft := newFakeTarget(dstSvc)
			fa := newFakeArchive(snap)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			// ann changes in the archive: the rerun updates her.
			snap.users[0] = store.UserRecord{SID: snap.users[0].SID, Identity: "ann", Raw: rawJSON(map[string]any{
				"sid": snap.users[0].SID, "identity": "ann", "friendly_name": "Ann 2", "attributes": `{"u":0}`, "role_sid": roleSvcUser})}
			var updates atomic.Int64
			ft.onWrite = func(op string, n int64) fault {
				if op == "UpdateUser" && updates.Add(1) == 1 {
					return f
				}
				return faultNone
			}
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			want := int64(1)
			if f == faultFail {
				want = 2
			}
			if updates.Load() != want {
				t.Errorf("%d UpdateUser sent, want %d", updates.Load(), want)
			}
			for _, u := range ft.usersOf(dstSvc) {
				if u.Identity == "ann" && u.FriendlyName != "Ann 2" {
					t.Errorf("ann: %+v", u)
				}
			}
		})
	}
}

// TestCreatesGoLongestFirst: the channels' creates go in the order the
// channels start, longest first, even when the unique-name lookups before
// them answer shortest first.
func TestCreatesGoLongestFirst(t *testing.T) {
	const channels = 6
	snap := withUsers(genHistory(histOpts{channels: channels, messages: 40, seed: 5}))
	var want []string // friendly names of the sources, longest first
	for c := channels - 1; c >= 0; c-- {
		ch := snap.channels[c].SID
		snap.messages[ch] = snap.messages[ch][:4+6*c]
		want = append(want, fmt.Sprintf("Room %d ☕", c))
	}
	ft := newFakeTarget(dstSvc)
	ft.beforeFetchChannel = func(name string) {
		// room-c answers after c × 15 ms: the longest channel's last.
		var c int
		if _, err := fmt.Sscanf(name, "room-%d", &c); err == nil {
			time.Sleep(time.Duration(c) * 15 * time.Millisecond)
		}
	}
	fa := newFakeArchive(snap)
	if _, err := runWithin(t, t.Context(), ft, fa, opts(Options{Concurrency: channels})); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ft.channelsOf(dstSvc) {
		name := c.ch.FriendlyName
		if name == "" { // channel 2 has no friendly name
			name = "Room 2 ☕"
		}
		got = append(got, name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("channels created in the order %q, want %q", got, want)
	}
}

// TestChannelRestoreBringsItsMembersUsers: a restore of named channels
// creates the users of their members only, verify compares those alone,
// and a sync of named channels deletes no user.
func TestChannelRestoreBringsItsMembersUsers(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 3, seed: 6})
	snap.roles = append(snap.roles, store.RoleRecord{SID: roleSvcUser, FriendlyName: "service user"})
	for i, id := range []string{"user0", "only1", "zed"} {
		sid := fmt.Sprintf("US%032d", i+1)
		snap.users = append(snap.users, store.UserRecord{SID: sid, Identity: id, Raw: rawJSON(map[string]any{
			"sid": sid, "identity": id, "friendly_name": id, "attributes": "{}", "role_sid": roleSvcUser})})
	}
	ch0, ch1 := snap.channels[0].SID, snap.channels[1].SID
	snap.members[ch1] = append(snap.members[ch1], store.MemberRecord{SID: "MB" + strings.Repeat("e", 32), Identity: "only1",
		Raw: rawJSON(map[string]any{"sid": "MB" + strings.Repeat("e", 32), "channel_sid": ch1, "identity": "only1", "attributes": "{}",
			"date_created": ts(t0), "date_updated": ts(t0), "role_sid": roleUser, "last_consumed_message_index": nil, "last_consumption_timestamp": nil})})
	users := func(ft *fakeTarget) []string {
		var ids []string
		for u, err := range ft.ListUsers(t.Context(), dstSvc) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.Identity)
		}
		slices.Sort(ids)
		return ids
	}
	for _, tc := range []struct {
		channels []string
		want     []string
	}{
		{[]string{ch0}, []string{"user0"}},
		{[]string{ch1}, []string{"only1", "user0"}},
		{nil, []string{"only1", "user0", "zed"}},
	} {
		ft := newFakeTarget(dstSvc)
		fa := newFakeArchive(snap)
		o := opts(Options{Channels: tc.channels})
		res, err := run(t.Context(), ft, fa, o)
		if err != nil || res.Status != StatusComplete {
			t.Fatalf("channels %v: %v %s", tc.channels, err, res.Status)
		}
		if got := users(ft); !slices.Equal(got, tc.want) {
			t.Errorf("channels %v: target users %q, want %q", tc.channels, got, tc.want)
		}
		if res.Users != len(tc.want) {
			t.Errorf("channels %v: Result.Users = %d, want %d", tc.channels, res.Users, len(tc.want))
		}
		diffs, err := verify(t.Context(), ft, fa, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			if d.User != "" { // genHistory's "moderator" members differ by design
				t.Errorf("channels %v: verify: %+v", tc.channels, d)
			}
		}
		if tc.channels != nil {
			continue
		}
		// user0 leaves the archive: a sync of one channel keeps it, a
		// sync of all deletes it.
		gone := snap.users[0]
		snap.users = snap.users[1:]
		if _, err := run(t.Context(), ft, fa, opts(Options{Sync: true, Channels: []string{ch1}})); err != nil {
			t.Fatal(err)
		}
		if got := users(ft); !slices.Contains(got, "user0") {
			t.Errorf("a sync of channel %s deleted user0: users %q", ch1, got)
		}
		if _, err := run(t.Context(), ft, fa, opts(Options{Sync: true})); err != nil {
			t.Fatal(err)
		}
		if got := users(ft); slices.Contains(got, "user0") {
			t.Errorf("a sync of every channel kept user0: users %q", got)
		}
		snap.users = append([]store.UserRecord{gone}, snap.users...)
	}
}

// TestParticipantWithoutIdentitySkipped: a member without identity (an
// SMS participant archived through Conversations) is left out with a
// Skipped entry; the channel's other members and messages are restored,
// with or without the channel named, and verify finds nothing missing.
func TestParticipantWithoutIdentitySkipped(t *testing.T) {
	for _, named := range []bool{false, true} {
		snap := genHistory(histOpts{channels: 2, messages: 4, seed: 2})
		ch := snap.channels[1].SID
		sms := "MB" + strings.Repeat("5", 32)
		snap.members[ch] = append(snap.members[ch], store.MemberRecord{SID: sms, Raw: rawJSON(map[string]any{
			"sid": sms, "channel_sid": ch, "identity": nil, "attributes": "{}", "date_created": ts(t0), "date_updated": ts(t0),
			"role_sid": roleUser, "last_consumed_message_index": nil, "last_consumption_timestamp": nil})})
		ft := newFakeTarget(dstSvc)
		fa := newFakeArchive(snap)
		o := opts(Options{})
		if named {
			o.Channels = []string{ch}
		}
		res, err := run(t.Context(), ft, fa, o)
		if err != nil || res.Status != StatusPartial || len(res.Failed) != 0 {
			t.Fatalf("named=%v: %v, status %s, failed %+v", named, err, res.Status, res.Failed)
		}
		if len(res.Skipped) != 1 || res.Skipped[0] != (Skipped{Channel: ch, Member: sms, Kind: SkipParticipant, Reason: res.Skipped[0].Reason}) {
			t.Errorf("named=%v: skipped %+v, want the participant %s", named, res.Skipped, sms)
		}
		if want := 3 * len(o.Channels); named && res.Members != want || !named && res.Members != 6 {
			t.Errorf("named=%v: %d members restored", named, res.Members)
		}
		diffs, err := verify(t.Context(), ft, fa, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			if d.Kind == KindMissingLive {
				t.Errorf("named=%v: verify: %+v", named, d)
			}
		}
	}
}

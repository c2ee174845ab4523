package restore

import (
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

// lossOf finds the loss of kind/field in ls.
func lossOf(ls []LossCount, kind, field string) (LossCount, bool) {
	for _, l := range ls {
		if l.Kind == kind && l.Field == field {
			return l, true
		}
	}
	return LossCount{}, false
}

// TestLossesReported: a Chat snapshot restored through Conversations
// reports, in the dry run and in the result, each field Conversations
// cannot carry that the archived records hold, with how many hold it; the
// same restore through Chat reports none.
func TestLossesReported(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 14, seed: 2})
	// genHistory: channels 0 and 2 are public, every channel has a creator,
	// messages 5 and 12 of each channel were edited by user0.
	wantCounts := map[string]int{"channel/type": 2, "channel/created_by": 3, "message/was_edited": 6, "message/last_updated_by": 6}
	for _, dry := range []bool{true, false} {
		t.Run(fmt.Sprintf("dry run %v", dry), func(t *testing.T) {
			ft := newFakeTarget(dstSvc)
			ft.api = remote.APIConversations
			res, err := run(t.Context(), ft, newFakeArchive(snap), opts(Options{DryRun: dry}))
			if err != nil {
				t.Fatal(err)
			}
			if res.API != remote.APIConversations {
				t.Errorf("api %q", res.API)
			}
			if len(res.Losses) != len(wantCounts) {
				t.Errorf("losses %+v, want %v", res.Losses, wantCounts)
			}
			for kf, n := range wantCounts {
				kind, field, _ := strings.Cut(kf, "/")
				l, ok := lossOf(res.Losses, kind, field)
				if !ok || l.Count != n || l.Why == "" {
					t.Errorf("loss %s: %+v (found %v), want count %d and a reason", kf, l, ok, n)
				}
			}
			warned := 0
			for _, w := range res.Warnings {
				if strings.Contains(w, "Conversations cannot carry from Chat") {
					warned++
				}
			}
			if warned != len(wantCounts) {
				t.Errorf("warnings %q: want one per loss", res.Warnings)
			}
		})
	}
	ft := newFakeTarget(dstSvc)
	res, err := run(t.Context(), ft, newFakeArchive(snap), opts(Options{DryRun: true}))
	if err != nil || res.Losses != nil || res.API != remote.APIChat {
		t.Errorf("through Chat: losses %+v, api %q, err %v", res.Losses, res.API, err)
	}
	// A snapshot read through Conversations that keeps Chat's records
	// (those a run did not read again): the losses are from Chat.
	snap.meta.API = remote.APIConversations
	ft = newFakeTarget(dstSvc)
	ft.api = remote.APIConversations
	res, err = run(t.Context(), ft, newFakeArchive(snap), opts(Options{DryRun: true}))
	if err != nil || len(res.Losses) != len(wantCounts) {
		t.Fatalf("Conversations snapshot of Chat records: losses %+v, err %v", res.Losses, err)
	}
	for _, l := range res.Losses {
		if l.From != remote.APIChat {
			t.Errorf("loss %+v: want it from chat", l)
		}
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "cannot carry from Conversations") {
			t.Errorf("warning %q: the records are in Chat's shape", w)
		}
	}
}

// TestLostFieldsAreNoDifference: what the target's API cannot carry is no
// difference to VerifyTarget, nor to adoption; through Chat it still is.
// A message Conversations shows with a null date_updated (never edited)
// equals one whose date_updated is its date_created.
func TestLostFieldsAreNoDifference(t *testing.T) {
	snap := genHistory(histOpts{channels: 2, messages: 8, seed: 3})
	for _, api := range []string{remote.APIChat, remote.APIConversations} {
		t.Run(api, func(t *testing.T) {
			ft := newFakeTarget(dstSvc)
			ft.api = api
			fa := newFakeArchive(snap)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			// What Conversations makes of it: private, no creator, no
			// editor, null date_updated on unedited messages.
			ft.mu.Lock()
			for _, c := range ft.channels[dstSvc] {
				c.ch.Type, c.ch.CreatedBy = "private", "system"
				for _, m := range c.messages {
					m.LastUpdatedBy = ""
					if m.DateUpdated.Equal(m.DateCreated) {
						m.DateUpdated = time.Time{}
					}
				}
			}
			ft.mu.Unlock()
			diffs, err := verify(t.Context(), ft, fa, opts(Options{}))
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, d := range diffs {
				// genHistory's "moderator" role has no namesake in the target.
				fields = append(fields, slices.DeleteFunc(d.Fields, func(f string) bool { return f == "role_sid" })...)
			}
			slices.Sort(fields)
			fields = slices.Compact(fields)
			want := []string{"created_by", "last_updated_by", "type"}
			if api == remote.APIConversations {
				want = nil
			}
			if !slices.Equal(fields, want) {
				t.Errorf("differing fields %q, want %q (%+v)", fields, want, diffs)
			}
		})
	}
}

// convSnap is a snapshot read through Conversations: records in
// Conversations' shape.
func convSnap() *fakeSnap {
	ch := "CH" + strings.Repeat("c", 32)
	s := &fakeSnap{
		meta: store.Snapshot{ID: 1, Service: srcSvc, Status: store.StatusComplete, API: remote.APIConversations,
			Started: t0, Finished: t0.Add(time.Minute)},
		roles: []store.RoleRecord{{SID: roleUser, FriendlyName: "channel user", Raw: []byte(`{"sid":"` + roleUser + `","friendly_name":"channel user","type":"conversation"}`)}},
		channels: []store.ChannelRecord{{SID: ch, UniqueName: "conv", Raw: []byte(`{"sid":"` + ch + `","chat_service_sid":"` + srcSvc +
			`","unique_name":"conv","friendly_name":"Conv","attributes":"{\"a\":1}","state":"active","messaging_service_sid":"MG` + strings.Repeat("1", 32) +
			`","date_created":"2024-03-01T09:00:00Z","date_updated":"2024-03-01T09:05:00Z","timers":{},"bindings":null}`)}},
		members: map[string][]store.MemberRecord{ch: {{SID: "MB" + strings.Repeat("1", 32), Identity: "ann", Raw: []byte(`{"sid":"MB` + strings.Repeat("1", 32) +
			`","conversation_sid":"` + ch + `","identity":"ann","role_sid":"` + roleUser + `","attributes":"{}","messaging_binding":null,` +
			`"date_created":"2024-03-01T09:00:01Z","date_updated":"2024-03-01T09:00:02Z","last_read_message_index":2,"last_read_timestamp":"2024-03-01T10:00:00Z"}`)}}},
		messages: map[string][]store.MessageRecord{ch: {
			{SID: "IM" + strings.Repeat("1", 32), Index: 0, Raw: []byte(`{"sid":"IM` + strings.Repeat("1", 32) + `","index":0,"author":"ann","body":"hi",` +
				`"attributes":"{}","media":null,"date_created":"2024-03-01T09:01:00Z","date_updated":null}`)},
			{SID: "IM" + strings.Repeat("2", 32), Index: 2, Raw: []byte(`{"sid":"IM` + strings.Repeat("2", 32) + `","index":2,"author":"ann","body":null,` +
				`"attributes":"{\"x\":true}","media":null,"date_created":"2024-03-01T09:02:00Z","date_updated":"2024-03-01T09:03:00Z"}`)},
		}},
	}
	return s
}

// TestConversationsSnapshotIntoChat: a snapshot read through Conversations
// is read in Chat's shape (author is from, a null body is empty, the read
// horizon is the last consumed index) and restored through Chat; its
// messaging service is reported as a loss.
func TestConversationsSnapshotIntoChat(t *testing.T) {
	snap := convSnap()
	ft := newFakeTarget(dstSvc)
	fa := newFakeArchive(snap)
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil || res.Status != StatusComplete || res.Messages != 2 || res.Members != 1 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if l, ok := lossOf(res.Losses, remote.KindChannel, "messaging_service_sid"); !ok || l.Count != 1 || len(res.Losses) != 1 {
		t.Errorf("losses %+v, want messaging_service_sid of one channel", res.Losses)
	}
	cs := ft.channelsOf(dstSvc)
	if len(cs) != 1 {
		t.Fatalf("%d channels", len(cs))
	}
	c := cs[0]
	if c.ch.UniqueName != "conv" || c.ch.FriendlyName != "Conv" || c.ch.Type != "private" || c.ch.Attributes != `{"a":1}` {
		t.Errorf("channel %+v", c.ch)
	}
	if len(c.messages) != 2 || c.messages[0].From != "ann" || c.messages[0].Body != "hi" || c.messages[1].Body != "" ||
		c.messages[1].Attributes != `{"x":true}` || !c.messages[1].DateUpdated.Equal(time.Date(2024, 3, 1, 9, 3, 0, 0, time.UTC)) {
		t.Errorf("messages %+v %+v", c.messages[0], c.messages[1])
	}
	if len(c.members) != 1 || c.members[0].Identity != "ann" || c.members[0].LastConsumedMessageIndex == nil ||
		*c.members[0].LastConsumedMessageIndex != int(c.messages[1].Index) || c.members[0].LastConsumptionTimestamp == nil {
		t.Errorf("member %+v", c.members[0])
	}
	if diffs, err := verify(t.Context(), ft, fa, opts(Options{})); err != nil || len(diffs) != 0 {
		t.Errorf("verify: %+v, %v", diffs, err)
	}
}

// TestTimestampOnlyThroughConversations: Conversations takes a read
// timestamp on update only, so a member with a timestamp and no read index
// gets an update of its own; through Chat the create carries it.
func TestTimestampOnlyThroughConversations(t *testing.T) {
	for _, tc := range []struct {
		api     string
		updates int64
	}{{remote.APIChat, 0}, {remote.APIConversations, 1}} {
		t.Run(tc.api, func(t *testing.T) {
			snap := convSnap()
			ch := snap.channels[0].SID
			snap.members[ch][0].Raw = []byte(strings.Replace(string(snap.members[ch][0].Raw), `"last_read_message_index":2`, `"last_read_message_index":null`, 1))
			ft := newFakeTarget(dstSvc)
			ft.api = tc.api
			var updates int64
			ft.onWrite = func(op string, n int64) fault {
				if op == "UpdateMember" {
					updates++
				}
				return faultNone
			}
			if _, err := run(t.Context(), ft, newFakeArchive(snap), opts(Options{})); err != nil {
				t.Fatal(err)
			}
			if updates != tc.updates {
				t.Errorf("%d member updates, want %d", updates, tc.updates)
			}
		})
	}
}

const roleSvcUser = "RL000000000000000000000000000000b1"

// withUsers adds archived users ann and bob (a service role the target
// has by name) and carol to snap.
func withUsers(snap *fakeSnap) *fakeSnap {
	snap.roles = append(snap.roles, store.RoleRecord{SID: roleSvcUser, FriendlyName: "service user"})
	for i, id := range []string{"ann", "bob", "carol"} {
		sid := fmt.Sprintf("US%032d", i+1)
		snap.users = append(snap.users, store.UserRecord{SID: sid, Identity: id, Raw: rawJSON(map[string]any{
			"sid": sid, "identity": id, "friendly_name": strings.ToUpper(id[:1]) + id[1:], "attributes": fmt.Sprintf(`{"u":%d}`, i),
			"role_sid": roleSvcUser,
		})})
	}
	return snap
}

// TestUsersRestored: users go before members: each archived user the target
// lacks is created with its friendly name, attributes and role (mapped by
// name); one someone else created is left alone and reported; a rerun
// writes nothing; one this restore created that changed since is updated.
func TestUsersRestored(t *testing.T) {
	snap := withUsers(genHistory(histOpts{channels: 2, messages: 3, seed: 4}))
	ft := newFakeTarget(dstSvc)
	ft.addUser(dstSvc, remote.User{Identity: "carol", FriendlyName: "Someone else", Attributes: "{}"})
	var (
		mu  sync.Mutex
		ops []string // the writes, in order (the users' and the channels' run side by side)
	)
	ft.onWrite = func(op string, n int64) fault {
		if op == "CreateChannel" {
			// Room for a user create, had the users not waited for the
			// first channel.
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		return faultNone
	}
	fa := newFakeArchive(snap)

	res, err := run(t.Context(), ft, fa, opts(Options{DryRun: true}))
	if err != nil || res.Plan == nil || res.Plan.Users != 2 || res.Users != 0 || len(ops) != 0 {
		t.Fatalf("dry run: plan %+v, users %d, writes %q, %v", res.Plan, res.Users, ops, err)
	}
	res, err = run(t.Context(), ft, fa, opts(Options{Concurrency: 1}))
	if err != nil || res.Users != 2 {
		t.Fatalf("run: users %d, %v", res.Users, err)
	}
	firstMember := slices.Index(ops, "CreateMember")
	if n := slices.Index(ops, "CreateUser"); n < 0 || n > firstMember || slices.Contains(ops[firstMember:], "CreateUser") {
		t.Errorf("writes %q: users are not all created before the first member", ops)
	}
	// The users start once the first channels are created, not before:
	// channel and user creates share the service's bucket of writes.
	if c, u := slices.Index(ops, "CreateChannel"), slices.Index(ops, "CreateUser"); c < 0 || u < c {
		t.Errorf("writes %q: a user was created before the first channel", ops)
	}
	svcUser := ft.roles[dstSvc][2].SID
	byID := map[string]remote.User{}
	for _, u := range ft.usersOf(dstSvc) {
		byID[u.Identity] = u
	}
	if u := byID["ann"]; u.FriendlyName != "Ann" || u.Attributes != `{"u":0}` || u.RoleSID != svcUser {
		t.Errorf("ann: %+v", u)
	}
	if u := byID["carol"]; u.FriendlyName != "Someone else" {
		t.Errorf("carol was changed: %+v", u)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool {
		return strings.Contains(w, `user "carol"`) && strings.Contains(w, "friendly_name")
	}) {
		t.Errorf("warnings %q do not report carol", res.Warnings)
	}
	diffs, err := verify(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, d := range diffs {
		if d.User != "" {
			users = append(users, d.User+" "+d.Kind+" "+strings.Join(d.Fields, ","))
		}
	}
	if !slices.Equal(users, []string{"carol changed friendly_name,attributes,role_sid"}) {
		t.Errorf("user differences %q", users)
	}

	ops = nil
	if res, err = run(t.Context(), ft, fa, opts(Options{})); err != nil || len(ops) != 0 || res.Users != 0 {
		t.Errorf("rerun: writes %q, users %d, %v", ops, res.Users, err)
	}
	ft.mu.Lock()
	ft.findUser(dstSvc, "bob").FriendlyName = "changed"
	ft.mu.Unlock()
	if res, err = run(t.Context(), ft, fa, opts(Options{})); err != nil || !slices.Equal(ops, []string{"UpdateUser"}) || res.Users != 1 {
		t.Errorf("rerun after bob changed: writes %q, users %d, %v", ops, res.Users, err)
	}
	if u, _ := ft.FetchUser(t.Context(), dstSvc, "bob"); u.FriendlyName != "Bob" {
		t.Errorf("bob: %+v", u)
	}
}

// TestUserCreateOutcomes: a create whose answer is lost, or that fails
// without acting, or that is killed, leaves exactly one user per identity.
func TestUserCreateOutcomes(t *testing.T) {
	for _, f := range []fault{faultLost, faultFail} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			snap := withUsers(genHistory(histOpts{channels: 1, messages: 2}))
			ft := newFakeTarget(dstSvc)
			ft.onWrite = func(op string, n int64) fault {
				if op == "CreateUser" && n <= 2 {
					return f
				}
				return faultNone
			}
			fa := newFakeArchive(snap)
			res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 1}))
			if err != nil || res.Users != 3 {
				t.Fatalf("run: users %d, %v", res.Users, err)
			}
			if n := len(ft.usersOf(dstSvc)); n != 3 {
				t.Errorf("%d users, want 3", n)
			}
			ft.onWrite = nil
			w := ft.writes.Load()
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil || ft.writes.Load() != w {
				t.Errorf("rerun wrote %d, %v", ft.writes.Load()-w, err)
			}
		})
	}
	t.Run("killed", func(t *testing.T) {
		snap := withUsers(genHistory(histOpts{channels: 1, messages: 2}))
		ft := newFakeTarget(dstSvc)
		fa := newFakeArchive(snap)
		killRun(t, ft, fa, 2, opts(Options{Concurrency: 1}))
		if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
			t.Fatal(err)
		}
		if n := len(ft.usersOf(dstSvc)); n != 3 {
			t.Errorf("%d users, want 3", n)
		}
		if diffs, err := verify(t.Context(), ft, fa, opts(Options{})); err != nil || slices.ContainsFunc(diffs, func(d Difference) bool { return d.User != "" }) {
			t.Errorf("verify: %+v, %v", diffs, err)
		}
	})
}

// TestCarries: which archived values a loss applies to.
func TestCarries(t *testing.T) {
	for _, tc := range []struct {
		kind, field, val string
		want             bool
	}{
		{"channel", "type", `"public"`, true},
		{"channel", "type", `"private"`, false},
		{"channel", "created_by", `"ann"`, true},
		{"channel", "created_by", `null`, false},
		{"channel", "created_by", `""`, false},
		{"channel", "created_by", ``, false},
		{"channel", "state", `"active"`, false},
		{"channel", "state", `"closed"`, true},
		{"channel", "timers", `{}`, false},
		{"channel", "timers", `{"date_closed":"2024-01-01T00:00:00Z"}`, true},
		{"message", "was_edited", `false`, false},
		{"message", "was_edited", `true`, true},
		{"message", "media", `[{"sid":"ME1"}]`, false},
		{"message", "media", `[{"sid":"ME1"},{"sid":"ME2"}]`, true},
		{"message", "media", `[]`, false},
	} {
		if got := carries(tc.kind, tc.field, []byte(tc.val)); got != tc.want {
			t.Errorf("carries(%s, %s, %s) = %v, want %v", tc.kind, tc.field, tc.val, got, tc.want)
		}
	}
}

// TestMixedSnapshotLosses: a snapshot read through Conversations that kept
// a public channel an earlier Chat snapshot read (in Chat's shape) names
// that channel's type and creator as losses even when restored through
// Conversations, and its Conversations records' messaging service when
// restored through Chat.
func TestMixedSnapshotLosses(t *testing.T) {
	snap := convSnap()
	chat := genHistory(histOpts{channels: 1, messages: 2})
	snap.channels = append(snap.channels, chat.channels[0])
	maps.Copy(snap.members, chat.members)
	maps.Copy(snap.messages, chat.messages)
	for _, tc := range []struct {
		api  string
		want []string
	}{
		{remote.APIConversations, []string{"channel/type", "channel/created_by"}},
		{remote.APIChat, []string{"channel/messaging_service_sid"}},
	} {
		ft := newFakeTarget(dstSvc)
		ft.api = tc.api
		res, err := run(t.Context(), ft, newFakeArchive(snap), opts(Options{DryRun: true}))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range res.Losses {
			got = append(got, l.Kind+"/"+l.Field)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("through %s: losses %q, want %q", tc.api, got, tc.want)
		}
	}
}

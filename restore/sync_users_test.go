package restore

import (
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// TestSyncDeletesUsers: a sync deletes a user this restore created that the
// snapshot no longer has, once under a lost answer, a failed one or a kill,
// and counts it in Deleted; a user someone else made is never deleted (one
// that took the identity of ours is reported); a dry run lists the delete;
// a plain restore deletes nothing; a further sync writes nothing.
func TestSyncDeletesUsers(t *testing.T) {
	cases := []struct {
		name     string
		o        Options
		fault    fault // on the DeleteUser
		replaced bool  // someone deleted bob and made a bob of their own
		sent     int   // DeleteUser requests in all
		deleted  int   // Result.Deleted of the (last) run
		bobGone  bool
	}{
		{name: "deleted", o: Options{Sync: true}, sent: 1, deleted: 1, bobGone: true},
		{name: "lost answer", o: Options{Sync: true}, fault: faultLost, sent: 1, deleted: 1, bobGone: true},
		{name: "failed answer", o: Options{Sync: true}, fault: faultFail, sent: 2, deleted: 1, bobGone: true},
		{name: "killed", o: Options{Sync: true}, fault: faultKill, sent: 1, deleted: 0, bobGone: true},
		{name: "dry run", o: Options{Sync: true, DryRun: true}},
		{name: "without sync", o: Options{}},
		{name: "someone else's", o: Options{Sync: true}, replaced: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s1 := withUsers(genHistory(histOpts{channels: 1, messages: 3, seed: 41}))
			ft := newFakeTarget(srcSvc, dstSvc)
			ft.addUser(dstSvc, remote.User{Identity: "carol", FriendlyName: "Someone else", Attributes: "{}"})
			ft.addUser(dstSvc, remote.User{Identity: "dave", FriendlyName: "Dave", Attributes: "{}"})
			fa := newFakeArchive(s1)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			s2 := nextSnap(s1, 2)
			s2.users = slices.DeleteFunc(slices.Clone(s1.users), func(u store.UserRecord) bool { return u.Identity != "ann" })
			fa.snaps = append(fa.snaps, s2)
			var bob remote.User
			for _, u := range ft.usersOf(dstSvc) {
				if u.Identity == "bob" {
					bob = u
				}
			}
			if tc.replaced {
				if err := ft.DeleteUser(t.Context(), dstSvc, "bob"); err != nil {
					t.Fatal(err)
				}
				ft.addUser(dstSvc, remote.User{Identity: "bob", FriendlyName: "Another Bob", Attributes: "{}"})
			}

			failed := false
			ops := recordOps(ft, func(op string, _ int64) fault {
				if op == "DeleteUser" && tc.fault != faultKill && !failed {
					failed = true // the first only
					return tc.fault
				}
				return faultNone
			})
			if tc.fault == faultKill {
				killRun(t, ft, fa, 1, opts(tc.o))
			}
			res, err := run(t.Context(), ft, fa, opts(tc.o))
			if err != nil || res.Status != StatusComplete {
				t.Fatalf("run: %v %+v", err, res)
			}
			if n := countOps(*ops, "DeleteUser"); n != tc.sent || len(*ops) != n {
				t.Errorf("writes %v, want %d DeleteUser only", *ops, tc.sent)
			}
			if res.Deleted != tc.deleted {
				t.Errorf("deleted %d, want %d", res.Deleted, tc.deleted)
			}
			var have []string
			for _, u := range ft.usersOf(dstSvc) {
				have = append(have, u.Identity)
				if u.Identity == "bob" && u.SID == bob.SID && tc.bobGone {
					t.Errorf("bob (%s) is still in the target", u.SID)
				}
			}
			slices.Sort(have)
			want := []string{"ann", "bob", "carol", "dave"}
			if tc.bobGone {
				want = []string{"ann", "carol", "dave"}
			}
			if !slices.Equal(have, want) {
				t.Errorf("target users %q, want %q", have, want)
			}
			if tc.o.DryRun {
				i := slices.IndexFunc(res.Plan.Actions, func(a Action) bool { return a.Op == "delete" && a.Kind == "user" })
				if i < 0 || res.Plan.Actions[i].Source != "bob" || res.Plan.Actions[i].Target != bob.SID || res.Plan.Deletes != 1 {
					t.Errorf("plan %+v does not list bob's delete once", res.Plan)
				}
			}
			reported := slices.ContainsFunc(res.Warnings, func(w string) bool {
				return strings.Contains(w, `user "bob"`) && strings.Contains(w, "not the one this restore created")
			})
			if reported != tc.replaced {
				t.Errorf("warnings %q: bob reported %v, want %v", res.Warnings, reported, tc.replaced)
			}

			// A sync after one that wrote its changes writes nothing; after
			// a dry run or a plain restore it deletes bob.
			*ops = nil
			res, err = run(t.Context(), ft, fa, opts(Options{Sync: true}))
			left := 0
			if !tc.o.Sync || tc.o.DryRun {
				left = 1
			}
			if err != nil || len(*ops) != left || res.Deleted != left {
				t.Errorf("sync after: %v, writes %v, deleted %d; want %d", err, *ops, res.Deleted, left)
			}
		})
	}
}

// TestSyncUserBack: a user a sync deleted that a later snapshot has again
// is created again, as this restore's own; one someone else made under
// the identity of a user the sync deleted is not ours to update without
// --sync.
func TestSyncUserBack(t *testing.T) {
	s1 := withUsers(genHistory(histOpts{channels: 1, messages: 3, seed: 42}))
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(s1)
	if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
		t.Fatal(err)
	}
	s2 := nextSnap(s1, 2)
	s2.users = slices.DeleteFunc(slices.Clone(s1.users), func(u store.UserRecord) bool { return u.Identity == "bob" })
	s3 := nextSnap(s1, 3)
	s3.users = slices.Clone(s1.users)
	fa.snaps = append(fa.snaps, s2)
	if res, err := run(t.Context(), ft, fa, opts(Options{Sync: true})); err != nil || res.Deleted != 1 {
		t.Fatalf("sync to 2: deleted %d, %v", res.Deleted, err)
	}
	fa.snaps = append(fa.snaps, s3)
	ops := recordOps(ft, nil)
	res, err := run(t.Context(), ft, fa, opts(Options{Sync: true}))
	if err != nil || res.Users != 1 || !slices.Equal(*ops, []string{"CreateUser"}) {
		t.Fatalf("sync to 3: users %d, writes %v, %v", res.Users, *ops, err)
	}

	// bob gone again, and someone else's bob in its place: a plain
	// restore leaves it as it is though it differs.
	fa.snaps = append(fa.snaps, func() *fakeSnap { s := nextSnap(s2, 4); s.users = s2.users; return s }())
	if _, err := run(t.Context(), ft, fa, opts(Options{Sync: true})); err != nil {
		t.Fatal(err)
	}
	ft.addUser(dstSvc, remote.User{Identity: "bob", FriendlyName: "Another Bob", Attributes: "{}"})
	fa.snaps = append(fa.snaps, func() *fakeSnap { s := nextSnap(s3, 5); s.users = s3.users; return s }())
	*ops = nil
	res, err = run(t.Context(), ft, fa, opts(Options{}))
	if err != nil || len(*ops) != 0 {
		t.Fatalf("plain restore: writes %v, %v", *ops, err)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, `user "bob"`) && strings.Contains(w, "left as it is") }) {
		t.Errorf("warnings %q do not report someone else's bob", res.Warnings)
	}
}

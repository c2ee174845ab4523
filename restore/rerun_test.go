package restore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/store"
)

// targetOf returns the target channel the journal maps source channel c of snap onto.
func targetOf(t *testing.T, fa *fakeArchive, snap *fakeSnap, c int) string {
	t.Helper()
	st, ok := journalOf(t, fa, srcSvc, dstSvc).value(chanKey(snap.channels[c].SID))
	if !ok || st.Target == "" {
		t.Fatalf("channel %d (%s) has no target in the journal: %+v", c, snap.channels[c].SID, st)
	}
	return st.Target
}

// rerunIsIdle reruns a finished restore and checks that it writes nothing and
// reads the roles and each target channel once.
func rerunIsIdle(t *testing.T, ft *fakeTarget, fa *fakeArchive, channels int) Result {
	t.Helper()
	writes, reqs := ft.writes.Load(), ft.Requests()
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if w := ft.writes.Load() - writes; w != 0 {
		t.Errorf("rerun of a finished restore wrote %d times", w)
	}
	if r := ft.Requests() - reqs; r != int64(1+channels) || res.Requests != r {
		t.Errorf("rerun sent %d requests (result says %d), want %d", r, res.Requests, 1+channels)
	}
	if res.ChannelsCreated != 0 || res.ChannelsSkipped != channels || res.Messages != 0 || res.Members != 0 {
		t.Errorf("rerun result %+v", res)
	}
	return res
}

// TestDeletedTargetChannel: a target channel deleted after it was restored
// (all of it or part of it) is restored again, whole, by the next run, and
// planned by a dry run; the channels still there are left alone.
func TestDeletedTargetChannel(t *testing.T) {
	const perChannel = 14
	snap := genHistory(histOpts{channels: 3, messages: perChannel, seed: 21})
	cases := []struct {
		name    string
		kill    int64 // >0: the first run is killed at this write (concurrency 1) instead of finishing
		deleted []int // channels (by snapshot position) deleted from the target before each rerun
		rounds  int   // delete and rerun this many times

		wantCreated, wantMessages int // per rerun
	}{
		{name: "with unique name", deleted: []int{0}, rounds: 1, wantCreated: 1, wantMessages: perChannel},
		{name: "without unique name", deleted: []int{1}, rounds: 1, wantCreated: 1, wantMessages: perChannel},
		{name: "every channel", deleted: []int{0, 1, 2}, rounds: 1, wantCreated: 3, wantMessages: 3 * perChannel},
		{name: "deleted again after its second restore", deleted: []int{2}, rounds: 3, wantCreated: 1, wantMessages: perChannel},
		{name: "two of three", deleted: []int{0, 2}, rounds: 2, wantCreated: 2, wantMessages: 2 * perChannel},
		// Each channel takes 1 + 3 + 14 + 2 writes: write 27 is in channel 1,
		// which is deleted half restored; channel 2 is not started.
		{name: "half restored", kill: 27, deleted: []int{1}, rounds: 1, wantCreated: 2, wantMessages: 2 * perChannel},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			if tc.kill > 0 {
				killRun(t, ft, fa, tc.kill, opts(Options{Concurrency: 1}))
			} else if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatalf("first run: %v", err)
			}
			for round := range tc.rounds {
				for _, c := range tc.deleted {
					if tgt := targetOf(t, fa, snap, c); !ft.deleteChannel(dstSvc, tgt) {
						t.Fatalf("round %d: target channel %s of channel %d is not in the target", round, tgt, c)
					}
				}
				writes := ft.writes.Load()
				dry, err := run(t.Context(), ft, fa, opts(Options{DryRun: true}))
				if err != nil {
					t.Fatalf("round %d: dry run: %v", round, err)
				}
				if ft.writes.Load() != writes {
					t.Fatalf("round %d: dry run wrote", round)
				}
				res, err := run(t.Context(), ft, fa, opts(Options{}))
				if err != nil {
					t.Fatalf("round %d: rerun: %v", round, err)
				}
				if res.Status != StatusComplete || res.ChannelsCreated != tc.wantCreated || res.ChannelsSkipped != 3-tc.wantCreated ||
					res.Messages != tc.wantMessages || res.MessagesSkipped != 3*perChannel-tc.wantMessages || len(res.Conflicts) != 0 {
					t.Errorf("round %d: rerun %+v; want %d channels and %d messages created", round, res, tc.wantCreated, tc.wantMessages)
				}
				if p := dry.Plan; p == nil || p.Channels != res.ChannelsCreated || p.Members != res.Members || p.Messages != res.Messages ||
					int64(p.Writes) != ft.writes.Load()-writes {
					t.Errorf("round %d: plan %+v, but the rerun created %d channels, %d members, %d messages in %d writes",
						round, dry.Plan, res.ChannelsCreated, res.Members, res.Messages, ft.writes.Load()-writes)
				}
				for _, c := range tc.deleted {
					if st, _ := journalOf(t, fa, srcSvc, dstSvc).value(chanKey(snap.channels[c].SID)); st.Gen != int64(round+1) || !st.Finished {
						t.Errorf("round %d: channel %d journal state %+v, want generation %d, finished", round, c, st, round+1)
					}
				}
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
			// user2's archived role has no namesake in the target: the only differences.
			var want []string
			for _, c := range snap.channels {
				want = append(want, wantDiff(KindChanged, c.SID, "user2", "", "role_sid"))
			}
			diffs, err := verify(t.Context(), ft, fa, opts(Options{}))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			checkDiffs(t, diffs, want)
			rerunIsIdle(t, ft, fa, 3)
		})
	}
}

// TestDeletedTargetMessages: messages deleted from a restored target
// channel are not put back, but a rerun reports the channel as a conflict,
// saying what to do; following that advice restores the channel whole.
func TestDeletedTargetMessages(t *testing.T) {
	const perChannel = 14
	snap := genHistory(histOpts{channels: 3, messages: perChannel, seed: 22})
	cases := []struct {
		name          string
		deleted       map[int][]int // channel position → positions of its target messages to delete
		oldJournal    bool          // the journal predates restored counts: nothing to compare with
		wantConflicts []int         // channel positions
	}{
		{name: "nothing deleted"},
		{name: "one message", deleted: map[int][]int{0: {3}}, wantConflicts: []int{0}},
		{name: "the newest messages", deleted: map[int][]int{1: {12, 13}}, wantConflicts: []int{1}},
		{name: "every message", deleted: map[int][]int{2: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}}, wantConflicts: []int{2}},
		{name: "two channels", deleted: map[int][]int{0: {0}, 2: {5, 6, 7}}, wantConflicts: []int{0, 2}},
		{name: "journal without counts", deleted: map[int][]int{0: {3}}, oldJournal: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatalf("first run: %v", err)
			}
			if tc.oldJournal {
				stripRestoredCounts(t, journalOf(t, fa, srcSvc, dstSvc))
			}
			for c, ps := range tc.deleted {
				if n := ft.deleteMessages(dstSvc, targetOf(t, fa, snap, c), ps...); n != len(ps) {
					t.Fatalf("deleted %d messages of channel %d, want %d", n, c, len(ps))
				}
			}
			dry, err := run(t.Context(), ft, fa, opts(Options{DryRun: true}))
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			res := rerunIsIdle(t, ft, fa, 3)
			for _, r := range []Result{dry, res} {
				var got []int
				for _, cf := range r.Conflicts {
					c := slices.IndexFunc(snap.channels, func(ch store.ChannelRecord) bool { return ch.SID == cf.Channel })
					got = append(got, c)
					n := perChannel - len(tc.deleted[c])
					want := fmt.Sprintf("holds %d messages, fewer than the %d restored", n, perChannel)
					if !strings.Contains(cf.Reason, want) || !strings.Contains(cf.Reason, "delete the target channel and rerun") ||
						cf.UniqueName != snap.channels[c].UniqueName {
						t.Errorf("conflict %+v; want its reason to say %q and what to do", cf, want)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.wantConflicts) {
					t.Errorf("dry run %v: conflicts in channels %v, want %v", r.DryRun, got, tc.wantConflicts)
				}
				if wantStatus := map[bool]string{true: StatusPartial, false: StatusComplete}[len(tc.wantConflicts) > 0]; r.Status != wantStatus {
					t.Errorf("dry run %v: status %q, want %q", r.DryRun, r.Status, wantStatus)
				}
			}
			if len(tc.deleted) == 0 || tc.oldJournal {
				return
			}
			// The remedy the conflict names.
			for c := range tc.deleted {
				ft.deleteChannel(dstSvc, targetOf(t, fa, snap, c))
			}
			if res, err := run(t.Context(), ft, fa, opts(Options{})); err != nil || res.Status != StatusComplete || res.ChannelsCreated != len(tc.deleted) {
				t.Fatalf("rerun after deleting the channels: %+v, %v", res, err)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
		})
	}
}

// stripRestoredCounts rewrites the journal's channel states as a journal
// written before they counted the restored messages.
func stripRestoredCounts(t *testing.T, j *fakeJournal) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, v := range j.committed {
		if !strings.HasPrefix(k, keyChannel) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["restored"]; !ok {
			t.Fatalf("journal entry %s has no restored count: %s", k, v)
		}
		delete(m, "restored")
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		j.committed[k] = b
	}
}

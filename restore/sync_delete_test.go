package restore

import (
	"strings"
	"testing"
)

// TestSyncDeleteCounts interrupts a sync's message delete at the worst
// moments: a kill right after the service carried it out (its journal
// entries lost), an answer lost, a 5xx. The sync that follows must count
// the delete as its own, not as a message someone deleted from the
// target (the finished channel's count check), and send it no more than
// needed; a message someone else deleted meanwhile must still be reported.
func TestSyncDeleteCounts(t *testing.T) {
	del := change{delMsgs: 2} // channel 0 loses the messages at positions 1 and 2: writes 1 and 2
	s1 := genHistory(histOpts{channels: 2, messages: 10, seed: 36})
	s2 := del.apply(t, s1)
	cases := []struct {
		name    string
		kill    int64 // kill the sync right after this write was carried out; 0 none
		fault   fault // else the fate of write 1
		foreign bool  // someone else deletes another restored message of channel 0 before the last sync
		sends   int   // DeleteMessage requests in all
	}{
		{name: "killed after the first delete", kill: 1, sends: 2},
		{name: "killed after the last delete", kill: 2, sends: 2},
		{name: "answer lost", fault: faultLost, sends: 2},
		{name: "not carried out", fault: faultFail, sends: 3},
		{name: "killed, and a message deleted by someone else", kill: 1, foreign: true, sends: 2},
		{name: "killed after the last, and a message deleted by someone else", kill: 2, foreign: true, sends: 2},
		{name: "answer lost, and a message deleted by someone else", fault: faultLost, foreign: true, sends: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft, fa := restoredBefore(t, s1, s2)
			j := journalOf(t, fa, srcSvc, dstSvc)
			st, _ := j.value(chanKey(s1.channels[0].SID))
			foreign := func() {
				if tc.foreign && ft.deleteMessages(dstSvc, st.Target, 6) != 1 {
					t.Fatal("no message to delete at position 6")
				}
			}
			base := ft.writes.Load()
			ops := recordOps(ft, func(op string, n int64) fault {
				if tc.kill == 0 && n-base == 1 {
					return tc.fault
				}
				return faultNone
			})
			if tc.kill > 0 {
				killRun(t, ft, fa, tc.kill, opts(Options{Sync: true, Concurrency: 1}))
			}
			foreign()
			res, err := run(t.Context(), ft, fa, opts(Options{Sync: true, Concurrency: 1}))
			if err != nil || len(res.Failed) > 0 {
				t.Fatalf("sync: %v %+v", err, res)
			}
			if n := countOps(*ops, "DeleteMessage"); n != tc.sends {
				t.Errorf("%d deletes sent, want %d: %v", n, tc.sends, *ops)
			}
			if !tc.foreign {
				if res.Status != StatusComplete || len(res.Conflicts) > 0 {
					t.Fatalf("sync reports %+v, want complete: the deletes are the sync's own", res.Conflicts)
				}
				checkRestored(t, ft, dstSvc, j, expected(t, s2, nil))
				return
			}
			// The target holds the 9 archived messages that remain, but one.
			if len(res.Conflicts) != 1 || !strings.Contains(res.Conflicts[0].Reason, "holds 7 messages, fewer than the 8 restored") {
				t.Fatalf("conflicts %+v, want one saying channel 0 holds 7 messages, fewer than the 8 restored", res.Conflicts)
			}
		})
	}
}

// restoredBefore restores s1 into a new fake target, through a journal
// that commits every 3 writes, and adds s2 to the archive for a sync.
func restoredBefore(t *testing.T, s1, s2 *fakeSnap) (*fakeTarget, *fakeArchive) {
	t.Helper()
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(s1)
	fa.batch = 3
	if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
		t.Fatal(err)
	}
	fa.snaps = append(fa.snaps, s2)
	return ft, fa
}

package store

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSelectKeep(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	// Snapshots 1..10: two per day on Jan 1-3, then Jan 5, Jan 12, Feb 2, Mar 1, one running.
	snaps := []Snapshot{
		{ID: 1, Finished: day(1, 8)}, {ID: 2, Finished: day(1, 20)},
		{ID: 3, Finished: day(2, 8)}, {ID: 4, Finished: day(2, 20)},
		{ID: 5, Finished: day(3, 8)},
		{ID: 6, Finished: day(5, 8)},  // Monday Jan 5 (ISO week 2)
		{ID: 7, Finished: day(12, 8)}, // week 3
		{ID: 8, Finished: time.Date(2026, 2, 2, 8, 0, 0, 0, time.UTC)},
		{ID: 9, Started: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}, // unfinished: ranked by Started
		{ID: 10, Started: time.Date(2025, 12, 1, 8, 0, 0, 0, time.UTC), Status: StatusRunning},
	}
	tests := []struct {
		name string
		p    Policy
		want []uint64
	}{
		{"last 1", Policy{Last: 1}, []uint64{9, 10}},
		{"last 3", Policy{Last: 3}, []uint64{7, 8, 9, 10}},
		{"last more than exist", Policy{Last: 50}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"daily 3", Policy{Daily: 3}, []uint64{7, 8, 9, 10}},
		{"daily 7", Policy{Daily: 7}, []uint64{2, 4, 5, 6, 7, 8, 9, 10}},
		{"weekly 2", Policy{Weekly: 2}, []uint64{8, 9, 10}},
		{"weekly 5", Policy{Weekly: 5}, []uint64{5, 6, 7, 8, 9, 10}},
		{"monthly 2", Policy{Monthly: 2}, []uint64{8, 9, 10}},
		{"monthly 12", Policy{Monthly: 12}, []uint64{7, 8, 9, 10}},
		{"combined", Policy{Last: 1, Daily: 2, Monthly: 3}, []uint64{7, 8, 9, 10}},
		{"last and weekly", Policy{Last: 2, Weekly: 4}, []uint64{6, 7, 8, 9, 10}},
		{"weekly across year start", Policy{Weekly: 6}, []uint64{5, 6, 7, 8, 9, 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keep := selectKeep(snaps, tc.p)
			var got []uint64
			for id := range keep {
				got = append(got, id)
			}
			slices.Sort(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("keep %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyValidation(t *testing.T) {
	a := openTest(t, tempPath(t))
	bad := []struct {
		name string
		p    Policy
	}{
		{"no rule", Policy{}},
		{"negative last", Policy{Last: -1}},
		{"negative daily", Policy{Daily: -1, Last: 2}},
		{"negative weekly", Policy{Weekly: -3}},
		{"negative monthly", Policy{Monthly: -1, Daily: 1}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			for _, dry := range []bool{true, false} {
				if _, err := a.Forget(tc.p, dry); err == nil {
					t.Errorf("dryRun=%v accepted", dry)
				}
			}
		})
	}
}

// setFinished rewrites snapshot records' Finished times (test only).
func setFinished(t *testing.T, a *Archive, times map[uint64]time.Time) {
	t.Helper()
	must(t, a.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSnapshots)
		for id, at := range times {
			s, err := decodeSnapshot(be64(id), b.Get(be64(id)))
			if err != nil {
				return err
			}
			s.Finished = at
			if err := putSnapshot(b, s); err != nil {
				return err
			}
		}
		return nil
	}))
}

// buildHistory writes n snapshots of a service with churn: each run edits,
// deletes and adds messages, changes members and channels.
func buildHistory(t *testing.T, a *Archive, svc string, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for run := range n {
		w := begin(t, a, svc)
		must(t, w.PutService(fmt.Appendf(nil, `{"run":%d}`, run/3)))
		must(t, w.PutRole(rlSID(1), "admin", fmt.Appendf(nil, `{"v":%d}`, run/4)))
		for c := range 3 {
			ch := chSID(c)
			if c == 2 && run >= 4 {
				if run == 4 {
					must(t, w.DeleteChannel(ch))
				}
				continue
			}
			must(t, w.PutChannel(ch, fmt.Sprint("room", c), chanJSON(c, fmt.Sprintf("2026-01-0%dT00:00:00Z", c+1))))
			must(t, w.PutMembers(ch, []MemberRecord{
				{SID: mbSID(1), Identity: "a", Raw: memberJSON(1, fmt.Sprint(run/2))},
				{SID: mbSID(2), Identity: "b", Raw: memberJSON(2, "")},
			}))
			if run%3 == 2 {
				must(t, w.DeleteMembers(ch, []string{mbSID(2)}))
			}
			var ms []MessageRecord
			for i := 0; i < 20+run*5; i++ {
				body := "v0"
				if i%(run+2) == 0 {
					body = fmt.Sprint("edit", run)
				}
				ms = append(ms, msg(i, body))
			}
			must(t, w.PutMessages(ch, ms))
			must(t, w.DeleteMessages(ch, []int64{int64(run), int64(run + 7)}))
		}
		ids = append(ids, finish(t, w).ID)
	}
	return ids
}

func TestForgetKeepsViewsAndFreesData(t *testing.T) {
	path := tempPath(t)
	a := openTest(t, path)
	ids := buildHistory(t, a, testSvc, 8)
	other := buildHistory(t, a, testSvc2, 2)
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	times := map[uint64]time.Time{}
	for i, id := range ids {
		times[id] = base.AddDate(0, 0, i) // one per day
	}
	setFinished(t, a, times)

	before := map[uint64]string{}
	for _, id := range append(slices.Clone(ids), other...) {
		before[id] = dump(t, a, id)
	}
	liveBefore, err := a.LiveMessageIndexes(testSvc, chSID(0))
	must(t, err)
	fileBefore := fileHash(t, path)

	p := Policy{Last: 2, Daily: 1, Weekly: 0, Monthly: 0}
	dry, err := a.Forget(Policy{Last: 1, Monthly: 1}, true)
	must(t, err)
	if fileHash(t, path) != fileBefore {
		t.Error("dry run changed the file")
	}
	res, err := a.Forget(p, false)
	must(t, err)
	wantKeep := []uint64{ids[6], ids[7]}
	wantKeep = append(wantKeep, other...)
	slices.Sort(wantKeep)
	if fmt.Sprint(res.Keep) != fmt.Sprint(wantKeep) || len(res.Remove) != 6 {
		t.Fatalf("Forget = %+v, want keep %v", res, wantKeep)
	}
	if res.FreedRecords == 0 {
		t.Error("nothing freed")
	}
	if len(dry.Keep) != 2 || len(dry.Remove) != 8 || dry.FreedRecords == 0 {
		t.Errorf("dry run %+v", dry)
	}
	checkClean(t, a)
	for _, id := range res.Keep {
		if got := dump(t, a, id); got != before[id] {
			t.Errorf("snapshot %d reads differently after forget:\n got %s\nwant %s", id, got, before[id])
		}
	}
	for _, id := range res.Remove {
		if _, err := a.View(id); err == nil {
			t.Errorf("removed snapshot %d still viewable", id)
		}
	}
	liveAfter, err := a.LiveMessageIndexes(testSvc, chSID(0))
	must(t, err)
	if fmt.Sprint(liveAfter) != fmt.Sprint(liveBefore) {
		t.Error("current state changed")
	}

	// A second forget with the same policy frees nothing more.
	again, err := a.Forget(p, false)
	must(t, err)
	if again.FreedRecords != 0 || len(again.Remove) != 0 {
		t.Errorf("second forget: %+v", again)
	}
	// Keeping only the newest frees the older base versions too.
	last, err := a.Forget(Policy{Last: 1}, false)
	must(t, err)
	if last.FreedRecords == 0 {
		t.Error("keep-last 1 freed nothing")
	}
	checkClean(t, a)
	if got := dump(t, a, ids[7]); got != before[ids[7]] {
		t.Errorf("newest snapshot changed after keep-last 1")
	}

	// The next backup continues incrementally: identical data is a no-op.
	w := begin(t, a, testSvc)
	s := finish(t, w)
	if s.Messages == 0 || s.Added != 0 {
		t.Errorf("backup after forget: %+v", s)
	}
	if s.ID <= ids[7] {
		t.Errorf("snapshot id %d reused", s.ID)
	}
}

func TestForgetKeepsRunning(t *testing.T) {
	a := openTest(t, tempPath(t))
	buildHistory(t, a, testSvc, 3)
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(9), "", chanJSON(9, "")))
	flush(t, w)
	res, err := a.Forget(Policy{Last: 1}, false)
	must(t, err)
	if !slices.Contains(res.Keep, w.ID()) {
		t.Errorf("running snapshot %d not kept: %+v", w.ID(), res)
	}
	s := finish(t, w)
	if s.Channels != 4 { // 3 from history + the one written while forgetting
		t.Errorf("running snapshot after forget: %+v", s)
	}
}

func TestCompact(t *testing.T) {
	path := tempPath(t)
	a := openTest(t, path)
	ids := buildHistory(t, a, testSvc, 6)
	// A lot of data that the last snapshot no longer has.
	w := begin(t, a, testSvc)
	big := make([]MessageRecord, 0, 3000)
	for i := range 3000 {
		big = append(big, MessageRecord{SID: imSID(i), Index: int64(10000 + i), Raw: msgJSON(i, string(make([]byte, 0))+fmt.Sprintf("%0600d", i))})
	}
	must(t, w.PutChannel(chSID(7), "", chanJSON(7, "")))
	must(t, w.PutMessages(chSID(7), big))
	bigID := finish(t, w).ID
	w = begin(t, a, testSvc)
	must(t, w.DeleteChannel(chSID(7)))
	lastID := finish(t, w).ID
	_ = bigID
	want := dump(t, a, lastID)

	res, err := a.Forget(Policy{Last: 1}, false)
	must(t, err)
	if len(res.Remove) != len(ids)+1 {
		t.Fatalf("forget %+v", res)
	}
	fi1, err := os.Stat(path)
	must(t, err)
	must(t, a.Compact())
	fi2, err := os.Stat(path)
	must(t, err)
	if fi2.Size() >= fi1.Size()/2 {
		t.Errorf("compact: %d -> %d bytes", fi1.Size(), fi2.Size())
	}
	if fi2.Mode().Perm() != 0o600 {
		t.Errorf("mode after compact %v", fi2.Mode().Perm())
	}
	if got := dump(t, a, lastID); got != want {
		t.Error("snapshot reads differently after compact")
	}
	// Still usable for writing, and ids keep counting up.
	w = begin(t, a, testSvc)
	must(t, w.PutMessages(chSID(0), []MessageRecord{msg(0, "after compact")}))
	s := finish(t, w)
	if s.ID != lastID+1 || s.Changed != 1 {
		t.Errorf("snapshot after compact: %+v", s)
	}
	// Another process cannot take it over meanwhile.
	if _, err := Open(path, Options{Timeout: 100 * time.Millisecond}); err == nil {
		t.Error("compacted archive not locked")
	}
}

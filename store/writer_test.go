package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// countKeys counts the keys of a channel's messages bucket (all versions).
func countKeys(t *testing.T, a *Archive, svc, ch string, bkt []byte) int {
	t.Helper()
	n := 0
	must(t, a.read(func(tx *bolt.Tx) error {
		b, err := a.bucket(tx, loc{svc: svc, ch: ch, bkt: bkt})
		if b == nil {
			return err
		}
		n = b.Stats().KeyN
		return nil
	}))
	return n
}

func TestRoundTripExactBytes(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 200_000)
	tests := []struct {
		name string
		raw  []byte
	}{
		{"unicode", []byte(`{"sid":"IM1","body":"héllo wörld 你好 🎉 \u00e9","index":0}`)},
		{"escapes and spacing", []byte("{ \"sid\" : \"IM1\",\n\t\"body\":\"a\\\"b\\\\c\\n\" ,\"index\":0 }")},
		{"unknown fields", []byte(`{"sid":"IM1","index":0,"future_field":{"nested":[1,2,{"x":null}]},"z":1e400}`)},
		{"big body", append(append([]byte(`{"sid":"IM1","index":0,"body":"`), big...), `"}`...)},
		{"empty body", []byte(`{"sid":"IM1","index":0,"body":""}`)},
	}
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "room", chanJSON(1, "2026-01-01T00:00:00Z")))
	for i, tc := range tests {
		must(t, w.PutMessages(chSID(1), []MessageRecord{{SID: tc.name, Index: int64(i), Raw: tc.raw}}))
	}
	s := finish(t, w)
	v, err := a.View(s.ID)
	must(t, err)
	got := messagesOf(t, v, chSID(1))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g := got[int64(i)]; g != string(tc.raw) {
				t.Errorf("raw differs: got %d bytes, want %d", len(g), len(tc.raw))
			}
		})
	}
}

func TestCallerSlicesAreCopied(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	raw := msgJSON(0, "original")
	must(t, w.PutChannel(chSID(1), "", chanJSON(1, "")))
	must(t, w.PutMessages(chSID(1), []MessageRecord{{SID: imSID(0), Index: 0, Raw: raw}}))
	copy(raw, bytes.Repeat([]byte(" "), len(raw))) // caller reuses its buffer
	s := finish(t, w)
	v, err := a.View(s.ID)
	must(t, err)
	if got := messagesOf(t, v, chSID(1))[0]; got != string(msgJSON(0, "original")) {
		t.Fatalf("stored %q", got)
	}
	// Returned slices are private too.
	for m, err := range v.Messages(chSID(1)) {
		must(t, err)
		m.Raw[0] = 'X'
	}
	if got := messagesOf(t, v, chSID(1))[0]; got[0] != '{' {
		t.Fatalf("View returned a shared slice")
	}
}

func TestUnchangedPutsStoreNothing(t *testing.T) {
	a := openTest(t, tempPath(t))
	for run := 0; run < 3; run++ {
		w := begin(t, a, testSvc)
		must(t, w.PutService([]byte(`{"sid":"IS1"}`)))
		must(t, w.PutRole(rlSID(1), "admin", []byte(`{"sid":"RL1"}`)))
		must(t, w.PutChannel(chSID(1), "room-1", chanJSON(1, "2026-01-01T00:00:00Z")))
		must(t, w.PutMembers(chSID(1), []MemberRecord{{SID: mbSID(1), Identity: "u1", Raw: memberJSON(1, "")}}))
		var ms []MessageRecord
		for i := range 10 {
			ms = append(ms, msg(i, "hello"))
		}
		must(t, w.PutMessages(chSID(1), ms))
		s := finish(t, w)
		wantAdded := 0
		if run == 0 {
			wantAdded = 10
		}
		if s.Added != wantAdded || s.Changed != 0 || s.Deleted != 0 || s.Messages != 10 || s.Channels != 1 {
			t.Errorf("run %d: snapshot %+v", run, s)
		}
	}
	for _, c := range []struct {
		ch   string
		bkt  []byte
		want int
	}{
		{chSID(1), bktMessages, 10},
		{chSID(1), bktMembers, 1},
		{"", bktChannels, 1},
		{"", bktRoles, 1},
		{"", bktService, 1},
		{"", bktCounts, 1},
	} {
		if n := countKeys(t, a, testSvc, c.ch, c.bkt); n != c.want {
			t.Errorf("%s: %d keys after 3 identical runs, want %d", c.bkt, n, c.want)
		}
	}
}

func TestVersionsAndPointInTime(t *testing.T) {
	a := openTest(t, tempPath(t))
	ch := chSID(1)

	w1 := begin(t, a, testSvc)
	must(t, w1.PutChannel(ch, "room-1", chanJSON(1, "2026-01-01T00:00:00Z")))
	var ms []MessageRecord
	for i := range 10 {
		ms = append(ms, msg(i, "v1"))
	}
	must(t, w1.PutMessages(ch, ms))
	s1 := finish(t, w1)

	w2 := begin(t, a, testSvc)
	must(t, w2.PutMessages(ch, []MessageRecord{msg(3, "edited"), msg(4, "v1"), msg(10, "new")}))
	must(t, w2.DeleteMessages(ch, []int64{5, 99}))
	s2 := finish(t, w2)

	if s1.Added != 10 || s1.Messages != 10 {
		t.Errorf("snapshot 1: %+v", s1)
	}
	if s2.Added != 1 || s2.Changed != 1 || s2.Deleted != 1 || s2.Messages != 10 || s2.Channels != 1 {
		t.Errorf("snapshot 2 counters: %+v", s2)
	}
	tests := []struct {
		name string
		id   uint64
		want map[int64]string
	}{
		{"snapshot 1", s1.ID, func() map[int64]string {
			m := map[int64]string{}
			for i := range 10 {
				m[int64(i)] = string(msgJSON(i, "v1"))
			}
			return m
		}()},
		{"snapshot 2", s2.ID, func() map[int64]string {
			m := map[int64]string{}
			for i := range 11 {
				m[int64(i)] = string(msgJSON(i, "v1"))
			}
			delete(m, 5)
			m[3] = string(msgJSON(3, "edited"))
			m[10] = string(msgJSON(10, "new"))
			return m
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := a.View(tc.id)
			must(t, err)
			got := messagesOf(t, v, ch)
			if len(got) != len(tc.want) {
				t.Fatalf("%d messages, want %d", len(got), len(tc.want))
			}
			for i, raw := range tc.want {
				if got[i] != raw {
					t.Errorf("index %d: got %s, want %s", i, got[i], raw)
				}
			}
			n, err := v.MessageCount(ch)
			must(t, err)
			if n != len(tc.want) {
				t.Errorf("MessageCount = %d, want %d", n, len(tc.want))
			}
		})
	}
	idx, err := a.LiveMessageIndexes(testSvc, ch)
	must(t, err)
	if fmt.Sprint(idx) != "[0 1 2 3 4 6 7 8 9 10]" {
		t.Errorf("LiveMessageIndexes = %v", idx)
	}
	// 10 originals + edit of 3 + tombstone of 5 + new 10.
	if n := countKeys(t, a, testSvc, ch, bktMessages); n != 13 {
		t.Errorf("%d message versions stored, want 13", n)
	}
}

func TestSameSnapshotRewrites(t *testing.T) {
	a := openTest(t, tempPath(t))
	ch := chSID(1)
	w1 := begin(t, a, testSvc)
	must(t, w1.PutChannel(ch, "", chanJSON(1, "")))
	must(t, w1.PutMessages(ch, []MessageRecord{msg(0, "a"), msg(1, "a")}))
	finish(t, w1)

	w2 := begin(t, a, testSvc)
	// Edit then edit again: one Changed, one stored version.
	must(t, w2.PutMessages(ch, []MessageRecord{msg(0, "b")}))
	flush(t, w2)
	must(t, w2.PutMessages(ch, []MessageRecord{msg(0, "c")}))
	// Edit and then back to the original: no change, version removed.
	must(t, w2.PutMessages(ch, []MessageRecord{msg(1, "b")}))
	flush(t, w2)
	must(t, w2.PutMessages(ch, []MessageRecord{msg(1, "a")}))
	// Added then deleted in the same run: nothing.
	must(t, w2.PutMessages(ch, []MessageRecord{msg(2, "a")}))
	flush(t, w2)
	must(t, w2.DeleteMessages(ch, []int64{2}))
	s2 := finish(t, w2)
	if s2.Added != 0 || s2.Changed != 1 || s2.Deleted != 0 || s2.Messages != 2 {
		t.Errorf("counters: %+v", s2)
	}
	if n := countKeys(t, a, testSvc, ch, bktMessages); n != 3 {
		t.Errorf("%d message versions, want 3", n)
	}
}

func TestDeleteChannel(t *testing.T) {
	a := openTest(t, tempPath(t))
	ch1, ch2 := chSID(1), chSID(2)
	w1 := begin(t, a, testSvc)
	must(t, w1.PutChannel(ch1, "one", chanJSON(1, "2026-01-02T00:00:00Z")))
	must(t, w1.PutChannel(ch2, "two", chanJSON(2, "2026-01-01T00:00:00Z")))
	must(t, w1.PutMembers(ch1, []MemberRecord{{SID: mbSID(1), Identity: "u1", Raw: memberJSON(1, "")}}))
	must(t, w1.PutMessages(ch1, []MessageRecord{msg(0, "a"), msg(1, "b"), msg(2, "c")}))
	must(t, w1.PutMessages(ch2, []MessageRecord{msg(0, "a")}))
	s1 := finish(t, w1)
	if s1.Channels != 2 || s1.Messages != 4 {
		t.Fatalf("snapshot 1: %+v", s1)
	}

	w2 := begin(t, a, testSvc)
	must(t, w2.DeleteChannel(ch1))
	must(t, w2.DeleteChannel(chSID(3))) // never stored: no-op
	s2 := finish(t, w2)
	if s2.Channels != 1 || s2.Messages != 1 || s2.Deleted != 3 {
		t.Fatalf("snapshot 2: %+v", s2)
	}
	v1, err := a.View(s1.ID)
	must(t, err)
	chs, err := v1.Channels()
	must(t, err)
	if len(chs) != 2 || chs[0].SID != ch2 || chs[1].SID != ch1 {
		t.Errorf("snapshot 1 channels (by date_created): %+v", chs)
	}
	v2, err := a.View(s2.ID)
	must(t, err)
	if _, err := v2.Channel(ch1); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted channel: err = %v, want ErrNotFound", err)
	}
	if _, err := v2.Members(ch1); !errors.Is(err, ErrNotFound) {
		t.Errorf("members of deleted channel: err = %v", err)
	}
	if _, err := a.CurrentChannel(testSvc, ch1); !errors.Is(err, ErrNotFound) {
		t.Errorf("CurrentChannel of deleted: err = %v", err)
	}
	live, err := a.LiveChannels(testSvc)
	must(t, err)
	if fmt.Sprint(live) != fmt.Sprint([]string{ch2}) {
		t.Errorf("LiveChannels = %v", live)
	}
	lm, err := a.LiveMembers(testSvc, ch1)
	must(t, err)
	li, err := a.LiveMessageIndexes(testSvc, ch1)
	must(t, err)
	if len(lm) != 0 || len(li) != 0 {
		t.Errorf("deleted channel still has live members %v / messages %v", lm, li)
	}
	// Snapshot 1 still reads the deleted channel fully.
	if got := messagesOf(t, v1, "one"); len(got) != 3 {
		t.Errorf("snapshot 1 by unique name: %d messages", len(got))
	}
}

func TestViewLookups(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	must(t, w.PutService([]byte(`{"sid":"svc"}`)))
	must(t, w.PutRole(rlSID(2), "user", []byte(`{"r":2}`)))
	must(t, w.PutRole(rlSID(1), "admin", []byte(`{"r":1}`)))
	must(t, w.PutChannel(chSID(1), "general", chanJSON(1, "2026-01-01T00:00:00Z")))
	must(t, w.PutMembers(chSID(1), []MemberRecord{
		{SID: mbSID(2), Identity: "bob", Raw: memberJSON(2, "")},
		{SID: mbSID(1), Identity: "alice", Raw: memberJSON(1, "")},
	}))
	must(t, w.SetSync(chSID(1), ChannelSync{SyncedIndex: 41, MessagesCount: 42, Marker: "x", WalkTop: -1}))
	s := finish(t, w)
	v, err := a.View(s.ID)
	must(t, err)

	if raw, err := v.Service(); err != nil || string(raw) != `{"sid":"svc"}` {
		t.Errorf("Service = %s, %v", raw, err)
	}
	roles, err := v.Roles()
	must(t, err)
	if len(roles) != 2 || roles[0].SID != rlSID(1) || roles[0].FriendlyName != "admin" {
		t.Errorf("Roles = %+v", roles)
	}
	ms, err := v.Members("general")
	must(t, err)
	if len(ms) != 2 || ms[0].Identity != "alice" || ms[1].Identity != "bob" {
		t.Errorf("Members = %+v", ms)
	}
	sync, ok, err := a.Sync(testSvc, chSID(1))
	if err != nil || !ok || sync.SyncedIndex != 41 || sync.MessagesCount != 42 || sync.WalkTop != -1 {
		t.Errorf("Sync = %+v %v %v", sync, ok, err)
	}
	if _, ok, err := a.Sync(testSvc, chSID(9)); ok || err != nil {
		t.Errorf("Sync of unknown channel: ok=%v err=%v", ok, err)
	}
	cur, err := a.CurrentChannel(testSvc, chSID(1))
	if err != nil || cur.UniqueName != "general" {
		t.Errorf("CurrentChannel = %+v, %v", cur, err)
	}

	lookups := []struct {
		name    string
		arg     string
		wantSID string
		wantErr error
	}{
		{"by SID", chSID(1), chSID(1), nil},
		{"by unique name", "general", chSID(1), nil},
		{"unknown SID", chSID(2), "", ErrNotFound},
		{"unknown name", "random", "", ErrNotFound},
		{"empty", "", "", ErrNotFound},
		{"case differs", "GENERAL", "", ErrNotFound},
	}
	for _, tc := range lookups {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Channel(tc.arg)
			if !errors.Is(err, tc.wantErr) || c.SID != tc.wantSID {
				t.Errorf("Channel(%q) = %q, %v; want %q, %v", tc.arg, c.SID, err, tc.wantSID, tc.wantErr)
			}
			if tc.wantErr != nil {
				_, err := v.MessageCount(tc.arg)
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("MessageCount err = %v", err)
				}
				for _, err := range v.Messages(tc.arg) {
					if !errors.Is(err, tc.wantErr) {
						t.Errorf("Messages err = %v", err)
					}
				}
			}
		})
	}
}

func TestMessagesChunkedAndEarlyStop(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "", chanJSON(1, "")))
	const n = 3*messageChunk + 7
	var ms []MessageRecord
	for i := range n {
		ms = append(ms, msg(i*2, "m")) // gaps in index
	}
	must(t, w.PutMessages(chSID(1), ms))
	s := finish(t, w)
	v, err := a.View(s.ID)
	must(t, err)
	if got := messagesOf(t, v, chSID(1)); len(got) != n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
	seen := 0
	for _, err := range v.Messages(chSID(1)) {
		must(t, err)
		seen++
		if seen == messageChunk+1 {
			break
		}
	}
	if seen != messageChunk+1 {
		t.Fatalf("early stop saw %d", seen)
	}
	// A View stays usable while the archive is written.
	w2 := begin(t, a, testSvc)
	count := 0
	for m, err := range v.Messages(chSID(1)) {
		must(t, err)
		if count%100 == 0 {
			must(t, w2.PutMessages(chSID(1), []MessageRecord{msg(int(m.Index), "changed")}))
			flush(t, w2)
		}
		count++
	}
	if count != n {
		t.Errorf("read %d while writing, want %d", count, n)
	}
	finish(t, w2)
}

func TestWriterValidation(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	defer finish(t, w)
	good := chSID(1)
	tests := []struct {
		name string
		call func() error
	}{
		{"service not JSON", func() error { return w.PutService([]byte("not json")) }},
		{"service empty", func() error { return w.PutService(nil) }},
		{"role empty SID", func() error { return w.PutRole("", "x", []byte(`{}`)) }},
		{"role bad JSON", func() error { return w.PutRole(rlSID(1), "x", []byte(`{`)) }},
		{"channel empty SID", func() error { return w.PutChannel("", "", []byte(`{}`)) }},
		{"channel NUL in SID", func() error { return w.PutChannel("CH\x00", "", []byte(`{}`)) }},
		{"channel SID too long", func() error { return w.PutChannel(strings.Repeat("C", 256), "", []byte(`{}`)) }},
		{"channel bad JSON", func() error { return w.PutChannel(good, "", []byte(`{"a":}`)) }},
		{"delete channel empty", func() error { return w.DeleteChannel("") }},
		{"members empty channel", func() error { return w.PutMembers("", []MemberRecord{{SID: mbSID(1), Raw: []byte(`{}`)}}) }},
		{"member empty SID", func() error { return w.PutMembers(good, []MemberRecord{{Raw: []byte(`{}`)}}) }},
		{"member bad JSON", func() error { return w.PutMembers(good, []MemberRecord{{SID: mbSID(1), Raw: []byte(`]`)}}) }},
		{"message negative index", func() error { return w.PutMessages(good, []MessageRecord{{Index: -1, Raw: []byte(`{}`)}}) }},
		{"message bad JSON", func() error { return w.PutMessages(good, []MessageRecord{{Index: 1, Raw: []byte(`{`)}}) }},
		{"messages empty channel", func() error { return w.PutMessages("", []MessageRecord{{Index: 1, Raw: []byte(`{}`)}}) }},
		{"delete members bad SID", func() error { return w.DeleteMembers(good, []string{""}) }},
		{"delete messages negative", func() error { return w.DeleteMessages(good, []int64{-5}) }},
		{"sync empty channel", func() error { return w.SetSync("", ChannelSync{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), a.Path()) {
				t.Errorf("error does not name the archive: %v", err)
			}
		})
	}
	// Validation failures are not sticky.
	must(t, w.PutChannel(good, "", []byte(`{}`)))
	flush(t, w)
}

func TestWriterLifecycleErrors(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	if _, err := a.BeginSnapshot(testSvc, false, time.Now()); err == nil {
		t.Error("second concurrent snapshot of one service accepted")
	}
	w2 := begin(t, a, testSvc2) // another service is fine
	finish(t, w2)
	for _, st := range []Status{"", StatusRunning, "bogus"} {
		if _, err := w.Finish(st, 0, nil); err == nil {
			t.Errorf("Finish(%q) accepted", st)
		}
	}
	finish(t, w)
	if _, err := w.Finish(StatusComplete, 0, nil); err == nil {
		t.Error("second Finish accepted")
	}
	if err := w.PutChannel(chSID(1), "", []byte(`{}`)); err == nil {
		t.Error("Put after Finish accepted")
	}
	if _, err := a.BeginSnapshot("", false, time.Now()); err == nil {
		t.Error("empty service accepted")
	}
	w3 := begin(t, a, testSvc) // service free again after Finish
	finish(t, w3)
}

func TestFinishRecordsRun(t *testing.T) {
	a := openTest(t, tempPath(t))
	started := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("X", 3600))
	w, err := a.BeginSnapshot(testSvc, true, started)
	must(t, err)
	snaps, err := a.Snapshots()
	must(t, err)
	if len(snaps) != 1 || snaps[0].Status != StatusRunning || !snaps[0].Finished.IsZero() || !snaps[0].Full {
		t.Fatalf("running snapshot visible as %+v", snaps)
	}
	s, err := w.Finish(StatusPartial, 77, []string{chSID(5)})
	must(t, err)
	if s.Status != StatusPartial || s.Requests != 77 || len(s.Failed) != 1 || s.Finished.IsZero() || !s.Started.Equal(started) || s.ID != w.ID() {
		t.Fatalf("finished snapshot %+v", s)
	}
	v, err := a.View(s.ID)
	must(t, err)
	if got := v.Snapshot(); got.Status != StatusPartial || got.Requests != 77 || got.Failed[0] != chSID(5) {
		t.Errorf("stored snapshot %+v", got)
	}
}

func TestConcurrentWriters(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	const goroutines, channels, batches, per = 8, 16, 10, 50
	for c := range channels {
		must(t, w.PutChannel(chSID(c), fmt.Sprint(c), chanJSON(c, "2026-01-01T00:00:00Z")))
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := g; c < channels; c += goroutines {
				for b := range batches {
					ms := make([]MessageRecord, per)
					for i := range ms {
						ms[i] = msg(b*per+i, fmt.Sprintf("g%d", g))
					}
					if err := w.PutMessages(chSID(c), ms); err != nil {
						errs <- err
						return
					}
				}
				if err := w.SetSync(chSID(c), ChannelSync{SyncedIndex: batches*per - 1}); err != nil {
					errs <- err
					return
				}
			}
			if err := w.Flush(context.Background()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := finish(t, w)
	if want := channels * batches * per; s.Messages != want || s.Added != want || s.Channels != channels {
		t.Fatalf("snapshot %+v, want %d messages", s, want)
	}
	v, err := a.View(s.ID)
	must(t, err)
	for c := range channels {
		n, err := v.MessageCount(chSID(c))
		must(t, err)
		if n != batches*per {
			t.Errorf("channel %d: %d messages", c, n)
		}
		sy, ok, err := a.Sync(testSvc, chSID(c))
		if err != nil || !ok || sy.SyncedIndex != batches*per-1 {
			t.Errorf("channel %d sync %+v %v %v", c, sy, ok, err)
		}
	}
}

func TestFlushHonoursContext(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	defer finish(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either the barrier was already committed or the wait was cancelled.
	if err := w.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush = %v", err)
	}
}

func TestCloseMarksRunningInterrupted(t *testing.T) {
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "", chanJSON(1, "")))
	must(t, w.PutMessages(chSID(1), []MessageRecord{msg(0, "a"), msg(1, "b")}))
	must(t, a.Close())
	if err := w.PutChannel(chSID(2), "", chanJSON(2, "")); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	if err := w.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if _, err := a.Snapshots(); !errors.Is(err, ErrClosed) {
		t.Errorf("Snapshots after Close: %v", err)
	}
	must(t, a.Close()) // idempotent

	b := openTest(t, path)
	snaps, err := b.Snapshots()
	must(t, err)
	if len(snaps) != 1 || snaps[0].Status != StatusInterrupted || snaps[0].Finished.IsZero() || snaps[0].Messages != 2 || snaps[0].Channels != 1 {
		t.Fatalf("after Close: %+v", snaps)
	}
}

func TestStickyWriteError(t *testing.T) {
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	a.plain = true // markers are found in the file's bytes
	defer a.Close()
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "", chanJSON(1, "")))
	must(t, w.PutMessages(chSID(1), []MessageRecord{msg(0, "marker-sticky")}))
	flush(t, w)
	// Damage the stored message behind bbolt's back (the map is shared).
	flipInFile(t, path, []byte("marker-sticky"))
	must(t, w.PutMessages(chSID(1), []MessageRecord{msg(0, "new")}))
	err = w.Flush(context.Background())
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Flush after damage = %v, want ErrCorrupt", err)
	}
	for name, err := range map[string]error{
		"put":    w.PutChannel(chSID(2), "", chanJSON(2, "")),
		"flush":  w.Flush(context.Background()),
		"finish": func() error { _, err := w.Finish(StatusComplete, 0, nil); return err }(),
	} {
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s after the failure: %v, want the sticky error", name, err)
		}
	}
	if err := a.Close(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Close = %v, want the sticky error", err)
	}
}

// TestUnchangedAcrossEncodings: a message re-read with the same bytes is
// no change whether the stored version and the new record are encoded
// alike (compared as stored bytes) or not (plain against compressed:
// compared decoded), and a changed body is still a change.
func TestUnchangedAcrossEncodings(t *testing.T) {
	body := strings.Repeat("a compressible body ", 10)
	for _, c := range []struct {
		name                 string
		firstPlain, plain    bool
		body                 string
		added, changed, keys int
	}{
		{"compressed, then the same compressed", false, false, body, 0, 0, 1},
		{"plain, then the same compressed", true, false, body, 0, 0, 1},
		{"compressed, then the same plain", false, true, body, 0, 0, 1},
		{"compressed, then another body", false, false, body + "!", 0, 1, 2},
		{"plain, then another body compressed", true, false, body + "!", 0, 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := openTest(t, tempPath(t))
			a.plain = c.firstPlain
			w := begin(t, a, testSvc)
			must(t, w.PutChannel(chSID(1), "room-1", chanJSON(1, "2026-01-01T00:00:00Z")))
			must(t, w.PutMessages(chSID(1), []MessageRecord{msg(1, body)}))
			finish(t, w)
			a.plain = c.plain
			w = begin(t, a, testSvc)
			must(t, w.PutChannel(chSID(1), "room-1", chanJSON(1, "2026-01-01T00:00:00Z")))
			must(t, w.PutMessages(chSID(1), []MessageRecord{msg(1, c.body)}))
			s := finish(t, w)
			if s.Added != c.added || s.Changed != c.changed || s.Messages != 1 {
				t.Errorf("second snapshot: added %d changed %d messages %d, want %d, %d, 1", s.Added, s.Changed, s.Messages, c.added, c.changed)
			}
			if n := countKeys(t, a, testSvc, chSID(1), bktMessages); n != c.keys {
				t.Errorf("%d message versions, want %d", n, c.keys)
			}
			got, err := a.View(s.ID)
			must(t, err)
			var raw []byte
			for m, err := range got.Messages(chSID(1)) {
				must(t, err)
				raw = m.Raw
			}
			if want := msg(1, c.body).Raw; !bytes.Equal(raw, want) {
				t.Errorf("message reads back as %s, want %s", raw, want)
			}
		})
	}
}

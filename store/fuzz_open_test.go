package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The sample that FuzzOpenArchive and the damage tables work on: two
// snapshots of one service (a channel deleted, a message edited, a member
// removed in between), a second service, and a restore journal. It is
// written with a Flush after every step, so its transactions, and so its
// page layout, are the same on every run: the committed corpus of
// FuzzOpenArchive keeps pointing at the same structures.
const (
	sampleMessages = 60 // in channel 1: enough for two leaf pages and a branch page
	sampleJournal  = 5
)

var sampleStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func writeFuzzSample(tb testing.TB, path string) {
	tb.Helper()
	a, err := Open(path, Options{Create: true})
	must(tb, err)
	a.plain = true // markers are found in the file's bytes
	ctx := context.Background()

	w, err := a.BeginSnapshot(testSvc, true, sampleStart)
	must(tb, err)
	must(tb, w.PutService([]byte(`{"sid":"`+testSvc+`","friendly_name":"sample"}`)))
	must(tb, w.PutRole(rlSID(1), "channel user", fmt.Appendf(nil, `{"sid":%q,"friendly_name":"channel user"}`, rlSID(1))))
	for c := 1; c <= 3; c++ {
		must(tb, w.PutChannel(chSID(c), fmt.Sprintf("room-%d", c), chanJSON(c, fmt.Sprintf("2026-01-0%dT00:00:00Z", c))))
		must(tb, w.PutMembers(chSID(c), []MemberRecord{
			{SID: mbSID(10*c + 1), Identity: "alice", Raw: memberJSON(10*c+1, "a")},
			{SID: mbSID(10*c + 2), Identity: "bob", Raw: memberJSON(10*c+2, "b")},
		}))
		n := 3
		if c == 1 {
			n = sampleMessages
		}
		var ms []MessageRecord
		for i := range n {
			ms = append(ms, msg(i, fmt.Sprintf("message %d of channel %d: %s", i, c, strings.Repeat("ü", 20))))
		}
		must(tb, w.PutMessages(chSID(c), ms))
		must(tb, w.SetSync(chSID(c), ChannelSync{SyncedIndex: int64(n - 1), MessagesCount: n, WalkTop: -1}))
		must(tb, w.Flush(ctx))
	}
	if _, err := w.Finish(StatusComplete, 12, nil); err != nil {
		tb.Fatal(err)
	}

	w, err = a.BeginSnapshot(testSvc, false, sampleStart.Add(time.Hour))
	must(tb, err)
	must(tb, w.PutMessages(chSID(1), []MessageRecord{msg(5, "edited")}))
	must(tb, w.DeleteMessages(chSID(1), []int64{7}))
	must(tb, w.DeleteMembers(chSID(2), []string{mbSID(22)}))
	must(tb, w.DeleteChannel(chSID(3)))
	must(tb, w.Flush(ctx))
	if _, err := w.Finish(StatusPartial, 3, []string{chSID(2)}); err != nil {
		tb.Fatal(err)
	}

	w, err = a.BeginSnapshot(testSvc2, false, sampleStart.Add(2*time.Hour))
	must(tb, err)
	must(tb, w.PutChannel(chSID(9), "other", chanJSON(9, "2026-01-09T00:00:00Z")))
	must(tb, w.PutMessages(chSID(9), []MessageRecord{msg(0, "other service")}))
	must(tb, w.Flush(ctx))
	if _, err := w.Finish(StatusComplete, 2, nil); err != nil {
		tb.Fatal(err)
	}

	j, err := a.Journal(testSvc, testSvc2)
	must(tb, err)
	for i := range sampleJournal {
		must(tb, j.Put(fmt.Sprintf("msg/%s", imSID(i)), fmt.Appendf(nil, "IM%032d", 100+i)))
	}
	must(tb, j.Flush(ctx))
	must(tb, a.Close())
}

// storeSentinels are the classes every error of the package must belong to
// when it reads a damaged file.
var storeSentinels = []error{ErrNotArchive, ErrCorrupt, ErrNewerFormat, ErrMissing, ErrLocked, ErrNoSnapshot, ErrNotFound}

func isStoreSentinel(err error) bool {
	for _, s := range storeSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// readAllResult is what readAll saw.
type readAllResult struct {
	openErr  error
	problems []Problem
	readErrs []error // errors from reads, each already checked for class
	bad      []string
}

// readAll opens path and reads everything the package offers: Check, the
// snapshot list, every view of every snapshot (service, roles, users, a
// media lookup, channels and each channel's members, count and messages),
// the current-state helpers, the content of every live media and the
// journal. Every error must belong to a sentinel class; anything
// else is recorded in bad.
func readAll(path string, readOnly bool) (res readAllResult) {
	note := func(what string, err error) bool {
		if err == nil {
			return true
		}
		if !isStoreSentinel(err) {
			res.bad = append(res.bad, fmt.Sprintf("%s: error of no sentinel class: %v", what, err))
		}
		if !strings.Contains(err.Error(), path) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNoSnapshot) {
			res.bad = append(res.bad, fmt.Sprintf("%s: error does not name the file: %v", what, err))
		}
		res.readErrs = append(res.readErrs, fmt.Errorf("%s: %w", what, err))
		return false
	}
	a, err := Open(path, Options{ReadOnly: readOnly, Timeout: 100 * time.Millisecond})
	if err != nil {
		res.openErr = err
		if !isStoreSentinel(err) {
			res.bad = append(res.bad, fmt.Sprintf("Open: error of no sentinel class: %v", err))
		}
		if !strings.Contains(err.Error(), path) {
			res.bad = append(res.bad, fmt.Sprintf("Open: error does not name the file: %v", err))
		}
		return res
	}
	defer func() {
		if err := a.Close(); err != nil && !isStoreSentinel(err) {
			res.bad = append(res.bad, fmt.Sprintf("Close: %v", err))
		}
	}()
	ps, err := a.Check()
	if err != nil && !isStoreSentinel(err) {
		res.bad = append(res.bad, fmt.Sprintf("Check: error of no sentinel class: %v", err))
	}
	res.problems = ps
	if err != nil {
		// A Check that fails outright is a problem report of its own.
		res.problems = append(res.problems, Problem{Where: "Check", What: err.Error()})
	}

	snaps, err := a.Snapshots()
	note("Snapshots", err)
	ids := []uint64{99} // one that does not exist
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	for _, id := range ids {
		v, err := a.View(id)
		if id == 99 {
			if !errors.Is(err, ErrNoSnapshot) && !errors.Is(err, ErrCorrupt) {
				res.bad = append(res.bad, fmt.Sprintf("View(99) = %v, want ErrNoSnapshot", err))
			}
			continue
		}
		if !note(fmt.Sprintf("View(%d)", id), err) {
			continue
		}
		svc := v.Snapshot().Service
		if _, err := v.Service(); !errors.Is(err, ErrNotFound) {
			note("Service", err)
		}
		_, err = v.Roles()
		note("Roles", err)
		_, err = v.Users()
		note("Users", err)
		_, _, err = v.Media("ME" + strings.Repeat("0", 32))
		note("Media", err)
		chs, err := v.Channels()
		note("Channels", err)
		for _, c := range chs {
			_, err := v.Members(c.SID)
			note("Members", err)
			_, err = v.MessageCount(c.SID)
			note("MessageCount", err)
			for _, err := range v.Messages(c.SID) {
				if !note("Messages", err) {
					break
				}
			}
			_, _, err = a.Sync(svc, c.SID)
			note("Sync", err)
			_, err = a.LiveMembers(svc, c.SID)
			note("LiveMembers", err)
			_, err = a.LiveMessageIndexes(svc, c.SID)
			note("LiveMessageIndexes", err)
			if _, err := a.CurrentChannel(svc, c.SID); !errors.Is(err, ErrNotFound) {
				note("CurrentChannel", err)
			}
		}
		_, err = a.LiveChannels(svc)
		note("LiveChannels", err)
		_, err = a.LiveUsers(svc)
		note("LiveUsers", err)
		media, err := a.LiveMedia(svc)
		note("LiveMedia", err)
		for _, me := range media {
			m, ok, err := a.CurrentMedia(svc, me)
			if note("CurrentMedia", err) && ok {
				_, err := readContent(a, m.SHA256)
				note("OpenContent", err)
			}
		}
	}
	if j, err := a.Journal(testSvc, testSvc2); note("Journal", err) {
		note("Journal.Scan", j.Scan("", func(string, []byte) error { return nil }))
		_, _, err := j.Get("msg/" + imSID(0))
		note("Journal.Get", err)
	}
	return res
}

// damagedCopy returns a copy of img with data written at offset (modulo the
// size), or, with truncate, cut at offset and data appended.
func damagedCopy(img []byte, offset uint32, data []byte, truncate bool) []byte {
	if truncate {
		n := int(uint64(offset) % uint64(len(img)+1))
		return append(append([]byte(nil), img[:n]...), data...)
	}
	out := append([]byte(nil), img...)
	if len(out) == 0 {
		return out
	}
	off := int(uint64(offset) % uint64(len(out)))
	copy(out[off:], data)
	return out
}

// readAllWithin runs readAll and reports what it found wrong. A damaged
// file must never make a read loop forever: if readAll has not returned
// after limit, or the heap grows past 1 GiB meanwhile, the process panics
// at once (a runaway read would otherwise eat the machine's memory while
// the remaining tests run).
func readAllWithin(t *testing.T, path string, readOnly bool, limit time.Duration) readAllResult {
	t.Helper()
	done := make(chan readAllResult, 1)
	go func() { done <- readAll(path, readOnly) }()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case res := <-done:
			for _, b := range res.bad {
				t.Errorf("read-only=%v: %s", readOnly, b)
			}
			return res
		case <-tick.C:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > 1<<30 || time.Now().After(deadline) {
				panic(fmt.Sprintf("read-only=%v: reading the damaged archive %s ran away (%s, heap %d MiB)",
					readOnly, path, time.Since(deadline.Add(-limit)).Round(time.Millisecond), ms.HeapAlloc>>20))
			}
		}
	}
}

// FuzzOpenArchive damages a real archive (bytes overwritten anywhere, or
// the file cut short and garbage appended) and then opens it read-only and
// read-write and reads everything: nothing may panic or hang, every error
// belongs to one of the package's sentinel classes and names the file,
// opening, Check and reads never change a byte, and an archive that Check
// passes reads without errors.
func FuzzOpenArchive(f *testing.F) {
	pristine := fuzzSampleBytes(f)
	ps := uint32(os.Getpagesize())

	f.Add(uint32(0), []byte{}, false)                                  // untouched
	f.Add(uint32(0), []byte{}, true)                                   // empty file
	f.Add(uint32(len(pristine)/2), []byte{}, true)                     // cut in half
	f.Add(ps, []byte{}, true)                                          // one page left
	f.Add(uint32(len(pristine))-1, []byte{}, true)                     // last byte missing
	f.Add(uint32(len(pristine)), []byte("trailing garbage"), true)     // bytes appended
	f.Add(uint32(0), []byte("SQLite format 3\x00"), false)             // another file type's magic
	f.Add(uint32(16), []byte{0, 0, 0, 0}, false)                       // meta 0 magic
	f.Add(ps+16, []byte{0, 0, 0, 0}, false)                            // meta 1 magic
	f.Add(uint32(16+16+16), []byte{0xff, 0xff, 0xff, 0x7f}, false)     // meta 0 root page id
	f.Add(uint32(16), make([]byte, 2*int(ps)), false)                  // both meta pages zeroed
	f.Add(2*ps+8, []byte{0x04, 0}, false)                              // page 2 flags: meta
	f.Add(3*ps+10, []byte{0xff, 0xff}, false)                          // page 3 element count
	f.Add(4*ps+16, []byte{0, 0, 0, 0, 0xff, 0xff, 0, 0}, false)        // page 4 first element pos/ksize
	f.Add(5*ps+24, []byte{0x05, 0, 0, 0, 0, 0, 0, 0}, false)           // page 5 first element: page id or sizes
	f.Add(uint32(len(pristine))-ps+8, []byte{0x01, 0x00, 0x30}, false) // last page header
	f.Add(uint32(len(pristine))-ps+200, []byte("xxxxxxxx"), false)     // inside the last page

	f.Fuzz(func(t *testing.T, offset uint32, data []byte, truncate bool) {
		if len(data) > 1<<16 {
			return
		}
		img := damagedCopy(pristine, offset, data, truncate)
		path := filepath.Join(t.TempDir(), "damaged.vault")
		if err := os.WriteFile(path, img, 0o600); err != nil {
			t.Fatal(err)
		}
		before := sha256.Sum256(img)

		ro := readAllWithin(t, path, true, 20*time.Second)
		if after := fileHash(t, path); after != before {
			t.Fatal("a read-only Open and Check modified the file")
		}
		if ro.openErr == nil && len(ro.problems) == 0 && len(ro.readErrs) > 0 {
			t.Errorf("Check found no problem, but reading failed: %v", ro.readErrs)
		}

		// readAll writes nothing, so even a read-write Open leaves the
		// bytes alone; and what read-only refuses, read-write refuses.
		rw := readAllWithin(t, path, false, 20*time.Second)
		if after := fileHash(t, path); after != before {
			t.Errorf("a read-write Open, Check and reads modified the file (read-only Open: %v)", ro.openErr)
		}
		if ro.openErr != nil && rw.openErr == nil {
			t.Errorf("read-only Open failed (%v) but read-write Open succeeded", ro.openErr)
		}
	})
}

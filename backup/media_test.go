package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// assertMediaArchived checks that the archive holds media me of the
// service, its content byte for byte.
func assertMediaArchived(t *testing.T, a *store.Archive, service string, me *fakeMedia) {
	t.Helper()
	rec, ok, err := a.CurrentMedia(service, me.sid)
	if err != nil || !ok {
		t.Fatalf("CurrentMedia(%s) = %v, %v; want the archived record", me.sid, ok, err)
	}
	sum := sha256.Sum256(me.data)
	if rec.SHA256 != hex.EncodeToString(sum[:]) || rec.Size != int64(len(me.data)) ||
		rec.ContentType != me.contentType || rec.Filename != me.filename {
		t.Errorf("media %s archived as %+v, want sha %x size %d %s %s", me.sid, rec, sum, len(me.data), me.contentType, me.filename)
	}
	r, err := a.OpenContent(rec.SHA256)
	if err != nil {
		t.Fatalf("OpenContent(%s): %v", rec.SHA256, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, me.data) {
		t.Errorf("archived content of %s: %d bytes, err %v; want the service's %d bytes", me.sid, len(got), err, len(me.data))
	}
}

// assertMediaMissing checks that the archive does not record media sid.
func assertMediaMissing(t *testing.T, a *store.Archive, service, sid string) {
	t.Helper()
	if _, ok, err := a.CurrentMedia(service, sid); err != nil || ok {
		t.Errorf("CurrentMedia(%s) = %v, %v; want no record", sid, ok, err)
	}
}

func TestMediaDownloadedOnce(t *testing.T) {
	f := newFakeSource(3, 25)
	files := []*fakeMedia{f.postMedia(0, 10), f.postMedia(0, 70_000), f.postMedia(2, 1)}
	f.postMessages(0, 3) // media below the newest page of channel 0
	a := newArchive(t)
	prog := &countingProgress{}
	o := opts(f)
	o.Progress = prog
	res := mustRun(t, f, a, o)
	var total int64
	for _, me := range files {
		expect(t, "requests for "+me.sid, f.mediaRequests(me.sid), 1)
		assertMediaArchived(t, a, f.sid, me)
		total += int64(len(me.data))
	}
	expect(t, "media files", res.MediaFiles, len(files))
	expect(t, "media bytes", res.MediaBytes, total)
	expect(t, "progress bytes", prog.mediaBytes.Load(), total)
	assertArchived(t, a, res.Snapshot, f)

	for _, step := range []struct {
		name   string
		change func()
		full   bool
	}{
		{"no change", func() {}, false},
		{"a new text message next to the media", func() { f.postMessages(2, 1) }, false},
		{"full run", func() {}, true},
	} {
		step.change()
		o := opts(f)
		o.Full = step.full
		res := mustRun(t, f, a, o)
		expect(t, step.name+": media requests", f.count(kMedia), 0)
		expect(t, step.name+": media files", res.MediaFiles, 0)
	}

	// One new file: only it is downloaded.
	me := f.postMedia(1, 300)
	res = mustRun(t, f, a, opts(f))
	expect(t, "media requests after a new file", f.count(kMedia), 1)
	expect(t, "media files after a new file", res.MediaFiles, 1)
	assertMediaArchived(t, a, f.sid, me)
}

func TestMediaBacklogIsBounded(t *testing.T) {
	// Walks read pages much faster than 1,200 files download one at a
	// time: a walk that has asked for mediaBacklog files a media place
	// more than have ended waits, so the files waiting never hold more
	// than that many goroutines (unbounded, there was one per file).
	f := newFakeSource(2, 0)
	for range 600 {
		f.postMedia(0, 16<<10)
		f.postMedia(1, 16<<10)
	}
	a := newArchive(t)
	o := opts(f)
	o.MediaConcurrency = 1
	base := runtime.NumGoroutine()
	var top atomic.Int64
	f.fail = func(kind, _ string) error {
		if kind == kMedia {
			for n := int64(runtime.NumGoroutine()); n > top.Load() && !top.CompareAndSwap(top.Load(), n); {
			}
		}
		return nil
	}
	res := mustRun(t, f, a, o)
	expect(t, "media files", res.MediaFiles, 1200)
	if extra := top.Load() - int64(base); extra > 100 {
		t.Errorf("%d goroutines more than before the run while files downloaded; want at most 100 (backlog %d)", extra, mediaBacklog)
	}
}

func TestNoMediaKeepsMetadataOnly(t *testing.T) {
	f := newFakeSource(2, 5)
	me := f.postMedia(1, 100)
	a := newArchive(t)
	o := opts(f)
	o.NoMedia = true
	res := mustRun(t, f, a, o)
	expect(t, "media requests", f.count(kMedia), 0)
	expect(t, "media files", res.MediaFiles, 0)
	assertMediaMissing(t, a, f.sid, me.sid)
	assertArchived(t, a, res.Snapshot, f) // the message and its metadata are there
}

// failMedia makes every request for media sid fail with err.
func failMedia(err error) func(f *fakeSource, sid string) {
	return func(f *fakeSource, sid string) {
		f.fail = func(kind, id string) error {
			if kind == kMedia && id == sid {
				return err
			}
			return nil
		}
	}
}

// TestMediaFailuresAreRetried: a file that cannot be fetched fails its
// channel (partial), is not recorded, and the next run fetches it though
// nothing else changed.
func TestMediaFailuresAreRetried(t *testing.T) {
	tests := []struct {
		name     string
		break_   func(f *fakeSource, sid string) // makes the first run fail to fetch sid
		requests int                             // OpenMedia requests for sid in the failing run
	}{
		{"not found", failMedia(apiErr(404, 20404)), 1},
		{"server errors beyond the retries", failMedia(apiErr(503, 0)), 1},
		{"corrupt twice", func(f *fakeSource, sid string) {
			f.mediaEdit = func(id string, data []byte) []byte {
				if id == sid {
					return data[:len(data)-1]
				}
				return data
			}
		}, corruptAttempts},
		{"far longer than its metadata says", func(f *fakeSource, sid string) {
			f.mediaEdit = func(id string, data []byte) []byte {
				if id == sid {
					return append(data, make([]byte, 3<<20)...) // beyond a chunk: the store stops reading
				}
				return data
			}
		}, corruptAttempts},
		{"longer than its metadata says", func(f *fakeSource, sid string) {
			f.mediaEdit = func(id string, data []byte) []byte {
				if id == sid {
					return append(data, 'x')
				}
				return data
			}
		}, corruptAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(3, 30)
			good := f.postMedia(0, 50)
			bad := f.postMedia(1, 4000)
			f.postMessages(1, 25) // the media message is several pages down
			a := newArchive(t)
			tc.break_(f, bad.sid)
			f.resetCounts()
			res, err := Run(context.Background(), f, a, opts(f))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			expect(t, "status", res.Status, "partial")
			if len(res.Failures) != 1 || res.Failures[0].Channel != f.channel(1).sid {
				t.Fatalf("failures = %+v, want channel %s", res.Failures, f.channel(1).sid)
			}
			if !strings.Contains(res.Failures[0].Error, bad.sid) {
				t.Errorf("failure %q does not name media %s", res.Failures[0].Error, bad.sid)
			}
			expect(t, "requests for the bad file", f.mediaRequests(bad.sid), tc.requests)
			assertMediaMissing(t, a, f.sid, bad.sid)
			assertMediaArchived(t, a, f.sid, good)
			expect(t, "media files", res.MediaFiles, 1)
			assertArchived(t, a, res.Snapshot, f) // the messages themselves are archived

			// Nothing changed in the service but the fault.
			f.fail, f.mediaEdit = nil, nil
			res = mustRun(t, f, a, opts(f))
			expect(t, "retry: requests for the bad file", f.mediaRequests(bad.sid), 1)
			expect(t, "retry: media requests", f.count(kMedia), 1)
			expect(t, "retry: media files", res.MediaFiles, 1)
			assertMediaArchived(t, a, f.sid, bad)

			res = mustRun(t, f, a, opts(f))
			expect(t, "after the retry: media requests", f.count(kMedia), 0)
			expect(t, "after the retry: message requests", f.count(kMessages), 0)
		})
	}
}

func TestMediaCorruptOnceIsDownloadedAgain(t *testing.T) {
	f := newFakeSource(1, 3)
	me := f.postMedia(0, 2000)
	served := 0
	f.mediaEdit = func(_ string, data []byte) []byte {
		if served++; served == 1 {
			data[7] ^= 0xff
			return data[:100]
		}
		return data
	}
	a := newArchive(t)
	res := mustRun(t, f, a, opts(f))
	expect(t, "requests", f.mediaRequests(me.sid), 2)
	expect(t, "media files", res.MediaFiles, 1)
	assertMediaArchived(t, a, f.sid, me)
}

func TestMediaAuthFailureEndsTheRun(t *testing.T) {
	f := newFakeSource(2, 3)
	f.postMedia(1, 10)
	f.fail = func(kind, _ string) error {
		if kind == kMedia {
			return &remote.APIError{Status: 401, Code: 20003, Message: "injected"}
		}
		return nil
	}
	a := newArchive(t)
	res, err := Run(context.Background(), f, a, opts(f))
	if !errors.Is(err, remote.ErrAuthentication) {
		t.Fatalf("Run error = %v, want one matching remote.ErrAuthentication", err)
	}
	expect(t, "status", res.Status, "interrupted")
}

// TestFullRunRecordsDeletedMedia: media whose message is gone stay
// recorded through plain runs; a --full run over every channel records
// them deleted, while earlier snapshots still see them.
func TestFullRunRecordsDeletedMedia(t *testing.T) {
	f := newFakeSource(2, 5)
	kept, gone := f.postMedia(0, 40), f.postMedia(1, 50)
	a := newArchive(t)
	first := mustRun(t, f, a, opts(f))
	goneIndex := f.channel(1).messages[len(f.channel(1).messages)-1].index
	f.deleteMessage(1, goneIndex)

	mustRun(t, f, a, opts(f))
	if _, ok, err := a.CurrentMedia(f.sid, gone.sid); err != nil || !ok {
		t.Errorf("after a plain run: CurrentMedia(%s) = %v, %v; want it still recorded", gone.sid, ok, err)
	}

	// A --full run of some channels only, or one that fails, keeps them.
	o := opts(f)
	o.Full, o.Channels = true, []string{f.channel(0).sid}
	mustRun(t, f, a, o)
	if _, ok, _ := a.CurrentMedia(f.sid, gone.sid); !ok {
		t.Errorf("a --full run of one channel forgot media %s", gone.sid)
	}
	o = opts(f)
	o.Full = true
	f.fail = failChannel(f.channel(0).sid)
	if res, err := Run(context.Background(), f, a, o); err != nil || res.Status != "partial" {
		t.Fatalf("failing --full run: %+v, %v", res, err)
	}
	f.fail = nil
	if _, ok, _ := a.CurrentMedia(f.sid, gone.sid); !ok {
		t.Errorf("a --full run that failed forgot media %s", gone.sid)
	}

	o = opts(f)
	o.Full = true
	res := mustRun(t, f, a, o)
	expect(t, "media requests of the --full run", f.count(kMedia), 0)
	assertMediaMissing(t, a, f.sid, gone.sid)
	assertMediaArchived(t, a, f.sid, kept)
	v, err := a.View(first.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := v.Media(gone.sid); err != nil || !ok {
		t.Errorf("snapshot %d no longer sees media %s: %v, %v", first.Snapshot, gone.sid, ok, err)
	}
	if v, err = a.View(res.Snapshot); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := v.Media(gone.sid); err != nil || ok {
		t.Errorf("the --full snapshot %d still sees media %s: %v, %v", res.Snapshot, gone.sid, ok, err)
	}
}

// failChannel fails every message request of channel ch.
func failChannel(ch string) func(kind, channel string) error {
	return func(kind, channel string) error {
		if kind == kMessages && channel == ch {
			return apiErr(503, 0)
		}
		return nil
	}
}

// TestResumedFullRunKeepsMedia: a --full run that resumes the walk of a
// killed --full run does not read the pages that run stored before its
// resume point, so it has not seen their media and must not record them
// deleted; a later --full run that reads everything still records the
// media of a deleted message as deleted.
func TestResumedFullRunKeepsMedia(t *testing.T) {
	f := newFakeSource(1, 0)
	f.postMessages(0, 20)
	kept := f.postMedia(0, 40) // index 20: on the killed run's second page
	f.postMessages(0, 14)
	gone := f.postMedia(0, 60) // index 35: on every run's first page
	a := newArchive(t)
	o := opts(f)
	o.Concurrency = 1
	mustRun(t, f, a, o)

	// A --full run killed after two pages (35..26, 25..16): its resume
	// point is below 16, past the page holding kept.
	o.Full = true
	ctx, cancel := cancelAfter(f, 2)
	defer cancel()
	if _, err := Run(ctx, f, a, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted --full Run error = %v, want context.Canceled", err)
	}
	f.pageHook = nil
	if st, _, err := a.Sync(f.sid, f.channel(0).sid); err != nil || !strings.Contains(st.WalkNext, "Before=16") {
		t.Fatalf("after the killed --full run: WalkNext = %q (%v), want the page below index 16", st.WalkNext, err)
	}

	res := mustRun(t, f, a, o) // resumes below 16: never sees kept's message
	expect(t, "status of the resumed --full run", res.Status, string(store.StatusComplete))
	assertMediaArchived(t, a, f.sid, kept)
	assertMediaArchived(t, a, f.sid, gone)

	// A --full run that reads every page does record deleted media.
	f.deleteMessage(0, 35)
	mustRun(t, f, a, o)
	assertMediaArchived(t, a, f.sid, kept)
	assertMediaMissing(t, a, f.sid, gone.sid)
	expect(t, "media requests of the last --full run", f.count(kMedia), 0)
}

// TestKilledBeforeMediaFetchedPlainRerunFetches: a run stopped after it
// committed a page of messages but before it archived the file one of them
// names leaves the message archived without its file; the next plain run
// reads that message again and archives the file.
func TestKilledBeforeMediaFetchedPlainRerunFetches(t *testing.T) {
	tests := []struct {
		name  string
		first bool // an initial run came before the killed one
		full  bool // the killed run is --full
		newer int  // messages posted after the media message, before the killed run
	}{
		{name: "initial run"},
		{name: "initial run, media below the first page", newer: 25},
		{name: "incremental run", first: true},
		{name: "incremental run, media below the first page", first: true, newer: 25},
		{name: "full run", first: true, full: true, newer: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(2, 12)
			a := newArchive(t)
			o := opts(f)
			if tc.first {
				mustRun(t, f, a, o)
			}
			me := f.postMedia(1, 70)
			f.postMessages(1, tc.newer)
			meIndex := f.channel(1).messages[len(f.channel(1).messages)-1-tc.newer].index

			// The kill: the run is cancelled as it asks for the file, so
			// the page holding its message is queued, the file is not.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f.fail = func(kind, _ string) error {
				if kind == kMedia {
					cancel()
					return context.Canceled
				}
				return nil
			}
			o.Full = tc.full
			res, err := Run(ctx, f, a, o)
			f.fail = nil
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("killed Run error = %v, want context.Canceled", err)
			}
			expect(t, "status of the killed run", res.Status, string(store.StatusInterrupted))
			v, err := a.View(res.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			held := false
			for m, err := range v.Messages(f.channel(1).sid) {
				if err != nil {
					t.Fatal(err)
				}
				held = held || m.Index == meIndex
			}
			if !held {
				t.Fatalf("the killed run did not archive message %d: the kill came before the page's commit", meIndex)
			}
			assertMediaMissing(t, a, f.sid, me.sid)

			o.Full = false
			mustRun(t, f, a, o)
			assertMediaArchived(t, a, f.sid, me)
			expect(t, "media requests of the plain rerun", f.mediaRequests(me.sid), 1)

			mustRun(t, f, a, o)
			expect(t, "media requests of a third run", f.count(kMedia), 0)
		})
	}
}

package restore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// checkFiles checks that every media message restored into service holds
// a file with the bytes of its source file, and returns how many there are.
func checkFiles(t *testing.T, ft *fakeTarget, service string, snap *fakeSnap) int {
	t.Helper()
	want := map[string][]byte{} // by filename: the test files' names are unique per size
	for _, m := range mediaOf(t, snap) {
		want[fmt.Sprintf("%s/%d", m.Filename, m.Size)] = fileOf(m)
	}
	n := 0
	for _, c := range ft.channelsOf(service) {
		for _, m := range c.messages {
			if m.Media == nil {
				continue
			}
			n++
			f := ft.file(service, m.Media.SID)
			if f == nil {
				t.Errorf("message %s: media %s is not in service %s", m.SID, m.Media.SID, service)
				continue
			}
			if w := want[fmt.Sprintf("%s/%d", m.Media.Filename, m.Media.Size)]; !bytes.Equal(f.data, w) {
				t.Errorf("message %s: media %s holds %d bytes that are not the source file's %d", m.SID, m.Media.SID, len(f.data), len(w))
			}
		}
	}
	return n
}

// TestMediaRestore: where the file comes from, per target and archive.
func TestMediaRestore(t *testing.T) {
	cases := []struct {
		name     string
		target   string
		archived bool // the files are in the archive
		held     bool // the source service still has the media
		damaged  bool // channel 0's archived files are damaged

		uploads, skipped, failed int
		status                   string
	}{
		{name: "into another service: uploaded", target: dstSvc, archived: true, uploads: 6, status: StatusComplete},
		{name: "into another service, files not archived: skipped", target: dstSvc, skipped: 6, status: StatusPartial},
		{name: "into another service, one channel's files damaged: that channel fails", target: dstSvc, archived: true, damaged: true,
			uploads: 3, failed: 1, status: StatusPartial},
		{name: "into the source service, which has the media: reused", target: srcSvc, archived: true, held: true, status: StatusComplete},
		{name: "into the source service, which has the media, files not archived: reused", target: srcSvc, held: true, status: StatusComplete},
		{name: "into the source service, media gone: uploaded again", target: srcSvc, archived: true, uploads: 6, status: StatusComplete},
		{name: "into the source service, media gone, files not archived: skipped", target: srcSvc, skipped: 6, status: StatusPartial},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := genHistory(histOpts{channels: 2, messages: 10, mediaEvery: 3, seed: 13})
			if tc.target == srcSvc { // fresh unique names in the source service
				for i := range snap.channels {
					snap.channels[i].Raw = []byte(strings.ReplaceAll(string(snap.channels[i].Raw), `"room-`, `"copy-`))
				}
			}
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			if tc.archived {
				fa.archiveFiles(snap)
			}
			if tc.held {
				ft.holdMedia(t, srcSvc, snap)
			}
			if tc.damaged {
				for _, m := range mediaOf(t, snap) {
					if strings.HasPrefix(m.SID, "ME0000000000000001") {
						fa.damaged[snap.media[m.SID].SHA256] = true
					}
				}
			}
			held := len(ft.media[srcSvc])
			source := map[string]bool{}
			for _, m := range mediaOf(t, snap) {
				source[m.SID] = true
			}
			prog := &countingProgress{}
			res, err := run(t.Context(), ft, fa, opts(Options{Target: tc.target, Progress: prog}))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.MediaUploaded != tc.uploads || len(res.Skipped) != tc.skipped || len(res.Failed) != tc.failed {
				t.Fatalf("result %+v; want status %s, %d uploads, %d skipped, %d failed", res, tc.status, tc.uploads, tc.skipped, tc.failed)
			}
			if got := ft.uploads.Load(); got != int64(tc.uploads) {
				t.Errorf("%d uploads reached the service, want %d", got, tc.uploads)
			}
			var bytesUp int64 // of the files the restore uploaded
			for sid, s := range ft.media[tc.target] {
				if !source[sid] {
					bytesUp += s.media.Size
				}
			}
			if res.MediaBytes != bytesUp || (prog.mediaBytes < bytesUp) {
				t.Errorf("result says %d bytes uploaded, progress %d; the service got %d", res.MediaBytes, prog.mediaBytes, bytesUp)
			}
			for _, s := range res.Skipped {
				if s.Kind != SkipMedia || !strings.Contains(s.Reason, "not in the archive") || !strings.Contains(s.Reason, "ME") {
					t.Errorf("skipped %+v", s)
				}
			}
			for _, f := range res.Failed {
				if f.Channel != snap.channels[0].SID || !strings.Contains(f.Error, "cannot be read") || !strings.Contains(f.Error, "ME00000000000000010") {
					t.Errorf("failed %+v", f)
				}
			}
			if n := checkFiles(t, ft, tc.target, snap); tc.failed == 0 && n != 6-tc.skipped {
				t.Errorf("%d media messages in the target, want %d", n, 6-tc.skipped)
			}
			if tc.held && tc.target == srcSvc && len(ft.media[srcSvc]) != held {
				t.Errorf("the source service holds %d media files, had %d: reuse must not upload", len(ft.media[srcSvc]), held)
			}
			if tc.failed > 0 || tc.skipped > 0 {
				return
			}
			checkRestored(t, ft, tc.target, journalOf(t, fa, srcSvc, tc.target), expected(t, snap, nil))
			if diffs, err := verify(t.Context(), ft, fa, opts(Options{Target: tc.target})); err != nil || len(diffs) != 0 {
				// user2's archived role has no namesake: those rows only.
				for _, d := range diffs {
					if d.Member == "" {
						t.Errorf("verify: %+v, %v", d, err)
					}
				}
			}
			writes := ft.writes.Load()
			again, err := run(t.Context(), ft, fa, opts(Options{Target: tc.target}))
			if err != nil || again.Status != StatusComplete || ft.writes.Load() != writes || again.MediaUploaded != 0 {
				t.Errorf("rerun: %+v, %v, %d writes", again, err, ft.writes.Load()-writes)
			}
		})
	}
}

// TestMediaUploadJournaledBeforeCreate: every upload is saved in the
// journal before the message that uses it is sent.
func TestMediaUploadJournaledBeforeCreate(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 12, mediaEvery: 2, seed: 31})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap)
	fa.batch = 1 << 20 // nothing is saved but by an explicit flush
	files := fa.archiveFiles(snap)
	j := journalOf(t, fa, srcSvc, dstSvc)
	ft.onWrite = func(op string, n int64) fault {
		if op == "CreateMessage" {
			saved := 0
			_ = j.Scan(keyMedia, func(string, []byte) error { saved++; return nil })
			if up := ft.uploads.Load(); int64(saved) != up {
				t.Errorf("write %d: %d uploads, %d of them saved in the journal", n, up, saved)
			}
		}
		return faultNone
	}
	// One channel at a time: another channel's upload in flight would
	// count before it could be journaled.
	res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 1}))
	if err != nil || res.Status != StatusComplete || res.MediaUploaded != len(files) {
		t.Fatalf("run: %+v, %v; want %d uploads", res, err, len(files))
	}
	checkFiles(t, ft, dstSvc, snap)
}

// TestMediaExactlyOnce: lost answers and kills between an upload and the
// message create reuse the upload; only an upload whose own answer is lost
// (or that is killed) is sent again.
func TestMediaExactlyOnce(t *testing.T) {
	snap := genHistory(histOpts{channels: 2, messages: 9, mediaEvery: 2, seed: 32})
	files := len(mediaOf(t, snap))
	cases := []struct {
		name  string
		fault func(op string, n int64) fault
		extra int // uploads beyond one per file
	}{
		{"create answer lost", everyOther("CreateMessage", faultLost), 0},
		{"create refused with a 5xx", everyOther("CreateMessage", faultFail), 0},
		{"upload refused with a 5xx", everyOther("UploadMedia", faultFail), 0},
		// Each file's first upload is carried out but its answer lost, and
		// is sent again: the Media service cannot be searched for it.
		{"upload answer lost", everyOther("UploadMedia", faultLost), files},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(snap)
			fa.archiveFiles(snap)
			ft.onWrite = tc.fault
			res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 1}))
			if err != nil || res.Status != StatusComplete {
				t.Fatalf("run: %+v, %v", res, err)
			}
			if got := ft.uploads.Load(); got != int64(files+tc.extra) {
				t.Errorf("%d uploads, want %d", got, files+tc.extra)
			}
			checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
			checkFiles(t, ft, dstSvc, snap)
		})
	}

	// A kill at every write in turn, then a run to the end: each file is
	// uploaded once, but for an upload the kill itself cut off.
	for n := int64(1); ; n++ {
		ft := newFakeTarget(srcSvc, dstSvc)
		fa := newFakeArchive(snap)
		fa.archiveFiles(snap)
		killedUpload := false
		j := journalOf(t, fa, srcSvc, dstSvc)
		ctx, cancel := context.WithCancel(t.Context())
		ft.kill = func() { j.crash(); cancel() }
		ft.onWrite = func(op string, k int64) fault {
			if k != n {
				return faultNone
			}
			killedUpload = op == "UploadMedia"
			return faultKill
		}
		_, err := run(ctx, ft, fa, opts(Options{Concurrency: 1}))
		cancel()
		if err == nil {
			break // the run ended before write n: every write was killed once
		}
		ft.onWrite, ft.kill, ft.killed = nil, nil, false
		j.revive()
		res, err := run(t.Context(), ft, fa, opts(Options{Concurrency: 1}))
		if err != nil || res.Status != StatusComplete {
			t.Fatalf("kill at write %d, then: %+v, %v", n, res, err)
		}
		want := int64(files)
		if killedUpload {
			want++
		}
		if got := ft.uploads.Load(); got != want {
			t.Errorf("kill at write %d (an upload: %v): %d uploads, want %d", n, killedUpload, got, want)
		}
		checkRestored(t, ft, dstSvc, journalOf(t, fa, srcSvc, dstSvc), expected(t, snap, nil))
		checkFiles(t, ft, dstSvc, snap)
	}
}

// everyOther gives f to every other write of op, starting with the first.
func everyOther(op string, f fault) func(string, int64) fault {
	seen := 0
	return func(o string, _ int64) fault {
		if o != op {
			return faultNone
		}
		seen++
		if seen%2 == 1 {
			return f
		}
		return faultNone
	}
}

// TestMediaDryRun: the plan counts the uploads and their bytes, and
// matches what the run then does.
func TestMediaDryRun(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 10, mediaEvery: 3, seed: 33})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap)
	files := fa.archiveFiles(snap)
	var bytes int64
	for _, f := range files {
		bytes += int64(len(f))
	}
	dry, err := run(t.Context(), ft, fa, opts(Options{DryRun: true, Latency: 1, UploadRate: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	p := dry.Plan
	if p == nil || p.MediaUploads != len(files) || p.MediaBytes != bytes || ft.writes.Load() != 0 {
		t.Fatalf("plan %+v; want %d uploads of %d bytes, no writes", p, len(files), bytes)
	}
	// Three channels on eight workers: the estimate is the slowest
	// channel's chain, whose bytes alone take a while at 1000 bytes/s.
	if p.EstimatedSeconds < float64(bytes)/3/1000 {
		t.Errorf("estimate %vs does not count %d bytes at 1000 bytes/s", p.EstimatedSeconds, bytes)
	}
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.MediaUploaded != p.MediaUploads || res.MediaBytes != p.MediaBytes || ft.writes.Load() != int64(p.Writes) {
		t.Errorf("plan %+v, but the run uploaded %d files, %d bytes, in %d writes", p, res.MediaUploaded, res.MediaBytes, ft.writes.Load())
	}
	again, err := run(t.Context(), ft, fa, opts(Options{DryRun: true}))
	if err != nil || again.Plan.MediaUploads != 0 || again.Plan.Writes != 0 {
		t.Errorf("dry run after the restore: %+v, %v", again.Plan, err)
	}

	// Into the source service, media it still has are not uploaded.
	ft2 := newFakeTarget(srcSvc)
	ft2.holdMedia(t, srcSvc, snap)
	dry, err = run(t.Context(), ft2, fa, opts(Options{DryRun: true, Target: srcSvc}))
	if err != nil || dry.Plan.MediaUploads != 0 || dry.Plan.MediaBytes != 0 {
		t.Errorf("dry run into the source service: %+v, %v", dry.Plan, err)
	}
}

// TestMediaErrors: a target that refuses an upload fails that channel.
func TestMediaErrors(t *testing.T) {
	snap := genHistory(histOpts{channels: 2, messages: 6, mediaEvery: 4, seed: 34})
	ft := newFakeTarget(srcSvc, dstSvc)
	fa := newFakeArchive(snap)
	fa.archiveFiles(snap)
	ft.onWrite = func(op string, _ int64) fault {
		if op == "UploadMedia" {
			return faultError
		}
		return faultNone
	}
	res, err := run(t.Context(), ft, fa, opts(Options{}))
	if err != nil || res.Status != StatusPartial || len(res.Failed) != 2 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	for _, f := range res.Failed {
		if !strings.Contains(f.Error, "upload media ME") {
			t.Errorf("failure %+v does not name the upload", f)
		}
	}
	ft.onWrite = nil
	res, err = run(t.Context(), ft, fa, opts(Options{}))
	if err != nil || res.Status != StatusComplete {
		t.Fatalf("rerun: %+v, %v", res, err)
	}
	checkFiles(t, ft, dstSvc, snap)
}

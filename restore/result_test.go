package restore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// TestStatus: the Result's status says how the run ended, and is never
// "complete" when Run returns an error.
func TestStatus(t *testing.T) {
	cancelAt := func(n int64, cancel context.CancelFunc) func(string, int64) fault {
		return func(op string, k int64) fault {
			if k == n {
				cancel()
			}
			return faultNone
		}
	}
	cases := []struct {
		name    string
		o       Options
		media   bool                                                             // the history holds media messages (skipped into another service)
		nilDst  bool                                                             // no target client
		prepare func(ft *fakeTarget, fa *fakeArchive, cancel context.CancelFunc) // faults
		wantErr error                                                            // nil: no error
		want    string
	}{
		{name: "complete", want: StatusComplete},
		{name: "partial: media skipped", media: true, want: StatusPartial},
		{name: "partial: channel failed", prepare: func(ft *fakeTarget, _ *fakeArchive, _ context.CancelFunc) {
			ft.onWrite = func(op string, n int64) fault {
				if op == "CreateMessage" {
					return faultError
				}
				return faultNone
			}
		}, want: StatusPartial},
		{name: "invalid options", o: Options{Target: "nope"}, wantErr: ErrInvalidOptions, want: StatusFailed},
		{name: "unknown channel", o: Options{Channels: []string{"no-such-room"}}, wantErr: ErrUnknownChannel, want: StatusFailed},
		{name: "unknown snapshot", o: Options{Snapshot: "9"}, wantErr: store.ErrNoSnapshot, want: StatusFailed},
		{name: "no target client", nilDst: true, want: StatusFailed},
		{name: "wrong credentials", prepare: func(ft *fakeTarget, _ *fakeArchive, _ context.CancelFunc) {
			ft.onRead = func(string) fault { return faultAuth }
		}, wantErr: remote.ErrAuthentication, want: StatusFailed},
		{name: "credentials refused mid-run", prepare: func(ft *fakeTarget, _ *fakeArchive, _ context.CancelFunc) {
			ft.onWrite = func(op string, n int64) fault {
				if n == 7 {
					return faultAuth
				}
				return faultNone
			}
		}, wantErr: remote.ErrAuthentication, want: StatusFailed},
		{name: "archive unreadable", prepare: func(_ *fakeTarget, fa *fakeArchive, _ context.CancelFunc) {
			fa.failView = store.ErrCorrupt
		}, wantErr: store.ErrCorrupt, want: StatusFailed},
		{name: "journal refuses writes", prepare: func(_ *fakeTarget, fa *fakeArchive, _ context.CancelFunc) {
			j, _ := fa.Journal(srcSvc, dstSvc)
			j.(*fakeJournal).failPut = errors.New("disk full")
		}, want: StatusFailed},
		{name: "cancelled before the start", prepare: func(_ *fakeTarget, _ *fakeArchive, cancel context.CancelFunc) {
			cancel()
		}, wantErr: context.Canceled, want: StatusInterrupted},
		{name: "cancelled mid-run", prepare: func(ft *fakeTarget, _ *fakeArchive, cancel context.CancelFunc) {
			ft.onWrite = cancelAt(9, cancel)
		}, wantErr: context.Canceled, want: StatusInterrupted},
		{name: "cancelled in a dry run", o: Options{DryRun: true}, prepare: func(ft *fakeTarget, _ *fakeArchive, cancel context.CancelFunc) {
			ft.onRead = func(op string) fault {
				if op == "FetchChannel" {
					cancel()
				}
				return faultNone
			}
		}, wantErr: context.Canceled, want: StatusInterrupted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(genHistory(histOpts{channels: 2, messages: 6, media: tc.media, seed: 31}))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.prepare != nil {
				tc.prepare(ft, fa, cancel)
			}
			var dst Target = ft
			if tc.nilDst {
				dst = nil
			}
			o := tc.o
			if o.Target == "" {
				o.Target = dstSvc
			}
			res, err := run(ctx, dst, fa, o)
			switch {
			case tc.want == StatusComplete || tc.want == StatusPartial:
				if err != nil {
					t.Fatalf("run: %v", err)
				}
			case err == nil:
				t.Fatalf("run succeeded with %+v; want an error", res)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("run: %v; want %v", err, tc.wantErr)
			}
			if res.Status != tc.want {
				t.Errorf("status %q, want %q (error %v)", res.Status, tc.want, err)
			}
			b, jerr := json.Marshal(res)
			if jerr != nil || !strings.Contains(string(b), `"status":"`+tc.want+`"`) {
				t.Errorf("JSON result %s, %v", b, jerr)
			}
		})
	}
}

// TestRunWithoutArchive: the exported Run reports a missing archive as failed.
func TestRunWithoutArchive(t *testing.T) {
	res, err := Run(t.Context(), newFakeTarget(dstSvc), nil, Options{Target: dstSvc})
	if err == nil || res.Status != StatusFailed || res.Conflicts == nil {
		t.Errorf("got %+v, %v; want status failed and an error", res, err)
	}
}

// TestSnapshotSelection: "latest" is the source's newest complete snapshot;
// with none complete it is the newest of any status, with a warning; an
// incomplete snapshot chosen by id is restored with a warning too.
func TestSnapshotSelection(t *testing.T) {
	type snap struct {
		id      uint64
		service string
		status  store.Status
	}
	cases := []struct {
		name     string
		snaps    []snap
		o        Options
		want     uint64
		warnings []string // substrings, one per warning; nil = none
	}{
		{name: "newest complete", snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, srcSvc, store.StatusComplete}}, want: 2},
		{name: "latest skips unfinished snapshots",
			snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, srcSvc, store.StatusInterrupted}, {3, srcSvc, store.StatusPartial}, {4, srcSvc, store.StatusRunning}},
			o:     Options{Snapshot: "latest"}, want: 1},
		{name: "default is latest",
			snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, srcSvc, store.StatusInterrupted}}, want: 1},
		{name: "other services do not count",
			snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, otherSvc, store.StatusComplete}, {3, srcSvc, store.StatusPartial}},
			o:     Options{Source: srcSvc}, want: 1},
		{name: "none complete: the newest, with a warning",
			snaps: []snap{{1, srcSvc, store.StatusInterrupted}, {2, srcSvc, store.StatusPartial}, {3, otherSvc, store.StatusComplete}},
			o:     Options{Source: srcSvc}, want: 2,
			warnings: []string{"no complete snapshot of " + srcSvc + "; restoring its newest, snapshot 2, which is partial"}},
		{name: "only one, interrupted", snaps: []snap{{5, srcSvc, store.StatusInterrupted}}, want: 5,
			warnings: []string{"snapshot 5, which is interrupted"}},
		{name: "incomplete by id", snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, srcSvc, store.StatusInterrupted}},
			o: Options{Snapshot: "2"}, want: 2, warnings: []string{"snapshot 2 of " + srcSvc + " is interrupted, not complete"}},
		{name: "complete by id", snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, srcSvc, store.StatusInterrupted}},
			o: Options{Snapshot: "1"}, want: 1},
		{name: "as of", snaps: []snap{{1, srcSvc, store.StatusComplete}, {2, srcSvc, store.StatusPartial}},
			o: Options{AsOf: t0.AddDate(1, 0, 0)}, want: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var snaps []*fakeSnap
			for _, s := range tc.snaps {
				fs := genHistory(histOpts{service: s.service, id: s.id, channels: 1, messages: 2, seed: s.id})
				fs.meta.Status = s.status
				snaps = append(snaps, fs)
			}
			o := tc.o
			o.Target = dstSvc
			for _, dry := range []bool{true, false} {
				o.DryRun = dry
				res, err := run(t.Context(), newFakeTarget(dstSvc), newFakeArchive(snaps...), o)
				if err != nil {
					t.Fatalf("dry run %v: %v", dry, err)
				}
				if res.Snapshot != tc.want {
					t.Errorf("dry run %v: restored snapshot %d, want %d", dry, res.Snapshot, tc.want)
				}
				if len(res.Warnings) != len(tc.warnings) {
					t.Fatalf("dry run %v: warnings %q, want %d", dry, res.Warnings, len(tc.warnings))
				}
				for i, w := range tc.warnings {
					if !strings.Contains(res.Warnings[i], w) {
						t.Errorf("dry run %v: warning %q, want it to contain %q", dry, res.Warnings[i], w)
					}
				}
				b, _ := json.Marshal(res)
				if strings.Contains(string(b), `"warnings"`) != (len(tc.warnings) > 0) {
					t.Errorf("dry run %v: JSON result %s", dry, b)
				}
			}
		})
	}
}

package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// newArchive creates an archive in a temporary folder; when the test ends
// it checks the archive's integrity and closes it.
func newArchive(t *testing.T) *store.Archive {
	t.Helper()
	return openArchive(t, filepath.Join(t.TempDir(), "test.vault"))
}

// openArchive opens (or creates) the archive at path, checked and closed
// when the test ends.
func openArchive(t *testing.T, path string) *store.Archive {
	t.Helper()
	a, err := store.Open(path, store.Options{Create: true})
	if err != nil {
		t.Fatalf("opening archive %s: %v", path, err)
	}
	t.Cleanup(func() {
		problems, err := a.Check()
		if err != nil {
			t.Errorf("checking the archive: %v", err)
		}
		for _, p := range problems {
			t.Errorf("archive problem at %s: %s", p.Where, p.What)
		}
		if err := a.Close(); err != nil {
			t.Errorf("closing the archive: %v", err)
		}
	})
	return a
}

// opts are the options of most unit tests: small pages, so channels span
// several of them.
func opts(f *fakeSource) Options {
	return Options{Service: f.sid, PageSize: 10, Concurrency: 4}
}

// mustRun runs a backup that must complete.
func mustRun(t *testing.T, f *fakeSource, a *store.Archive, o Options) Result {
	t.Helper()
	f.resetCounts()
	res, err := Run(context.Background(), f, a, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != string(store.StatusComplete) {
		t.Fatalf("Run status = %q (failures %v), want complete", res.Status, res.Failures)
	}
	return res
}

// assertArchived checks that snapshot id holds exactly the fake's current
// channels, members and messages as its API shows them, byte for byte.
func assertArchived(t *testing.T, a *store.Archive, id uint64, f *fakeSource) {
	t.Helper()
	v, err := a.View(id)
	if err != nil {
		t.Fatalf("View(%d): %v", id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	chans, err := v.Channels()
	if err != nil {
		t.Fatalf("View.Channels: %v", err)
	}
	visible := slices.DeleteFunc(slices.Clone(f.channels), func(c *fakeChannel) bool {
		return f.API() == remote.APIConversations && c.typ == "public"
	})
	if len(chans) != len(visible) {
		t.Errorf("snapshot %d has %d channels, service shows %d", id, len(chans), len(visible))
	}
	for _, c := range visible {
		rec, err := v.Channel(c.sid)
		if err != nil {
			t.Errorf("channel %s: %v", c.sid, err)
			continue
		}
		if raw := c.remote(f.sid, f.API()).Raw; !bytes.Equal(rec.Raw, raw) {
			t.Errorf("channel %s archived as %s, service has %s", c.sid, rec.Raw, raw)
		}
		members, err := v.Members(c.sid)
		if err != nil {
			t.Errorf("members of %s: %v", c.sid, err)
		}
		want := map[string]string{}
		for _, m := range c.members {
			want[m.sid] = string(m.raw(c.sid))
		}
		if len(members) != len(want) {
			t.Errorf("channel %s: %d members archived, service has %d", c.sid, len(members), len(want))
		}
		for _, m := range members {
			if want[m.SID] != string(m.Raw) {
				t.Errorf("member %s archived as %s, service has %q", m.SID, m.Raw, want[m.SID])
			}
		}
		k := 0
		for m, err := range v.Messages(c.sid) {
			if err != nil {
				t.Fatalf("messages of %s: %v", c.sid, err)
			}
			if k >= len(c.messages) {
				t.Errorf("channel %s: extra archived message %d", c.sid, m.Index)
				continue
			}
			if w := c.messages[k].remote(c.sid, f.API()); m.Index != w.Index || !bytes.Equal(m.Raw, w.Raw) {
				t.Errorf("channel %s message #%d archived as %d %s, service has %d %s", c.sid, k, m.Index, m.Raw, w.Index, w.Raw)
			}
			k++
		}
		if k != len(c.messages) {
			t.Errorf("channel %s: %d messages archived, service has %d", c.sid, k, len(c.messages))
		}
	}
}

// wantCounts compares the requests per kind of the last run.
func wantCounts(t *testing.T, f *fakeSource, want map[string]int) {
	t.Helper()
	if _, ok := want[kUsers]; !ok {
		want[kUsers] = want[kRoles] // users are listed beside the roles, the same way
	}
	for _, k := range []string{kService, kRoles, kUsers, kChannels, kFetchChannel, kMembers, kMessages} {
		if got := f.count(k); got != want[k] {
			t.Errorf("%s requests = %d, want %d", k, got, want[k])
		}
	}
}

func TestFirstBackupThenNoChanges(t *testing.T) {
	f := newFakeSource(4, 35)
	a := newArchive(t)

	res := mustRun(t, f, a, opts(f))
	// 35 messages at 10 a page: 4 pages per channel.
	wantCounts(t, f, map[string]int{kService: 1, kRoles: 1, kUsers: 1, kChannels: 1, kMembers: 4, kMessages: 16})
	expect(t, "channels", res.Channels, 4)
	expect(t, "messages", res.Messages, 140)
	expect(t, "added", res.Added, 140)
	expect(t, "users", res.Users, 3)
	expect(t, "api", res.API, remote.APIChat)
	expect(t, "requests", res.Requests, int64(24))
	expect(t, "service", res.Service, f.sid)
	assertArchived(t, a, res.Snapshot, f)

	res2 := mustRun(t, f, a, opts(f))
	wantCounts(t, f, map[string]int{kService: 1, kRoles: 1, kUsers: 1, kChannels: 1, kMembers: 4})
	expect(t, "snapshot", res2.Snapshot, res.Snapshot+1)
	expect(t, "messages", res2.Messages, 140)
	expect(t, "added", res2.Added, 0)
	expect(t, "changed", res2.Changed, 0)
	expect(t, "deleted", res2.Deleted, 0)
	expect(t, "requests", res2.Requests, int64(8))
	assertArchived(t, a, res2.Snapshot, f)
}

func TestIncrementalChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fakeSource)
		full   bool
		counts map[string]int
		added  int
		chgd   int
		del    int
	}{
		{
			name:   "new messages fit one page",
			change: func(f *fakeSource) { f.postMessages(0, 3) },
			counts: map[string]int{kMessages: 1},
			added:  3,
		},
		{
			name:   "new messages span two pages",
			change: func(f *fakeSource) { f.postMessages(1, 15) },
			counts: map[string]int{kMessages: 2},
			added:  15,
		},
		{
			name: "new messages in every channel",
			change: func(f *fakeSource) {
				f.postMessages(0, 1)
				f.postMessages(1, 1)
				f.postMessages(2, 1)
				f.postMessages(3, 1)
			},
			counts: map[string]int{kMessages: 4},
			added:  4,
		},
		{
			name: "old message deleted: noticed by count, channel re-read",
			// 1 desc page, a fetch to confirm the count, 4 pages of 34 messages.
			change: func(f *fakeSource) { f.deleteMessage(2, 5) },
			counts: map[string]int{kMessages: 5, kFetchChannel: 1},
			del:    1,
		},
		{
			name:   "newest message deleted: noticed in the first page",
			change: func(f *fakeSource) { f.deleteMessage(3, 34) },
			counts: map[string]int{kMessages: 1},
			del:    1,
		},
		{
			name: "deletion and new messages in one channel",
			change: func(f *fakeSource) {
				f.deleteMessage(1, 0)
				f.postMessages(1, 2)
			},
			counts: map[string]int{kMessages: 5, kFetchChannel: 1},
			added:  2,
			del:    1,
		},
		{
			name: "newest message deleted and another posted",
			change: func(f *fakeSource) {
				f.deleteMessage(3, 34)
				f.postMessages(3, 1)
			},
			counts: map[string]int{kMessages: 1},
			added:  1,
			del:    1,
		},
		{
			name: "several deletions near the top and in the middle",
			change: func(f *fakeSource) {
				f.deleteMessage(0, 33)
				f.deleteMessage(0, 30)
				f.deleteMessage(0, 12)
			},
			counts: map[string]int{kMessages: 5, kFetchChannel: 1},
			del:    3,
		},
		{
			name:   "old message edited: not noticed by a plain run",
			change: func(f *fakeSource) { f.editMessage(0, 3, "edited") },
			counts: map[string]int{},
		},
		{
			name: "edit on the newest page of a changed channel is noticed",
			change: func(f *fakeSource) {
				f.editMessage(0, 33, "edited")
				f.postMessages(0, 1)
			},
			counts: map[string]int{kMessages: 1},
			added:  1,
			chgd:   1,
		},
		{
			name:   "full run notices an edited old message",
			change: func(f *fakeSource) { f.editMessage(0, 3, "edited") },
			full:   true,
			counts: map[string]int{kMessages: 16},
			chgd:   1,
		},
		{
			name:   "full run notices a deleted old message without a count check",
			change: func(f *fakeSource) { f.deleteMessage(2, 5) },
			full:   true,
			counts: map[string]int{kMessages: 16},
			del:    1,
		},
		{
			name: "full run notices everything at once",
			change: func(f *fakeSource) {
				f.deleteMessage(2, 0)
				f.deleteMessage(2, 34)
				f.editMessage(1, 12, "x")
				f.postMessages(3, 11)
			},
			full:   true,
			counts: map[string]int{kMessages: 17},
			added:  11,
			chgd:   1,
			del:    2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(4, 35)
			a := newArchive(t)
			first := mustRun(t, f, a, opts(f))
			tc.change(f)
			o := opts(f)
			o.Full = tc.full
			res := mustRun(t, f, a, o)
			want := map[string]int{kService: 1, kRoles: 1, kChannels: 1, kMembers: 4}
			for k, v := range tc.counts {
				want[k] = v
			}
			wantCounts(t, f, want)
			expect(t, "added", res.Added, tc.added)
			expect(t, "changed", res.Changed, tc.chgd)
			expect(t, "deleted", res.Deleted, tc.del)
			expect(t, "messages", res.Messages, first.Messages+tc.added-tc.del)
			if tc.name == "old message edited: not noticed by a plain run" {
				return // the archive is knowingly behind; checked below with --full
			}
			assertArchived(t, a, res.Snapshot, f)

			// A further plain run finds nothing to read.
			mustRun(t, f, a, opts(f))
			wantCounts(t, f, map[string]int{kService: 1, kRoles: 1, kChannels: 1, kMembers: 4})
		})
	}
}

func TestPlainRunAfterEditThenFullRun(t *testing.T) {
	f := newFakeSource(2, 25)
	a := newArchive(t)
	mustRun(t, f, a, opts(f))
	f.editMessage(1, 2, "changed later")
	plain := mustRun(t, f, a, opts(f))
	expect(t, "changed by plain run", plain.Changed, 0)
	o := opts(f)
	o.Full = true
	full := mustRun(t, f, a, o)
	expect(t, "changed by full run", full.Changed, 1)
	assertArchived(t, a, full.Snapshot, f)
	// The plain run's snapshot still holds the old text.
	v, err := a.View(plain.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	for m, err := range v.Messages(f.channel(1).sid) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Index == 2 && strings.Contains(string(m.Raw), "changed later") {
			t.Errorf("snapshot %d shows the edit made after it: %s", plain.Snapshot, m.Raw)
		}
	}
}

func TestChannelAndMemberDeletions(t *testing.T) {
	f := newFakeSource(4, 5)
	a := newArchive(t)
	mustRun(t, f, a, opts(f))
	gone := f.channel(1).sid
	f.deleteChannel(1)
	f.mu.Lock()
	f.channels[0].members = f.channels[0].members[1:]
	f.mu.Unlock()
	res := mustRun(t, f, a, opts(f))
	expect(t, "channels", res.Channels, 3)
	expect(t, "messages", res.Messages, 15)
	assertArchived(t, a, res.Snapshot, f)
	v, err := a.View(res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Channel(gone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted channel %s still in snapshot: err %v", gone, err)
	}
}

func TestSelectedChannels(t *testing.T) {
	f := newFakeSource(4, 12)
	tests := []struct {
		name     string
		channels []string
		status   string
		failed   []string
		backed   []int
	}{
		{"by SID", []string{f.channel(0).sid}, "complete", nil, []int{0}},
		{"by unique name", []string{"room-3"}, "complete", nil, []int{2}},
		{"same channel twice", []string{f.channel(1).sid, "room-2"}, "complete", nil, []int{1}},
		{"missing channel", []string{"room-1", "no-such-room"}, "partial", []string{"no-such-room"}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArchive(t)
			f.resetCounts()
			o := opts(f)
			o.Channels = tc.channels
			res, err := Run(context.Background(), f, a, o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			expect(t, "status", res.Status, tc.status)
			wantCounts(t, f, map[string]int{kService: 1, kRoles: 1, kFetchChannel: len(tc.channels),
				kMembers: len(tc.backed), kMessages: 2 * len(tc.backed)})
			expect(t, "failures", len(res.Failures), len(tc.failed))
			for i, name := range tc.failed {
				if i < len(res.Failures) {
					expect(t, "failed channel", res.Failures[i].Channel, name)
					if !strings.Contains(res.Failures[i].Error, "does not exist") {
						t.Errorf("failure text %q does not say the channel does not exist", res.Failures[i].Error)
					}
				}
			}
			expect(t, "channels", res.Channels, len(tc.backed))
			v, err := a.View(res.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range tc.backed {
				n, err := v.MessageCount(f.channel(i).sid)
				if err != nil || n != 12 {
					t.Errorf("channel %d: %d messages archived (err %v), want 12", i, n, err)
				}
			}
		})
	}
}

func TestSelectedChannelsDoNotDeleteOthers(t *testing.T) {
	f := newFakeSource(3, 4)
	a := newArchive(t)
	mustRun(t, f, a, opts(f))
	o := opts(f)
	o.Channels = []string{"room-2"}
	res := mustRun(t, f, a, o)
	expect(t, "channels", res.Channels, 3)
	expect(t, "deleted", res.Deleted, 0)
	assertArchived(t, a, res.Snapshot, f)
}

func TestOptionsValidation(t *testing.T) {
	good := hexSID("IS", 7)
	tests := []struct {
		name string
		o    Options
		want string // in the error; "" = valid
	}{
		{"defaults", Options{Service: good}, ""},
		{"upper-case hex", Options{Service: "IS" + strings.Repeat("AB", 16)}, ""},
		{"bounds", Options{Service: good, Concurrency: 256, PageSize: 100}, ""},
		{"lowest", Options{Service: good, Concurrency: 1, PageSize: 1}, ""},
		{"channel SID and names", Options{Service: good, Channels: []string{hexSID("CH", 1), "general", "CHANNEL-x", "dévelopment"}}, ""},
		{"no service", Options{}, "no service given"},
		{"channel SID as service", Options{Service: hexSID("CH", 1)}, "not a service SID"},
		{"short service", Options{Service: "IS123"}, "not a service SID"},
		{"non-hex service", Options{Service: "IS" + strings.Repeat("zz", 16)}, "not a service SID"},
		{"service with spaces", Options{Service: " " + good}, "not a service SID"},
		{"concurrency too high", Options{Service: good, Concurrency: 257}, "concurrency 257"},
		{"concurrency negative", Options{Service: good, Concurrency: -1}, "concurrency -1"},
		{"page size too high", Options{Service: good, PageSize: 101}, "page size 101"},
		{"page size negative", Options{Service: good, PageSize: -5}, "page size -5"},
		{"empty channel", Options{Service: good, Channels: []string{""}}, "empty channel selector"},
		{"mistyped channel SID", Options{Service: good, Channels: []string{"CH" + strings.Repeat("g", 32)}}, "looks like a channel SID"},
		{"long unique name", Options{Service: good, Channels: []string{strings.Repeat("n", 257)}}, "at most 256"},
		{"control characters", Options{Service: good, Channels: []string{"a\nb"}}, "control characters"},
		{"invalid UTF-8", Options{Service: good, Channels: []string{"a\xffb"}}, "invalid"},
		{"every problem at once", Options{Service: "x", Concurrency: 999, PageSize: 0, Channels: []string{""}}, "concurrency 999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			err := o.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if o.Concurrency < 1 || o.PageSize < 1 || o.Progress == nil || o.Logger == nil {
					t.Errorf("defaults not filled in: %+v", o)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("validate error %v does not match ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestInvalidOptionsSendNothing(t *testing.T) {
	f := newFakeSource(1, 1)
	a := newArchive(t)
	for _, o := range []Options{{}, {Service: f.sid, PageSize: 500}, {Service: f.sid, Channels: []string{""}}} {
		res, err := Run(context.Background(), f, a, o)
		if !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Run(%+v) error = %v, want ErrInvalidOptions", o, err)
		}
		expect(t, "snapshot", res.Snapshot, uint64(0))
	}
	if _, err := Run(context.Background(), nil, a, Options{Service: f.sid}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Run without a source: error = %v, want ErrInvalidOptions", err)
	}
	expect(t, "requests sent", f.Requests(), int64(0))
	snaps, err := a.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "snapshots", len(snaps), 0)
}

func apiErr(status, code int) error {
	return &remote.APIError{Method: "GET", Path: "/v2/Services/x", Status: status, Code: code, Message: "injected"}
}

func TestFailuresAndAborts(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(f *fakeSource) func(kind, channel string) error
		status    string
		wantErr   error  // nil = Run returns no error
		failed    string // channel in Failures (when status partial); "-" = a service-level failure
		listing   bool   // the channel listing failed: no channel was backed up
		snapshots int    // snapshots in the archive after the failing run (1 before it)
	}{
		{
			name: "messages of one channel fail",
			fail: func(f *fakeSource) func(string, string) error {
				bad := f.channel(2).sid
				return func(kind, ch string) error {
					if kind == kMessages && ch == bad {
						return apiErr(503, 0)
					}
					return nil
				}
			},
			status: "partial", failed: "2", snapshots: 2,
		},
		{
			name: "messages of one channel refused as a bad request",
			fail: func(f *fakeSource) func(string, string) error {
				bad := f.channel(1).sid
				return func(kind, ch string) error {
					if kind == kMessages && ch == bad {
						return apiErr(400, 20001)
					}
					return nil
				}
			},
			status: "partial", failed: "1", snapshots: 2,
		},
		{
			name: "messages of one channel rate limited beyond the retries",
			fail: func(f *fakeSource) func(string, string) error {
				bad := f.channel(2).sid
				return func(kind, ch string) error {
					if kind == kMessages && ch == bad {
						return fmt.Errorf("gave up after 8 retries: %w", apiErr(429, 20429))
					}
					return nil
				}
			},
			status: "partial", failed: "2", snapshots: 2,
		},
		{
			name: "channel vanished during the run",
			fail: func(f *fakeSource) func(string, string) error {
				bad := f.channel(0).sid
				return func(kind, ch string) error {
					if kind == kMembers && ch == bad {
						return apiErr(404, 50300)
					}
					return nil
				}
			},
			status: "partial", failed: "0", snapshots: 2,
		},
		{
			name: "members of one channel fail",
			fail: func(f *fakeSource) func(string, string) error {
				bad := f.channel(0).sid
				return func(kind, ch string) error {
					if kind == kMembers && ch == bad {
						return apiErr(500, 0)
					}
					return nil
				}
			},
			status: "partial", failed: "0", snapshots: 2,
		},
		{
			name: "roles fail",
			fail: func(f *fakeSource) func(string, string) error {
				return func(kind, ch string) error {
					if kind == kRoles {
						return apiErr(500, 0)
					}
					return nil
				}
			},
			status: "partial", failed: "-", snapshots: 2,
		},
		{
			name: "channel listing fails",
			fail: func(f *fakeSource) func(string, string) error {
				return func(kind, ch string) error {
					if kind == kChannels {
						return apiErr(502, 0)
					}
					return nil
				}
			},
			status: "partial", failed: "-", listing: true, snapshots: 2,
		},
		{
			name: "credentials refused mid-run",
			fail: func(f *fakeSource) func(string, string) error {
				bad := f.channel(1).sid
				return func(kind, ch string) error {
					if ch == bad && kind == kMessages {
						return apiErr(401, 20003)
					}
					return nil
				}
			},
			status: "interrupted", wantErr: remote.ErrAuthentication, snapshots: 2,
		},
		{
			name: "credentials refused for roles",
			fail: func(f *fakeSource) func(string, string) error {
				return func(kind, ch string) error {
					if kind == kRoles {
						return apiErr(403, 20003)
					}
					return nil
				}
			},
			status: "interrupted", wantErr: remote.ErrAuthentication, snapshots: 2,
		},
		{
			name: "credentials refused from the start",
			fail: func(f *fakeSource) func(string, string) error {
				return func(string, string) error { return apiErr(401, 20003) }
			},
			status: "", wantErr: remote.ErrAuthentication, snapshots: 1,
		},
		{
			name: "service gone",
			fail: func(f *fakeSource) func(string, string) error {
				return func(kind, ch string) error {
					if kind == kService {
						return apiErr(404, 20404)
					}
					return nil
				}
			},
			status: "", wantErr: remote.ErrNotFound, snapshots: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(4, 25)
			a := newArchive(t)
			mustRun(t, f, a, opts(f))
			f.postMessages(0, 2)
			f.postMessages(1, 2)
			f.postMessages(2, 2)
			f.fail = tc.fail(f)
			res, err := Run(context.Background(), f, a, opts(f))
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run error = %v, want %v", err, tc.wantErr)
			}
			expect(t, "status", res.Status, tc.status)
			snaps, serr := a.Snapshots()
			if serr != nil {
				t.Fatal(serr)
			}
			expect(t, "snapshots", len(snaps), tc.snapshots)
			for _, s := range snaps {
				if s.Status == store.StatusRunning {
					t.Errorf("snapshot %d left running", s.ID)
				}
			}
			if tc.status == "partial" {
				expect(t, "failures", len(res.Failures), 1)
				want := tc.failed
				if want == "-" {
					want = ""
				} else {
					want = f.channel(int(want[0] - '0')).sid
				}
				if len(res.Failures) == 1 {
					expect(t, "failed channel", res.Failures[0].Channel, want)
					if !strings.Contains(res.Failures[0].Error, "rerun") {
						t.Errorf("failure %q does not say what to do", res.Failures[0].Error)
					}
				}
				// The channels that did not fail are complete; a failed
				// listing deletes nothing.
				expect(t, "channels", res.Channels, 4)
				v, err := a.View(res.Snapshot)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					if tc.listing {
						break
					}
					c := f.channel(i)
					if c.sid == want {
						continue
					}
					if n, err := v.MessageCount(c.sid); err != nil || n != len(c.messages) {
						t.Errorf("channel %d: %d messages archived (err %v), want %d", i, n, err, len(c.messages))
					}
				}
			}

			// Once the fault is gone, a rerun catches up completely.
			f.fail = nil
			res = mustRun(t, f, a, opts(f))
			assertArchived(t, a, res.Snapshot, f)
		})
	}
}

// cancelAfter cancels when the service has served n message pages in all.
func cancelAfter(f *fakeSource, n int64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var served atomic.Int64
	f.pageHook = func(string, int) {
		if served.Add(1) == n {
			cancel()
		}
	}
	return ctx, cancel
}

func TestInterruptedRunKeepsPagesAndResumes(t *testing.T) {
	tests := []struct {
		name      string
		before    func(f *fakeSource) // between the interrupted run and the rerun
		full      bool
		resumeReq int // message requests of the rerun
		segA      int // pages read before the saved page URL; 0 = 1
	}{
		// The interrupted walk read 34..25 and 24..15; WalkNext starts below 15.
		// Rerun: one page down to WalkTop, then 14..5 and 4..0.
		{name: "nothing new", before: func(*fakeSource) {}, resumeReq: 3},
		{name: "new messages since", before: func(f *fakeSource) { f.postMessages(0, 4) }, resumeReq: 3},
		{name: "many new messages since", before: func(f *fakeSource) { f.postMessages(0, 25) }, resumeReq: 5, segA: 3},
		{name: "full rerun resumes too", before: func(*fakeSource) {}, full: true, resumeReq: 3},
		// The saved page URL is refused: one page to WalkTop, the refused
		// request, then all four pages again.
		{name: "expired page token", before: func(f *fakeSource) { f.gen++ }, resumeReq: 6},
		// Deletion in the part the interrupted run had read: noticed by count.
		{name: "deletion in the part already read", before: func(f *fakeSource) { f.deleteMessage(0, 30) }, resumeReq: 3 + 4},
		// Deletion in the part still to read: noticed by coverage.
		{name: "deletion in the part still to read", before: func(f *fakeSource) { f.deleteMessage(0, 3) }, resumeReq: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(1, 35)
			a := newArchive(t)
			ch := f.channel(0).sid
			ctx, cancel := cancelAfter(f, 2)
			defer cancel()
			o := opts(f)
			o.Concurrency = 1
			res, err := Run(ctx, f, a, o)
			f.pageHook = nil
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Run error = %v, want context.Canceled", err)
			}
			expect(t, "status", res.Status, string(store.StatusInterrupted))
			v, err := a.View(res.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			n, err := v.MessageCount(ch)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "messages kept from the interrupted run", n, 20)
			st, ok, err := a.Sync(f.sid, ch)
			if err != nil || !ok {
				t.Fatalf("Sync after interruption: %+v %v %v", st, ok, err)
			}
			expect(t, "WalkTop", st.WalkTop, int64(34))
			if !strings.Contains(st.WalkNext, "Before=15") {
				t.Errorf("WalkNext = %q, want the page below index 15", st.WalkNext)
			}
			saved := st.WalkNext

			tc.before(f)
			o.Full = tc.full
			res = mustRun(t, f, a, o)
			urls := f.pageURLs(ch)
			expect(t, "message requests of the rerun", len(urls), tc.resumeReq)
			if pos := max(tc.segA, 1); len(urls) > pos {
				expect(t, "saved page URL fetched by the rerun", urls[pos], saved)
			}
			assertArchived(t, a, res.Snapshot, f)
			st, _, _ = a.Sync(f.sid, ch)
			expect(t, "WalkTop after the rerun", st.WalkTop, int64(-1))
			expect(t, "WalkNext after the rerun", st.WalkNext, "")

			mustRun(t, f, a, opts(f))
			expect(t, "message requests of a third run", f.count(kMessages), 0)
		})
	}
}

func TestCancelledRunIsInterrupted(t *testing.T) {
	f := newFakeSource(6, 40)
	a := newArchive(t)
	ctx, cancel := cancelAfter(f, 7)
	defer cancel()
	res, err := Run(ctx, f, a, opts(f))
	f.pageHook = nil
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "rerun") {
		t.Errorf("error %q does not say a rerun continues", err)
	}
	expect(t, "status", res.Status, string(store.StatusInterrupted))
	if res.Messages < 70 {
		t.Errorf("interrupted snapshot keeps %d messages, want at least the 70 of the 7 pages served", res.Messages)
	}
	snaps, err := a.Snapshots()
	if err != nil || len(snaps) != 1 {
		t.Fatalf("Snapshots = %v, %v", snaps, err)
	}
	expect(t, "stored status", snaps[0].Status, store.StatusInterrupted)
	res = mustRun(t, f, a, opts(f))
	assertArchived(t, a, res.Snapshot, f)
}

func TestCancelledBeforeStart(t *testing.T) {
	f := newFakeSource(2, 2)
	a := newArchive(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, f, a, opts(f))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	snaps, err := a.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "snapshots", len(snaps), 0)
}

type countingProgress struct {
	starts, channels, done, messages, mediaBytes atomic.Int64
}

func (p *countingProgress) Start(n int)        { p.starts.Add(1); p.channels.Store(int64(n)) }
func (p *countingProgress) ChannelDone()       { p.done.Add(1) }
func (p *countingProgress) Messages(n int)     { p.messages.Add(int64(n)) }
func (p *countingProgress) MediaBytes(n int64) { p.mediaBytes.Add(n) }

func TestProgressEvents(t *testing.T) {
	tests := []struct {
		name string
		src  func(f *fakeSource) Source
	}{
		{"plain listing", func(f *fakeSource) Source { return f }},
		// A listing that pages by offset may repeat a channel while
		// channels are created: it is backed up and announced once.
		{"every channel listed twice", func(f *fakeSource) Source { return repeatingListing{f} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(5, 23)
			a := newArchive(t)
			p := &countingProgress{}
			o := opts(f)
			o.Progress = p
			res, err := Run(context.Background(), tc.src(f), a, o)
			if err != nil || res.Status != "complete" {
				t.Fatalf("Run: %+v, %v", res, err)
			}
			assertArchived(t, a, res.Snapshot, f)
			expect(t, "Start calls", p.starts.Load(), int64(1))
			expect(t, "channels announced", p.channels.Load(), int64(5))
			expect(t, "channels done", p.done.Load(), int64(5))
			expect(t, "messages", p.messages.Load(), int64(5*23))
			expect(t, "member listings", f.count(kMembers), 5)
			expect(t, "message pages", f.count(kMessages), 5*3)
		})
	}
}

func TestSyncStateAfterRuns(t *testing.T) {
	f := newFakeSource(1, 12)
	a := newArchive(t)
	mustRun(t, f, a, opts(f))
	ch := f.channel(0)
	st, ok, err := a.Sync(f.sid, ch.sid)
	if err != nil || !ok {
		t.Fatalf("Sync: %v %v", ok, err)
	}
	want := store.ChannelSync{SyncedIndex: 11, MessagesCount: 12, Marker: changeMarker(ch.remote(f.sid, f.API())), WalkTop: -1}
	if st != want {
		t.Errorf("sync state = %+v, want %+v", st, want)
	}
	// Deleting the newest message lowers the count but not the high-water mark.
	f.deleteMessage(0, 11)
	mustRun(t, f, a, opts(f))
	st, _, _ = a.Sync(f.sid, ch.sid)
	want.MessagesCount = 11
	want.Marker = changeMarker(ch.remote(f.sid, f.API())) // the newest message changed
	if st != want {
		t.Errorf("sync state = %+v, want %+v", st, want)
	}
}

func TestMessagesPostedDuringTheRun(t *testing.T) {
	f := newFakeSource(1, 35)
	a := newArchive(t)
	mustRun(t, f, a, opts(f))
	f.postMessages(0, 1)
	posted := false
	// Post one more message after the listing, just before the first page
	// is read (f.mu is held while fail runs).
	f.fail = func(kind, ch string) error {
		if kind == kMessages && !posted {
			posted = true
			f.channels[0].add("posted during the run")
		}
		return nil
	}
	res := mustRun(t, f, a, opts(f))
	f.fail = nil
	// The archive holds one message more than the listing said: the channel
	// is fetched again and its newest page read once more, but not the
	// whole channel.
	wantCounts(t, f, map[string]int{kService: 1, kRoles: 1, kChannels: 1, kMembers: 1, kFetchChannel: 1, kMessages: 2})
	expect(t, "added", res.Added, 2)
	assertArchived(t, a, res.Snapshot, f)
	mustRun(t, f, a, opts(f))
	expect(t, "message requests of the next run", f.count(kMessages), 0)
}

func TestBrokenPages(t *testing.T) {
	tests := []struct {
		name string
		edit func(url string, p *remote.Page[*remote.Message]) *remote.Page[*remote.Message]
		want string
	}{
		{
			name: "page names itself as its successor",
			edit: func(url string, p *remote.Page[*remote.Message]) *remote.Page[*remote.Message] {
				if url != "" {
					p.NextPageURL = url
				}
				return p
			},
			want: "its own successor",
		},
		{
			name: "no page at all",
			edit: func(string, *remote.Page[*remote.Message]) *remote.Page[*remote.Message] { return nil },
			want: "no page",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(2, 25)
			a := newArchive(t)
			f.pageEdit = tc.edit
			f.resetCounts()
			res, err := Run(context.Background(), f, a, opts(f))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			expect(t, "status", res.Status, "partial")
			expect(t, "failures", len(res.Failures), 2)
			for _, fl := range res.Failures {
				if !strings.Contains(fl.Error, tc.want) {
					t.Errorf("failure %q does not mention %q", fl.Error, tc.want)
				}
			}
			f.pageEdit = nil
			res = mustRun(t, f, a, opts(f))
			assertArchived(t, a, res.Snapshot, f)
		})
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		name    string
		live    []int64
		s       span
		present []int64
		want    []int64
	}{
		{"nothing live", nil, span{0, 10}, []int64{1, 2}, nil},
		{"all present", []int64{1, 2, 3}, span{1, 3}, []int64{1, 2, 3}, nil},
		{"one gone", []int64{1, 2, 3}, span{1, 3}, []int64{1, 3}, []int64{2}},
		{"outside the span is kept", []int64{0, 5, 9}, span{4, 6}, nil, []int64{5}},
		{"unbounded below", []int64{0, 1, 7}, span{math.MinInt64, 6}, []int64{1}, []int64{0}},
		{"unbounded above", []int64{3, 8, 100}, span{4, math.MaxInt64}, []int64{8}, []int64{100}},
		{"empty span", []int64{1, 2}, span{2, 1}, nil, nil},
		{"present but not live", []int64{4}, span{0, 9}, []int64{4, 5, 6}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := missing(tc.live, tc.s, tc.present)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("missing = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		aborts bool
		client bool
	}{
		{"401", apiErr(401, 20003), true, false},
		{"403 credentials", apiErr(403, 20003), true, false},
		{"403 chat limit", apiErr(403, 50430), false, true},
		{"400 page token", apiErr(400, 21481), false, true},
		{"404", apiErr(404, 20404), false, true},
		{"429", apiErr(429, 20429), false, false},
		{"500", apiErr(500, 0), false, false},
		{"wrapped 401", fmt.Errorf("listing: %w", apiErr(401, 20003)), true, false},
		{"archive failure", storeErr(errors.New("disk full")), true, false},
		{"wrapped archive failure", fmt.Errorf("channel x: %w", storeErr(errors.New("disk full"))), true, false},
		{"plain error", errors.New("connection reset"), false, false},
		{"context", context.Canceled, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, "aborts", aborts(tc.err), tc.aborts)
			expect(t, "isClientError", isClientError(tc.err), tc.client)
		})
	}
}

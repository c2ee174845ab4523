package backup

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// Differences as the tests expect them.

func chDiff(ch, kind string, fields ...string) Difference {
	return Difference{Channel: ch, Kind: kind, Fields: fields}
}

func mbDiff(ch, member, kind string, fields ...string) Difference {
	return Difference{Channel: ch, Member: member, Kind: kind, Fields: fields}
}

func msgDiff(ch, sid, kind string, fields ...string) Difference {
	return Difference{Channel: ch, Message: &sid, Kind: kind, Fields: fields}
}

// fakeMsg is the difference of the fake's message at index i of channel ch.
func fakeMsg(ch string, i int64, kind string, fields ...string) Difference {
	return msgDiff(ch, fakeMessageSID(ch, i), kind, fields...)
}

// assertDiffs fails the test unless got equals want, in order.
func assertDiffs(t *testing.T, got, want []Difference) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Errorf("differences:\n%s\nwant:\n%s", g, w)
}

// backedUp backs f up into a new archive and returns a View of the snapshot.
func backedUp(t *testing.T, f *fakeSource) *store.View {
	t.Helper()
	a := newArchive(t)
	res := mustRun(t, f, a, opts(f))
	v, err := a.View(res.Snapshot)
	if err != nil {
		t.Fatalf("View(%d): %v", res.Snapshot, err)
	}
	return v
}

// locked runs fn with the fake's lock held.
func locked(f *fakeSource, fn func(chs []*fakeChannel)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.channels)
}

func TestCompareFake(t *testing.T) {
	ch := func(i int) string { return hexSID("CH", i+1) }
	mb := func(ch, m int) string { return hexSID("MB", (ch+1)*100+m) }
	tests := []struct {
		name   string
		change func(f *fakeSource)
		want   []Difference
	}{
		{name: "nothing changed", change: func(*fakeSource) {}},
		{
			name:   "message edited",
			change: func(f *fakeSource) { f.editMessage(1, 7, "changed") },
			want:   []Difference{fakeMsg(ch(1), 7, DiffChanged, "body", "was_edited")},
		},
		{
			name:   "message deleted",
			change: func(f *fakeSource) { f.deleteMessage(2, 10) },
			want: []Difference{
				chDiff(ch(2), DiffChanged, "messages_count"),
				fakeMsg(ch(2), 10, DiffMissingLive),
			},
		},
		{
			name:   "oldest and newest messages deleted",
			change: func(f *fakeSource) { f.deleteMessage(0, 0); f.deleteMessage(0, 24) },
			want: []Difference{
				chDiff(ch(0), DiffChanged, "links", "messages_count"),
				fakeMsg(ch(0), 0, DiffMissingLive),
				fakeMsg(ch(0), 24, DiffMissingLive),
			},
		},
		{
			name:   "every message deleted",
			change: func(f *fakeSource) { locked(f, func(chs []*fakeChannel) { chs[3].messages = nil }) },
			want: append([]Difference{chDiff(ch(3), DiffChanged, "links", "messages_count")}, func() []Difference {
				var d []Difference
				for i := range int64(25) {
					d = append(d, fakeMsg(ch(3), i, DiffMissingLive))
				}
				return d
			}()...),
		},
		{
			name:   "messages posted",
			change: func(f *fakeSource) { f.postMessages(3, 2) },
			want: []Difference{
				chDiff(ch(3), DiffChanged, "links", "messages_count"),
				fakeMsg(ch(3), 25, DiffMissingArchive),
				fakeMsg(ch(3), 26, DiffMissingArchive),
			},
		},
		{
			name:   "as many messages deleted as posted",
			change: func(f *fakeSource) { f.deleteMessage(1, 3); f.postMessages(1, 1) },
			want: []Difference{
				chDiff(ch(1), DiffChanged, "links"),
				fakeMsg(ch(1), 3, DiffMissingLive),
				fakeMsg(ch(1), 25, DiffMissingArchive),
			},
		},
		{
			name: "another message at the same index",
			change: func(f *fakeSource) {
				locked(f, func(chs []*fakeChannel) { chs[2].messages[5].sid = hexSID("IM", 5) })
			},
			// The archived SID names the message.
			want: []Difference{fakeMsg(ch(2), 5, DiffChanged, "sid")},
		},
		{
			name: "member attributes changed",
			change: func(f *fakeSource) {
				locked(f, func(chs []*fakeChannel) { chs[0].members[1].attrs = `{"x":1}` })
			},
			want: []Difference{mbDiff(ch(0), mb(0, 1), DiffChanged, "attributes")},
		},
		{
			name: "member removed",
			change: func(f *fakeSource) {
				locked(f, func(chs []*fakeChannel) { chs[1].members = chs[1].members[:2] })
			},
			want: []Difference{
				chDiff(ch(1), DiffChanged, "members_count"),
				mbDiff(ch(1), mb(1, 2), DiffMissingLive),
			},
		},
		{
			name: "member replaced, sorted by SID",
			change: func(f *fakeSource) {
				locked(f, func(chs []*fakeChannel) {
					chs[2].members[2] = fakeMember{hexSID("MB", 1), "newcomer", "{}"}
				})
			},
			want: []Difference{
				mbDiff(ch(2), hexSID("MB", 1), DiffMissingArchive),
				mbDiff(ch(2), mb(2, 2), DiffMissingLive),
			},
		},
		{
			name:   "channel deleted: reported once",
			change: func(f *fakeSource) { f.deleteChannel(1) },
			want:   []Difference{chDiff(ch(1), DiffMissingLive)},
		},
		{
			name: "channel created: reported once",
			change: func(f *fakeSource) {
				locked(f, func(chs []*fakeChannel) {
					c := &fakeChannel{sid: hexSID("CH", 99), typ: "private", members: []fakeMember{{hexSID("MB", 9), "x", "{}"}}}
					c.add("hi")
					f.channels = append(f.channels, c)
				})
			},
			want: []Difference{chDiff(hexSID("CH", 99), DiffMissingArchive)},
		},
		{
			name:   "channel renamed",
			change: func(f *fakeSource) { locked(f, func(chs []*fakeChannel) { chs[3].uniqueName = "renamed" }) },
			want:   []Difference{chDiff(ch(3), DiffChanged, "unique_name")},
		},
		{
			name: "changes in several channels come sorted",
			change: func(f *fakeSource) {
				f.editMessage(3, 20, "late edit")
				f.editMessage(3, 2, "early edit")
				locked(f, func(chs []*fakeChannel) { chs[2].members[0].attrs = "{}\n" })
				f.deleteChannel(0)
				f.postMessages(0, 1) // the channel that was second
			},
			want: []Difference{
				chDiff(ch(0), DiffMissingLive),
				chDiff(ch(1), DiffChanged, "links", "messages_count"),
				fakeMsg(ch(1), 25, DiffMissingArchive),
				mbDiff(ch(2), mb(2, 0), DiffChanged, "attributes"),
				fakeMsg(ch(3), 2, DiffChanged, "body", "was_edited"),
				fakeMsg(ch(3), 20, DiffChanged, "body", "was_edited"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(4, 25)
			v := backedUp(t, f)
			tc.change(f)
			got, err := Compare(context.Background(), f, v)
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			assertDiffs(t, got, tc.want)
		})
	}
}

func TestCompareEmptyService(t *testing.T) {
	f := newFakeSource(0, 0)
	v := backedUp(t, f)
	got, err := Compare(context.Background(), f, v)
	if err != nil || got != nil {
		t.Fatalf("Compare = %v, %v; want nil, nil", got, err)
	}
}

// TestCompareRequests checks that Compare reads the users once, each
// channel's members once and its messages oldest first in pages of the
// API's maximum, and nothing else.
func TestCompareRequests(t *testing.T) {
	f := newFakeSource(3, 250)
	v := backedUp(t, f)
	f.resetCounts()
	got, err := Compare(context.Background(), f, v)
	if err != nil || got != nil {
		t.Fatalf("Compare = %v, %v; want nil, nil", got, err)
	}
	wantCounts(t, f, map[string]int{kUsers: 1, kChannels: 1, kMembers: 3, kMessages: 3 * 3})
}

// disorderedSource lists a channel's messages newest first, which Compare
// must refuse rather than misreport.
type disorderedSource struct{ *fakeSource }

func (d disorderedSource) ListMessages(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Message, error] {
	return func(yield func(*remote.Message, error) bool) {
		var all []*remote.Message
		for m, err := range d.fakeSource.ListMessages(ctx, service, channel, o) {
			if err != nil {
				yield(nil, err)
				return
			}
			all = append(all, m)
		}
		slices.Reverse(all)
		for _, m := range all {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func TestCompareFailures(t *testing.T) {
	bad := hexSID("CH", 2)
	// failing returns a fault for requests of kind in the bad channel
	// ("" = any channel), from the n-th such request on (1-based).
	failing := func(kind, channel string, n int, err error) func(string, string) error {
		seen := 0
		return func(k, ch string) error {
			if k != kind || channel != "" && ch != channel {
				return nil
			}
			if seen++; seen >= n {
				return err
			}
			return nil
		}
	}
	tests := []struct {
		name    string
		fail    func(kind, channel string) error
		src     func(f *fakeSource) Source // nil = the fake itself
		cancel  bool                       // Compare is called with a cancelled context
		want    []Difference               // when no error is expected
		wantErr error                      // matched with errors.Is, when set
		status  int                        // the error carries the service's *remote.APIError with this status, when set
		errHas  []string                   // the error names these
	}{
		{
			name:   "channel listing fails",
			fail:   failing(kChannels, "", 1, apiErr(503, 0)),
			status: 503,
			errHas: []string{"listing the channels of live service " + hexSID("IS", 1), "HTTP 503"},
		},
		{
			name:    "credentials refused",
			fail:    failing(kChannels, "", 1, apiErr(401, 20003)),
			wantErr: remote.ErrAuthentication,
			errHas:  []string{"live service " + hexSID("IS", 1)},
		},
		{
			name:   "members of one channel fail",
			fail:   failing(kMembers, bad, 1, apiErr(503, 0)),
			status: 503,
			errHas: []string{"channel " + bad, "listing the members of the live service", "HTTP 503"},
		},
		{
			name:   "messages of one channel fail on the first page",
			fail:   failing(kMessages, bad, 1, apiErr(500, 0)),
			status: 500,
			errHas: []string{"channel " + bad, "listing the messages of the live service", "HTTP 500"},
		},
		{
			name:    "messages of one channel fail on a later page",
			fail:    failing(kMessages, bad, 2, apiErr(429, 20429)),
			wantErr: remote.ErrRateLimited,
			status:  429,
			errHas:  []string{"channel " + bad, "listing the messages", "code 20429"},
		},
		{
			name:    "messages listed out of order",
			src:     func(f *fakeSource) Source { return disorderedSource{f} },
			wantErr: errOutOfOrder,
			errHas:  []string{"comparing channel CH", "came after", "out of order"},
		},
		{
			name:    "context cancelled",
			cancel:  true,
			wantErr: context.Canceled,
		},
		{
			name: "channel deleted before its members were listed",
			fail: failing(kMembers, bad, 1, apiErr(404, 50300)),
			want: []Difference{chDiff(bad, DiffMissingLive)},
		},
		{
			name: "channel deleted while its messages were read",
			fail: failing(kMessages, bad, 2, apiErr(404, 50300)),
			want: []Difference{chDiff(bad, DiffMissingLive)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(3, 150)
			v := backedUp(t, f)
			f.mu.Lock()
			f.fail = tc.fail
			f.mu.Unlock()
			var src Source = f
			if tc.src != nil {
				src = tc.src(f)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			got, err := Compare(ctx, src, v)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("Compare: %v", err)
				}
				assertDiffs(t, got, tc.want)
				return
			}
			if err == nil {
				t.Fatalf("Compare = %v, nil; want an error", got)
			}
			if got != nil {
				t.Errorf("Compare returned differences %v with its error", got)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v: want errors.Is %v", err, tc.wantErr)
			}
			if tc.status != 0 {
				var ae *remote.APIError
				if !errors.As(err, &ae) || ae.Status != tc.status {
					t.Errorf("error %v: want the service's *remote.APIError with status %d", err, tc.status)
				}
			}
			if errors.Is(err, errChannelGone) {
				t.Errorf("error %v passes for a deleted channel", err)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestCompareClosedArchive(t *testing.T) {
	f := newFakeSource(2, 5)
	a, err := store.Open(filepath.Join(t.TempDir(), "closed.vault"), store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, f, a, opts(f))
	v, err := a.View(res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Compare(context.Background(), f, v)
	if err == nil || got != nil {
		t.Fatalf("Compare on a closed archive = %v, %v; want an error", got, err)
	}
	if !strings.Contains(err.Error(), "snapshot") {
		t.Errorf("error %q does not say what was being read", err)
	}
}

// gatedSource holds every message listing until compareConcurrency of them
// are open at once, and records the most that were.
type gatedSource struct {
	*fakeSource
	cur, peak atomic.Int64
	once      sync.Once
	open      chan struct{}
}

func (g *gatedSource) ListMessages(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Message, error] {
	return func(yield func(*remote.Message, error) bool) {
		n := g.cur.Add(1)
		defer g.cur.Add(-1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}
		if n >= compareConcurrency {
			g.once.Do(func() { close(g.open) })
		}
		select {
		case <-g.open:
		case <-ctx.Done():
			yield(nil, ctx.Err())
			return
		}
		for m, err := range g.fakeSource.ListMessages(ctx, service, channel, o) {
			if !yield(m, err) {
				return
			}
		}
	}
}

func TestCompareBoundsConcurrency(t *testing.T) {
	f := newFakeSource(3*compareConcurrency, 3)
	v := backedUp(t, f)
	g := &gatedSource{fakeSource: f, open: make(chan struct{})}
	// Should fewer channels than the limit ever be read at once, the gate
	// never opens: the deadline turns that into a failure, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := Compare(ctx, g, v)
	if err != nil || got != nil {
		t.Fatalf("Compare = %v, %v; want nil, nil", got, err)
	}
	expect(t, "most channels read at once", g.peak.Load(), int64(compareConcurrency))
	expect(t, "listings left open", g.cur.Load(), int64(0))
}

func TestDiffJSON(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string
		fields []string
		differ bool
	}{
		{name: "same bytes", a: `{"a":1,"b":"x"}`, b: `{"a":1,"b":"x"}`},
		{name: "keys in another order", a: `{"a":1,"b":"x","c":null}`, b: `{"c":null,"b":"x","a":1}`},
		{name: "white space", a: `{"a":1,"b":[1,2]}`, b: "{ \"a\" : 1,\n\t\"b\": [ 1, 2 ] }\n"},
		{name: "white space inside nested values", a: `{"o":{"x":[1,{"y":2}]}}`, b: `{"o": { "x": [ 1, { "y": 2 } ] } }`},
		{name: "empty objects", a: `{}`, b: ` { } `},
		{name: "both not objects, same", a: `[1,2]`, b: `[ 1, 2 ]`},
		{name: "null vs empty string", a: `{"a":null}`, b: `{"a":""}`, fields: []string{"a"}, differ: true},
		{name: "missing property", a: `{"a":1,"b":2}`, b: `{"a":1}`, fields: []string{"b"}, differ: true},
		{name: "added property", a: `{"a":1}`, b: `{"z":null,"a":1}`, fields: []string{"z"}, differ: true},
		{name: "missing vs null", a: `{"a":1}`, b: `{"a":1,"b":null}`, fields: []string{"b"}, differ: true},
		{name: "changed values are sorted", a: `{"z":1,"m":true,"a":"x","k":1}`, b: `{"z":2,"m":false,"a":"y","k":1}`, fields: []string{"a", "m", "z"}, differ: true},
		{name: "number spelled differently", a: `{"n":1}`, b: `{"n":1.0}`, fields: []string{"n"}, differ: true},
		{name: "string vs number", a: `{"n":"1"}`, b: `{"n":1}`, fields: []string{"n"}, differ: true},
		{name: "nested keys in another order", a: `{"o":{"x":1,"y":2}}`, b: `{"o":{"y":2,"x":1}}`, fields: []string{"o"}, differ: true},
		{name: "string escaped differently", a: `{"s":"é"}`, b: `{"s":"\u00e9"}`, fields: []string{"s"}, differ: true},
		{name: "keys differ in case", a: `{"Body":"x"}`, b: `{"body":"x"}`, fields: []string{"Body", "body"}, differ: true},
		{name: "object vs null", a: `{"a":1}`, b: `null`, differ: true},
		{name: "object vs array", a: `{"a":1}`, b: `[{"a":1}]`, differ: true},
		{name: "not JSON", a: `{"a":1}`, b: `{"a":`, differ: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, swap := range []bool{false, true} {
				a, b := tc.a, tc.b
				if swap {
					a, b = b, a
				}
				fields, differ := diffJSON([]byte(a), []byte(b))
				if differ != tc.differ || !slices.Equal(fields, tc.fields) {
					t.Errorf("diffJSON(%s, %s) = %q, %v; want %q, %v", a, b, fields, differ, tc.fields, tc.differ)
				}
			}
		})
	}
}

func TestDifferenceJSON(t *testing.T) {
	tests := []struct {
		name string
		d    Difference
		want string
	}{
		{"channel", chDiff("CH1", DiffMissingLive), `{"channel":"CH1","message":null,"kind":"missing_live","fields":[]}`},
		{"changed channel", chDiff("CH1", DiffChanged, "a", "b"), `{"channel":"CH1","message":null,"kind":"changed","fields":["a","b"]}`},
		{"member", mbDiff("CH1", "MB1", DiffMissingArchive), `{"channel":"CH1","member":"MB1","message":null,"kind":"missing_archive","fields":[]}`},
		{"message", msgDiff("CH1", "IM1", DiffChanged, "body"), `{"channel":"CH1","message":"IM1","kind":"changed","fields":["body"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "JSON", string(b), tc.want)
		})
	}
}

// emulatorNow is the emulator clock of TestIntegrationCompare: later than
// any generated date, so every update moves date_updated.
var emulatorNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestIntegrationCompare(t *testing.T) {
	ctx := context.Background()
	e := startEmulator(t, emulator.Config{Seed: 5, Channels: 8, Messages: 40, Now: func() time.Time { return emulatorNow }})
	a := newArchive(t)
	o := Options{Service: e.svc, PageSize: 20}
	compare := func(id uint64) []Difference {
		t.Helper()
		v, err := a.View(id)
		if err != nil {
			t.Fatalf("View(%d): %v", id, err)
		}
		writes := e.srv.Stats().Writes
		d, err := Compare(ctx, e.cl, v)
		if err != nil {
			t.Fatalf("Compare with snapshot %d: %v", id, err)
		}
		expect(t, "writes sent by Compare", e.srv.Stats().Writes-writes, int64(0))
		return d
	}
	first, err := Run(ctx, e.cl, a, o)
	if err != nil || first.Status != "complete" {
		t.Fatalf("Run: %+v %v", first, err)
	}
	assertDiffs(t, compare(first.Snapshot), nil)

	sids := channelSIDs(t, e.cl, e.svc)
	want := map[string][]Difference{} // per channel, in order

	// An unedited message's body edited.
	var edited *remote.Message
	for m, err := range e.cl.ListMessages(ctx, e.svc, sids[0], remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if !m.WasEdited && m.Body != "edited" {
			edited = m
			break
		}
	}
	if edited == nil {
		t.Fatalf("channel %s has no unedited message", sids[0])
	}
	if _, err := e.cl.UpdateMessage(ctx, e.svc, sids[0], edited.SID, remote.MessageParams{Body: ptr("edited")}); err != nil {
		t.Fatal(err)
	}
	editDiff := msgDiff(sids[0], edited.SID, DiffChanged, "body", "date_updated", "was_edited")
	want[sids[0]] = []Difference{editDiff}

	// A message deleted (not the newest: links.last_message stays).
	deleted := messageAt(t, e.cl, e.svc, sids[1], 3)
	if err := e.cl.DeleteMessage(ctx, e.svc, sids[1], deleted.SID); err != nil {
		t.Fatal(err)
	}
	want[sids[1]] = []Difference{
		chDiff(sids[1], DiffChanged, "messages_count"),
		msgDiff(sids[1], deleted.SID, DiffMissingLive),
	}

	// A message posted: the channel's count and last message change.
	posted, err := e.cl.CreateMessage(ctx, e.svc, sids[2], remote.MessageParams{From: ptr("tester"), Body: ptr("new")})
	if err != nil {
		t.Fatal(err)
	}
	want[sids[2]] = []Difference{
		chDiff(sids[2], DiffChanged, "links", "messages_count"),
		msgDiff(sids[2], posted.SID, DiffMissingArchive),
	}

	// A member's attributes.
	var member *remote.Member
	for m, err := range e.cl.ListMembers(ctx, e.svc, sids[3], remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		member = m
	}
	if member == nil {
		t.Fatalf("channel %s has no members", sids[3])
	}
	if _, err := e.cl.UpdateMember(ctx, e.svc, sids[3], member.SID, remote.MemberParams{Attributes: ptr(`{"compare":true}`)}); err != nil {
		t.Fatal(err)
	}
	want[sids[3]] = []Difference{mbDiff(sids[3], member.SID, DiffChanged, "attributes", "date_updated")}

	// A channel renamed, one deleted, one created.
	if _, err := e.cl.UpdateChannel(ctx, e.svc, sids[4], remote.ChannelParams{FriendlyName: ptr("renamed by the test")}); err != nil {
		t.Fatal(err)
	}
	want[sids[4]] = []Difference{chDiff(sids[4], DiffChanged, "date_updated", "friendly_name")}
	if err := e.cl.DeleteChannel(ctx, e.svc, sids[5]); err != nil {
		t.Fatal(err)
	}
	want[sids[5]] = []Difference{chDiff(sids[5], DiffMissingLive)}
	created, err := e.cl.CreateChannel(ctx, e.svc, remote.ChannelParams{FriendlyName: ptr("fresh"), Type: "private"})
	if err != nil {
		t.Fatal(err)
	}
	want[created.SID] = []Difference{chDiff(created.SID, DiffMissingArchive)}

	var all []Difference
	for _, sid := range slices.Sorted(maps.Keys(want)) {
		all = append(all, want[sid]...)
	}
	assertDiffs(t, compare(first.Snapshot), all)

	// A plain run catches up on everything but the edit of an old message
	// in an otherwise unchanged channel; a full run catches that too.
	plain, err := Run(ctx, e.cl, a, o)
	if err != nil || plain.Status != "complete" {
		t.Fatalf("plain Run: %+v %v", plain, err)
	}
	assertDiffs(t, compare(plain.Snapshot), []Difference{editDiff})
	o.Full = true
	full, err := Run(ctx, e.cl, a, o)
	if err != nil || full.Status != "complete" {
		t.Fatalf("full Run: %+v %v", full, err)
	}
	assertDiffs(t, compare(full.Snapshot), nil)

	// The first snapshot still shows the service as it was.
	assertDiffs(t, compare(first.Snapshot), all)
}

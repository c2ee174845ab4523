package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// emu is a running emulator and a client of it.
type emu struct {
	srv  *emulator.Server
	info emulator.Info
	cl   *remote.Client
	svc  string // the service with generated history

	mu    sync.Mutex
	https []*http.Client // of the clients made by client
}

// testLimits retry quickly: the emulator's faults are cheap to wait out.
var testLimits = remote.Limits{MaxRetries: 30, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}

func startEmulator(tb testing.TB, cfg emulator.Config) *emu {
	tb.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		tb.Fatalf("emulator.New: %v", err)
	}
	info, err := srv.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("emulator Start: %v", err)
	}
	e := &emu{srv: srv, info: info, svc: info.Services[0]}
	tb.Cleanup(func() {
		// Connections the clients dialled but never used count as active
		// for http.Server.Shutdown: close them first.
		e.mu.Lock()
		for _, h := range e.https {
			h.CloseIdleConnections()
		}
		e.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("emulator Shutdown: %v", err)
		}
	})
	e.cl = e.client(tb, info.AuthToken, testLimits)
	return e
}

// client returns a client of the emulator with the given token and limits.
func (e *emu) client(tb testing.TB, token string, l remote.Limits) *remote.Client {
	tb.Helper()
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	h := &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	e.mu.Lock()
	e.https = append(e.https, h)
	e.mu.Unlock()
	cl, err := remote.NewClient(remote.Credentials{AccountSID: e.info.AccountSID, AuthToken: token},
		remote.WithBaseURL(e.info.BaseURL), remote.WithConversationsURL(e.info.ConversationsURL), remote.WithMediaURL(e.info.MediaURL), remote.WithLimits(l), remote.WithHTTPClient(h))
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	return cl
}

// liveState is a service's channels, members and messages as raw bytes.
type liveState struct {
	channels map[string][]byte
	private  int
	members  map[string]map[string][]byte
	messages map[string][]store.MessageRecord // ascending index
}

// capture reads the whole service through the API (messages oldest first,
// unlike backup).
func capture(tb testing.TB, cl Source, svc string) liveState {
	tb.Helper()
	ctx := context.Background()
	s := liveState{channels: map[string][]byte{}, members: map[string]map[string][]byte{}, messages: map[string][]store.MessageRecord{}}
	for c, err := range cl.ListChannels(ctx, svc, "public", "private") {
		if err != nil {
			tb.Fatalf("listing channels: %v", err)
		}
		s.channels[c.SID] = c.Raw
		if c.Type == "private" {
			s.private++
		}
		s.members[c.SID] = map[string][]byte{}
		for m, err := range cl.ListMembers(ctx, svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				tb.Fatalf("listing members: %v", err)
			}
			s.members[c.SID][m.SID] = m.Raw
		}
		for m, err := range cl.ListMessages(ctx, svc, c.SID, remote.ListOptions{Order: "asc"}) {
			if err != nil {
				tb.Fatalf("listing messages: %v", err)
			}
			s.messages[c.SID] = append(s.messages[c.SID], store.MessageRecord{SID: m.SID, Index: m.Index, Raw: m.Raw})
		}
	}
	return s
}

// diff lists how snapshot id differs from s (nil when equal).
func (s liveState) diff(tb testing.TB, a *store.Archive, id uint64) []string {
	tb.Helper()
	v, err := a.View(id)
	if err != nil {
		tb.Fatalf("View(%d): %v", id, err)
	}
	var out []string
	chans, err := v.Channels()
	if err != nil {
		tb.Fatalf("View.Channels: %v", err)
	}
	if len(chans) != len(s.channels) {
		out = append(out, fmt.Sprintf("%d channels archived, %d live", len(chans), len(s.channels)))
	}
	for _, c := range chans {
		if raw, ok := s.channels[c.SID]; !ok {
			out = append(out, "channel "+c.SID+" archived but not live")
		} else if !bytes.Equal(raw, c.Raw) {
			out = append(out, fmt.Sprintf("channel %s archived as %s, live %s", c.SID, c.Raw, raw))
		}
	}
	for sid := range s.channels {
		ms, err := v.Members(sid)
		if err != nil {
			out = append(out, fmt.Sprintf("members of %s: %v", sid, err))
			continue
		}
		if len(ms) != len(s.members[sid]) {
			out = append(out, fmt.Sprintf("channel %s: %d members archived, %d live", sid, len(ms), len(s.members[sid])))
		}
		for _, m := range ms {
			if !bytes.Equal(m.Raw, s.members[sid][m.SID]) {
				out = append(out, fmt.Sprintf("member %s archived as %s, live %s", m.SID, m.Raw, s.members[sid][m.SID]))
			}
		}
		live := s.messages[sid]
		k := 0
		for m, err := range v.Messages(sid) {
			if err != nil {
				out = append(out, fmt.Sprintf("messages of %s: %v", sid, err))
				break
			}
			switch {
			case k >= len(live):
				out = append(out, fmt.Sprintf("channel %s: message %d archived but not live", sid, m.Index))
			case live[k].Index != m.Index || !bytes.Equal(live[k].Raw, m.Raw):
				out = append(out, fmt.Sprintf("channel %s: message #%d archived as %d %s, live %d %s", sid, k, m.Index, m.Raw, live[k].Index, live[k].Raw))
			}
			k++
		}
		if k != len(live) {
			out = append(out, fmt.Sprintf("channel %s: %d messages archived, %d live", sid, k, len(live)))
		}
	}
	return out
}

// assertSame fails the test when snapshot id differs from s.
func (s liveState) assertSame(t *testing.T, a *store.Archive, id uint64) {
	t.Helper()
	d := s.diff(t, a, id)
	for i, line := range d {
		if i == 10 {
			t.Errorf("… and %d more differences", len(d)-10)
			break
		}
		t.Errorf("snapshot %d: %s", id, line)
	}
}

func (s liveState) total() int {
	n := 0
	for _, ms := range s.messages {
		n += len(ms)
	}
	return n
}

// smallHistory is the emulator of most integration tests.
var smallHistory = emulator.Config{Seed: 7, Channels: 8, Messages: 150}

func TestIntegrationExportEqualsLive(t *testing.T) {
	e := startEmulator(t, smallHistory)
	a := newArchive(t)
	live := capture(t, e.cl, e.svc)
	if live.private == 0 || live.private == len(live.channels) {
		t.Fatalf("emulator history has %d private channels of %d; the test needs both kinds", live.private, len(live.channels))
	}
	res, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, PageSize: 10})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	expect(t, "status", res.Status, "complete")
	expect(t, "channels", res.Channels, len(live.channels))
	expect(t, "messages", res.Messages, live.total())
	expect(t, "added", res.Added, live.total())
	live.assertSame(t, a, res.Snapshot)

	v, err := a.View(res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := v.Service()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := e.cl.FetchService(context.Background(), e.svc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, svc.Raw) {
		t.Errorf("service archived as %s, live %s", raw, svc.Raw)
	}
	roles, err := v.Roles()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r, err := range e.cl.ListRoles(context.Background(), e.svc) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		found := false
		for _, ar := range roles {
			found = found || ar.SID == r.SID && bytes.Equal(ar.Raw, r.Raw)
		}
		if !found {
			t.Errorf("role %s not archived as %s", r.SID, r.Raw)
		}
	}
	expect(t, "roles", len(roles), n)
}

// channelSIDs returns the service's channel SIDs in listing order.
func channelSIDs(t *testing.T, cl Source, svc string) []string {
	t.Helper()
	var sids []string
	for c, err := range cl.ListChannels(context.Background(), svc) {
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, c.SID)
	}
	return sids
}

// messageAt returns the message at position pos (oldest first) of a channel.
func messageAt(t *testing.T, cl Source, svc, ch string, pos int) *remote.Message {
	t.Helper()
	k := 0
	for m, err := range cl.ListMessages(context.Background(), svc, ch, remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if k == pos {
			return m
		}
		k++
	}
	t.Fatalf("channel %s has no message at position %d", ch, pos)
	return nil
}

func ptr[T any](v T) *T { return &v }

func TestIntegrationIncrementalAndPointInTime(t *testing.T) {
	ctx := context.Background()
	e := startEmulator(t, smallHistory)
	a := newArchive(t)
	o := Options{Service: e.svc, PageSize: 10}
	before := capture(t, e.cl, e.svc)
	first, err := Run(ctx, e.cl, a, o)
	if err != nil || first.Status != "complete" {
		t.Fatalf("first Run: %+v %v", first, err)
	}
	sids := channelSIDs(t, e.cl, e.svc)

	// New messages in two channels, an old message edited in a third,
	// deleted in a fourth, the newest deleted in a fifth, a member removed
	// and a channel renamed.
	for i := range 5 {
		if _, err := e.cl.CreateMessage(ctx, e.svc, sids[0], remote.MessageParams{From: ptr("tester"), Body: ptr(fmt.Sprintf("new %d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.cl.CreateMessage(ctx, e.svc, sids[1], remote.MessageParams{Body: ptr("hello ✓")}); err != nil {
		t.Fatal(err)
	}
	edited := messageAt(t, e.cl, e.svc, sids[2], 3)
	if _, err := e.cl.UpdateMessage(ctx, e.svc, sids[2], edited.SID, remote.MessageParams{Body: ptr("edited long after")}); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.DeleteMessage(ctx, e.svc, sids[3], messageAt(t, e.cl, e.svc, sids[3], 4).SID); err != nil {
		t.Fatal(err)
	}
	newest := before.messages[sids[4]][len(before.messages[sids[4]])-1]
	if err := e.cl.DeleteMessage(ctx, e.svc, sids[4], newest.SID); err != nil {
		t.Fatal(err)
	}
	var member string
	for m, err := range e.cl.ListMembers(ctx, e.svc, sids[5], remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		member = m.SID
	}
	if member == "" {
		t.Fatalf("channel %s has no members to remove", sids[5])
	}
	if err := e.cl.DeleteMember(ctx, e.svc, sids[5], member); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cl.UpdateChannel(ctx, e.svc, sids[6], remote.ChannelParams{FriendlyName: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	// One message posted and an old one deleted: messages_count and
	// date_updated stay as they were, only links.last_message moves.
	if err := e.cl.DeleteMessage(ctx, e.svc, sids[7], messageAt(t, e.cl, e.svc, sids[7], 2).SID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cl.CreateMessage(ctx, e.svc, sids[7], remote.MessageParams{Body: ptr("one in, one out")}); err != nil {
		t.Fatal(err)
	}
	after := capture(t, e.cl, e.svc)

	plain, err := Run(ctx, e.cl, a, o)
	if err != nil || plain.Status != "complete" {
		t.Fatalf("plain Run: %+v %v", plain, err)
	}
	expect(t, "plain run: added", plain.Added, 7)
	expect(t, "plain run: changed", plain.Changed, 0)
	expect(t, "plain run: deleted", plain.Deleted, 3)
	expect(t, "plain run: messages", plain.Messages, before.total()+7-3)
	// The plain run misses the old edit, and only that.
	d := after.diff(t, a, plain.Snapshot)
	if len(d) != 1 {
		t.Errorf("plain run: want exactly the old edit missing, got %d differences: %v", len(d), d)
	}

	full, err := Run(ctx, e.cl, a, Options{Service: e.svc, PageSize: 10, Full: true})
	if err != nil || full.Status != "complete" {
		t.Fatalf("full Run: %+v %v", full, err)
	}
	expect(t, "full run: added", full.Added, 0)
	expect(t, "full run: changed", full.Changed, 1)
	expect(t, "full run: deleted", full.Deleted, 0)
	after.assertSame(t, a, full.Snapshot)

	// Point in time: the first snapshot still shows the service as it was.
	before.assertSame(t, a, first.Snapshot)
	snaps, err := a.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "snapshots", len(snaps), 3)
	for _, s := range snaps {
		expect(t, fmt.Sprintf("snapshot %d status", s.ID), s.Status, store.StatusComplete)
	}
	expect(t, "second snapshot full", snaps[1].Full, false)
	expect(t, "third snapshot full", snaps[2].Full, true)

	// Nothing changed since: a plain run reads no message page.
	reqs := e.cl.Requests()
	again, err := Run(ctx, e.cl, a, o)
	if err != nil {
		t.Fatal(err)
	}
	// Service, roles, users, one channel page, one member page per channel.
	expect(t, "requests of an idle run", e.cl.Requests()-reqs, int64(4+len(sids)))
	expect(t, "idle run: added+changed+deleted", again.Added+again.Changed+again.Deleted, 0)
}

func TestIntegrationUnderFaults(t *testing.T) {
	tests := []struct {
		name        string
		latency     time.Duration // makes requests overlap, so the concurrency limit bites
		maxConc     int
		faultRate   float64
		concurrency int
	}{
		{name: "429 storm", latency: 2 * time.Millisecond, maxConc: 2, concurrency: 16},
		{name: "one request in five fails", faultRate: 0.2, concurrency: 8},
		{name: "both", latency: time.Millisecond, maxConc: 3, faultRate: 0.1, concurrency: 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEmulator(t, emulator.Config{Seed: 11, Channels: 6, Messages: 60})
			a := newArchive(t)
			e.srv.SetFaults(tc.latency, tc.maxConc, 0, tc.faultRate, 0)
			res, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, PageSize: 10, Concurrency: tc.concurrency})
			e.srv.SetFaults(0, 0, 0, 0, 0)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			expect(t, "status", res.Status, "complete")
			st := e.srv.Stats()
			refused := st.Status["429"] + st.Status["500"] + st.Status["503"]
			if refused == 0 {
				t.Errorf("the emulator refused no request (status counts %v): the faults did not bite", st.Status)
			}
			if res.Requests <= refused {
				t.Errorf("requests = %d, want more than the %d refused", res.Requests, refused)
			}
			capture(t, e.cl, e.svc).assertSame(t, a, res.Snapshot)
		})
	}
}

func TestIntegrationWrongCredentials(t *testing.T) {
	e := startEmulator(t, emulator.Config{Seed: 3, Channels: 2, Messages: 5})
	a := newArchive(t)
	bad := e.client(t, "0123456789abcdef0123456789abcdef", testLimits)
	res, err := Run(context.Background(), bad, a, Options{Service: e.svc})
	if !errors.Is(err, remote.ErrAuthentication) {
		t.Fatalf("Run error = %v, want ErrAuthentication", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte(e.info.AuthToken)) || bytes.Contains([]byte(err.Error()), []byte("0123456789abcdef0123456789abcdef")) {
		t.Errorf("error shows a token: %v", err)
	}
	snaps, serr := a.Snapshots()
	if serr != nil {
		t.Fatal(serr)
	}
	for _, s := range snaps {
		if s.Status == store.StatusRunning {
			t.Errorf("snapshot %d left running", s.ID)
		}
	}
	expect(t, "snapshot", res.Snapshot, uint64(0))
}

package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// These tests run backup.Run and then Run against the real emulator and a
// real archive file.

// fastLimits lift the client's pacing: the emulator in these tests has no
// write-rate limit, and its faults are cheap to wait out.
var fastLimits = remote.Limits{ChannelWriteRate: 1000, ServiceWriteRate: 1000, MaxRetries: 30,
	MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}

type env struct {
	tr       *http.Transport // shared by the test's clients, so Cleanup can close its connections
	srv      *emulator.Server
	info     emulator.Info
	cl       *remote.Client
	src, dst string
	path     string // archive
}

// smallConfig's media files are small, so comparing them byte for byte is cheap.
func smallConfig() emulator.Config {
	return emulator.Config{Seed: 42, Channels: 4, Messages: 60, MediaMaxSize: 64 << 10}
}

func newEnv(t testing.TB, cfg emulator.Config) *env {
	t.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	info, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("emulator Start: %v", err)
	}
	e := &env{tr: &http.Transport{MaxIdleConnsPerHost: 64}, srv: srv, info: info, src: info.Services[0], dst: info.Services[1],
		path: filepath.Join(t.TempDir(), "test.vault")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.tr.CloseIdleConnections()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	})
	e.cl = e.client(t)
	t.Cleanup(func() { checkArchive(t, e.path) })
	return e
}

func (e *env) client(t testing.TB, opts ...remote.Option) *remote.Client {
	t.Helper()
	cl, err := remote.NewClient(remote.Credentials{AccountSID: e.info.AccountSID, AuthToken: e.info.AuthToken},
		append([]remote.Option{remote.WithBaseURL(e.info.BaseURL), remote.WithConversationsURL(e.info.ConversationsURL), remote.WithMediaURL(e.info.MediaURL), remote.WithLimits(fastLimits),
			remote.WithHTTPClient(&http.Client{Transport: e.tr, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}})}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return cl
}

// checkArchive runs the archive's integrity check after a test.
func checkArchive(t testing.TB, path string) {
	a, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return
		}
		t.Errorf("open archive for its check: %v", err)
		return
	}
	defer a.Close()
	probs, err := a.Check()
	if err != nil || len(probs) > 0 {
		t.Errorf("archive check: %v %+v", err, probs)
	}
}

func (e *env) withArchive(t testing.TB, fn func(a *store.Archive)) {
	t.Helper()
	a, err := store.Open(e.path, store.Options{Create: true})
	if err != nil {
		t.Fatalf("open archive: %v", err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Errorf("close archive: %v", err)
		}
	}()
	fn(a)
}

func (e *env) backup(t testing.TB, full bool) backup.Result {
	t.Helper()
	var res backup.Result
	e.withArchive(t, func(a *store.Archive) {
		var err error
		res, err = backup.Run(context.Background(), e.cl, a, backup.Options{Service: e.src, Full: full})
		if err != nil || res.Status != "complete" {
			t.Fatalf("backup: %+v, %v", res, err)
		}
	})
	return res
}

func (e *env) restore(t testing.TB, cl Target, o Options) (Result, error) {
	t.Helper()
	var res Result
	var err error
	if o.Target == "" {
		o.Target = e.dst
	}
	e.withArchive(t, func(a *store.Archive) { res, err = Run(context.Background(), cl, a, o) })
	return res, err
}

func (e *env) newService(t testing.TB, name string) string {
	t.Helper()
	s, err := e.cl.CreateService(context.Background(), remote.ServiceParams{FriendlyName: name})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	return s.SID
}

// live is a service's state read through the API.
type live struct {
	cl       reader
	service  string
	roles    map[string]string // SID → friendly name
	channels map[string]*liveChannel
}

type liveChannel struct {
	ch       *remote.Channel
	members  map[string]*remote.Member // by identity
	messages []*remote.Message         // ascending index
}

// reader reads a service through Chat (*remote.Client) or Conversations.
type reader interface {
	ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error]
	ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error]
	ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error]
	ListMessages(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Message, error]
	OpenMedia(ctx context.Context, service, sid string) (*remote.MediaFile, io.ReadCloser, error)
}

func capture(t testing.TB, cl reader, svc string) live {
	t.Helper()
	ctx := context.Background()
	l := live{cl: cl, service: svc, roles: map[string]string{}, channels: map[string]*liveChannel{}}
	for r, err := range cl.ListRoles(ctx, svc) {
		if err != nil {
			t.Fatalf("list roles: %v", err)
		}
		l.roles[r.SID] = r.FriendlyName
	}
	for c, err := range cl.ListChannels(ctx, svc) {
		if err != nil {
			t.Fatalf("list channels: %v", err)
		}
		lc := &liveChannel{ch: c, members: map[string]*remote.Member{}}
		for m, err := range cl.ListMembers(ctx, svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				t.Fatalf("list members: %v", err)
			}
			lc.members[m.Identity] = m
		}
		for m, err := range cl.ListMessages(ctx, svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				t.Fatalf("list messages: %v", err)
			}
			lc.messages = append(lc.messages, m)
		}
		key := c.UniqueName
		if key == "" {
			key = c.SID
		}
		l.channels[key] = lc
	}
	return l
}

// compareLive checks the target against the source field by field: the
// channels named in only (all when nil), their messages for which keep is
// true (all when nil), in order, each once; a media message's file, fetched
// from each service's Media service, has the same SHA-256 on both sides.
func compareLive(t testing.TB, src, dst live, only []string, keep func(*remote.Message) bool) {
	t.Helper()
	want := 0
	for name, s := range src.channels {
		if only != nil && !slices.Contains(only, name) && !slices.Contains(only, s.ch.SID) {
			continue
		}
		want++
		d := dst.channels[name]
		if d == nil {
			t.Errorf("channel %q missing from the target", name)
			continue
		}
		sc, dc := s.ch, d.ch
		if sc.UniqueName != dc.UniqueName || sc.FriendlyName != dc.FriendlyName || sc.Type != dc.Type ||
			sc.Attributes != dc.Attributes || sc.CreatedBy != dc.CreatedBy ||
			!sc.DateCreated.Equal(dc.DateCreated) || !sc.DateUpdated.Equal(dc.DateUpdated) {
			t.Errorf("channel %q differs:\n source %+v\n target %+v", name, sc, dc)
		}
		var kept []*remote.Message
		for _, m := range s.messages {
			if keep == nil || keep(m) {
				kept = append(kept, m)
			}
		}
		if len(d.messages) != len(kept) {
			t.Errorf("channel %q: %d messages in the target, want %d", name, len(d.messages), len(kept))
		}
		srcToTgt := map[int64]int64{}
		for i := range min(len(kept), len(d.messages)) {
			sm, dm := kept[i], d.messages[i]
			if sm.From != dm.From || sm.Body != dm.Body || sm.Attributes != dm.Attributes || !sm.DateCreated.Equal(dm.DateCreated) ||
				!sm.DateUpdated.Equal(dm.DateUpdated) || sm.LastUpdatedBy != dm.LastUpdatedBy || sm.WasEdited != dm.WasEdited ||
				sm.Type != dm.Type || (sm.Media == nil) != (dm.Media == nil) {
				t.Errorf("channel %q message %d differs:\n source %+v\n target %+v", name, i, sm, dm)
			}
			if sm.Media != nil && dm.Media != nil {
				sameFile(t, src, sm.Media, dst, dm.Media)
			}
			srcToTgt[sm.Index] = dm.Index
		}
		if len(d.members) != len(s.members) {
			t.Errorf("channel %q: %d members in the target, want %d", name, len(d.members), len(s.members))
		}
		for id, sm := range s.members {
			dm := d.members[id]
			if dm == nil {
				t.Errorf("channel %q: member %q missing", name, id)
				continue
			}
			if sm.Attributes != dm.Attributes || src.roles[sm.RoleSID] != dst.roles[dm.RoleSID] ||
				!sm.DateCreated.Equal(dm.DateCreated) || !sm.DateUpdated.Equal(dm.DateUpdated) ||
				!sameTimePtr(sm.LastConsumptionTimestamp, dm.LastConsumptionTimestamp) {
				t.Errorf("channel %q member %q differs:\n source %+v (role %q)\n target %+v (role %q)",
					name, id, sm, src.roles[sm.RoleSID], dm, dst.roles[dm.RoleSID])
			}
			wantLCMI := -1
			if sm.LastConsumedMessageIndex != nil {
				for _, m := range kept {
					if m.Index <= int64(*sm.LastConsumedMessageIndex) {
						wantLCMI = int(srcToTgt[m.Index])
					}
				}
			}
			got := -1
			if dm.LastConsumedMessageIndex != nil {
				got = *dm.LastConsumedMessageIndex
			}
			if got != wantLCMI {
				t.Errorf("channel %q member %q: last_consumed_message_index %d, want %d (source %v)", name, id, got, wantLCMI, sm.LastConsumedMessageIndex)
			}
		}
	}
	if len(dst.channels) != want {
		t.Errorf("target holds %d channels, want %d", len(dst.channels), want)
	}
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sameFile checks that target media d is a copy of source media s: the
// same size, content type and filename, and bytes with the same SHA-256.
func sameFile(t testing.TB, src live, s *remote.Media, dst live, d *remote.Media) {
	t.Helper()
	if s.Size != d.Size || s.ContentType != d.ContentType || s.Filename != d.Filename {
		t.Errorf("media %s restored as %+v, source %+v", s.SID, *d, *s)
	}
	if a, b := fileSHA(t, src, s.SID), fileSHA(t, dst, d.SID); a != b {
		t.Errorf("media %s (SHA-256 %s) restored as %s with SHA-256 %s", s.SID, a, d.SID, b)
	}
}

// fileSHA downloads media sid from l's service and returns its SHA-256.
func fileSHA(t testing.TB, l live, sid string) string {
	t.Helper()
	_, body, err := l.cl.OpenMedia(context.Background(), l.service, sid)
	if err != nil {
		t.Fatalf("open media %s of %s: %v", sid, l.service, err)
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		t.Fatalf("download media %s of %s: %v", sid, l.service, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// countMessages counts l's messages for which keep is true (all when nil),
// and its media messages.
func countMessages(l live, keep func(*remote.Message) bool) (n, media int) {
	for _, c := range l.channels {
		for _, m := range c.messages {
			if keep == nil || keep(m) {
				n++
			}
			if m.Media != nil {
				media++
			}
		}
	}
	return n, media
}

// TestIntegrationRestore: dry run, restore, rerun, against the emulator.
func TestIntegrationRestore(t *testing.T) {
	e := newEnv(t, smallConfig())
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	nMsgs, nMedia := countMessages(src, nil)
	if nMedia == 0 {
		t.Fatal("the seeded history has no media message; pick another seed")
	}

	w0 := e.srv.Stats().Writes
	dry, err := e.restore(t, e.cl, Options{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if w := e.srv.Stats().Writes; w != w0 {
		t.Fatalf("dry run made %d writes", w-w0)
	}
	if dry.Plan == nil || dry.Plan.Channels != len(src.channels) || dry.Plan.Messages != nMsgs || dry.Plan.EstimatedSeconds <= 0 ||
		dry.Plan.MediaUploads != nMedia || dry.Plan.MediaBytes == 0 {
		t.Fatalf("dry run plan %+v for %d channels, %d messages, %d media files", dry.Plan, len(src.channels), nMsgs, nMedia)
	}

	res, err := e.restore(t, e.cl, Options{Concurrency: 3})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	writes := e.srv.Stats().Writes - w0
	if p := dry.Plan; p.Channels != res.ChannelsCreated || p.Members != res.Members || p.Messages != res.Messages || int64(p.Writes) != writes {
		t.Errorf("plan %+v, but the restore created %d channels, %d members, %d messages in %d writes",
			*p, res.ChannelsCreated, res.Members, res.Messages, writes)
	}
	if res.Status != StatusComplete || len(res.Skipped) != 0 || len(res.Conflicts) != 0 || len(res.Failed) != 0 ||
		res.Source != e.src || res.Target != e.dst || res.Snapshot != 1 || res.Requests < writes ||
		res.MediaUploaded != nMedia || res.MediaBytes != dry.Plan.MediaBytes || e.srv.Stats().MediaUploads != int64(nMedia) {
		t.Errorf("result %+v (%d media messages, emulator counted %d uploads)", res, nMedia, e.srv.Stats().MediaUploads)
	}
	compareLive(t, src, capture(t, e.cl, e.dst), nil, nil)

	w1, up1 := e.srv.Stats().Writes, e.srv.Stats().MediaUploads
	again, err := e.restore(t, e.cl, Options{})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if st := e.srv.Stats(); st.Writes != w1 || st.MediaUploads != up1 || again.MediaUploaded != 0 || again.Status != StatusComplete {
		t.Errorf("rerun made %d writes and %d uploads: %+v", st.Writes-w1, st.MediaUploads-up1, again)
	}
	// A second backup downloads no file again.
	d0 := e.srv.Stats().MediaDownloads
	if b := e.backup(t, false); b.MediaFiles != 0 || e.srv.Stats().MediaDownloads != d0 {
		t.Errorf("second backup downloaded %d files (%d by the emulator's count)", b.MediaFiles, e.srv.Stats().MediaDownloads-d0)
	}
	if again.ChannelsSkipped != len(src.channels) || again.MessagesSkipped != nMsgs || again.ChannelsCreated != 0 ||
		again.Messages != 0 || again.Members != 0 || again.Requests != int64(2+len(src.channels)) {
		t.Errorf("rerun result %+v", again)
	}
	if st := e.srv.Stats(); st.WebhooksEnabledWrites != 0 {
		t.Errorf("%d writes enabled webhooks", st.WebhooksEnabledWrites)
	}

	// Someone deletes a restored channel, and a message of another: a rerun
	// restores the first again and reports the second.
	dst := capture(t, e.cl, e.dst)
	names := slices.Sorted(maps.Keys(dst.channels))
	gone, thin := names[0], names[1]
	var keptThin []*remote.Message
	keptThin = append(keptThin, src.channels[thin].messages...)
	ctx := context.Background()
	if err := e.cl.DeleteChannel(ctx, e.dst, dst.channels[gone].ch.SID); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.DeleteMessage(ctx, e.dst, dst.channels[thin].ch.SID, dst.channels[thin].messages[1].SID); err != nil {
		t.Fatal(err)
	}
	nGone, _ := countMessages(live{channels: map[string]*liveChannel{gone: src.channels[gone]}}, nil)
	third, err := e.restore(t, e.cl, Options{})
	if err != nil {
		t.Fatalf("rerun after the deletions: %v", err)
	}
	if third.ChannelsCreated != 1 || third.Messages != nGone || third.MessagesSkipped != nMsgs-nGone || third.Status != StatusPartial ||
		len(third.Conflicts) != 1 || third.Conflicts[0].Channel != src.channels[thin].ch.SID || !strings.Contains(third.Conflicts[0].Reason, "fewer than") {
		t.Errorf("rerun after the deletions: %+v", third)
	}
	after := capture(t, e.cl, e.dst)
	after.channels = map[string]*liveChannel{gone: after.channels[gone]}
	compareLive(t, src, after, []string{gone}, nil)
	var diffs []Difference
	e.withArchive(t, func(a *store.Archive) { diffs, err = VerifyTarget(ctx, e.cl, a, Options{Target: e.dst}) })
	if err != nil {
		t.Fatalf("VerifyTarget: %v", err)
	}
	checkDiffs(t, diffs, []string{wantDiff(KindMissingLive, src.channels[thin].ch.SID, "", keptThin[1].SID)})
}

// TestIntegrationWebhooks: the --webhooks setting reaches every write.
func TestIntegrationWebhooks(t *testing.T) {
	e := newEnv(t, emulator.Config{Seed: 3, Channels: 1, Messages: 5})
	e.backup(t, false)
	w0 := e.srv.Stats()
	if _, err := e.restore(t, e.client(t, remote.WithWebhooks(true)), Options{}); err != nil {
		t.Fatal(err)
	}
	st := e.srv.Stats()
	if st.Writes == w0.Writes || st.WebhooksEnabledWrites-w0.WebhooksEnabledWrites != st.Writes-w0.Writes {
		t.Errorf("%d of %d writes enabled webhooks", st.WebhooksEnabledWrites-w0.WebhooksEnabledWrites, st.Writes-w0.Writes)
	}
}

// TestIntegrationFaults: 500/503 answers and lost responses neither
// duplicate nor lose anything.
func TestIntegrationFaults(t *testing.T) {
	e := newEnv(t, smallConfig())
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	e.srv.SetFaults(0, 0, 0, 0.1, 0.1)
	res, err := e.restore(t, e.cl, Options{Concurrency: 4})
	e.srv.SetFaults(0, 0, 0, 0, 0)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	st := e.srv.Stats()
	if st.LostResponses == 0 || st.Status["500"]+st.Status["503"] == 0 {
		t.Errorf("the faults did not bite: %+v", st)
	}
	if len(res.Failed) != 0 || len(res.Conflicts) != 0 {
		t.Errorf("result %+v", res)
	}
	compareLive(t, src, capture(t, e.cl, e.dst), nil, nil)
}

// TestIntegrationPointInTime: restoring snapshot 1 after the source changed
// gives the source as it was then; the latest snapshot gives it as it is.
func TestIntegrationPointInTime(t *testing.T) {
	e := newEnv(t, smallConfig())
	ctx := context.Background()
	e.backup(t, false)
	then := capture(t, e.cl, e.src)

	// Change the source: add, delete and edit messages, add a member and a channel.
	var names []string
	for name := range then.channels {
		names = append(names, name)
	}
	slices.Sort(names)
	c0, c1 := then.channels[names[0]], then.channels[names[1]]
	body := "added after snapshot 1 ✓"
	for range 3 {
		if _, err := e.cl.CreateMessage(ctx, e.src, c0.ch.SID, remote.MessageParams{From: &c0.messages[0].From, Body: &body}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.cl.DeleteMessage(ctx, e.src, c1.ch.SID, c1.messages[2].SID); err != nil {
		t.Fatal(err)
	}
	edited := "edited after snapshot 1"
	if _, err := e.cl.UpdateMessage(ctx, e.src, c1.ch.SID, c1.messages[5].SID, remote.MessageParams{Body: &edited}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cl.CreateMember(ctx, e.src, c1.ch.SID, remote.MemberParams{Identity: "newcomer"}); err != nil {
		t.Fatal(err)
	}
	un := "late-channel"
	if _, err := e.cl.CreateChannel(ctx, e.src, remote.ChannelParams{UniqueName: &un}); err != nil {
		t.Fatal(err)
	}
	e.backup(t, true)
	now := capture(t, e.cl, e.src)

	res, err := e.restore(t, e.cl, Options{Snapshot: "1"})
	if err != nil || res.Snapshot != 1 {
		t.Fatalf("restore snapshot 1: %+v, %v", res, err)
	}
	compareLive(t, then, capture(t, e.cl, e.dst), nil, nil)

	third := e.newService(t, "third")
	res, err = e.restore(t, e.cl, Options{Target: third})
	if err != nil || res.Snapshot != 2 {
		t.Fatalf("restore latest: %+v, %v", res, err)
	}
	compareLive(t, now, capture(t, e.cl, third), nil, nil)
}

// TestIntegrationSelection: --channel by SID and by unique name, with --since and --until.
func TestIntegrationSelection(t *testing.T) {
	e := newEnv(t, smallConfig())
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	var names []string
	for name := range src.channels {
		names = append(names, name)
	}
	slices.Sort(names)
	a, b := src.channels[names[0]], src.channels[names[2]]
	// A window that cuts off the start of one channel and the end of the other.
	since := minTime(a.messages[10].DateCreated, b.messages[10].DateCreated)
	until := maxTime(a.messages[len(a.messages)-10].DateCreated, b.messages[len(b.messages)-10].DateCreated)
	keep := func(m *remote.Message) bool {
		return !m.DateCreated.Before(since) && !m.DateCreated.After(until)
	}
	res, err := e.restore(t, e.cl, Options{Channels: []string{a.ch.SID, b.ch.UniqueName}, Since: since, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := countMessages(live{channels: map[string]*liveChannel{"a": a, "b": b}}, keep)
	// The window cuts at least the 10 oldest messages of one channel and
	// the 9 newest of the other.
	if res.ChannelsCreated != 2 || res.Messages != n || n > len(a.messages)+len(b.messages)-19 {
		t.Errorf("result %+v, want %d messages", res, n)
	}
	compareLive(t, src, capture(t, e.cl, e.dst), []string{a.ch.UniqueName, b.ch.UniqueName}, keep)

	if _, err := e.restore(t, e.cl, Options{Channels: []string{"no-such-room"}}); err == nil || !strings.Contains(err.Error(), `"no-such-room"`) {
		t.Errorf("unknown channel: %v", err)
	}
}

// TestIntegrationConflict: a same-named channel holding a message is left
// untouched and reported.
func TestIntegrationConflict(t *testing.T) {
	e := newEnv(t, smallConfig())
	ctx := context.Background()
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	var name string
	for n := range src.channels {
		name = max(name, n)
	}
	theirs, err := e.cl.CreateChannel(ctx, e.dst, remote.ChannelParams{UniqueName: &name})
	if err != nil {
		t.Fatal(err)
	}
	body := "not yours"
	if _, err := e.cl.CreateMessage(ctx, e.dst, theirs.SID, remote.MessageParams{Body: &body}); err != nil {
		t.Fatal(err)
	}
	res, err := e.restore(t, e.cl, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 1 || res.Conflicts[0].Channel != src.channels[name].ch.SID || res.Conflicts[0].UniqueName != name ||
		res.Status != StatusPartial || res.ChannelsCreated != len(src.channels)-1 {
		t.Fatalf("result %+v", res)
	}
	dst := capture(t, e.cl, e.dst)
	got := dst.channels[name]
	if got.ch.SID != theirs.SID || len(got.messages) != 1 || got.messages[0].Body != body || len(got.members) != 0 {
		t.Errorf("the conflicting channel was touched: %+v, %d members, %d messages", got.ch, len(got.members), len(got.messages))
	}
	delete(src.channels, name)
	delete(dst.channels, name)
	compareLive(t, src, dst, nil, nil)
}

// TestIntegrationMedia: media files backed up with --no-media cannot go
// to another service and are reported; once a --full backup has archived
// them, a restore into a new service carries every file, byte for byte.
func TestIntegrationMedia(t *testing.T) {
	e := newEnv(t, emulator.Config{Seed: 5, Channels: 2, Messages: 10, MediaMaxSize: 32 << 10})
	ctx := context.Background()
	first := capture(t, e.cl, e.src)
	var ch *remote.Channel
	for _, c := range first.channels {
		ch = c.ch
		break
	}
	me := uploadMedia(t, e.info, e.src, []byte("a file"))
	m, err := e.cl.CreateMessage(ctx, e.src, ch.SID, remote.MessageParams{MediaSID: &me})
	if err != nil {
		t.Fatal(err)
	}
	e.withArchive(t, func(a *store.Archive) {
		res, err := backup.Run(ctx, e.cl, a, backup.Options{Service: e.src, NoMedia: true})
		if err != nil || res.Status != "complete" || res.MediaFiles != 0 || e.srv.Stats().MediaDownloads != 0 {
			t.Fatalf("backup --no-media: %+v, %v, %d downloads", res, err, e.srv.Stats().MediaDownloads)
		}
	})
	src := capture(t, e.cl, e.src)
	nMsgs, nMedia := countMessages(src, nil)
	res, err := e.restore(t, e.cl, Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Skipped, func(s Skipped) bool { return s.Message == m.SID })
	if i < 0 || res.Skipped[i].Channel != ch.SID || !strings.Contains(res.Skipped[i].Reason, me) || !strings.Contains(res.Skipped[i].Reason, "--no-media") ||
		len(res.Skipped) != nMedia || res.Status != StatusPartial || res.MediaUploaded != 0 {
		t.Errorf("result %+v", res)
	}
	compareLive(t, src, capture(t, e.cl, e.dst), nil, func(m *remote.Message) bool { return m.Media == nil })

	full := e.backup(t, true)
	if full.MediaFiles != nMedia {
		t.Errorf("--full backup archived %d media files, want %d", full.MediaFiles, nMedia)
	}
	third := e.newService(t, "third")
	res, err = e.restore(t, e.cl, Options{Target: third})
	if err != nil || res.Status != StatusComplete || res.MediaUploaded != nMedia || res.Messages != nMsgs {
		t.Fatalf("restore after the --full backup: %+v, %v", res, err)
	}
	compareLive(t, src, capture(t, e.cl, third), nil, nil)
}

// uploadMedia uploads data to the emulator's Media service of svc and
// returns its ME SID: a message can only use a file of its own service.
func uploadMedia(t *testing.T, info emulator.Info, svc string, data []byte) string {
	t.Helper()
	req, err := http.NewRequest("POST", info.MediaURL+"/v1/Services/"+svc+"/Media", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.SetBasicAuth(info.AccountSID, info.AuthToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var file struct{ SID string }
	if err := json.NewDecoder(res.Body).Decode(&file); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload to the emulator: %d %v", res.StatusCode, err)
	}
	return file.SID
}

// writeCounter counts the writes sent into each target channel, and notes
// the channels in the order they were created (the order Run starts them).
type writeCounter struct {
	Target
	mu     sync.Mutex
	order  []string
	writes map[string]int
}

func (w *writeCounter) count(ch string, created bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if created {
		w.order = append(w.order, ch)
	}
	w.writes[ch]++
}

func (w *writeCounter) CreateChannel(ctx context.Context, service string, p remote.ChannelParams) (*remote.Channel, error) {
	c, err := w.Target.CreateChannel(ctx, service, p)
	if err == nil {
		w.count(c.SID, true)
	}
	return c, err
}

func (w *writeCounter) CreateMember(ctx context.Context, service, channel string, p remote.MemberParams) (*remote.Member, error) {
	w.count(channel, false)
	return w.Target.CreateMember(ctx, service, channel, p)
}

func (w *writeCounter) UpdateMember(ctx context.Context, service, channel, member string, p remote.MemberParams) (*remote.Member, error) {
	w.count(channel, false)
	return w.Target.UpdateMember(ctx, service, channel, member, p)
}

func (w *writeCounter) CreateMessage(ctx context.Context, service, channel string, p remote.MessageParams) (*remote.Message, error) {
	w.count(channel, false)
	return w.Target.CreateMessage(ctx, service, channel, p)
}

// UploadMedia counts uploads under no channel: they are writes, but not into a channel.
func (w *writeCounter) UploadMedia(ctx context.Context, service string, u remote.MediaUpload) (*remote.MediaFile, error) {
	w.count("", false)
	return w.Target.UploadMedia(ctx, service, u)
}

// TestIntegrationEstimate: with more channels than workers and the write
// rate, not the latency, setting the pace, the dry run's estimate matches
// the time the restore's writes need at that rate, and the restore is not
// faster than it.
func TestIntegrationEstimate(t *testing.T) {
	const rate, conc = 30.0, 2
	e := newEnv(t, emulator.Config{Seed: 7, Channels: 5, Messages: 8, Latency: 3 * time.Millisecond, WriteRate: int(rate)})
	e.backup(t, false)
	cl := e.client(t, remote.WithLimits(remote.Limits{ChannelWriteRate: rate, ServiceWriteRate: 1000, MaxRetries: 30,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
	dry, err := e.restore(t, cl, Options{DryRun: true, Concurrency: conc, WriteRate: rate})
	if err != nil || dry.Plan == nil || dry.Plan.Channels != 5 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	wc := &writeCounter{Target: cl, writes: map[string]int{}}
	var res Result
	e.withArchive(t, func(a *store.Archive) {
		res, err = Run(context.Background(), wc, a, Options{Target: e.dst, Concurrency: conc})
	})
	if err != nil || len(res.Failed)+len(res.Conflicts) != 0 || len(wc.order) != 5 {
		t.Fatalf("restore: %+v, %v; %d channels created", res, err, len(wc.order))
	}
	total := 0
	for _, n := range wc.writes {
		total += n
	}
	if total != dry.Plan.Writes-dry.Plan.Users || res.Users != dry.Plan.Users {
		t.Fatalf("the restore sent %d writes into channels and made %d users, the plan said %d writes, %d of them users",
			total, res.Users, dry.Plan.Writes, dry.Plan.Users)
	}
	// What the rate allows: each channel's writes one after the other, at
	// most rate a second, the channels started in the order Run started them,
	// each on the first of conc workers to be free.
	workers := make([]float64, conc)
	for _, ch := range wc.order {
		i := slices.Index(workers, slices.Min(workers))
		workers[i] += float64(wc.writes[ch]) / rate
	}
	bound, est := slices.Max(workers), dry.Plan.EstimatedSeconds
	if est < 0.65*bound || est > 1.35*bound {
		t.Errorf("estimate %.2fs for %d writes in %d channels; at %v writes a second they need %.2fs", est, total, len(wc.order), rate, bound)
	}
	// The client paces each channel's writes, so load on the machine only
	// adds to the requests' latency, which the pacing mostly hides: the
	// restore's duration stays close to the estimate.
	if real := res.DurationSeconds; est < 0.65*real || est > 1.35*real {
		t.Errorf("estimate %.2fs, but the restore took %.2fs", est, real)
	}
	t.Logf("estimate %.2fs, rate bound %.2fs, restore took %.2fs", est, bound, res.DurationSeconds)
}

// TestIntegrationLatestComplete: with the archive's newest snapshot
// interrupted, "latest" restores the complete one before it; the
// interrupted one, asked for by id, is restored with a warning.
func TestIntegrationLatestComplete(t *testing.T) {
	e := newEnv(t, emulator.Config{Seed: 4, Channels: 1, Messages: 3})
	e.backup(t, false)
	e.withArchive(t, func(a *store.Archive) {
		w, err := a.BeginSnapshot(e.src, false, time.Now())
		if err == nil {
			_, err = w.Finish(store.StatusInterrupted, 0, nil)
		}
		if err != nil {
			t.Fatalf("record an interrupted snapshot: %v", err)
		}
	})
	cases := []struct {
		snapshot string
		want     uint64
		warning  string // "" = none
	}{
		{"", 1, ""},
		{"latest", 1, ""},
		{"2", 2, "snapshot 2 of " + e.src + " is interrupted, not complete"},
	}
	for _, tc := range cases {
		res, err := e.restore(t, e.cl, Options{Snapshot: tc.snapshot, DryRun: true})
		if err != nil || res.Snapshot != tc.want {
			t.Fatalf("snapshot %q: restored %d, %v; want snapshot %d", tc.snapshot, res.Snapshot, err, tc.want)
		}
		if got := strings.Join(res.Warnings, "\n"); (tc.warning == "") != (got == "") || !strings.Contains(got, tc.warning) {
			t.Errorf("snapshot %q: warnings %q, want %q", tc.snapshot, got, tc.warning)
		}
	}
}

// damagedFiles is an archive whose file sha reads halfway and then fails,
// as a damaged chunk does.
type damagedFiles struct {
	archive
	sha string
}

func (d damagedFiles) OpenContent(sha string) (io.ReadCloser, error) {
	rc, err := d.archive.OpenContent(sha)
	if err != nil || sha != d.sha {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, 100), iotest.ErrReader(fmt.Errorf("chunk 0 of content %s: %w", sha, store.ErrCorrupt))), rc}, nil
}

// TestIntegrationDamagedFile: through the real client, a file the archive
// cannot read fails its channel only, and nothing broken is stored in the
// target; with the archive intact again, a rerun completes.
func TestIntegrationDamagedFile(t *testing.T) {
	e := newEnv(t, smallConfig())
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	var bad *remote.Media
	var badChannel string
	for _, c := range src.channels {
		for _, m := range c.messages {
			if m.Media != nil && bad == nil {
				bad, badChannel = m.Media, c.ch.SID
			}
		}
	}
	if bad == nil {
		t.Fatal("the seeded history has no media message")
	}
	var res Result
	var err error
	e.withArchive(t, func(a *store.Archive) {
		v, verr := a.View(1)
		if verr != nil {
			t.Fatal(verr)
		}
		rec, ok, verr := v.Media(bad.SID)
		if verr != nil || !ok {
			t.Fatalf("media %s not archived: %v", bad.SID, verr)
		}
		res, err = run(context.Background(), e.cl, damagedFiles{storeArchive{a}, rec.SHA256}, Options{Target: e.dst})
	})
	if err != nil || res.Status != StatusPartial || len(res.Failed) != 1 || res.Failed[0].Channel != badChannel ||
		!strings.Contains(res.Failed[0].Error, bad.SID) || !strings.Contains(res.Failed[0].Error, "corrupt") {
		t.Fatalf("restore with a damaged file: %+v, %v", res, err)
	}
	dst := capture(t, e.cl, e.dst)
	for _, c := range dst.channels {
		for _, m := range c.messages {
			if m.Media != nil && m.Media.Size == bad.Size && m.Media.Filename == bad.Filename {
				t.Errorf("the damaged file reached the target as %s", m.Media.SID)
			}
		}
	}
	res, err = e.restore(t, e.cl, Options{})
	if err != nil || res.Status != StatusComplete {
		t.Fatalf("rerun with the archive intact: %+v, %v", res, err)
	}
	compareLive(t, src, capture(t, e.cl, e.dst), nil, nil)
}

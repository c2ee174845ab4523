package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// chatOff is smallHistory after Chat's shutdown: Conversations only.
var chatOff = emulator.Config{Seed: 7, Channels: 24, Messages: 60, ChatAPI: emulator.APIOff}

func TestIntegrationForAPI(t *testing.T) {
	ctx := context.Background()
	on := startEmulator(t, smallHistory)
	off := startEmulator(t, chatOff)
	wrong := hexSID("IS", 99)
	for _, tt := range []struct {
		name      string
		e         *emu
		service   string
		want, api string
		err       []string // substrings of the error; nil = none
	}{
		{name: "auto with Chat on", e: on, want: remote.APIAuto, api: remote.APIChat},
		{name: "auto with Chat off", e: off, want: remote.APIAuto, api: remote.APIConversations},
		{name: "chat with Chat on", e: on, want: remote.APIChat, api: remote.APIChat},
		{name: "conversations with Chat on", e: on, want: remote.APIConversations, api: remote.APIConversations},
		{name: "chat with Chat off", e: off, want: remote.APIChat, err: []string{"use --api conversations"}},
		{name: "auto, no such service", e: on, service: wrong, want: remote.APIAuto,
			err: []string{"neither API", "Chat v2 at " + on.info.BaseURL, "Conversations v1 at " + on.info.ConversationsURL}},
		{name: "conversations, no such service", e: off, service: wrong, want: remote.APIConversations, err: []string{"Conversations v1 at"}},
		{name: "unknown API", e: on, want: "chatv2", err: []string{`"chatv2" is not known`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.service
			if svc == "" {
				svc = tt.e.svc
			}
			api, err := tt.e.cl.ForAPI(ctx, svc, tt.want)
			if tt.err == nil {
				if err != nil || api != tt.api {
					t.Fatalf("ForAPI = %q, %v; want %q", api, err, tt.api)
				}
				return
			}
			if err == nil {
				t.Fatalf("ForAPI = %q, want an error", api)
			}
			for _, s := range tt.err {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), tt.e.info.AuthToken) {
				t.Errorf("error carries the auth token: %q", err)
			}
		})
	}
	bad := on.client(t, strings.Repeat("0", 32), testLimits)
	if _, err := bad.ForAPI(ctx, on.svc, remote.APIAuto); !isAuth(err) {
		t.Errorf("ForAPI with a wrong token = %v, want an authentication error", err)
	}
}

func isAuth(err error) bool { return err != nil && errors.Is(err, remote.ErrAuthentication) }

// TestIntegrationConversations backs up a service whose Chat API is shut
// down: the snapshot equals the live service through Conversations, an idle
// rerun sends a request per conversation for its participants and one short
// message page, and changes are caught as doc.go says.
func TestIntegrationConversations(t *testing.T) {
	ctx := context.Background()
	e, a, cl, o := conversationsOnly(t)
	live := capture(t, cl, e.svc)

	first, err := Run(ctx, cl, a, o)
	if err != nil || first.Status != "complete" {
		t.Fatalf("first Run: %+v %v", first, err)
	}
	expect(t, "api", first.API, remote.APIConversations)
	expect(t, "messages", first.Messages, live.total())
	live.assertSame(t, a, first.Snapshot)
	snap := snapshotOf(t, a, first.Snapshot)
	expect(t, "snapshot API", snap.API, remote.APIConversations)
	assertUsers(t, a, first, cl, e.svc)

	// Nothing changed: besides the service, roles, users and the list,
	// each conversation costs its participants' page and one short page
	// of messages, which stores nothing.
	sids := channelSIDs(t, cl, e.svc)
	if len(sids) < 6 {
		t.Fatalf("the emulator shows %d conversations; the test needs 6", len(sids))
	}
	reqs := e.cl.Requests()
	idle, err := Run(ctx, cl, a, o)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "idle run requests", e.cl.Requests()-reqs, int64(4+2*len(sids)))
	expect(t, "idle run: added+changed+deleted", idle.Added+idle.Changed+idle.Deleted, 0)
	expect(t, "idle run: channels, members and users changed", idle.ChannelsChanged+idle.MembersChanged+idle.UsersChanged, 0)
	expect(t, "first run: channels added", first.ChannelsChanged, len(sids))

	// Changes: new messages (more than a probe page) in one conversation,
	// the newest message edited in another and deleted in a third, an old
	// message deleted in a fourth and edited in a fifth, a participant
	// removed from a sixth.
	for range probePageSize + 3 {
		if _, err := cl.CreateMessage(ctx, e.svc, sids[0], remote.MessageParams{From: ptr("tester"), Body: ptr("new")}); err != nil {
			t.Fatal(err)
		}
	}
	last := func(ch string) *remote.Message {
		ms := live.messages[ch]
		return &remote.Message{SID: ms[len(ms)-1].SID}
	}
	if _, err := cl.UpdateMessage(ctx, e.svc, sids[1], last(sids[1]).SID, remote.MessageParams{Body: ptr("newest edited")}); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteMessage(ctx, e.svc, sids[2], last(sids[2]).SID); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteMessage(ctx, e.svc, sids[3], messageAt(t, cl, e.svc, sids[3], 2).SID); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UpdateMessage(ctx, e.svc, sids[4], messageAt(t, cl, e.svc, sids[4], 2).SID, remote.MessageParams{Body: ptr("old edited")}); err != nil {
		t.Fatal(err)
	}
	var member string
	for m, err := range cl.ListMembers(ctx, e.svc, sids[5], remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		member = m.SID
	}
	if err := cl.DeleteMember(ctx, e.svc, sids[5], member); err != nil {
		t.Fatal(err)
	}

	plain, err := Run(ctx, cl, a, o)
	if err != nil {
		t.Fatal(err)
	}
	// The probe page of the sixth, read anyway, is stored: those of its
	// messages whose participant_sid Conversations cleared are changed.
	after := capture(t, cl, e.svc)
	inProbe := 0
	before, now := live.messages[sids[5]], after.messages[sids[5]]
	for k := max(len(now)-probePageSize, 0); k < len(now); k++ {
		if !bytes.Equal(now[k].Raw, before[k].Raw) {
			inProbe++
		}
	}
	expect(t, "plain run added", plain.Added, probePageSize+3)
	expect(t, "plain run deleted", plain.Deleted, 1)
	expect(t, "plain run changed", plain.Changed, 1+inProbe)
	expect(t, "plain run members changed", plain.MembersChanged, 1) // the participant removed
	expect(t, "plain run channels changed", plain.ChannelsChanged, 0)
	// What a plain run does not see without a message count: the old
	// deletion and the old edit, and the participant_sid Conversations
	// clears on the older messages of the removed participant.
	missed := map[string]int{}
	for _, d := range after.diff(t, a, plain.Snapshot) {
		i := slices.IndexFunc(sids[3:6], func(sid string) bool { return strings.Contains(d, sid) })
		if i < 0 {
			t.Errorf("plain run: %.300s", d)
			continue
		}
		missed[sids[3+i]]++
	}
	if missed[sids[3]] == 0 { // the diff is by position: one missing message shifts those after it
		t.Errorf("the plain run caught the deletion of an old message, which doc.go says it does not")
	}
	expect(t, "old edits missed", missed[sids[4]], 1)

	full, err := Run(ctx, cl, a, Options{Service: e.svc, PageSize: 10, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "full run deleted", full.Deleted, 1)
	if full.Changed < 1 || full.Changed != 1+missed[sids[5]] {
		t.Errorf("full run changed = %d, want the old edit and the %d messages whose participant_sid went", full.Changed, missed[sids[5]])
	}
	after.assertSame(t, a, full.Snapshot)
}

// TestIntegrationChatThenConversations backs up through Chat, then through
// Conversations: the public channels Conversations does not show are kept,
// with a warning, and the snapshot reads in Chat's shape throughout.
func TestIntegrationChatThenConversations(t *testing.T) {
	ctx := context.Background()
	e := startEmulator(t, smallHistory)
	a := newArchive(t)
	o := Options{Service: e.svc, PageSize: 10}
	before := capture(t, e.cl, e.svc)
	chat, err := Run(ctx, e.cl, a, o)
	if err != nil {
		t.Fatal(err)
	}
	assertUsers(t, a, chat, e.cl, e.svc)
	media, err := a.LiveMedia(e.svc)
	if err != nil || len(media) == 0 {
		t.Fatalf("live media after the Chat run: %d, %v", len(media), err)
	}
	conv, err := Run(ctx, e.cl.Conversations(), a, o)
	if err != nil || conv.Status != "complete" {
		t.Fatalf("Run through Conversations: %+v %v", conv, err)
	}
	public := len(before.channels) - before.private
	expect(t, "channels kept", conv.Channels, chat.Channels)
	expect(t, "deleted", conv.Deleted, 0)
	expect(t, "messages kept", conv.Messages, chat.Messages)
	if len(conv.Warnings) != 2 || !strings.Contains(strings.Join(conv.Warnings, "\n"), "public channels") {
		t.Errorf("warnings = %q, want the change of API and the %d public channels", conv.Warnings, public)
	}
	// A --full run through Conversations reads no public channel: the
	// media of their messages are not gone (forget would free them).
	fullKeepsMedia(t, e, a, media)
	v, err := a.View(conv.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := v.Channels()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chans {
		shaped, err := remote.ChatShape(remote.APIConversations, remote.KindChannel, c.Raw)
		if err != nil {
			t.Fatalf("channel %s: %v", c.SID, err)
		}
		if !bytes.Contains(shaped, []byte(`"service_sid"`)) || !bytes.Contains(shaped, []byte(`"type"`)) {
			t.Errorf("channel %s does not read in Chat's shape: %s", c.SID, shaped)
		}
		if bytes.Equal(c.Raw, before.channels[c.SID]) && bytes.Contains(shaped, []byte(`"private"`)) {
			t.Errorf("private channel %s was not read again through Conversations", c.SID)
		}
	}
	for sid, ms := range before.messages {
		k := 0
		for m, err := range v.Messages(sid) {
			if err != nil {
				t.Fatal(err)
			}
			shaped, err := remote.ChatShape(remote.APIConversations, remote.KindMessage, m.Raw)
			if err != nil {
				t.Fatal(err)
			}
			var msg remote.Message
			if err := json.Unmarshal(shaped, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.SID != ms[k].SID || msg.ChannelSID != sid {
				t.Errorf("channel %s message %d reads as %+v", sid, m.Index, msg)
			}
			k++
		}
	}
}

// assertUsers checks that the snapshot holds the live users as listed.
func assertUsers(t *testing.T, a *store.Archive, res Result, cl Source, svc string) {
	t.Helper()
	v, err := a.View(res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Users()
	if err != nil {
		t.Fatal(err)
	}
	var want []store.UserRecord
	for u, err := range cl.ListUsers(context.Background(), svc) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, store.UserRecord{SID: u.SID, Identity: u.Identity, Raw: u.Raw})
	}
	slices.SortFunc(want, func(x, y store.UserRecord) int { return strings.Compare(x.SID, y.SID) })
	expect(t, "users in result", res.Users, len(want))
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d users archived, %d live", len(got), len(want))
	}
	for i := range want {
		if got[i].SID != want[i].SID || got[i].Identity != want[i].Identity || !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Errorf("user %d archived as %s %s, live %s", i, got[i].SID, got[i].Raw, want[i].Raw)
		}
	}
}

func snapshotOf(t *testing.T, a *store.Archive, id uint64) store.Snapshot {
	t.Helper()
	v, err := a.View(id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Snapshot()
}

// TestIntegrationKeptChannelsMediaRevived: an archive in which an earlier
// build's --full run through Conversations recorded the media of the
// public channels it kept unread as deleted (simulated here) gets them
// back live in the next --full run, their files being still archived.
func TestIntegrationKeptChannelsMediaRevived(t *testing.T) {
	e, a, media := chatBackupWithMedia(t)
	// What the earlier build did: a snapshot through Conversations that
	// records every media not seen as deleted.
	w, err := a.BeginSnapshot(e.svc, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetAPI(remote.APIConversations); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteMedia(media); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(store.StatusComplete, 0, nil); err != nil {
		t.Fatal(err)
	}
	if live, _ := a.LiveMedia(e.svc); len(live) != 0 {
		t.Fatalf("%d media live after the simulated sweep", len(live))
	}
	full := fullKeepsMedia(t, e, a, media)
	v, err := a.View(full.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range media {
		if _, ok, err := v.Media(sid); err != nil || !ok {
			t.Errorf("snapshot %d lacks media %s (%v)", full.Snapshot, sid, err)
		}
	}
}

// fullKeepsMedia runs a --full backup through Conversations and checks
// that the archive's live media are media afterwards.
func fullKeepsMedia(t *testing.T, e *emu, a *store.Archive, media []string) Result {
	t.Helper()
	full, err := Run(context.Background(), e.cl.Conversations(), a, Options{Service: e.svc, PageSize: 10, Full: true})
	if err != nil || full.Status != "complete" {
		t.Fatalf("--full run through Conversations: %+v %v", full, err)
	}
	if after, err := a.LiveMedia(e.svc); err != nil || !slices.Equal(after, media) {
		t.Errorf("live media after the --full run through Conversations: %d of %d (%v)", len(after), len(media), err)
	}
	return full
}

// TestIntegrationConversationsProbePage: through Conversations, a plain
// run reads the newest page of every conversation anyway; an edit or a
// deletion there, below an unchanged newest message, is in its snapshot.
func TestIntegrationConversationsProbePage(t *testing.T) {
	ctx := context.Background()
	e, a, cl, o := conversationsOnly(t)
	if _, err := Run(ctx, cl, a, o); err != nil {
		t.Fatal(err)
	}
	live := capture(t, cl, e.svc)
	sids := channelSIDs(t, cl, e.svc)
	third := func(ch string) string { ms := live.messages[ch]; return ms[len(ms)-3].SID }
	if err := cl.DeleteMessage(ctx, e.svc, sids[0], third(sids[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UpdateMessage(ctx, e.svc, sids[1], third(sids[1]), remote.MessageParams{Body: ptr("edited below the newest")}); err != nil {
		t.Fatal(err)
	}
	plain, err := Run(ctx, cl, a, o)
	if err != nil || plain.Status != "complete" {
		t.Fatalf("plain run: %+v %v", plain, err)
	}
	expect(t, "deleted", plain.Deleted, 1)
	expect(t, "changed", plain.Changed, 1)
	capture(t, cl, e.svc).assertSame(t, a, plain.Snapshot)
}

// conversationsOnly starts an emulator with Chat shut down (chatOff) and
// returns it, a new archive, a client through Conversations and the
// options of a plain run.
func conversationsOnly(t *testing.T) (*emu, *store.Archive, liveAPI, Options) {
	t.Helper()
	e := startEmulator(t, chatOff)
	return e, newArchive(t), e.via(remote.APIConversations), Options{Service: e.svc, PageSize: 10}
}

// TestIntegrationKeptChannelsDoNotStopTheSweep: a --full run through
// Conversations that keeps public channels unread still records as
// deleted the media of a message deleted from a private channel, and
// keeps those of the public channels' messages.
func TestIntegrationKeptChannelsDoNotStopTheSweep(t *testing.T) {
	ctx := context.Background()
	e, a, media := chatBackupWithMedia(t)
	var doomed *remote.Message
	var channel string
	for c, err := range e.cl.ListChannels(ctx, e.svc, "private") {
		if err != nil {
			t.Fatal(err)
		}
		for m, err := range e.cl.ListMessages(ctx, e.svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			if m.Media != nil && doomed == nil {
				doomed, channel = m, c.SID
			}
		}
	}
	if doomed == nil {
		t.Fatal("the history has no media message in a private channel")
	}
	if err := e.cl.DeleteMessage(ctx, e.svc, channel, doomed.SID); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(media), func(sid string) bool { return sid == doomed.Media.SID })
	if len(want) != len(media)-1 {
		t.Fatalf("media %s of the deleted message is not among the archived %d", doomed.Media.SID, len(media))
	}
	full := fullKeepsMedia(t, e, a, want)
	// The change of API is told as a --full run sees it.
	if all := strings.Join(full.Warnings, "\n"); !strings.Contains(all, "this --full run re-reads every message") || strings.Contains(all, "a run with --full") {
		t.Errorf("warnings of the --full run: %q", full.Warnings)
	}
}

// chatBackupWithMedia backs smallHistory up through Chat into a new
// archive, and returns the emulator, the archive and its live media.
func chatBackupWithMedia(t *testing.T) (*emu, *store.Archive, []string) {
	t.Helper()
	e := startEmulator(t, smallHistory)
	a := newArchive(t)
	if _, err := Run(context.Background(), e.cl, a, Options{Service: e.svc, PageSize: 10}); err != nil {
		t.Fatal(err)
	}
	media, err := a.LiveMedia(e.svc)
	if err != nil || len(media) == 0 {
		t.Fatalf("live media after the Chat run: %d, %v", len(media), err)
	}
	return e, a, media
}

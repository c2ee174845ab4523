package restore

import (
	"context"
	"testing"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// underMapping erases from l what Conversations cannot carry from Chat (a
// channel's type and creator, a message's editor and edit flag) and reads
// a null message date_updated as Chat does (its date_created), so that a
// service read through either API compares with one read through the other.
func underMapping(l live) live {
	for _, c := range l.channels {
		ch := *c.ch
		ch.Type, ch.CreatedBy = "", ""
		c.ch = &ch
		for i, m := range c.messages {
			mm := *m
			mm.LastUpdatedBy, mm.WasEdited = "", false
			mm.DateUpdated = updated(m)
			c.messages[i] = &mm
		}
	}
	return l
}

// verifyVia runs VerifyTarget reading the target through dst.
func (e *env) verifyVia(t testing.TB, dst Target, target string) []Difference {
	t.Helper()
	var diffs []Difference
	var err error
	e.withArchive(t, func(a *store.Archive) {
		diffs, err = VerifyTarget(context.Background(), dst, a, Options{Target: target})
	})
	if err != nil {
		t.Fatalf("VerifyTarget through %s: %v", dst.API(), err)
	}
	return diffs
}

// TestIntegrationChatToConversations: a snapshot read through Chat,
// restored through Conversations into another service, reads back through
// Conversations and through Chat equal to the source under the mapping
// (dates, authors, bodies, attributes, order, read horizons), VerifyTarget
// finds nothing through either API, a rerun writes nothing, and the
// losses name the public channels and their creators.
func TestIntegrationChatToConversations(t *testing.T) {
	e := newEnv(t, smallConfig())
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	conv := e.cl.Conversations()
	public := 0
	for _, c := range src.channels {
		if c.ch.Type == "public" {
			public++
		}
	}

	dry, err := e.restore(t, conv, Options{DryRun: true})
	if err != nil || dry.API != remote.APIConversations {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if l, ok := lossOf(dry.Losses, remote.KindChannel, "type"); public == 0 || !ok || l.Count != public {
		t.Errorf("dry run losses %+v: want the type of %d public channels", dry.Losses, public)
	}
	if _, ok := lossOf(dry.Losses, remote.KindChannel, "created_by"); !ok {
		t.Errorf("dry run losses %+v: want created_by", dry.Losses)
	}
	w0 := e.srv.Stats().Writes
	res, err := e.restore(t, conv, Options{Concurrency: 3})
	if err != nil || len(res.Failed) != 0 || len(res.Conflicts) != 0 || res.API != remote.APIConversations {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	if p := dry.Plan; p.Channels != res.ChannelsCreated || p.Messages != res.Messages || int64(p.Writes) != e.srv.Stats().Writes-w0 {
		t.Errorf("plan %+v, restore %+v in %d writes", *p, res, e.srv.Stats().Writes-w0)
	}
	if len(res.Losses) != len(dry.Losses) {
		t.Errorf("losses %+v, dry run said %+v", res.Losses, dry.Losses)
	}
	want := underMapping(src)
	compareLive(t, want, underMapping(capture(t, conv, e.dst)), nil, nil)
	compareLive(t, want, underMapping(capture(t, e.cl, e.dst)), nil, nil)
	for _, via := range []Target{conv, e.cl} {
		if d := e.verifyVia(t, via, e.dst); len(d) != 0 {
			t.Errorf("VerifyTarget through %s: %+v", via.API(), d)
		}
	}

	w1 := e.srv.Stats().Writes
	again, err := e.restore(t, conv, Options{})
	if err != nil || e.srv.Stats().Writes != w1 || again.Messages != 0 || again.ChannelsCreated != 0 {
		t.Errorf("rerun: %d writes, %+v, %v", e.srv.Stats().Writes-w1, again, err)
	}
	if st := e.srv.Stats(); st.WebhooksEnabledWrites != 0 {
		t.Errorf("%d writes enabled webhooks", st.WebhooksEnabledWrites)
	}
}

// TestIntegrationConversationsFaults: through Conversations, 5% failed
// answers and 5% lost responses leave nothing duplicated or missing.
func TestIntegrationConversationsFaults(t *testing.T) {
	e := newEnv(t, smallConfig())
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	conv := e.cl.Conversations()
	e.srv.SetFaults(0, 0, 0, 0.05, 0.05)
	res, err := e.restore(t, conv, Options{Concurrency: 4})
	e.srv.SetFaults(0, 0, 0, 0, 0)
	if err != nil || len(res.Failed) != 0 || len(res.Conflicts) != 0 {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	if st := e.srv.Stats(); st.LostResponses == 0 {
		t.Errorf("the faults did not bite: %+v", st)
	}
	compareLive(t, underMapping(src), underMapping(capture(t, conv, e.dst)), nil, nil)
	if d := e.verifyVia(t, conv, e.dst); len(d) != 0 {
		t.Errorf("VerifyTarget: %+v", d)
	}
}

// TestIntegrationChatOff: with Chat shut down, a backup through
// Conversations restored into another service through Conversations is
// faithful (users included, created before their members), and a rerun
// writes nothing.
func TestIntegrationChatOff(t *testing.T) {
	cfg := smallConfig()
	cfg.Channels, cfg.ChatAPI = 10, emulator.APIOff
	e := newEnv(t, cfg)
	conv := e.cl.Conversations()
	e.withArchive(t, func(a *store.Archive) {
		res, err := backup.Run(context.Background(), conv, a, backup.Options{Service: e.src})
		if err != nil || res.Status != "complete" || res.API != remote.APIConversations || res.Channels == 0 || res.Users == 0 {
			t.Fatalf("backup through Conversations: %+v, %v", res, err)
		}
	})
	src := capture(t, conv, e.src)
	w0 := e.srv.Stats().Writes
	res, err := e.restore(t, conv, Options{Concurrency: 3})
	if err != nil || len(res.Failed)+len(res.Conflicts) != 0 || res.Losses != nil || res.Users == 0 {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	compareLive(t, underMapping(src), underMapping(capture(t, conv, e.dst)), nil, nil)
	if d := e.verifyVia(t, conv, e.dst); len(d) != 0 {
		t.Errorf("VerifyTarget: %+v", d)
	}
	srcUsers, dstUsers := map[string]*remote.User{}, map[string]*remote.User{}
	for _, m := range []struct {
		svc string
		to  map[string]*remote.User
	}{{e.src, srcUsers}, {e.dst, dstUsers}} {
		for u, err := range conv.ListUsers(context.Background(), m.svc) {
			if err != nil {
				t.Fatal(err)
			}
			m.to[u.Identity] = u
		}
	}
	for id, s := range srcUsers {
		d := dstUsers[id]
		if d == nil || d.FriendlyName != s.FriendlyName || !sameJSON(s.Attributes, d.Attributes) {
			t.Errorf("user %q: source %+v, target %+v", id, s, d)
		}
	}
	w1 := e.srv.Stats().Writes
	if w1 == w0 {
		t.Fatal("the restore wrote nothing")
	}
	if _, err := e.restore(t, conv, Options{}); err != nil || e.srv.Stats().Writes != w1 {
		t.Errorf("rerun: %d writes, %v", e.srv.Stats().Writes-w1, err)
	}
}

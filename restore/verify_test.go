package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

func (t *fakeTarget) ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error] {
	return func(yield func(*remote.Member, error) bool) {
		if err := t.read("ListMembers"); err != nil {
			yield(nil, err)
			return
		}
		t.mu.Lock()
		c := t.find(service, channel)
		var out []*remote.Member
		if c != nil {
			for _, m := range c.members {
				cp := *m
				out = append(out, &cp)
			}
		}
		t.mu.Unlock()
		if c == nil {
			yield(nil, notFound("channel "+channel))
			return
		}
		for _, m := range out {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func sp(s string) *string       { return &s }
func tp(t time.Time) *time.Time { return &t }
func ip(i int64) *int64         { return &i }
func np(i int) *int             { return &i }

// TestChannelDiffs: every compared field is reported, alone, when only it differs.
func TestChannelDiffs(t *testing.T) {
	src := &srcChannel{UniqueName: sp("room"), FriendlyName: sp("Room ☕"), Type: "private", Attributes: sp(`{"a":1,"b":[1,2]}`),
		CreatedBy: sp("ann"), DateCreated: tp(t0), DateUpdated: tp(t0.Add(time.Minute))}
	base := remote.Channel{UniqueName: "room", FriendlyName: "Room ☕", Type: "private", Attributes: `{"b":[1,2],"a":1}`,
		CreatedBy: "ann", DateCreated: t0.Add(300 * time.Millisecond), DateUpdated: t0.Add(time.Minute)}
	nulls := &srcChannel{}
	cases := []struct {
		name   string
		src    *srcChannel
		change func(c *remote.Channel)
		want   []string
	}{
		{"same (re-encoded attributes, sub-second date)", src, func(*remote.Channel) {}, nil},
		{"unique_name", src, func(c *remote.Channel) { c.UniqueName = "other" }, []string{"unique_name"}},
		{"unique_name gone", src, func(c *remote.Channel) { c.UniqueName = "" }, []string{"unique_name"}},
		{"friendly_name", src, func(c *remote.Channel) { c.FriendlyName = "Room" }, []string{"friendly_name"}},
		{"type", src, func(c *remote.Channel) { c.Type = "public" }, []string{"type"}},
		{"attributes", src, func(c *remote.Channel) { c.Attributes = `{"a":2,"b":[1,2]}` }, []string{"attributes"}},
		{"attributes not JSON", src, func(c *remote.Channel) { c.Attributes = `{` }, []string{"attributes"}},
		{"created_by", src, func(c *remote.Channel) { c.CreatedBy = "system" }, []string{"created_by"}},
		{"date_created", src, func(c *remote.Channel) { c.DateCreated = t0.Add(time.Second) }, []string{"date_created"}},
		{"date_updated", src, func(c *remote.Channel) { c.DateUpdated = t0 }, []string{"date_updated"}},
		{"several, in order", src, func(c *remote.Channel) { c.DateUpdated, c.UniqueName, c.Type = t0, "x", "public" },
			[]string{"unique_name", "type", "date_updated"}},
		{"nulls: the service chose", nulls, func(c *remote.Channel) {
			c.UniqueName, c.FriendlyName = "", ""
		}, nil},
		{"null unique_name vs a name", nulls, func(c *remote.Channel) { c.UniqueName, c.FriendlyName = "x", "" }, []string{"unique_name"}},
		{"null friendly_name vs a name", nulls, func(c *remote.Channel) { c.UniqueName = "" }, []string{"friendly_name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			got := channelDiffs(tc.src, &c)
			if !slices.Equal(got, tc.want) {
				t.Errorf("channelDiffs = %q, want %q", got, tc.want)
			}
			// Run's adoption check is the same comparison, without date_updated.
			wantFirst := diffs(tc.want).first("date_updated")
			if got := channelDiff(tc.src, &c, nil); got != wantFirst {
				t.Errorf("channelDiff = %q, want %q", got, wantFirst)
			}
		})
	}
}

// TestMessageDiffs: every compared field is reported, alone, when only it differs.
func TestMessageDiffs(t *testing.T) {
	src := &srcMessage{SID: "IM1", From: sp("ann"), Body: sp("hi"), Attributes: sp(`{"a":1}`), LastUpdatedBy: sp("bob"),
		DateCreated: tp(t0), DateUpdated: tp(t0.Add(time.Minute))}
	base := remote.Message{From: "ann", Body: "hi", Attributes: `{ "a": 1 }`, LastUpdatedBy: "bob",
		DateCreated: t0, DateUpdated: t0.Add(time.Minute + 999*time.Millisecond)}
	media := &srcMessage{From: sp("ann"), Media: &srcMedia{SID: "ME1"}, DateCreated: tp(t0)}
	captioned := &srcMessage{From: sp("ann"), Body: sp("look"), Media: &srcMedia{SID: "ME1"}, DateCreated: tp(t0)}
	cases := []struct {
		name   string
		src    *srcMessage
		change func(m *remote.Message)
		want   []string
	}{
		{"same", src, func(*remote.Message) {}, nil},
		{"from", src, func(m *remote.Message) { m.From = "system" }, []string{"from"}},
		{"body", src, func(m *remote.Message) { m.Body = "hi!" }, []string{"body"}},
		{"body emptied", src, func(m *remote.Message) { m.Body = "" }, []string{"body"}},
		{"attributes", src, func(m *remote.Message) { m.Attributes = `{"a":"1"}` }, []string{"attributes"}},
		{"date_created", src, func(m *remote.Message) { m.DateCreated = t0.Add(-time.Second) }, []string{"date_created"}},
		{"date_updated", src, func(m *remote.Message) { m.DateUpdated = t0.Add(2 * time.Minute) }, []string{"date_updated"}},
		{"last_updated_by", src, func(m *remote.Message) { m.LastUpdatedBy = "" }, []string{"last_updated_by"}},
		{"media on a text message", src, func(m *remote.Message) { m.Media = &remote.Media{SID: "ME9"} }, []string{"media"}},
		{"body and date_updated", src, func(m *remote.Message) { m.Body, m.DateUpdated = "x", t0.Add(time.Hour) },
			[]string{"body", "date_updated"}},
		{"null last_updated_by vs one", &srcMessage{}, func(m *remote.Message) { *m = remote.Message{LastUpdatedBy: "x"} },
			[]string{"last_updated_by"}},
		{"null from and attributes: the service chose", &srcMessage{}, func(m *remote.Message) {
			*m = remote.Message{From: "system", Attributes: "{}", DateCreated: time.Now(), DateUpdated: time.Now()}
		}, nil},
		{"media attached", media, func(m *remote.Message) {
			*m = remote.Message{From: "ann", DateCreated: t0, Media: &remote.Media{SID: "me1"}}
		}, nil},
		{"media missing", media, func(m *remote.Message) { *m = remote.Message{From: "ann", DateCreated: t0} }, []string{"media"}},
		{"media: the same file under another SID", media, func(m *remote.Message) {
			*m = remote.Message{From: "ann", DateCreated: t0, Media: &remote.Media{SID: "ME2"}}
		}, nil},
		{"media: another file", media, func(m *remote.Message) {
			*m = remote.Message{From: "ann", DateCreated: t0, Media: &remote.Media{SID: "ME1", Size: 5, Filename: "x.pdf"}}
		},
			[]string{"media"}},
		{"media caption", captioned, func(m *remote.Message) {
			*m = remote.Message{From: "ann", Body: "look", DateCreated: t0, Media: &remote.Media{SID: "ME1"}}
		}, nil},
		{"media caption changed", captioned, func(m *remote.Message) {
			*m = remote.Message{From: "ann", Body: "see", DateCreated: t0, Media: &remote.Media{SID: "ME1"}}
		}, []string{"body"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			tc.change(&m)
			got := messageDiffs(tc.src, &m)
			if !slices.Equal(got, tc.want) {
				t.Errorf("messageDiffs = %q, want %q", got, tc.want)
			}
			wantFirst := diffs(tc.want).first("date_updated", "last_updated_by")
			if got := messageDiff(tc.src, &m, nil); got != wantFirst {
				t.Errorf("messageDiff = %q, want %q", got, wantFirst)
			}
		})
	}
}

// TestMemberDiffs: every compared field is reported, alone, when only it differs.
func TestMemberDiffs(t *testing.T) {
	src := &srcMember{Identity: "ann", RoleSID: sp(roleAdm), Attributes: sp(`{"k":1}`), DateCreated: tp(t0), DateUpdated: tp(t0.Add(time.Second)),
		LastConsumedMessageIndex: ip(7), LastConsumptionTimestamp: tp(t0.Add(time.Hour))}
	base := remote.Member{Identity: "ann", RoleSID: "RLtarget", Attributes: `{"k":1}`, DateCreated: t0, DateUpdated: t0.Add(time.Second),
		LastConsumedMessageIndex: np(4), LastConsumptionTimestamp: tp(t0.Add(time.Hour))}
	bare := &srcMember{Identity: "ann"}
	cases := []struct {
		name             string
		src              *srcMember
		srcRole, tgtRole string
		lcmi             *int64 // mapped
		change           func(m *remote.Member)
		want             []string
	}{
		{"same", src, "channel admin", "channel admin", ip(4), func(*remote.Member) {}, nil},
		{"role_sid", src, "channel admin", "channel user", ip(4), func(*remote.Member) {}, []string{"role_sid"}},
		{"attributes", src, "a", "a", ip(4), func(m *remote.Member) { m.Attributes = "{}" }, []string{"attributes"}},
		{"date_created", src, "a", "a", ip(4), func(m *remote.Member) { m.DateCreated = t0.Add(time.Hour) }, []string{"date_created"}},
		{"date_updated", src, "a", "a", ip(4), func(m *remote.Member) { m.DateUpdated = t0 }, []string{"date_updated"}},
		{"last_consumed_message_index", src, "a", "a", ip(4), func(m *remote.Member) { m.LastConsumedMessageIndex = np(7) },
			[]string{"last_consumed_message_index"}},
		{"last_consumed_message_index unset", src, "a", "a", ip(4), func(m *remote.Member) { m.LastConsumedMessageIndex = nil },
			[]string{"last_consumed_message_index"}},
		{"last_consumed_message_index maps to none", src, "a", "a", nil, func(m *remote.Member) {},
			[]string{"last_consumed_message_index"}},
		{"last_consumed_message_index maps to none, unset", src, "a", "a", nil, func(m *remote.Member) { m.LastConsumedMessageIndex = nil }, nil},
		{"last_consumption_timestamp", src, "a", "a", ip(4), func(m *remote.Member) { m.LastConsumptionTimestamp = tp(t0) },
			[]string{"last_consumption_timestamp"}},
		{"last_consumption_timestamp unset", src, "a", "a", ip(4), func(m *remote.Member) { m.LastConsumptionTimestamp = nil },
			[]string{"last_consumption_timestamp"}},
		{"nulls: the service chose role, attributes and dates", bare, "", "channel user", nil, func(m *remote.Member) {
			m.LastConsumedMessageIndex, m.LastConsumptionTimestamp = nil, nil
		}, nil},
		{"null read position vs one", bare, "", "x", nil, func(m *remote.Member) { m.LastConsumptionTimestamp = nil },
			[]string{"last_consumed_message_index"}},
		{"null consumption timestamp vs one", bare, "", "x", nil, func(m *remote.Member) { m.LastConsumedMessageIndex = nil },
			[]string{"last_consumption_timestamp"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			tc.change(&m)
			if got := memberDiffs(tc.src, &m, tc.srcRole, tc.tgtRole, tc.lcmi); !slices.Equal(got, tc.want) {
				t.Errorf("memberDiffs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIndexMapping(t *testing.T) {
	m := newIndexMapping(map[int64]int64{0: 0, 2: 1, 3: 2, 7: 3, 9: 4})
	cases := []struct {
		at   *int64
		want *int64
	}{
		{nil, nil}, {ip(-1), nil}, {ip(0), ip(0)}, {ip(1), ip(0)}, {ip(2), ip(1)}, {ip(6), ip(2)}, {ip(7), ip(3)}, {ip(100), ip(4)},
	}
	for _, tc := range cases {
		got := m.at(tc.at)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("at(%v) = %v, want %v", deref64(tc.at), deref64(got), deref64(tc.want))
		}
	}
	if got := newIndexMapping(nil).at(ip(3)); got != nil {
		t.Errorf("empty mapping gave %d", *got)
	}
}

func deref64(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// ---- VerifyTarget against the fakes ----

// scene is a finished restore of snap into dstSvc of the fake target.
type scene struct {
	t    *testing.T
	ft   *fakeTarget
	fa   *fakeArchive
	snap *fakeSnap
}

func newScene(t *testing.T, snap *fakeSnap, withModerator bool, o Options) *scene {
	t.Helper()
	ft := newFakeTarget(srcSvc, dstSvc)
	if withModerator {
		ft.roles[dstSvc] = append(ft.roles[dstSvc], &remote.Role{SID: ft.sid("RL"), ServiceSID: dstSvc, FriendlyName: "moderator", Type: "channel"})
	}
	fa := newFakeArchive(snap)
	if _, err := run(t.Context(), ft, fa, opts(o)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return &scene{t: t, ft: ft, fa: fa, snap: snap}
}

// ch returns the live target channel restored from the source channel number c.
func (s *scene) ch(c int) *fakeChannel {
	s.t.Helper()
	st, ok := journalOf(s.t, s.fa, srcSvc, dstSvc).value(chanKey(s.snap.channels[c].SID))
	if !ok {
		s.t.Fatalf("channel %d not in the journal", c)
	}
	return s.ft.find(dstSvc, st.Target)
}

func (s *scene) member(c int, identity string) *remote.Member {
	s.t.Helper()
	for _, m := range s.ch(c).members {
		if m.Identity == identity {
			return m
		}
	}
	s.t.Fatalf("member %q of channel %d not in the target", identity, c)
	return nil
}

func (s *scene) srcCh(c int) string     { return s.snap.channels[c].SID }
func (s *scene) srcMsg(c, i int) string { return s.snap.messages[s.srcCh(c)][i].SID }
func (s *scene) tgtRole(name string) string {
	for _, r := range s.ft.roles[dstSvc] {
		if r.FriendlyName == name {
			return r.SID
		}
	}
	s.t.Fatalf("no target role %q", name)
	return ""
}

func (s *scene) verify(o Options) []Difference {
	s.t.Helper()
	writes := s.ft.writes.Load()
	j := journalOf(s.t, s.fa, srcSvc, dstSvc)
	puts := j.puts
	got, err := verify(s.t.Context(), s.ft, s.fa, opts(o))
	if err != nil {
		s.t.Fatalf("verify: %v", err)
	}
	if s.ft.writes.Load() != writes || j.puts != puts {
		s.t.Errorf("verify wrote %d requests and %d journal entries", s.ft.writes.Load()-writes, j.puts-puts)
	}
	return got
}

// diffKey is what the tests compare of a Difference.
func diffKey(d Difference) string {
	msg := "null"
	if d.Message != nil {
		msg = *d.Message
	}
	return fmt.Sprintf("%s %s member=%q message=%s %v", d.Kind, d.Channel, d.Member, msg, d.Fields)
}

func diffKeys(ds []Difference) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, diffKey(d))
	}
	return out
}

func wantDiff(kind, ch, member, msg string, fields ...string) string {
	var m *string
	if msg != "" {
		m = &msg
	}
	return diffKey(Difference{Kind: kind, Channel: ch, Member: member, Message: m, Fields: fields})
}

func checkDiffs(t *testing.T, got []Difference, want []string) {
	t.Helper()
	if g := diffKeys(got); !slices.Equal(g, want) {
		t.Errorf("differences:\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestVerifyFields restores into the fake, changes one thing in the target
// and expects exactly that difference: a row per compared field, so a
// comparison that ignores a field fails here.
func TestVerifyFields(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 12, media: true, seed: 7})
	nowt := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		mutate func(s *scene) []string // returns the differences expected, in order
	}{
		{"nothing", func(s *scene) []string { return nil }},
		// the channel
		{"channel unique_name", func(s *scene) []string {
			s.ch(0).ch.UniqueName = "renamed"
			return []string{wantDiff(KindChanged, s.srcCh(0), "", "", "unique_name")}
		}},
		{"channel friendly_name", func(s *scene) []string {
			s.ch(0).ch.FriendlyName = "Another"
			return []string{wantDiff(KindChanged, s.srcCh(0), "", "", "friendly_name")}
		}},
		{"channel friendly_name where the archive has none", func(s *scene) []string {
			s.ch(2).ch.FriendlyName = "Named now"
			return []string{wantDiff(KindChanged, s.srcCh(2), "", "", "friendly_name")}
		}},
		{"channel type", func(s *scene) []string {
			s.ch(1).ch.Type = "public"
			return []string{wantDiff(KindChanged, s.srcCh(1), "", "", "type")}
		}},
		{"channel attributes", func(s *scene) []string {
			s.ch(0).ch.Attributes = `{"topic":"other"}`
			return []string{wantDiff(KindChanged, s.srcCh(0), "", "", "attributes")}
		}},
		{"channel attributes re-encoded", func(s *scene) []string {
			s.ch(0).ch.Attributes = `{ "topic" : "t0" }`
			return nil
		}},
		{"channel created_by", func(s *scene) []string {
			s.ch(0).ch.CreatedBy = "system"
			return []string{wantDiff(KindChanged, s.srcCh(0), "", "", "created_by")}
		}},
		{"channel date_created", func(s *scene) []string {
			s.ch(0).ch.DateCreated = nowt
			return []string{wantDiff(KindChanged, s.srcCh(0), "", "", "date_created")}
		}},
		{"channel date_updated", func(s *scene) []string {
			s.ch(0).ch.DateUpdated = nowt
			return []string{wantDiff(KindChanged, s.srcCh(0), "", "", "date_updated")}
		}},
		{"channel date_updated below a second", func(s *scene) []string {
			s.ch(0).ch.DateUpdated = s.ch(0).ch.DateUpdated.Add(500 * time.Millisecond)
			return nil
		}},
		// a member
		{"member role_sid", func(s *scene) []string {
			s.member(0, "user0").RoleSID = s.tgtRole("channel admin")
			return []string{wantDiff(KindChanged, s.srcCh(0), "user0", "", "role_sid")}
		}},
		{"member attributes", func(s *scene) []string {
			s.member(0, "user0").Attributes = `{"k":9}`
			return []string{wantDiff(KindChanged, s.srcCh(0), "user0", "", "attributes")}
		}},
		{"member date_created", func(s *scene) []string {
			s.member(0, "user1").DateCreated = nowt
			return []string{wantDiff(KindChanged, s.srcCh(0), "user1", "", "date_created")}
		}},
		{"member date_updated", func(s *scene) []string {
			s.member(0, "user2").DateUpdated = nowt
			return []string{wantDiff(KindChanged, s.srcCh(0), "user2", "", "date_updated")}
		}},
		{"member last_consumed_message_index", func(s *scene) []string {
			s.member(0, "user1").LastConsumedMessageIndex = np(0)
			return []string{wantDiff(KindChanged, s.srcCh(0), "user1", "", "last_consumed_message_index")}
		}},
		{"member last_consumed_message_index set where the archive has none", func(s *scene) []string {
			s.member(2, "user2").LastConsumedMessageIndex = np(0)
			return []string{wantDiff(KindChanged, s.srcCh(2), "user2", "", "last_consumed_message_index")}
		}},
		{"member last_consumption_timestamp", func(s *scene) []string {
			s.member(1, "user0").LastConsumptionTimestamp = tp(nowt)
			return []string{wantDiff(KindChanged, s.srcCh(1), "user0", "", "last_consumption_timestamp")}
		}},
		{"member missing", func(s *scene) []string {
			c := s.ch(0)
			c.members = slices.DeleteFunc(c.members, func(m *remote.Member) bool { return m.Identity == "user1" })
			return []string{wantDiff(KindMissingLive, s.srcCh(0), "user1", "")}
		}},
		{"member not archived", func(s *scene) []string {
			c := s.ch(0)
			c.members = append(c.members, &remote.Member{SID: s.ft.sid("MB"), Identity: "aardvark", RoleSID: s.tgtRole("channel user")})
			return []string{wantDiff(KindMissingArchive, s.srcCh(0), "aardvark", "")}
		}},
		// a message (number 2 of channel 0 is a plain text message; the
		// target has no media message, so the text messages are 0, 2, 3, …)
		{"message from", func(s *scene) []string {
			s.ch(0).messages[1].From = "mallory"
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 2), "from")}
		}},
		{"message body", func(s *scene) []string {
			s.ch(0).messages[1].Body = "rewritten"
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 2), "body")}
		}},
		{"message empty body filled", func(s *scene) []string {
			s.ch(0).messages[2].Body = "no longer empty"
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 3), "body")}
		}},
		{"message attributes", func(s *scene) []string {
			s.ch(0).messages[1].Attributes = `{"n":3}`
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 2), "attributes")}
		}},
		{"message date_created", func(s *scene) []string {
			s.ch(0).messages[1].DateCreated = nowt
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 2), "date_created")}
		}},
		{"message date_updated", func(s *scene) []string {
			s.ch(0).messages[1].DateUpdated = nowt
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 2), "date_updated")}
		}},
		{"message last_updated_by", func(s *scene) []string {
			s.ch(0).messages[4].LastUpdatedBy = "user2" // message 5 was edited by user0
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 5), "last_updated_by")}
		}},
		{"message media", func(s *scene) []string {
			s.ch(0).messages[1].Media = &remote.Media{SID: fmt.Sprintf("ME%032x", 99)}
			return []string{wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 2), "media")}
		}},
		{"message body and date_updated", func(s *scene) []string {
			m := s.ch(1).messages[0]
			m.Body, m.DateUpdated = "edited", nowt
			return []string{wantDiff(KindChanged, s.srcCh(1), "", s.srcMsg(1, 0), "body", "date_updated")}
		}},
		{"message deleted", func(s *scene) []string {
			c := s.ch(0)
			c.messages = slices.Delete(c.messages, 3, 4)
			return []string{wantDiff(KindMissingLive, s.srcCh(0), "", s.srcMsg(0, 4))}
		}},
		{"message not archived", func(s *scene) []string {
			c := s.ch(2)
			m := s.ft.addMessage(c, remote.MessageParams{Body: sp("hello from elsewhere")})
			return []string{wantDiff(KindMissingArchive, s.srcCh(2), "", m.SID)}
		}},
		// whole channels
		{"channel deleted", func(s *scene) []string {
			gone := s.ch(1).ch.SID
			s.ft.channels[dstSvc] = slices.DeleteFunc(s.ft.channels[dstSvc], func(c *fakeChannel) bool { return c.ch.SID == gone })
			return []string{wantDiff(KindMissingLive, s.srcCh(1), "", "")}
		}},
		{"channel not archived", func(s *scene) []string {
			c, err := s.ft.CreateChannel(s.t.Context(), dstSvc, remote.ChannelParams{UniqueName: sp("stranger")})
			if err != nil {
				s.t.Fatal(err)
			}
			return []string{wantDiff(KindMissingArchive, c.SID, "", "")}
		}},
		{"several, sorted", func(s *scene) []string {
			s.ch(2).messages[5].Body = "late"
			s.ch(0).messages[7].Body = "later"
			s.ch(0).messages[0].Body = "early"
			s.member(0, "user2").Attributes = "{}"
			s.ch(0).ch.FriendlyName = "x"
			s.member(0, "user0").Attributes = "{}"
			return []string{
				wantDiff(KindChanged, s.srcCh(0), "", "", "friendly_name"),
				wantDiff(KindChanged, s.srcCh(0), "user0", "", "attributes"),
				wantDiff(KindChanged, s.srcCh(0), "user2", "", "attributes"),
				wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 0), "body"),
				wantDiff(KindChanged, s.srcCh(0), "", s.srcMsg(0, 8), "body"),
				wantDiff(KindChanged, s.srcCh(2), "", s.srcMsg(2, 6), "body"),
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, snap, true, Options{})
			want := tc.mutate(s)
			if want == nil {
				want = []string{}
			}
			got := s.verify(Options{Concurrency: 2})
			checkDiffs(t, got, want)
			if got == nil {
				t.Error("no differences must be an empty list, not nil")
			}
			for _, d := range got {
				if d.Kind != KindMissingLive && d.TargetChannel == "" || d.Detail == "" {
					t.Errorf("difference without target channel or detail: %+v", d)
				}
				if d.Kind == KindChanged && d.Message != nil && d.TargetMessage == "" {
					t.Errorf("message difference without target message: %+v", d)
				}
			}
		})
	}
}

// TestVerifyUnmappedRole: an archived role the target lacks leaves the
// member with the target's default role; verify reports it.
func TestVerifyUnmappedRole(t *testing.T) {
	snap := genHistory(histOpts{channels: 2, messages: 5, seed: 8})
	s := newScene(t, snap, false, Options{})
	got := s.verify(Options{})
	checkDiffs(t, got, []string{
		wantDiff(KindChanged, s.srcCh(0), "user2", "", "role_sid"),
		wantDiff(KindChanged, s.srcCh(1), "user2", "", "role_sid"),
	})
	for _, d := range got {
		if !strings.Contains(d.Detail, `"moderator"`) || !strings.Contains(d.Detail, `"channel user"`) || !strings.Contains(d.Detail, "no role of that name") {
			t.Errorf("detail %q does not explain the role", d.Detail)
		}
	}
	// An unknown archived role is compared by SID.
	bad := genHistory(histOpts{channels: 1, messages: 2, seed: 8})
	bad.roles = bad.roles[:1] // roleAdm and roleOdd unknown
	s = newScene(t, bad, true, Options{})
	checkDiffs(t, s.verify(Options{}), []string{
		wantDiff(KindChanged, s.srcCh(0), "user1", "", "role_sid"),
		wantDiff(KindChanged, s.srcCh(0), "user2", "", "role_sid"),
	})
}

// TestVerifySelection: verify selects what Run selects.
func TestVerifySelection(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 20, media: true, seed: 9})
	date := func(c, i int) time.Time {
		m, err := parseMessage(snap.messages[snap.channels[c].SID][i])
		if err != nil {
			t.Fatal(err)
		}
		return *m.DateCreated
	}
	// The window cuts off the start of channel 0 and the end of channel 2.
	since, until := date(0, 4), date(2, 14)
	window := Options{Since: since, Until: until}
	inWindow := func(d time.Time) bool { return !d.Before(since) && !d.After(until) }
	// outside lists the archived text messages outside the window as missing from the target.
	outside := func(s *scene) []string {
		var out []string
		for c, ch := range snap.channels {
			for i, r := range snap.messages[ch.SID] {
				if m, _ := parseMessage(r); m.media() == "" && !inWindow(date(c, i)) {
					out = append(out, wantDiff(KindMissingLive, ch.SID, "", r.SID))
				}
			}
		}
		if len(out) < 8 {
			t.Fatalf("the window leaves out only %d archived messages; it must cut more", len(out))
		}
		return out
	}
	// extra lists the target messages outside the window as not archived.
	extra := func(s *scene) []string {
		var out []string
		for c, ch := range snap.channels {
			for _, m := range s.ch(c).messages {
				if !inWindow(m.DateCreated) {
					out = append(out, wantDiff(KindMissingArchive, ch.SID, "", m.SID))
				}
			}
		}
		if len(out) < 8 {
			t.Fatalf("the window leaves out only %d target messages; it must cut more", len(out))
		}
		return out
	}
	none := func(*scene) []string { return nil }
	cases := []struct {
		name    string
		restore Options
		verify  Options
		want    func(s *scene) []string // message and channel rows, in order
	}{
		{"window", window, window, none},
		{"window restored, all verified", window, Options{}, outside},
		{"all restored, window verified", Options{}, window, extra},
		{"since only", Options{Since: since}, Options{Since: since}, none},
		{"until only", Options{Until: until}, Options{Until: until}, none},
		{"one channel by unique name, verified by SID", Options{Channels: []string{"room-0"}}, Options{Channels: []string{snap.channels[0].SID}}, none},
		{"one channel restored, all verified", Options{Channels: []string{"room-2"}}, Options{}, func(*scene) []string {
			return []string{wantDiff(KindMissingLive, snap.channels[0].SID, "", ""), wantDiff(KindMissingLive, snap.channels[1].SID, "", "")}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, snap, true, tc.restore)
			got := s.verify(tc.verify)
			want := tc.want(s)
			if want == nil {
				want = []string{}
				if len(got) != 0 {
					t.Errorf("differences after a restore verified with its own selection: %v", diffKeys(got))
				}
			}
			// Read positions depend on the window (TestVerifyFields checks
			// them); here the message and channel rows matter.
			var rest []Difference
			for _, d := range got {
				if d.Member == "" {
					rest = append(rest, d)
				}
			}
			checkDiffs(t, rest, want)
		})
	}
}

// TestVerifyMediaSameService: restored into its own service, a media
// message keeps its media, and verify compares it.
func TestVerifyMediaSameService(t *testing.T) {
	snap := genHistory(histOpts{channels: 1, messages: 6, media: true, seed: 10})
	ft := newFakeTarget(srcSvc)
	ft.roles[srcSvc] = append(ft.roles[srcSvc], &remote.Role{SID: ft.sid("RL"), FriendlyName: "moderator", Type: "channel"})
	ft.holdMedia(t, srcSvc, snap)
	fa := newFakeArchive(snap)
	o := Options{Target: srcSvc}
	if _, err := run(t.Context(), ft, fa, o); err != nil {
		t.Fatal(err)
	}
	got, err := verify(t.Context(), ft, fa, o)
	if err != nil || len(got) != 0 {
		t.Fatalf("verify: %v, %v", diffKeys(got), err)
	}
	c := ft.channelsOf(srcSvc)[0]
	if c.messages[1].Media == nil {
		t.Fatalf("media message restored without media: %+v", c.messages[1])
	}
	ft.channels[srcSvc][0].messages[1].Media.Filename = "another.png"
	got, err = verify(t.Context(), ft, fa, o)
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, got, []string{wantDiff(KindChanged, snap.channels[0].SID, "", snap.messages[snap.channels[0].SID][1].SID, "media")})
}

// TestVerifyWithoutJournal: channels the journal does not know are found by
// unique name and their messages paired in order; a channel without unique
// name cannot be found.
func TestVerifyWithoutJournal(t *testing.T) {
	snap := genHistory(histOpts{channels: 3, messages: 10, seed: 11})
	s := newScene(t, snap, true, Options{})
	bare := newFakeArchive(snap) // same snapshot, empty journal
	got, err := verify(t.Context(), s.ft, bare, opts(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	// Channel 1 has no unique name: it is reported missing, and the target
	// channel restored from it is unpaired.
	want := []string{wantDiff(KindMissingLive, s.srcCh(1), "", ""), wantDiff(KindMissingArchive, s.ch(1).ch.SID, "", "")}
	checkDiffs(t, got, want)
	if !strings.Contains(got[0].Detail, "no unique name") {
		t.Errorf("detail %q", got[0].Detail)
	}

	// Paired in order: an extra message at the end, a changed one.
	m := s.ft.addMessage(s.ch(0), remote.MessageParams{Body: sp("extra")})
	s.ch(2).messages[3].Body = "changed"
	got, err = verify(t.Context(), s.ft, bare, opts(Options{Channels: []string{"room-0", "room-2"}}))
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, got, []string{
		wantDiff(KindMissingArchive, s.srcCh(0), "", m.SID),
		wantDiff(KindChanged, s.srcCh(2), "", s.srcMsg(2, 3), "body"),
	})
	// A missing message at the end.
	c := s.ch(2)
	c.messages = c.messages[:len(c.messages)-1]
	got, err = verify(t.Context(), s.ft, bare, opts(Options{Channels: []string{"room-2"}}))
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, got, []string{
		// user0 had read the last message, which is gone: paired in order,
		// its read position maps onto the message before.
		wantDiff(KindChanged, s.srcCh(2), "user0", "", "last_consumed_message_index"),
		wantDiff(KindChanged, s.srcCh(2), "", s.srcMsg(2, 3), "body"),
		wantDiff(KindMissingLive, s.srcCh(2), "", s.srcMsg(2, 9)),
	})
}

// failRead makes the fake target answer op with f.
func failRead(op string, f fault) func(*fakeTarget, *fakeArchive) context.Context {
	return func(ft *fakeTarget, _ *fakeArchive) context.Context {
		ft.onRead = func(o string) fault {
			if o == op {
				return f
			}
			return faultNone
		}
		return nil
	}
}

func TestVerifyErrors(t *testing.T) {
	snap := genHistory(histOpts{channels: 2, messages: 5, seed: 12})
	cases := []struct {
		name    string
		o       Options
		prepare func(ft *fakeTarget, fa *fakeArchive) context.Context
		is      error
		msg     string
	}{
		{"invalid target", Options{Target: "nope"}, nil, ErrInvalidOptions, `"nope" is not a service SID`},
		{"until before since", Options{Since: t0, Until: t0.Add(-time.Hour)}, nil, ErrInvalidOptions, "is before --since"},
		{"snapshot and as-of", Options{Snapshot: "1", AsOf: t0}, nil, ErrInvalidOptions, "not both"},
		{"bad concurrency", Options{Concurrency: 99}, nil, ErrInvalidOptions, "concurrency 99"},
		{"unknown channel", Options{Channels: []string{"nowhere"}}, nil, ErrUnknownChannel, `"nowhere"`},
		{"unknown snapshot", Options{Snapshot: "7"}, nil, store.ErrNoSnapshot, `snapshot "7"`},
		{"several sources", Options{}, func(ft *fakeTarget, fa *fakeArchive) context.Context {
			fa.snaps = append(fa.snaps, genHistory(histOpts{service: otherSvc, id: 2, channels: 1, messages: 1}))
			return nil
		}, ErrSourceRequired, "--source"},
		{"target service unknown", Options{Target: otherSvc}, nil, remote.ErrNotFound, "not found"},
		{"credentials refused", Options{}, failRead("MessagesPage", faultAuth), remote.ErrAuthentication, "refused the credentials"},
		{"members unreadable", Options{}, failRead("ListMembers", faultError), nil, "list members of target channel"},
		{"channel unreadable", Options{}, failRead("FetchChannel", faultError), nil, "fetch target channel"},
		{"target channels unlistable", Options{}, failRead("ListChannels", faultError), nil, "list target channels"},
		{"archive unreadable", Options{}, func(ft *fakeTarget, fa *fakeArchive) context.Context {
			fa.failView = store.ErrCorrupt
			return nil
		}, store.ErrCorrupt, "open snapshot 1"},
		{"archived messages unreadable", Options{}, func(ft *fakeTarget, fa *fakeArchive) context.Context {
			fa.snaps[0].msgErr = map[string]error{snap.channels[1].SID: store.ErrCorrupt}
			return nil
		}, store.ErrCorrupt, "read archived messages of channel " + snap.channels[1].SID},
		{"journal damaged", Options{}, func(ft *fakeTarget, fa *fakeArchive) context.Context {
			j, _ := fa.Journal(srcSvc, dstSvc)
			_ = j.Put(chanKey(snap.channels[0].SID), []byte("{"))
			_ = j.Flush(context.Background())
			return nil
		}, nil, "is damaged"},
		{"cancelled", Options{}, func(ft *fakeTarget, fa *fakeArchive) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			ft.onRead = func(op string) fault {
				if op == "ListMembers" {
					cancel()
					return faultError
				}
				return faultNone
			}
			return ctx
		}, context.Canceled, "interrupted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := *snap
			ft := newFakeTarget(srcSvc, dstSvc)
			fa := newFakeArchive(&s)
			if _, err := run(t.Context(), ft, fa, opts(Options{})); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.prepare != nil {
				if c := tc.prepare(ft, fa); c != nil {
					ctx = c
				}
			}
			reqs := ft.Requests()
			got, err := verify(ctx, ft, fa, opts(tc.o))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("verify = %v, %v; want an error containing %q", diffKeys(got), err, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			if got != nil {
				t.Errorf("differences returned with the error: %v", diffKeys(got))
			}
			if errors.Is(err, ErrInvalidOptions) && ft.Requests() != reqs {
				t.Errorf("invalid options sent %d requests", ft.Requests()-reqs)
			}
		})
	}
	if _, err := VerifyTarget(t.Context(), newFakeTarget(dstSvc), nil, Options{Target: dstSvc}); err == nil {
		t.Error("VerifyTarget without archive succeeded")
	}
	if _, err := verify(t.Context(), nil, newFakeArchive(snap), Options{Target: dstSvc}); err == nil {
		t.Error("verify without target succeeded")
	}
}

func TestDifferenceJSON(t *testing.T) {
	im := "IM1"
	cases := []struct {
		name string
		d    Difference
		want string
	}{
		{"channel", Difference{Channel: "CH1", Kind: KindChanged, Fields: []string{"friendly_name"}},
			`{"channel":"CH1","message":null,"kind":"changed","fields":["friendly_name"]}`},
		{"message", Difference{Channel: "CH1", Message: &im, Kind: KindMissingLive},
			`{"channel":"CH1","message":"IM1","kind":"missing_live"}`},
		{"member", Difference{Channel: "CH1", Member: "ann", Kind: KindMissingArchive, TargetChannel: "CH2", Detail: "x"},
			`{"channel":"CH1","member":"ann","message":null,"kind":"missing_archive","target_channel":"CH2","detail":"x"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.d)
			if err != nil || string(b) != tc.want {
				t.Errorf("JSON %s, %v; want %s", b, err, tc.want)
			}
		})
	}
}

// TestIntegrationVerify: after a restore into the emulator VerifyTarget
// finds nothing; changes made to the target through the API are found,
// each with its kind and fields, sorted.
func TestIntegrationVerify(t *testing.T) {
	e := newEnv(t, smallConfig())
	ctx := context.Background()
	e.backup(t, false)
	if res, err := e.restore(t, e.cl, Options{Concurrency: 3}); err != nil || len(res.Failed)+len(res.Conflicts)+len(res.Skipped) != 0 || res.MediaUploaded == 0 {
		t.Fatalf("restore: %+v, %v (the seeded history must hold media messages)", res, err)
	}
	check := func(o Options) []Difference {
		t.Helper()
		o.Target = e.dst
		var got []Difference
		var err error
		w0 := e.srv.Stats().Writes
		e.withArchive(t, func(a *store.Archive) { got, err = VerifyTarget(ctx, e.cl, a, o) })
		if err != nil {
			t.Fatalf("VerifyTarget: %v", err)
		}
		if w := e.srv.Stats().Writes; w != w0 {
			t.Errorf("VerifyTarget made %d writes", w-w0)
		}
		return got
	}
	if got := check(Options{Concurrency: 2}); len(got) != 0 {
		t.Fatalf("differences right after the restore: %s", strings.Join(diffKeys(got), "\n"))
	}

	// The channels in the snapshot's order, and their state on both sides.
	var chans []store.ChannelRecord
	e.withArchive(t, func(a *store.Archive) {
		v, err := a.View(1)
		if err == nil {
			chans, err = v.Channels()
		}
		if err != nil || len(chans) < 3 {
			t.Fatalf("archived channels: %d, %v", len(chans), err)
		}
	})
	src, dst := capture(t, e.cl, e.src), capture(t, e.cl, e.dst)
	a, b, c := chans[0], chans[1], chans[2]
	var keptA []*remote.Message
	keptA = append(keptA, src.channels[a.UniqueName].messages...)
	tgtA, tgtB, tgtC := dst.channels[a.UniqueName], dst.channels[b.UniqueName], dst.channels[c.UniqueName]
	if len(keptA) != len(tgtA.messages) || len(keptA) < 6 || len(tgtB.members) == 0 {
		t.Fatalf("channel %q: %d archived text messages, %d restored; channel %q: %d members",
			a.UniqueName, len(keptA), len(tgtA.messages), b.UniqueName, len(tgtB.members))
	}

	body, attrs, name, extraBody := "tampered with", `{"tampered":true}`, "Renamed", "not from the archive"
	if _, err := e.cl.UpdateMessage(ctx, e.dst, tgtA.ch.SID, tgtA.messages[2].SID, remote.MessageParams{Body: &body}); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.DeleteMessage(ctx, e.dst, tgtA.ch.SID, tgtA.messages[5].SID); err != nil {
		t.Fatal(err)
	}
	extra, err := e.cl.CreateMessage(ctx, e.dst, tgtB.ch.SID, remote.MessageParams{Body: &extraBody})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range tgtB.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if _, err := e.cl.UpdateMember(ctx, e.dst, tgtB.ch.SID, tgtB.members[ids[0]].SID, remote.MemberParams{Attributes: &attrs}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cl.UpdateChannel(ctx, e.dst, tgtC.ch.SID, remote.ChannelParams{FriendlyName: &name}); err != nil {
		t.Fatal(err)
	}

	got := check(Options{})
	checkDiffs(t, got, []string{
		wantDiff(KindChanged, a.SID, "", keptA[2].SID, "body", "date_updated"),
		wantDiff(KindMissingLive, a.SID, "", keptA[5].SID),
		wantDiff(KindChanged, b.SID, ids[0], "", "attributes", "date_updated"),
		wantDiff(KindMissingArchive, b.SID, "", extra.SID),
		wantDiff(KindChanged, c.SID, "", "", "friendly_name", "date_updated"),
	})
	for _, d := range got {
		if !strings.Contains(d.Detail, fmt.Sprintf("%q", tgtFor(dst, d.Channel, chans).UniqueName)) || d.TargetChannel == "" {
			t.Errorf("difference %+v does not name its target channel", d)
		}
	}
	if len(got) > 0 && got[0].TargetMessage != tgtA.messages[2].SID {
		t.Errorf("changed message: target message %q, want %q", got[0].TargetMessage, tgtA.messages[2].SID)
	}
	// The same selection as Run: one channel.
	checkDiffs(t, check(Options{Channels: []string{c.UniqueName}}), []string{wantDiff(KindChanged, c.SID, "", "", "friendly_name", "date_updated")})
}

// tgtFor returns the target channel restored from source channel sid.
func tgtFor(l live, sid string, chans []store.ChannelRecord) *remote.Channel {
	for _, c := range chans {
		if c.SID == sid {
			return l.channels[c.UniqueName].ch
		}
	}
	return &remote.Channel{}
}

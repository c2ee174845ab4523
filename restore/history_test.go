package restore

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

const (
	srcSvc   = "IS00000000000000000000000000000001"
	dstSvc   = "IS00000000000000000000000000000002"
	otherSvc = "IS00000000000000000000000000000003"
	roleUser = "RL000000000000000000000000000000a1"
	roleAdm  = "RL000000000000000000000000000000a2"
	roleOdd  = "RL000000000000000000000000000000a3" // no namesake in the target
)

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

type histOpts struct {
	service  string
	id       uint64
	channels int
	messages int
	media    bool // the second message of every channel is a media message
	// mediaEvery > 0: so is every mediaEvery-th message after it, each
	// with a file of its own size.
	mediaEvery int
	seed       uint64
}

func rawJSON(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// genHistory builds an archived snapshot with the awkward cases restore must
// keep: a channel without unique name, a null friendly name, private
// channels, index gaps, empty and unicode bodies, "{}" and null attributes,
// edited messages, members with and without read positions and roles.
func genHistory(o histOpts) *fakeSnap {
	if o.service == "" {
		o.service = srcSvc
	}
	if o.id == 0 {
		o.id = 1
	}
	s := &fakeSnap{
		meta: store.Snapshot{ID: o.id, Service: o.service, Status: store.StatusComplete,
			Started: t0.Add(time.Duration(o.id) * 24 * time.Hour), Finished: t0.Add(time.Duration(o.id)*24*time.Hour + time.Minute)},
		members:  map[string][]store.MemberRecord{},
		messages: map[string][]store.MessageRecord{},
		roles: []store.RoleRecord{
			{SID: roleUser, FriendlyName: "channel user"},
			{SID: roleAdm, FriendlyName: "channel admin"},
			{SID: roleOdd, FriendlyName: "moderator"},
		},
	}
	for c := range o.channels {
		rng := rand.New(rand.NewPCG(o.seed, uint64(c)))
		chSID := fmt.Sprintf("CH%032x", 0x100+c)
		created := t0.Add(time.Duration(c) * time.Hour)
		var un any = fmt.Sprintf("room-%d", c)
		if c == 1 {
			un = nil
		}
		var fn any = fmt.Sprintf("Room %d ☕", c)
		if c == 2 {
			fn = nil
		}
		typ := "public"
		if c%2 == 1 {
			typ = "private"
		}
		raw := rawJSON(map[string]any{
			"sid": chSID, "service_sid": o.service, "unique_name": un, "friendly_name": fn,
			"attributes": fmt.Sprintf(`{"topic":"t%d"}`, c), "type": typ, "created_by": fmt.Sprintf("owner%d", c),
			"date_created": ts(created), "date_updated": ts(created.Add(time.Minute)),
			"members_count": 3, "messages_count": o.messages,
		})
		uns, _ := un.(string)
		s.channels = append(s.channels, store.ChannelRecord{SID: chSID, UniqueName: uns, Raw: raw})

		idx := int64(0)
		var idxs []int64
		for i := range o.messages {
			mSID := fmt.Sprintf("IM%016x%016x", c+1, i+1)
			dc := created.Add(time.Duration(i+1) * time.Minute)
			m := map[string]any{
				"sid": mSID, "channel_sid": chSID, "service_sid": o.service, "to": chSID, "index": idx,
				"from": fmt.Sprintf("user%d", i%3), "body": fmt.Sprintf("message %d in %d — ünïcødé 😀", i, c),
				"attributes": `{"n":` + fmt.Sprint(i) + `}`, "type": "text", "media": nil,
				"was_edited": false, "last_updated_by": nil, "date_created": ts(dc), "date_updated": ts(dc),
			}
			switch {
			case i%7 == 3:
				m["body"] = ""
			case i%7 == 4:
				m["attributes"] = "{}"
			case i%7 == 5:
				m["date_updated"] = ts(dc.Add(90 * time.Second))
				m["last_updated_by"] = "user0"
				m["was_edited"] = true
			case i%7 == 6:
				m["from"] = "system"
				m["attributes"] = nil
			}
			switch {
			case o.media && i == 1:
				m["type"], m["body"] = "media", nil
				m["media"] = map[string]any{"sid": fmt.Sprintf("ME%032x", c+1), "size": 10, "content_type": "image/png", "filename": "a.png"}
			case o.mediaEvery > 0 && i%o.mediaEvery == 1:
				m["type"] = "media"
				m["media"] = map[string]any{"sid": fmt.Sprintf("ME%016x%016x", c+1, i+1), "size": 10 + 31*i,
					"content_type": "application/pdf", "filename": fmt.Sprintf("doc %d-%d.pdf", c, i)}
			}
			s.messages[chSID] = append(s.messages[chSID], store.MessageRecord{SID: mSID, Index: idx, Raw: rawJSON(m)})
			idxs = append(idxs, idx)
			idx += 1 + int64(rng.IntN(3)) // gaps from deletions
		}
		for k := range 3 {
			mb := map[string]any{
				"sid": fmt.Sprintf("MB%016x%016x", c+1, k+1), "channel_sid": chSID, "service_sid": o.service,
				"identity": fmt.Sprintf("user%d", k), "attributes": fmt.Sprintf(`{"k":%d}`, k),
				"date_created": ts(created.Add(time.Duration(k) * time.Second)), "date_updated": ts(created.Add(time.Duration(k+5) * time.Second)),
				"role_sid": []string{roleUser, roleAdm, roleOdd}[k], "last_consumed_message_index": nil, "last_consumption_timestamp": nil,
			}
			if k < 2 && len(idxs) > 0 {
				// user0 has read everything, user1 to a gap in the middle
				l := idxs[len(idxs)-1]
				if k == 1 {
					l = idxs[len(idxs)/2] + 1
				}
				mb["last_consumed_message_index"] = l
				mb["last_consumption_timestamp"] = ts(created.Add(2 * time.Hour))
			}
			s.members[chSID] = append(s.members[chSID], store.MemberRecord{SID: mb["sid"].(string), Identity: mb["identity"].(string), Raw: rawJSON(mb)})
		}
	}
	return s
}

// want is what restore should produce from one archived channel.
type want struct {
	ch       *srcChannel
	members  []*srcMember
	messages []*srcMessage // selected and restorable, in order
}

func expected(t *testing.T, s *fakeSnap, keep func(*srcMessage) bool) map[string]want {
	t.Helper()
	out := map[string]want{}
	for _, rec := range s.channels {
		c, err := parseChannel(rec)
		if err != nil {
			t.Fatal(err)
		}
		w := want{ch: c}
		for _, mr := range s.members[rec.SID] {
			m, err := parseMember(mr)
			if err != nil {
				t.Fatal(err)
			}
			w.members = append(w.members, m)
		}
		for _, mr := range s.messages[rec.SID] {
			m, err := parseMessage(mr)
			if err != nil {
				t.Fatal(err)
			}
			if keep == nil || keep(m) {
				w.messages = append(w.messages, m)
			}
		}
		out[rec.SID] = w
	}
	return out
}

// checkRestored compares the target with the archive field by field, using
// the journal to pair channels. Channels listed in skip must not be restored.
func checkRestored(t *testing.T, ft *fakeTarget, target string, j *fakeJournal, wants map[string]want) {
	t.Helper()
	byTarget := map[string]*fakeChannel{}
	for _, c := range ft.channelsOf(target) {
		byTarget[c.ch.SID] = c
	}
	roleNames := map[string]string{roleUser: "channel user", roleAdm: "channel admin"}
	tgtRoleNames := map[string]string{}
	for _, r := range ft.roles[target] {
		tgtRoleNames[r.SID] = r.FriendlyName
	}
	restored := 0
	for src, w := range wants {
		st, ok := j.value(chanKey(src))
		if !ok || st.Target == "" {
			t.Errorf("channel %s: not in the journal", src)
			continue
		}
		if !st.Finished {
			t.Errorf("channel %s: journal not finished: %+v", src, st)
		}
		c := byTarget[st.Target]
		if c == nil {
			t.Errorf("channel %s: target %s missing", src, st.Target)
			continue
		}
		restored++
		if d := channelDiff(w.ch, &c.ch, nil); d != "" {
			t.Errorf("channel %s: differs in %s: %+v", src, d, c.ch)
		}
		if w.ch.DateUpdated != nil && !w.ch.DateUpdated.Equal(c.ch.DateUpdated) {
			t.Errorf("channel %s: date_updated %v, want %v", src, c.ch.DateUpdated, *w.ch.DateUpdated)
		}
		if w.ch.FriendlyName == nil && c.ch.FriendlyName != "" {
			t.Errorf("channel %s: friendly_name %q, want none", src, c.ch.FriendlyName)
		}
		// messages, in order, exactly once
		if len(c.messages) != len(w.messages) {
			t.Errorf("channel %s: %d messages in target, want %d", src, len(c.messages), len(w.messages))
		}
		srcToTgt := map[int64]int64{}
		for i := range min(len(c.messages), len(w.messages)) {
			sm, tm := w.messages[i], c.messages[i]
			if d := messageDiff(sm, tm, nil); d != "" {
				t.Errorf("channel %s message %d (%s): differs in %s: got %+v", src, i, sm.SID, d, tm)
			}
			if !sameTime(sm.DateUpdated, tm.DateUpdated) {
				t.Errorf("channel %s message %s: date_updated %v, want %v", src, sm.SID, tm.DateUpdated, sm.DateUpdated)
			}
			if deref(sm.LastUpdatedBy) != tm.LastUpdatedBy {
				t.Errorf("channel %s message %s: last_updated_by %q, want %q", src, sm.SID, tm.LastUpdatedBy, deref(sm.LastUpdatedBy))
			}
			if sm.Attributes != nil && *sm.Attributes != tm.Attributes {
				t.Errorf("channel %s message %s: attributes %q, want exactly %q", src, sm.SID, tm.Attributes, *sm.Attributes)
			}
			srcToTgt[sm.Index] = tm.Index
		}
		// members
		if len(c.members) != len(w.members) {
			t.Errorf("channel %s: %d members, want %d", src, len(c.members), len(w.members))
		}
		for _, sm := range w.members {
			i := slices.IndexFunc(c.members, func(m *remote.Member) bool { return m.Identity == sm.Identity })
			if i < 0 {
				t.Errorf("channel %s: member %q missing", src, sm.Identity)
				continue
			}
			tm := c.members[i]
			if deref(sm.Attributes) != tm.Attributes || !sameTime(sm.DateCreated, tm.DateCreated) || !sameTime(sm.DateUpdated, tm.DateUpdated) {
				t.Errorf("channel %s member %q: got %+v, want %+v", src, sm.Identity, tm, sm)
			}
			if name, ok := roleNames[deref(sm.RoleSID)]; ok && tgtRoleNames[tm.RoleSID] != name {
				t.Errorf("channel %s member %q: role %q, want %q", src, sm.Identity, tgtRoleNames[tm.RoleSID], name)
			}
			if (sm.LastConsumptionTimestamp == nil) != (tm.LastConsumptionTimestamp == nil) ||
				(sm.LastConsumptionTimestamp != nil && !sm.LastConsumptionTimestamp.Equal(*tm.LastConsumptionTimestamp)) {
				t.Errorf("channel %s member %q: last_consumption_timestamp %v, want %v", src, sm.Identity, tm.LastConsumptionTimestamp, sm.LastConsumptionTimestamp)
			}
			wantLCMI := int64(-1)
			if sm.LastConsumedMessageIndex != nil {
				for _, m := range w.messages {
					if m.Index <= *sm.LastConsumedMessageIndex {
						wantLCMI = srcToTgt[m.Index]
					}
				}
			}
			gotLCMI := int64(-1)
			if tm.LastConsumedMessageIndex != nil {
				gotLCMI = int64(*tm.LastConsumedMessageIndex)
			}
			if gotLCMI != wantLCMI {
				t.Errorf("channel %s member %q: last_consumed_message_index %d, want %d", src, sm.Identity, gotLCMI, wantLCMI)
			}
		}
	}
	if len(byTarget) != restored {
		t.Errorf("target holds %d channels, want %d", len(byTarget), restored)
	}
}

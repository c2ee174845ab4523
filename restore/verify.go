package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
	"golang.org/x/sync/errgroup"
)

// Kinds of Difference.
const (
	KindMissingLive    = "missing_live"    // archived (and selected), absent from the target
	KindMissingArchive = "missing_archive" // in the target, not in the archived selection
	KindChanged        = "changed"         // in both, with different fields
)

// Difference is one way a service differs from an archived snapshot.
//
// A row names the archived resource; a missing_archive row names the
// target's, since there is no archived one: Channel is then the target
// channel SID for a channel, and Message the target message SID for a
// message.
type Difference struct {
	Channel string   `json:"channel"`          // source channel SID; "" for a user
	User    string   `json:"user,omitempty"`   // identity, for user differences
	Member  string   `json:"member,omitempty"` // identity, for member differences
	Message *string  `json:"message"`          // source message SID (IM…) for message differences, else null
	Kind    string   `json:"kind"`             // KindMissingLive, KindMissingArchive or KindChanged
	Fields  []string `json:"fields,omitempty"` // for KindChanged: the API names of the fields that differ, e.g. ["body","date_updated"]

	TargetChannel string `json:"target_channel,omitempty"` // target channel SID, when there is one
	TargetMessage string `json:"target_message,omitempty"` // target message SID, when there is one
	Detail        string `json:"detail,omitempty"`         // for people: the target channel's unique name, indexes, why
}

// VerifyTarget compares what a restore put into o.Target with the archived
// snapshot it restored, field by field, and returns every difference:
// sorted by channel (in the snapshot's order, then the target channels that
// match no archived one) after the users (by identity: missing or changed
// in friendly_name, attributes or role_sid), within a channel the channel itself, its members
// by identity, then its messages in index order. It sends only reads and
// writes nothing into the archive.
//
// It selects what Run selects from the same Options (Source, Snapshot or
// AsOf, Channels, Since and Until; they are validated the same way; the
// other fields but Concurrency are ignored). Target channels are paired
// with the archived ones by the restore journal, or by unique name for a
// channel the journal does not know; target messages with archived ones by
// the journal's index map, or one for one in order when the channel was
// paired by unique name. Media messages Run cannot restore (the target is
// another service) are not differences. An archived member whose role has
// no namesake in the target differs in role_sid. Target channels that match
// no archived channel are reported only when Options.Channels is empty.
func VerifyTarget(ctx context.Context, dst Target, a *store.Archive, o Options) ([]Difference, error) {
	if a == nil {
		return nil, errors.New("verify restore: no archive given")
	}
	return verify(ctx, dst, storeArchive{a}, o)
}

func verify(ctx context.Context, dst Target, a archive, o Options) ([]Difference, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if dst == nil {
		return nil, errors.New("verify restore: no target client given")
	}
	sel, err := selectFrom(a, &o)
	if err != nil {
		return nil, err
	}
	tgtRoles, err := targetRoles(ctx, dst, o.Target)
	if err != nil {
		return nil, err
	}
	apis, err := restoredThrough(sel.j)
	if err != nil {
		return nil, err
	}
	v := &verifier{dst: dst, a: a, view: sel.view, j: sel.j, o: o, users: sel.users, sameSvc: strings.EqualFold(sel.snap.Service, o.Target),
		srcRoles: map[string]string{}, tgtRoles: map[string]string{},
		userRoles: mapRoles(sel.roles, tgtRoles, "deployment"), lost: lostFields(sel.api, append(apis, dst.API())...)}
	for _, r := range sel.roles {
		v.srcRoles[r.SID] = r.FriendlyName
	}
	for _, r := range tgtRoles {
		v.tgtRoles[r.SID] = r.FriendlyName
	}

	per := make([]checked, len(sel.chans))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for i, rec := range sel.chans {
		g.Go(func() (err error) {
			per[i], err = v.channel(gctx, rec)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, v.fail(ctx, "", err)
	}
	out, err := v.checkUsers(ctx)
	if err != nil {
		return nil, err
	}
	paired := map[string]bool{}
	for _, c := range per {
		out = append(out, c.diffs...)
		paired[c.target] = true
	}
	if len(o.Channels) == 0 {
		for t, err := range dst.ListChannels(ctx, o.Target) {
			if err != nil {
				return nil, v.fail(ctx, "list target channels", err)
			}
			if !paired[t.SID] {
				out = append(out, Difference{Channel: t.SID, Kind: KindMissingArchive, TargetChannel: t.SID,
					Detail: fmt.Sprintf("%s is the restore of no channel in snapshot %d", label(t), sel.snap.ID)})
			}
		}
	}
	return out, nil
}

// verifier holds what the channel checks share; they only read it.
type verifier struct {
	dst       Target
	a         archive
	view      snapshotView
	j         journal
	o         Options
	users     []*srcUser        // the archived users the selected channels bring
	sameSvc   bool              // target is the source service
	srcRoles  map[string]string // archived role SID → friendly name
	tgtRoles  map[string]string // target role SID → friendly name
	userRoles map[string]string // archived role SID → target deployment role SID
	lost      map[string]bool   // "kind/field" not compared: an API the restore wrote or this reads through cannot carry it
}

// checkUsers compares the archived users the selection brings with the
// target's, by identity. A target user that is not archived is not a
// difference: the service makes users of its own (a member's identity new
// to it, say).
func (v *verifier) checkUsers(ctx context.Context) ([]Difference, error) {
	users := v.users
	out := []Difference{}
	if len(users) == 0 {
		return out, nil
	}
	live, err := liveUsers(ctx, v.dst, v.o.Target)
	if err != nil {
		return nil, v.fail(ctx, "", err)
	}
	for _, u := range users {
		t := live[u.Identity]
		switch {
		case t == nil:
			out = append(out, Difference{User: u.Identity, Kind: KindMissingLive, Detail: fmt.Sprintf("user %q (%s) is not in the target", u.Identity, u.SID)})
		default:
			if f := userDiffs(u, t, v.userRoles).without(remote.KindUser, v.lost); len(f) > 0 {
				out = append(out, Difference{User: u.Identity, Kind: KindChanged, Fields: f, Detail: fmt.Sprintf("target user %s", t.SID)})
			}
		}
	}
	return out, nil
}

// checked is one archived channel's differences and the target channel
// paired with it ("" when none).
type checked struct {
	diffs  []Difference
	target string
}

// fail words an error that stops the verification.
func (v *verifier) fail(ctx context.Context, what string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("verify restore into %s interrupted: %w", v.o.Target, ctx.Err())
	case errors.Is(err, remote.ErrAuthentication):
		return fmt.Errorf("verify restore into %s: the service refused the credentials; check the account SID and auth token or API key: %w", v.o.Target, err)
	case what == "":
		return err
	}
	return fmt.Errorf("verify restore into %s: %s: %w", v.o.Target, what, err)
}

// label names a target channel for people: its SID and unique name.
func label(t *remote.Channel) string {
	if t.UniqueName == "" {
		return "target channel " + t.SID
	}
	return fmt.Sprintf("target channel %s %q", t.SID, t.UniqueName)
}

func (v *verifier) channel(ctx context.Context, rec store.ChannelRecord) (checked, error) {
	src, err := parseChannel(rec)
	if err != nil {
		return checked{}, fmt.Errorf("verify restore: %w", err)
	}
	st, _, err := readState(v.j, rec.SID)
	if err != nil {
		return checked{}, err
	}
	t, journaled, why, err := v.findTarget(ctx, src, st)
	if err != nil {
		return checked{}, err
	}
	if t == nil {
		return checked{diffs: []Difference{{Channel: rec.SID, Kind: KindMissingLive, TargetChannel: st.Target, Detail: why}}}, nil
	}
	c := &chanCheck{v: v, rec: rec, st: st, t: t, label: label(t)}
	var out []Difference
	if f := channelDiffs(src, t).without(remote.KindChannel, v.lost); len(f) > 0 {
		out = append(out, c.diff(KindChanged, f, ""))
	}
	mapping, msgs, err := c.messages(ctx, journaled)
	if err != nil {
		return checked{}, err
	}
	mems, err := c.members(ctx, mapping)
	if err != nil {
		return checked{}, err
	}
	out = append(append(out, mems...), msgs...)
	return checked{diffs: out, target: t.SID}, nil
}

// findTarget finds the target channel paired with archived channel src:
// the one the journal names (journaled), else the one with its unique name.
// Without one it returns nil and says why.
func (v *verifier) findTarget(ctx context.Context, src *srcChannel, st chanState) (t *remote.Channel, journaled bool, why string, err error) {
	key, journaled := st.Target, st.Target != ""
	if !journaled {
		key = deref(src.UniqueName)
		if key == "" {
			return nil, false, "not restored: the restore journal names no target channel for it, and it has no unique name to look one up by", nil
		}
	}
	t, err = v.dst.FetchChannel(ctx, v.o.Target, key)
	switch {
	case errors.Is(err, remote.ErrNotFound) && journaled:
		return nil, true, fmt.Sprintf("target channel %s, its restore according to the restore journal, no longer exists", key), nil
	case errors.Is(err, remote.ErrNotFound):
		return nil, false, fmt.Sprintf("not restored: the restore journal names no target channel for it, and the target has no channel with unique name %q", key), nil
	case err != nil:
		return nil, journaled, "", v.fail(ctx, "fetch target channel "+key, err)
	}
	return t, journaled, "", nil
}

// chanCheck compares one archived channel with its target channel.
type chanCheck struct {
	v     *verifier
	rec   store.ChannelRecord
	st    chanState // the channel's journal record (its generation's index map)
	t     *remote.Channel
	label string
}

func (c *chanCheck) diff(kind string, fields []string, detail string) Difference {
	d := Difference{Channel: c.rec.SID, Kind: kind, Fields: fields, TargetChannel: c.t.SID, Detail: c.label}
	if detail != "" {
		d.Detail += ": " + detail
	}
	return d
}

func (c *chanCheck) messageDiff(kind string, m *srcMessage, t *remote.Message, fields []string, detail string) Difference {
	d := c.diff(kind, fields, detail)
	switch {
	case m != nil:
		d.Message = &m.SID
	case t != nil:
		d.Message = &t.SID
	}
	if t != nil {
		d.TargetMessage = t.SID
	}
	return d
}

// messages walks the archived messages Run would restore and the target's,
// both in index order, pairing them by the journal's index map (journaled)
// or one for one. It returns how archived indexes map onto the target's.
func (c *chanCheck) messages(ctx context.Context, journaled bool) (indexMapping, []Difference, error) {
	v := c.v
	pairs := map[int64]int64{} // archived index → target index
	if journaled {
		if err := scanIndexes(v.j, c.rec.SID, c.st, func(s, t int64) { pairs[s] = t }); err != nil {
			return indexMapping{}, nil, err
		}
	}
	tgt := &targetMessages{ctx: ctx, dst: v.dst, service: v.o.Target, channel: c.t.SID}
	var out []Difference
	// extra reports the target messages before target index below as not archived.
	extra := func(below int64, all bool) error {
		for {
			t, err := tgt.peek()
			if err != nil {
				return v.fail(ctx, "list messages of "+c.label, err)
			}
			if t == nil || (!all && t.Index >= below) {
				return nil
			}
			out = append(out, c.messageDiff(KindMissingArchive, nil, t, nil,
				fmt.Sprintf("message at target index %d matches no archived message restored there", t.Index)))
			tgt.pop()
		}
	}
	prev := int64(-1)
	for rec, err := range v.view.Messages(c.rec.SID) {
		if err != nil {
			return indexMapping{}, nil, fmt.Errorf("verify restore: read archived messages of channel %s: %w", c.rec.SID, err)
		}
		if rec.Index <= prev {
			return indexMapping{}, nil, fmt.Errorf("verify restore: archived messages of channel %s are out of order (index %d after %d): %w",
				c.rec.SID, rec.Index, prev, store.ErrCorrupt)
		}
		prev = rec.Index
		m, err := parseMessage(rec)
		if err != nil {
			return indexMapping{}, nil, fmt.Errorf("verify restore: %w", err)
		}
		if !v.o.keeps(m) {
			continue
		}
		_, _, why, err := restorableMedia(v.view, v.a, m, v.sameSvc)
		if err != nil {
			return indexMapping{}, nil, err
		}
		if why != "" {
			continue
		}
		if journaled {
			ti, ok := pairs[m.Index]
			if !ok {
				out = append(out, c.messageDiff(KindMissingLive, m, nil, nil,
					fmt.Sprintf("archived message index %d was not restored: the restore journal maps it to no target message", m.Index)))
				continue
			}
			if err := extra(ti, false); err != nil {
				return indexMapping{}, nil, err
			}
			if t, err := tgt.peek(); err == nil && (t == nil || t.Index != ti) {
				out = append(out, c.messageDiff(KindMissingLive, m, nil, nil,
					fmt.Sprintf("archived message index %d was restored at target index %d, which no longer exists", m.Index, ti)))
				continue
			}
		}
		t, err := tgt.peek()
		if err != nil {
			return indexMapping{}, nil, v.fail(ctx, "list messages of "+c.label, err)
		}
		if t == nil {
			out = append(out, c.messageDiff(KindMissingLive, m, nil, nil,
				fmt.Sprintf("archived message index %d has no counterpart: the target channel holds fewer messages", m.Index)))
			continue
		}
		tgt.pop()
		if !journaled {
			pairs[m.Index] = t.Index
		}
		if f := messageDiffs(m, t).without(remote.KindMessage, v.lost); len(f) > 0 {
			out = append(out, c.messageDiff(KindChanged, m, t, f,
				fmt.Sprintf("archived message index %d, target index %d", m.Index, t.Index)))
		}
	}
	if err := extra(0, true); err != nil {
		return indexMapping{}, nil, err
	}
	return newIndexMapping(pairs), out, nil
}

// members compares the archived members with the target channel's, by
// identity, and returns the differences sorted by identity.
func (c *chanCheck) members(ctx context.Context, mapping indexMapping) ([]Difference, error) {
	v := c.v
	recs, err := v.view.Members(c.rec.SID)
	if err != nil {
		return nil, fmt.Errorf("verify restore: read archived members of channel %s: %w", c.rec.SID, err)
	}
	live := map[string]*remote.Member{}
	for t, err := range v.dst.ListMembers(ctx, v.o.Target, c.t.SID, remote.ListOptions{}) {
		if err != nil {
			return nil, v.fail(ctx, "list members of "+c.label, err)
		}
		live[t.Identity] = t
	}
	var out []Difference
	for _, rec := range recs {
		m, err := parseMember(rec)
		if errors.Is(err, errNoIdentity) {
			continue // restore leaves it out (SkipParticipant)
		}
		if err != nil {
			return nil, fmt.Errorf("verify restore: %w", err)
		}
		t := live[m.Identity]
		if t == nil {
			d := c.diff(KindMissingLive, nil, fmt.Sprintf("member %q is not in the target channel", m.Identity))
			d.Member = m.Identity
			out = append(out, d)
			continue
		}
		delete(live, m.Identity)
		srcRole, tgtRole := roleName(v.srcRoles, deref(m.RoleSID)), roleName(v.tgtRoles, t.RoleSID)
		f := memberDiffs(m, t, srcRole, tgtRole, mapping.at(m.LastConsumedMessageIndex)).without(remote.KindMember, v.lost)
		if len(f) == 0 {
			continue
		}
		detail := "member " + t.SID
		if slices.Contains(f, "role_sid") {
			detail += fmt.Sprintf(": archived role %q, target role %q", srcRole, tgtRole)
			if !v.targetHasRole(srcRole) {
				detail += " (the target has no role of that name, so the restore left the target's default)"
			}
		}
		d := c.diff(KindChanged, f, detail)
		d.Member = m.Identity
		out = append(out, d)
	}
	for _, t := range live {
		d := c.diff(KindMissingArchive, nil, fmt.Sprintf("member %s %q is not archived", t.SID, t.Identity))
		d.Member = t.Identity
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b Difference) int { return strings.Compare(a.Member, b.Member) })
	return out, nil
}

func (v *verifier) targetHasRole(name string) bool {
	for _, n := range v.tgtRoles {
		if n == name {
			return true
		}
	}
	return false
}

// roleName is the friendly name of role sid, the SID itself when unknown.
func roleName(names map[string]string, sid string) string {
	if n, ok := names[sid]; ok {
		return n
	}
	return sid
}

// targetMessages reads a target channel's messages oldest first, a page at a time.
type targetMessages struct {
	ctx              context.Context
	dst              Target
	service, channel string
	buf              []*remote.Message
	next             string // next page's URL
	done             bool
}

// peek returns the next message, nil after the last.
func (p *targetMessages) peek() (*remote.Message, error) {
	for len(p.buf) == 0 && !p.done {
		page, err := p.dst.MessagesPage(p.ctx, p.service, p.channel, remote.ListOptions{PageSize: 100, Order: "asc"}, p.next)
		if err != nil {
			return nil, err
		}
		p.buf, p.next = page.Items, page.NextPageURL
		p.done = p.next == ""
	}
	if len(p.buf) == 0 {
		return nil, nil
	}
	return p.buf[0], nil
}

func (p *targetMessages) pop() { p.buf = p.buf[1:] }

// indexMapping maps archived message indexes onto the target's as Run sets
// read positions: to the target index of the newest restored message at or
// before the archived index.
type indexMapping struct {
	src  []int64 // archived indexes, ascending
	best []int64 // best[i]: the largest target index of src[:i+1]
}

func newIndexMapping(pairs map[int64]int64) indexMapping {
	m := indexMapping{src: slices.Sorted(maps.Keys(pairs))}
	m.best = make([]int64, len(m.src))
	for i, s := range m.src {
		m.best[i] = pairs[s]
		if i > 0 {
			m.best[i] = max(m.best[i], m.best[i-1])
		}
	}
	return m
}

// at maps archived read position idx; nil when idx is nil or no restored
// message is at or before it (Run then leaves the position unset).
func (m indexMapping) at(idx *int64) *int64 {
	if idx == nil {
		return nil
	}
	i, found := slices.BinarySearch(m.src, *idx)
	if found {
		i++
	}
	if i == 0 {
		return nil
	}
	return &m.best[i-1]
}

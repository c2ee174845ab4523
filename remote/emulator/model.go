package emulator

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// sid is the 32 hex digits of a Twilio SID without its two-letter prefix.
// The prefix is implied by where the SID is stored.
type sid [16]byte

// newSID draws a SID from r.
func newSID(r *rand.Rand) sid {
	var s sid
	binary.BigEndian.PutUint64(s[:8], r.Uint64())
	binary.BigEndian.PutUint64(s[8:], r.Uint64())
	return s
}

// appendSID appends prefix and the lower-case hex digits of s.
func appendSID(b []byte, prefix string, s sid) []byte {
	b = append(b, prefix...)
	for _, c := range s {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// format renders s with its prefix.
func (s sid) format(prefix string) string { return string(appendSID(nil, prefix, s)) }

// parseSID reports whether str is prefix followed by 32 hex digits (either
// case, as the spec's pattern allows) and returns the digits.
func parseSID(prefix, str string) (sid, bool) {
	var s sid
	if len(str) != 34 || str[:2] != prefix {
		return s, false
	}
	if _, err := hex.Decode(s[:], []byte(str[2:])); err != nil {
		return s, false
	}
	return s, true
}

// noDate marks a nullable date that is null. Dates are Unix seconds in UTC.
const noDate = math.MinInt64

// nullString is a nullable string of the API.
type nullString struct {
	s     string
	valid bool
}

func some(s string) nullString { return nullString{s: s, valid: true} }

// nonEmpty is s, or null when s is empty (FriendlyName, UniqueName).
func nonEmpty(s string) nullString {
	if s == "" {
		return nullString{}
	}
	return some(s)
}

// world is every service of the emulator. mu guards services and bySID; each
// service guards its own contents with its own lock, so requests to
// different services never wait for each other.
type world struct {
	mu       sync.RWMutex
	services []*service
	bySID    map[sid]*service
	nextSeq  uint64
}

func (w *world) service(s sid) *service {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.bySID[s]
}

func (w *world) add(svc *service) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextSeq++
	svc.seq = w.nextSeq
	w.services = append(w.services, svc)
	w.bySID[svc.sid] = svc
}

// service is a Chat service (IS…) and everything in it. mu guards all fields
// below it and everything reachable from them; sid, seq and the default role
// SIDs never change after creation.
type service struct {
	seq                       uint64
	sid                       sid
	defaultServiceRole        sid
	defaultChannelRole        sid
	defaultChannelCreatorRole sid

	mu               sync.RWMutex
	friendlyName     string
	created, updated int64
	roles            []*role
	users            []*user // creation order (ascending seq)
	usersBySID       map[sid]*user
	usersByIdentity  map[string]*user
	channels         []*channel // creation order (ascending seq)
	channelsBySID    map[sid]*channel
	channelsByUnique map[string]*channel
	nextSeq          uint64 // last seq handed to a user or channel

	// media is the service's files (ME…), uploaded or generated; see addMedia.
	media map[sid]*media
}

func newService(id sid, friendlyName string, created int64) *service {
	return &service{
		sid:              id,
		friendlyName:     friendlyName,
		created:          created,
		updated:          created,
		usersBySID:       map[sid]*user{},
		usersByIdentity:  map[string]*user{},
		channelsBySID:    map[sid]*channel{},
		channelsByUnique: map[string]*channel{},
	}
}

func (svc *service) seq1() uint64 { svc.nextSeq++; return svc.nextSeq }

// role finds a role of the service by SID; roles never change after the
// service is created, so no lock is needed.
func (svc *service) role(id sid) *role {
	for _, r := range svc.roles {
		if r.sid == id {
			return r
		}
	}
	return nil
}

// channel finds a channel by SID or unique name. The caller holds mu.
func (svc *service) channel(ref string) *channel {
	if id, ok := parseSID("CH", ref); ok {
		return svc.channelsBySID[id]
	}
	return svc.channelsByUnique[ref]
}

// user finds a user by SID or identity. The caller holds mu.
func (svc *service) user(ref string) *user {
	if id, ok := parseSID("US", ref); ok {
		if u := svc.usersBySID[id]; u != nil {
			return u
		}
	}
	return svc.usersByIdentity[ref]
}

func (svc *service) addUser(u *user) {
	u.seq = svc.seq1()
	svc.users = append(svc.users, u)
	svc.usersBySID[u.sid] = u
	svc.usersByIdentity[u.identity] = u
}

func (svc *service) addChannel(ch *channel) {
	ch.seq = svc.seq1()
	svc.channels = append(svc.channels, ch)
	svc.channelsBySID[ch.sid] = ch
	if ch.uniqueName.valid {
		svc.channelsByUnique[ch.uniqueName.s] = ch
	}
}

// removeChannel deletes ch with its members and messages and updates the
// joined-channel counts of the members' users.
func (svc *service) removeChannel(ch *channel) {
	svc.channels = deleteSeq(svc.channels, ch.seq, func(c *channel) uint64 { return c.seq })
	delete(svc.channelsBySID, ch.sid)
	if ch.uniqueName.valid {
		delete(svc.channelsByUnique, ch.uniqueName.s)
	}
	for _, m := range ch.members {
		if u := svc.usersByIdentity[m.identity]; u != nil && u.joined > 0 {
			u.joined--
		}
	}
}

// deleteSeq removes the item whose sequence number is seq from items,
// which are in ascending seq order.
func deleteSeq[T any](items []T, seq uint64, seqOf func(T) uint64) []T {
	i, found := slices.BinarySearchFunc(items, seq, func(x T, seq uint64) int {
		return cmp.Compare(seqOf(x), seq)
	})
	if !found {
		return items
	}
	return slices.Delete(items, i, i+1)
}

// role is a service or channel role (RL…).
type role struct {
	seq              uint64
	sid              sid
	name             string
	typ              string // "deployment" or "channel"
	perms            []string
	created, updated int64
}

// user is a user of a service (US…).
type user struct {
	seq              uint64
	sid              sid
	identity         string
	friendlyName     nullString
	attrs            string
	role             sid
	created, updated int64
	joined           int // channels the user is a member of
}

// channel is a channel (CH…) with its members and messages.
type channel struct {
	seq              uint64
	sid              sid
	friendlyName     nullString
	uniqueName       nullString
	attrs            string
	private          bool
	createdBy        string
	created, updated int64

	members           []*member // creation order (ascending seq)
	membersBySID      map[sid]*member
	membersByIdentity map[string]*member
	nextMemberSeq     uint64

	msgs      []message     // ascending index
	msgBySID  map[sid]int64 // SID → index
	nextIndex int64         // 1 + highest index ever assigned
}

func newChannel(id sid) *channel {
	return &channel{
		sid:               id,
		membersBySID:      map[sid]*member{},
		membersByIdentity: map[string]*member{},
		msgBySID:          map[sid]int64{},
	}
}

// member finds a member by SID or identity.
func (ch *channel) member(ref string) *member {
	if id, ok := parseSID("MB", ref); ok {
		if m := ch.membersBySID[id]; m != nil {
			return m
		}
	}
	return ch.membersByIdentity[ref]
}

func (ch *channel) addMember(m *member) {
	ch.nextMemberSeq++
	m.seq = ch.nextMemberSeq
	ch.members = append(ch.members, m)
	ch.membersBySID[m.sid] = m
	ch.membersByIdentity[m.identity] = m
}

func (ch *channel) removeMember(m *member) {
	ch.members = deleteSeq(ch.members, m.seq, func(x *member) uint64 { return x.seq })
	delete(ch.membersBySID, m.sid)
	delete(ch.membersByIdentity, m.identity)
}

// messagePos returns the position in msgs of the message with SID id.
func (ch *channel) messagePos(id sid) (int, bool) {
	idx, ok := ch.msgBySID[id]
	if !ok {
		return 0, false
	}
	return slices.BinarySearchFunc(ch.msgs, idx, func(m message, idx int64) int {
		return cmp.Compare(m.index, idx)
	})
}

// appendMessage adds m with the next index and returns its position.
func (ch *channel) appendMessage(m message) int {
	m.index = ch.nextIndex
	ch.nextIndex++
	ch.msgs = append(ch.msgs, m)
	ch.msgBySID[m.sid] = m.index
	return len(ch.msgs) - 1
}

func (ch *channel) removeMessage(pos int) {
	delete(ch.msgBySID, ch.msgs[pos].sid)
	ch.msgs = slices.Delete(ch.msgs, pos, pos+1)
}

// member is a member of a channel (MB…).
type member struct {
	seq              uint64
	sid              sid
	identity         string
	role             sid
	attrs            string
	created, updated int64
	lastConsumed     int64 // valid when hasLastConsumed
	hasLastConsumed  bool
	lastConsumption  int64 // noDate when null
}

// message is a message (IM…). It is kept by value in its channel's slice,
// so a million of them cost a little over a hundred bytes each plus their
// text; strings shared between messages (identities, common bodies and
// attributes) are stored once.
type message struct {
	sid              sid
	index            int64
	created, updated int64
	from             string
	body             string
	attrs            string
	lastUpdatedBy    string // valid when flags&msgHasLastUpdatedBy
	media            *media
	flags            uint8
}

const (
	msgEdited           uint8 = 1 << iota // was_edited
	msgHasLastUpdatedBy                   // last_updated_by is not null
)

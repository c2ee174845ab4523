package emulator

import (
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PCG streams drawn from the seed. Each concern has its own stream, so the
// account and services do not change with --channels, and requests do not
// change what the faults hit.
const (
	streamAccount    = 0x6163636f756e7401 // account SID, token, services, roles
	streamHistory    = 0x686973746f727902 // users, channels, members, messages
	streamRuntimeIDs = 0x72756e7469646503 // SIDs of resources created through the API
	streamFaults     = 0x6661756c74730004 // which requests the faults hit
)

// historyBase is the date every generated date is counted from.
var historyBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

const (
	day  = 24 * 60 * 60
	hour = 60 * 60
)

// seed builds the account, the two services and the generated history.
func (s *Server) seed() error {
	seed := uint64(s.cfg.Seed)
	acct := rand.New(rand.NewPCG(seed, streamAccount))
	s.account = newSID(acct)
	tok := newSID(acct)
	s.authToken = hex.EncodeToString(tok[:])
	s.basicCreds = s.account.format("AC") + ":" + s.authToken
	s.world = &world{bySID: map[sid]*service{}}
	names := [2]string{"chatvault emulator: generated history", "chatvault emulator: empty"}
	for i, name := range names {
		id := newSID(acct)
		var roles [4]sid
		for j := range roles {
			roles[j] = newSID(acct)
		}
		svc := buildService(id, name, historyBase+int64(i)*hour, roles)
		s.world.add(svc)
		s.seeded = append(s.seeded, id)
	}
	generateHistory(s.world.services[0], rand.New(rand.NewPCG(seed, streamHistory)), s.cfg.Channels, s.cfg.Messages, s.cfg.mediaMaxSize())
	return nil
}

// people are the identities of the generated history.
var people = [...]struct{ identity, name, attrs string }{
	{"alice", "Alice Andersen", `{"title":"Engineering lead","tz":"Europe/Oslo"}`},
	{"bob", "Bob Okafor", "{}"},
	{"carol.smith", "Carol Smith", `{"title":"Designer"}`},
	{"dmitri", "Дмитрий Волков", "{}"},
	{"eve", "Eve", `{"bot":false}`},
	{"fatima", "فاطمة الزهراء", `{"tz":"Africa/Cairo"}`},
	{"gao.wei", "高伟", "{}"},
	{"hiro", "山田 宏", `{"title":"SRE","tz":"Asia/Tokyo"}`},
	{"ines", "Inês Araújo", "{}"},
	{"jamal", "Jamal Haddad", `{"pronouns":"he/him"}`},
	{"kofi", "Kofi Mensah", "{}"},
	{"lena@example.com", "Lena Novak", `{"external":true}`},
}

var topics = [...]struct{ unique, friendly string }{
	{"general", "General"}, {"random", "Random 🎲"}, {"support", "Support — tier 2"},
	{"design", "Design ✏️"}, {"engineering", "Engineering"}, {"ops", "Ops 🔧"},
	{"release", "Release train 🚆"}, {"data", "数据分析"}, {"sales", "Sales"},
	{"incidents", "Incidents 🔥"}, {"mobile", "Mobile"}, {"marketing", "تسويق"},
}

var channelAttrs = [...]string{
	`{"topic":"Daily chatter"}`,
	`{"archived":false,"color":"#3366ff"}`,
	`{"owner":"alice","tags":["team","internal"]}`,
	`{"description":"Pas de réunion le vendredi 🙏"}`,
}

var memberAttrs = [...]string{`{"nickname":"ali"}`, `{"muted":true}`, `{"notifications":"mentions"}`}

// phrases are the material of message bodies: plain text, emoji (with ZWJ
// sequences and flags), CJK, right-to-left scripts, escapes and newlines.
var phrases = [...]string{
	"Morning all! ☀️",
	"Can someone review PR #42?",
	"ship it 🚀",
	"Deploy is done, watching the dashboards.",
	"会议改到下午三点",
	"了解しました、ありがとうございます",
	"مرحبا بالجميع، الاجتماع بعد ساعة",
	"שלום, מה שלומכם?",
	"👍",
	"🎉🎉🎉",
	"Ünïcödé naïve café",
	"Привет, как дела?",
	"안녕하세요, 회의록 공유합니다",
	"Line one\nLine two\n\nLine four",
	"Tabs\tand \"quotes\" and \\backslashes\\",
	"<b>not html</b> & <script>nothing</script>",
	"pairing today 👩‍💻👨🏽‍💻 from 🇳🇱 and 🇯🇵",
	"math: ∑ x² ≤ ∞, π ≈ 3.14159",
	"deploy בשעה 5 ok?",
	"lunch?",
	"Thanks!",
	"I'll take that ticket.",
	"Who broke the build? 😅",
	"Reminder: retro at 4pm",
	"The quick brown fox jumps over the lazy dog",
	"ok",
	"LGTM",
	"brb",
	"See https://example.com/docs?a=1&b=2 for details",
	"€100 budget — approved ✅",
	"Zalgo-ish: ẗ̸̢e̷̜s̶͕t̴̰",
	"Ελληνικά και Ἀρχαῖα",
}

var messageAttrs = [...]string{
	`{"importance":"high"}`,
	`{"reactions":{"👍":3,"🎉":1}}`,
	`{"client":{"platform":"ios","version":"5.2.1"}}`,
	`{"tags":["release","qa"]}`,
	`{"edited_reason":"typo"}`,
	`{"thread":null,"pinned":true}`,
}

var mediaBodies = [...]string{"", "", "", "screenshot", "📎 the slides"}

// channelPlan is a generated channel waiting for its messages.
type channelPlan struct {
	ch       *channel
	seed1    uint64
	seed2    uint64
	messages int
	authors  []string
}

// generateHistory fills svc with its users, channels and messages. Channel
// shells are drawn one by one from r; each then gets its own generator
// drawn from r, so the messages are filled in parallel and still come out
// the same for the same seed.
func generateHistory(svc *service, r *rand.Rand, channels, messages int, mediaMax int64) {
	adminRole, userRole := svc.roles[0].sid, svc.roles[1].sid
	for i, p := range people {
		created := historyBase + 2*hour + int64(i)*10*60
		u := &user{
			sid: newSID(r), identity: p.identity, friendlyName: some(p.name), attrs: p.attrs,
			role: userRole, created: created, updated: created,
		}
		if i == 0 {
			u.role = adminRole
		}
		if r.IntN(3) == 0 {
			u.updated = created + 1 + r.Int64N(30*day)
		}
		svc.addUser(u)
	}

	// Channels are spread over 30 days starting on day 1.
	spacing := max(int64(60), int64(30*day)/int64(max(channels, 1)))
	plans := make([]channelPlan, 0, channels)
	for i := range channels {
		ch := newChannel(newSID(r))
		t := topics[i%len(topics)]
		ch.uniqueName = some(t.unique + "-" + strconv.Itoa(i))
		ch.friendlyName = some(t.friendly + " " + strconv.Itoa(i))
		ch.private = r.IntN(10) < 3
		ch.created = historyBase + day + int64(i)*spacing + r.Int64N(spacing/2+1)
		ch.updated = ch.created
		if r.IntN(10) < 3 {
			ch.updated = ch.created + 1 + r.Int64N(60*day)
		}
		ch.attrs = "{}"
		if r.IntN(10) < 6 {
			ch.attrs = channelAttrs[r.IntN(len(channelAttrs))]
		}

		k := 2 + r.IntN(7) // 2..8 members
		perm := r.Perm(len(people))[:k]
		ch.createdBy = "system"
		if r.IntN(10) < 8 {
			ch.createdBy = people[perm[0]].identity
		}
		authors := make([]string, k)
		for j, pi := range perm {
			identity := people[pi].identity
			authors[j] = identity
			m := &member{
				sid: newSID(r), identity: identity, role: svc.defaultChannelRole, attrs: "{}",
				created: ch.created + int64(j)*60 + r.Int64N(60), lastConsumption: noDate,
			}
			if identity == ch.createdBy {
				m.role = svc.defaultChannelCreatorRole
			}
			if r.IntN(10) == 0 {
				m.attrs = memberAttrs[r.IntN(len(memberAttrs))]
			}
			m.updated = m.created
			ch.addMember(m)
			svc.usersByIdentity[identity].joined++
		}

		n := 0
		if messages > 0 {
			spread := messages / 5
			n = messages - spread + r.IntN(2*spread+1)
		}
		plans = append(plans, channelPlan{ch: ch, seed1: r.Uint64(), seed2: r.Uint64(), messages: n, authors: authors})
		svc.addChannel(ch)
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(plans), 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(plans) {
					return
				}
				p := plans[i]
				fillChannel(p.ch, rand.New(rand.NewPCG(p.seed1, p.seed2)), p.messages, p.authors, mediaMax)
			}
		})
	}
	wg.Wait()
	// The files are numbered in history order, which does not depend on
	// how the channels were shared out, to choose the large ones.
	n := 0
	for _, ch := range svc.channels {
		for i := range ch.msgs {
			m := &ch.msgs[i]
			if m.media == nil {
				continue
			}
			if largeFile(n) {
				m.media = generatedMedia(m.media.sid, mediaMax, true)
			}
			linkGenerated(m.media, ch, m)
			svc.addMedia(m.media)
			n++
		}
	}
}

// linkGenerated gives a generated file the author, dates and message of
// the message that carries it.
func linkGenerated(md *media, ch *channel, m *message) {
	md.author, md.created, md.updated = m.from, m.created, m.created
	md.channel, md.message, md.linked = ch.sid, m.sid, true
}

// fillChannel generates n messages in ch and the members' read positions.
// It touches nothing outside ch.
func fillChannel(ch *channel, r *rand.Rand, n int, authors []string, mediaMax int64) {
	// Messages start an hour after the channel and are spaced so that the
	// whole history fits in about 240 days.
	gap := min(int64(20*60), max(int64(1), int64(240*day)/int64(max(n, 1))))
	t := ch.created + hour
	ch.msgs = make([]message, 0, n)
	ch.msgBySID = make(map[sid]int64, n)
	idx := int64(0)
	for k := range n {
		if k > 0 && r.IntN(100) < 3 {
			idx += 1 + r.Int64N(3) // deleted messages leave gaps
		}
		t += 1 + r.Int64N(2*gap)
		m := message{sid: newSID(r), index: idx, created: t, updated: t, from: "system", attrs: "{}"}
		if r.IntN(50) != 0 {
			m.from = authors[r.IntN(len(authors))]
		}
		m.body = generateBody(r)
		if x := r.IntN(100); x < 20 {
			m.attrs = messageAttrs[r.IntN(len(messageAttrs))]
		} else if x < 28 && idx > 0 {
			m.attrs = `{"reply_to":` + strconv.FormatInt(r.Int64N(idx), 10) + `}`
		}
		if r.IntN(50) == 0 {
			m.media = generatedMedia(newSID(r), mediaMax, false)
			m.body = mediaBodies[r.IntN(len(mediaBodies))]
		}
		if r.IntN(20) == 0 {
			m.updated = t + 60 + r.Int64N(2*day)
			m.flags |= msgEdited | msgHasLastUpdatedBy
			m.lastUpdatedBy = m.from
			if r.IntN(5) == 0 {
				m.lastUpdatedBy = authors[r.IntN(len(authors))]
			}
		}
		ch.msgs = append(ch.msgs, m)
		ch.msgBySID[m.sid] = idx
		idx++
	}
	ch.nextIndex = idx
	if n > 0 && r.IntN(10) == 0 {
		ch.nextIndex += 1 + r.Int64N(2) // the newest messages were deleted
	}

	for _, m := range ch.members {
		if n == 0 || r.IntN(10) >= 6 {
			continue
		}
		pos := n/2 + r.IntN(n-n/2)
		read := ch.msgs[pos]
		m.hasLastConsumed = true
		m.lastConsumed = read.index
		m.lastConsumption = read.created + 30 + r.Int64N(hour)
		m.updated = max(m.updated, m.lastConsumption)
	}
}

// generateBody draws a message body: a phrase, two phrases, a phrase with a
// number, or (rarely) nothing.
func generateBody(r *rand.Rand) string {
	switch x := r.IntN(100); {
	case x < 3:
		return ""
	case x < 60:
		return phrases[r.IntN(len(phrases))]
	case x < 85:
		return phrases[r.IntN(len(phrases))] + " " + phrases[r.IntN(len(phrases))]
	default:
		return phrases[r.IntN(len(phrases))] + " #" + strconv.Itoa(r.IntN(10000))
	}
}

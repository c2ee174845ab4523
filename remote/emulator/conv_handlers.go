package emulator

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Handlers that only Conversations v1 (and Chat v3) has. Fetches, lists
// and writes that differ between the views only in shape are the Chat
// handlers, rendering through c.view().

// conversationStates are the values of a conversation's state.
var conversationStates = []string{"initializing", "active", "inactive", "closed"}

func parseState(param, v string) (string, *apiError) {
	if !slices.Contains(conversationStates, v) {
		return "", badRequest(codeInvalidParameter, param+" "+strconv.Quote(v)+" is not a conversation state; send initializing, active, inactive or closed")
	}
	return v, nil
}

// conversationParams are the parsed parameters of a conversation create or
// update: the channel's own and those only Conversations shows.
type conversationParams struct {
	channelParams
	state                        string
	stateSent                    bool
	inactiveAfter, closedAfter   time.Duration // 0 when not sent
	messagingService             sid
	msgSvcSent                   bool
	emailAddress, emailName      string
	emailAddrSent, emailNameSent bool
}

func (p conversationParams) any() bool {
	return p.channelParams.any() || p.stateSent || p.inactiveAfter > 0 || p.closedAfter > 0 ||
		p.msgSvcSent || p.emailAddrSent || p.emailNameSent
}

func parseConversationParams(f form) (conversationParams, *apiError) {
	var p conversationParams
	var e *apiError
	// Names of up to 256 characters, as Conversations documents for both
	// create and update; Conversations has no CreatedBy, so one sent is
	// not taken.
	if p.channelParams, e = parseChannelParams(f, false); e != nil {
		return p, e
	}
	p.createdBy, p.cbSent = "", false
	if v, ok := f.get("State"); ok {
		if p.state, e = parseState("State", v); e != nil {
			return p, e
		}
		p.stateSent = true
	}
	for _, t := range []struct {
		param string
		d     *time.Duration
	}{{"Timers.Inactive", &p.inactiveAfter}, {"Timers.Closed", &p.closedAfter}} {
		if v, ok := f.get(t.param); ok {
			d, ok := parseISODuration(v)
			if !ok {
				return p, badRequest(codeInvalidParameter, t.param+" "+strconv.Quote(v)+" is not a positive ISO 8601 duration of at most 100 years; send one such as PT10M, PT1H or P1D")
			}
			*t.d = d
		}
	}
	if p.messagingService, p.msgSvcSent, e = f.messagingService(); e != nil {
		return p, e
	}
	p.emailAddress, p.emailAddrSent = f.get("Bindings.Email.Address")
	p.emailName, p.emailNameSent = f.get("Bindings.Email.Name")
	return p, nil
}

// messagingService reads an optional MessagingServiceSid.
func (f form) messagingService() (id sid, sent bool, e *apiError) {
	v, sent := f.get("MessagingServiceSid")
	if !sent {
		return sid{}, false, nil
	}
	id, valid := parseSID("MG", v)
	if !valid {
		return sid{}, true, badRequest(codeInvalidParameter, "MessagingServiceSid "+strconv.Quote(v)+" is not a messaging service SID (MG followed by 32 hex digits)")
	}
	return id, true, nil
}

// isoDuration matches the ISO 8601 durations the emulator accepts: days,
// hours, minutes and seconds in whole numbers.
var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// maxTimer is the longest Timers.* duration the emulator takes.
const maxTimer = 100 * 365 * 24 * time.Hour

// parseISODuration reads a positive duration of at most maxTimer, such as
// PT10M or P1DT2H.
func parseISODuration(v string) (time.Duration, bool) {
	m := isoDuration.FindStringSubmatch(v)
	if m == nil || v == "P" || v == "PT" || v[len(v)-1] == 'T' {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64(maxTimer/unit) {
			return 0, false
		}
		d += time.Duration(n) * unit
	}
	return d, d > 0 && d <= maxTimer
}

// applyConv sets the Conversations-only parameters of p on ch at now.
func (p conversationParams) applyConv(ch *channel, now int64) {
	cf := &ch.conv
	if p.stateSent {
		cf.state = p.state
	}
	if p.inactiveAfter > 0 {
		cf.dateInactive = now + int64(p.inactiveAfter/time.Second)
	}
	if p.closedAfter > 0 {
		cf.dateClosed = now + int64(p.closedAfter/time.Second)
	}
	if p.msgSvcSent {
		cf.messagingService, cf.hasMessagingService = p.messagingService, true
	}
	if p.emailAddrSent || p.emailNameSent {
		if cf.email == nil {
			cf.email = &emailBinding{}
		}
		if p.emailAddrSent {
			cf.email.address = p.emailAddress
		}
		if p.emailNameSent {
			cf.email.name = p.emailName
		}
	}
}

func (s *Server) createConversation(c *call) answer {
	svc, e := s.serviceFor(c)
	if e != nil {
		return errAnswer(e)
	}
	p, e := parseConversationParams(c.form)
	if e != nil {
		return errAnswer(e)
	}
	// A conversation is a private channel in the Chat view.
	p.private = true
	svc.mu.Lock()
	defer svc.mu.Unlock()
	ch, e := s.openChannel(svc, p.channelParams)
	if e != nil {
		return errAnswer(e)
	}
	p.applyConv(ch, s.nowUnix())
	return answer{status: http.StatusCreated, body: appendConversationJSON(nil, c.u, s.account, svc, ch)}
}

func (s *Server) updateConversation(c *call) answer {
	p, perr := parseConversationParams(c.form)
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		if perr != nil {
			return errAnswer(perr)
		}
		if !p.any() {
			return errAnswer(noUpdateParameters("conversation", "FriendlyName, UniqueName, Attributes, DateCreated, DateUpdated, State, Timers.Inactive, Timers.Closed, MessagingServiceSid or Bindings.Email.*"))
		}
		if e := s.changeChannel(svc, ch, p.channelParams); e != nil {
			return errAnswer(e)
		}
		p.applyConv(ch, s.nowUnix())
		return answer{status: http.StatusOK, body: appendConversationJSON(nil, c.u, s.account, svc, ch)}
	})
}

// conversationFilter is the parsed filter of a conversation list.
type conversationFilter struct {
	start, end int64 // date_created bounds, inclusive; noDate when not sent
	state      string
	filters    [][2]string // as they go into page URLs
}

// byDate reports whether a date bound was sent, which lists newest first.
func (f conversationFilter) byDate() bool { return f.start != noDate || f.end != noDate }

func (f conversationFilter) keep(ch *channel) bool {
	return ch.private &&
		(f.start == noDate || ch.created >= f.start) &&
		(f.end == noDate || ch.created <= f.end) &&
		(f.state == "" || ch.conv.stateName() == f.state)
}

// parseDateBound reads StartDate or EndDate: RFC 3339 as dates are
// everywhere, or a day (YYYY-MM-DD), which stands for its first second
// (StartDate) or its last (EndDate).
func parseDateBound(param, v string, endOfDay bool) (int64, *apiError) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Second)
		}
		return t.Unix(), nil
	}
	t, err := parseDate(v)
	if err != nil {
		return noDate, badRequest(codeInvalidParameter, param+" "+strconv.Quote(v)+" is not an ISO 8601 date; send a day such as 2025-01-31 or a date-time such as 2025-01-31T00:00:00Z")
	}
	return t, nil
}

func parseConversationFilter(c *call) (conversationFilter, *apiError) {
	f := conversationFilter{start: noDate, end: noDate}
	q := c.query()
	var e *apiError
	if v, ok := first(q, "StartDate"); ok {
		if f.start, e = parseDateBound("StartDate", v, false); e != nil {
			return f, e
		}
		f.filters = append(f.filters, [2]string{"StartDate", v})
	}
	if v, ok := first(q, "EndDate"); ok {
		if f.end, e = parseDateBound("EndDate", v, true); e != nil {
			return f, e
		}
		f.filters = append(f.filters, [2]string{"EndDate", v})
	}
	if v, ok := first(q, "State"); ok {
		if f.state, e = parseState("State", v); e != nil {
			return f, e
		}
		f.filters = append(f.filters, [2]string{"State", v})
	}
	return f, nil
}

// createdKey orders conversations by date_created, then creation order,
// in one int64 paging key (seq stays below 2^24 in any emulated service).
func createdKey(ch *channel) int64 { return ch.created<<24 | int64(ch.seq&(1<<24-1)) }

func (s *Server) listConversations(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	f, e := parseConversationFilter(c)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	convs := make([]*channel, 0, len(svc.channels))
	for _, ch := range svc.channels {
		if f.keep(ch) {
			convs = append(convs, ch)
		}
	}
	keyOf := func(i int) int64 { return int64(convs[i].seq) }
	if f.byDate() {
		// A date filter lists the newest conversations first.
		slices.SortFunc(convs, func(a, b *channel) int { return cmp.Compare(createdKey(a), createdKey(b)) })
		keyOf = func(i int) int64 { return createdKey(convs[i]) }
		pq.desc = true
	}
	path := "/v1/Services/" + svc.sid.format("IS") + "/Conversations"
	return list(c, path, "conversations", f.filters, pq, len(convs), keyOf,
		func(b []byte, i int) []byte { return appendConversationJSON(b, c.u, s.account, svc, convs[i]) })
}

// makeChannelPrivate serves Chat v3's channel update, which Twilio
// documents as the way to make a public channel visible to Conversations:
// Type=private turns it private, MessagingServiceSid sets the messaging
// service its conversation shows. It answers with the Chat v2 channel.
func (s *Server) makeChannelPrivate(c *call) answer {
	typ, typSent := c.form.get("Type")
	id, msgSvcSent, perr := c.form.messagingService()
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		if perr != nil {
			return errAnswer(perr)
		}
		if !typSent && !msgSvcSent {
			return errAnswer(noUpdateParameters("channel", "Type=private or MessagingServiceSid"))
		}
		switch {
		case !typSent:
		case typ == "private":
		case typ == "public" && !ch.private:
		case typ == "public":
			return errAnswer(badRequest(codeInvalidParameter, "Channel "+ch.sid.format("CH")+" is private and Chat v3 does not make channels public; leave Type out or send Type=private"))
		default:
			return errAnswer(badRequest(codeInvalidParameter, "Type "+strconv.Quote(typ)+" is not a channel type; send Type=private"))
		}
		if typ == "private" {
			ch.private = true
		}
		if msgSvcSent {
			ch.conv.messagingService, ch.conv.hasMessagingService = id, true
		}
		return answer{status: http.StatusOK, body: appendChannelJSON(nil, c.u, s.account, svc, ch)}
	})
}

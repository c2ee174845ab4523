package emulator

import (
	"net/http"
	"strconv"
)

// channelOf finds the channel a path names (SID or unique name). The caller
// holds svc.mu.
func channelOf(svc *service, ref string) (*channel, *apiError) {
	if ch := svc.channel(ref); ch != nil {
		return ch, nil
	}
	return nil, notFound(codeChannelNotFound, "Channel "+strconv.Quote(ref)+" was not found in service "+svc.sid.format("IS")+"; check the CH SID or unique name")
}

// channelKey names a channel's write allowance.
func channelKey(svc *service, ch *channel) string { return string(svc.sid[:]) + string(ch.sid[:]) }

// allowWrite applies WriteRate to a write in ch. The caller holds svc.mu.
func (s *Server) allowWrite(c *call, svc *service, ch *channel) *apiError {
	if s.limiters.allow(channelKey(svc, ch), c.faults.writeRate, s.now()) {
		return nil
	}
	return newAPIError(http.StatusTooManyRequests, codeChannelRateExceeded,
		"Channel "+ch.sid.format("CH")+" received more than "+strconv.Itoa(c.faults.writeRate)+" writes in a second; the write was not carried out, slow down and retry")
}

// access is what a handler does in a channel: it picks the lock lockChannel
// takes and whether the request spends from the channel's write allowance.
type access int

const (
	reading      access = iota // read lock
	writing                    // write lock, not rate-limited (channel delete)
	limitedWrite               // write lock and one write of the channel's allowance
)

// inChannel finds the service and channel c's path names and runs f on
// them with the service's lock held as a asks; see lockChannel.
func (s *Server) inChannel(c *call, a access, f func(svc *service, ch *channel) answer) answer {
	svc, e := s.serviceFor(c)
	if e != nil {
		return errAnswer(e)
	}
	return s.lockChannel(c, svc, a, func(ch *channel) answer { return f(svc, ch) })
}

// lockChannel takes svc.mu as a asks, finds the channel c's path names in
// svc and runs f on it with the lock held. For a limitedWrite it first
// spends one write of the channel's allowance (WriteRate). A missing
// channel, then a spent allowance, is answered without calling f. List
// handlers use it directly, after checking their query: a bad query is
// answered before a missing channel.
// lock takes svc.mu for reading or writing as a asks and returns the
// matching unlock.
func (svc *service) lock(a access) (unlock func()) {
	if a == reading {
		svc.mu.RLock()
		return svc.mu.RUnlock
	}
	svc.mu.Lock()
	return svc.mu.Unlock
}

func (s *Server) lockChannel(c *call, svc *service, a access, f func(ch *channel) answer) answer {
	defer svc.lock(a)()
	ch, e := channelFor(c, svc)
	if e != nil {
		return errAnswer(e)
	}
	if a == limitedWrite {
		if e := s.allowWrite(c, svc, ch); e != nil {
			return errAnswer(e)
		}
	}
	return f(ch)
}

func (s *Server) listChannels(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	// The API lists public channels only unless Type says otherwise.
	wantPublic, wantPrivate := true, false
	var filters [][2]string
	if types, ok := c.query()["Type"]; ok {
		wantPublic = false
		for _, t := range types {
			switch t {
			case "public":
				wantPublic = true
			case "private":
				wantPrivate = true
			default:
				return errAnswer(badRequest(codeInvalidParameter, "Type "+strconv.Quote(t)+" is not a channel type; send Type=public and/or Type=private"))
			}
			filters = append(filters, [2]string{"Type", t})
		}
	}

	svc.mu.RLock()
	defer svc.mu.RUnlock()
	chans := svc.channels
	if !wantPublic || !wantPrivate {
		chans = make([]*channel, 0, len(svc.channels))
		for _, ch := range svc.channels {
			if (ch.private && wantPrivate) || (!ch.private && wantPublic) {
				chans = append(chans, ch)
			}
		}
	}
	path := "/v2/Services/" + svc.sid.format("IS") + "/Channels"
	return list(c, path, "channels", filters, pq, len(chans),
		func(i int) int64 { return int64(chans[i].seq) },
		func(b []byte, i int) []byte { return appendChannelJSON(b, c.u, s.account, svc, chans[i]) })
}

func (s *Server) fetchChannel(c *call) answer {
	return s.inChannel(c, reading, func(svc *service, ch *channel) answer {
		return answer{status: http.StatusOK, body: c.view().channel(nil, c.u, s.account, svc, ch)}
	})
}

// channelParams are the parsed parameters of a channel create or update.
type channelParams struct {
	friendlyName, uniqueName, attrs, createdBy string
	fnSent, unSent, attrsSent, cbSent          bool
	private                                    bool
	dateParams
}

// any reports whether an update sends something to change.
func (p channelParams) any() bool {
	return p.fnSent || p.unSent || p.attrsSent || p.createdSent || p.updatedSent || p.cbSent
}

// parseChannelParams reads the parameters of a create (names of up to 64
// characters, Type accepted) or of an update (names of up to 256).
func parseChannelParams(f form, create bool) (channelParams, *apiError) {
	var p channelParams
	var e *apiError
	limit := maxNameLenUpdate
	if create {
		limit = maxNameLenCreate
	}
	if p.friendlyName, p.fnSent, e = f.name("FriendlyName", limit, codeFriendlyNameTooLong); e != nil {
		return p, e
	}
	if p.uniqueName, p.unSent, e = f.name("UniqueName", limit, codeUniqueNameTooLong); e != nil {
		return p, e
	}
	if _, looks := parseSID("CH", p.uniqueName); looks {
		return p, badRequest(codeUniqueNameLooksLikeCH, "UniqueName "+strconv.Quote(p.uniqueName)+" looks like a channel SID, which the API refuses; choose another unique name")
	}
	if p.attrs, p.attrsSent, e = f.attributes(); e != nil {
		return p, e
	}
	if create {
		if t, ok := f.get("Type"); ok {
			switch t {
			case "public":
			case "private":
				p.private = true
			default:
				return p, badRequest(codeInvalidParameter, "Type "+strconv.Quote(t)+" is not a channel type; send public or private")
			}
		}
	}
	if p.dateParams, e = f.dates(); e != nil {
		return p, e
	}
	p.createdBy, p.cbSent = f.get("CreatedBy")
	return p, nil
}

func (s *Server) createChannel(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	p, e := parseChannelParams(c.form, true)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	ch, e := s.openChannel(svc, p)
	if e != nil {
		return errAnswer(e)
	}
	return answer{status: http.StatusCreated, body: appendChannelJSON(nil, c.u, s.account, svc, ch)}
}

// openChannel adds a channel made from p to svc, which both views create
// channels with. The caller holds svc.mu for writing.
func (s *Server) openChannel(svc *service, p channelParams) (*channel, *apiError) {
	if p.uniqueName != "" && svc.channelsByUnique[p.uniqueName] != nil {
		return nil, conflict(codeUniqueNameExists, "Channel with unique name "+strconv.Quote(p.uniqueName)+" already exists in service "+svc.sid.format("IS")+"; choose another name or fetch that channel")
	}
	ch := newChannel(freshSID(s, svc.channelsBySID))
	ch.private = p.private
	ch.friendlyName = nonEmpty(p.friendlyName)
	ch.uniqueName = nonEmpty(p.uniqueName)
	ch.attrs = "{}"
	if p.attrsSent {
		ch.attrs = p.attrs
	}
	ch.createdBy = orSystem(p.createdBy)
	ch.created, ch.updated = p.forCreate(s.nowUnix())
	svc.addChannel(ch)
	return ch, nil
}

func (s *Server) updateChannel(c *call) answer {
	p, perr := parseChannelParams(c.form, false)
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		if perr != nil {
			return errAnswer(perr)
		}
		if !p.any() {
			return errAnswer(noUpdateParameters("channel", "FriendlyName, UniqueName, Attributes, DateCreated, DateUpdated or CreatedBy"))
		}
		if e := s.changeChannel(svc, ch, p); e != nil {
			return errAnswer(e)
		}
		return answer{status: http.StatusOK, body: appendChannelJSON(nil, c.u, s.account, svc, ch)}
	})
}

// changeChannel applies the sent parameters of p to ch, which both views
// update channels with. The caller holds svc.mu for writing.
func (s *Server) changeChannel(svc *service, ch *channel, p channelParams) *apiError {
	if p.unSent && p.uniqueName != "" {
		if other := svc.channelsByUnique[p.uniqueName]; other != nil && other != ch {
			return conflict(codeUniqueNameExists, "Channel with unique name "+strconv.Quote(p.uniqueName)+" already exists in service "+svc.sid.format("IS")+"; choose another name")
		}
	}
	if p.fnSent {
		ch.friendlyName = nonEmpty(p.friendlyName)
	}
	if p.unSent {
		if ch.uniqueName.valid {
			delete(svc.channelsByUnique, ch.uniqueName.s)
		}
		ch.uniqueName = nonEmpty(p.uniqueName)
		if p.uniqueName != "" {
			svc.channelsByUnique[p.uniqueName] = ch
		}
	}
	if p.attrsSent {
		ch.attrs = p.attrs
	}
	if p.cbSent {
		ch.createdBy = orSystem(p.createdBy)
	}
	ch.created, ch.updated = p.forUpdate(ch.created, s.nowUnix())
	return nil
}

func noUpdateParameters(what, params string) *apiError {
	return badRequest(codeNoUpdateParameters, "Update of "+what+" has no parameters to change; send at least one of "+params)
}

func (s *Server) deleteChannel(c *call) answer {
	return s.inChannel(c, writing, func(svc *service, ch *channel) answer {
		svc.removeChannel(ch)
		s.limiters.forget(channelKey(svc, ch))
		return answer{status: http.StatusNoContent}
	})
}

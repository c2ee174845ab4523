package emulator

import (
	"net/http"
	"strconv"
)

func memberNotFound(ref string, ch *channel) *apiError {
	return notFound(codeMemberNotFound, "Member "+strconv.Quote(ref)+" was not found in channel "+ch.sid.format("CH")+"; check the MB SID or identity")
}

func (s *Server) listMembers(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	q := c.r.URL.Query()
	pq, e := parsePageQuery(q)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	ch, e := channelOf(svc, c.rt.ch)
	if e != nil {
		return errAnswer(e)
	}
	members := ch.members
	var filters [][2]string
	if ids, ok := q["Identity"]; ok {
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
			filters = append(filters, [2]string{"Identity", id})
		}
		members = nil
		for _, m := range ch.members {
			if want[m.identity] {
				members = append(members, m)
			}
		}
	}
	return list(c, channelPath(svc, ch)+"/Members", "members", filters, pq, len(members),
		func(i int) int64 { return int64(members[i].seq) },
		func(b []byte, i int) []byte { return appendMemberJSON(b, c.u, s.account, svc, ch, members[i]) })
}

func (s *Server) fetchMember(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	ch, e := channelOf(svc, c.rt.ch)
	if e != nil {
		return errAnswer(e)
	}
	m := ch.member(c.rt.leaf)
	if m == nil {
		return errAnswer(memberNotFound(c.rt.leaf, ch))
	}
	return answer{status: http.StatusOK, body: appendMemberJSON(nil, c.u, s.account, svc, ch, m)}
}

// memberParams are the parsed parameters of a member create or update.
type memberParams struct {
	role                              sid
	roleSent                          bool
	attrs                             string
	attrsSent                         bool
	lastConsumed                      int64
	lastConsumedNull, lastConsumedSet bool
	consumption                       int64
	consumptionSent                   bool
	created, updated                  int64
	createdSent, updatedSent          bool
}

func (p memberParams) any() bool {
	return p.roleSent || p.attrsSent || p.lastConsumedSet || p.consumptionSent || p.createdSent || p.updatedSent
}

func parseMemberParams(f form) (memberParams, *apiError) {
	var p memberParams
	var e *apiError
	if p.role, p.roleSent, e = f.roleSID(codeChannelRoleNotFound); e != nil {
		return p, e
	}
	if p.attrs, p.attrsSent, e = f.attributes(); e != nil {
		return p, e
	}
	if v, ok := f.get("LastConsumedMessageIndex"); ok {
		p.lastConsumedSet = true
		if v == "" || v == "null" {
			p.lastConsumedNull = true
		} else {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return p, badRequest(codeConsumedIndexInvalid, "LastConsumedMessageIndex "+strconv.Quote(v)+" is not a message index (a whole number of 0 or more); send an index or an empty value for none")
			}
			p.lastConsumed = n
		}
	}
	if v, ok := f.get("LastConsumptionTimestamp"); ok {
		p.consumptionSent = true
		p.consumption = noDate
		if v != "" {
			t, err := parseDate(v)
			if err != nil {
				return p, badRequest(codeConsumptionTSInvalid, "LastConsumptionTimestamp "+strconv.Quote(v)+" is not an ISO 8601 date-time; send it as RFC 3339, for example 2025-01-01T00:00:00Z")
			}
			p.consumption = t
		}
	}
	if p.created, p.createdSent, e = f.date("DateCreated", codeDateCreatedInvalid); e != nil {
		return p, e
	}
	if p.updated, p.updatedSent, e = f.date("DateUpdated", codeDateUpdatedInvalid); e != nil {
		return p, e
	}
	return p, nil
}

// checkChannelRole checks that id is a channel role of svc.
func checkChannelRole(svc *service, id sid) *apiError {
	if r := svc.role(id); r == nil || r.typ != "channel" {
		return badRequest(codeChannelRoleNotFound, "RoleSid "+id.format("RL")+" is not a channel role of service "+svc.sid.format("IS")+"; list its roles and pick one of type channel")
	}
	return nil
}

// apply sets the sent parameters on m.
func (p memberParams) apply(m *member) {
	if p.roleSent {
		m.role = p.role
	}
	if p.attrsSent {
		m.attrs = p.attrs
	}
	if p.lastConsumedSet {
		m.hasLastConsumed = !p.lastConsumedNull
		m.lastConsumed = p.lastConsumed
	}
	if p.consumptionSent {
		m.lastConsumption = p.consumption
	}
	if p.createdSent {
		m.created = p.created
	}
}

func (s *Server) createMember(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	identity, perr := c.form.identity()
	p, perr2 := parseMemberParams(c.form)
	if perr == nil {
		perr = perr2
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	ch, e := channelOf(svc, c.rt.ch)
	if e != nil {
		return errAnswer(e)
	}
	if e := s.allowWrite(c, svc, ch); e != nil {
		return errAnswer(e)
	}
	if perr != nil {
		return errAnswer(perr)
	}
	if p.roleSent {
		if e := checkChannelRole(svc, p.role); e != nil {
			return errAnswer(e)
		}
	}
	if ch.membersByIdentity[identity] != nil {
		return errAnswer(conflict(codeMemberExists, "Member with identity "+strconv.Quote(identity)+" already exists in channel "+ch.sid.format("CH")+"; fetch or update that member instead"))
	}
	now := s.nowUnix()
	u := svc.usersByIdentity[identity]
	if u == nil {
		// Adding a member creates its user, as the API does.
		u = &user{sid: s.uniqueUserSID(svc), identity: identity, attrs: "{}", role: svc.defaultServiceRole, created: now, updated: now}
		svc.addUser(u)
	}
	u.joined++
	m := &member{
		sid: s.uniqueMemberSID(ch), identity: identity, role: svc.defaultChannelRole,
		attrs: "{}", created: now, lastConsumption: noDate,
	}
	p.apply(m)
	m.updated = m.created
	if p.updatedSent {
		m.updated = p.updated
	}
	ch.addMember(m)
	return answer{status: http.StatusCreated, body: appendMemberJSON(nil, c.u, s.account, svc, ch, m)}
}

func (s *Server) updateMember(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	p, perr := parseMemberParams(c.form)
	svc.mu.Lock()
	defer svc.mu.Unlock()
	ch, e := channelOf(svc, c.rt.ch)
	if e != nil {
		return errAnswer(e)
	}
	if e := s.allowWrite(c, svc, ch); e != nil {
		return errAnswer(e)
	}
	m := ch.member(c.rt.leaf)
	if m == nil {
		return errAnswer(memberNotFound(c.rt.leaf, ch))
	}
	if perr != nil {
		return errAnswer(perr)
	}
	if !p.any() {
		return errAnswer(noUpdateParameters("member", "RoleSid, Attributes, LastConsumedMessageIndex, LastConsumptionTimestamp, DateCreated or DateUpdated"))
	}
	if p.roleSent {
		if e := checkChannelRole(svc, p.role); e != nil {
			return errAnswer(e)
		}
	}
	p.apply(m)
	m.updated = s.nowUnix()
	if p.updatedSent {
		m.updated = p.updated
	}
	return answer{status: http.StatusOK, body: appendMemberJSON(nil, c.u, s.account, svc, ch, m)}
}

func (s *Server) deleteMember(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	ch, e := channelOf(svc, c.rt.ch)
	if e != nil {
		return errAnswer(e)
	}
	if e := s.allowWrite(c, svc, ch); e != nil {
		return errAnswer(e)
	}
	m := ch.member(c.rt.leaf)
	if m == nil {
		return errAnswer(memberNotFound(c.rt.leaf, ch))
	}
	ch.removeMember(m)
	if u := svc.usersByIdentity[m.identity]; u != nil && u.joined > 0 {
		u.joined--
	}
	return answer{status: http.StatusNoContent}
}

package emulator

import (
	"net/http"
	"strconv"
)

// memberOf finds the member a path names (SID or identity). The caller
// holds the service's lock.
func memberOf(ch *channel, ref string) (*member, *apiError) {
	if m := ch.member(ref); m != nil {
		return m, nil
	}
	return nil, notFound(codeMemberNotFound, "Member "+strconv.Quote(ref)+" was not found in channel "+ch.sid.format("CH")+"; check the MB SID or identity")
}

func (s *Server) listMembers(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	var filters [][2]string
	var want map[string]bool // nil: no Identity filter
	if ids, ok := c.query()["Identity"]; ok {
		want = make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
			filters = append(filters, [2]string{"Identity", id})
		}
	}
	return s.lockChannel(c, svc, reading, func(ch *channel) answer {
		members := ch.members
		if want != nil {
			members = nil
			for _, m := range ch.members {
				if want[m.identity] {
					members = append(members, m)
				}
			}
		}
		v := c.view()
		return list(c, v.channelPath(svc, ch)+"/"+v.members, v.membersKey, filters, pq, len(members),
			func(i int) int64 { return int64(members[i].seq) },
			func(b []byte, i int) []byte { return v.member(b, c.u, s.account, svc, ch, members[i]) })
	})
}

func (s *Server) fetchMember(c *call) answer {
	return s.inChannel(c, reading, func(svc *service, ch *channel) answer {
		m, e := memberFor(c, ch)
		if e != nil {
			return errAnswer(e)
		}
		return answer{status: http.StatusOK, body: c.view().member(nil, c.u, s.account, svc, ch, m)}
	})
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
	dateParams
}

func (p memberParams) any() bool {
	return p.roleSent || p.attrsSent || p.lastConsumedSet || p.consumptionSent || p.createdSent || p.updatedSent
}

// readHorizon names the parameters that set a member's read position in
// one view; the zero value reads none (a Conversations participant create).
type readHorizon struct{ index, timestamp string }

var (
	chatReadHorizon = readHorizon{"LastConsumedMessageIndex", "LastConsumptionTimestamp"}
	convReadHorizon = readHorizon{"LastReadMessageIndex", "LastReadTimestamp"}
)

func parseMemberParams(f form, read readHorizon) (memberParams, *apiError) {
	var p memberParams
	var e *apiError
	if p.role, p.roleSent, e = f.roleSID(codeChannelRoleNotFound); e != nil {
		return p, e
	}
	if p.attrs, p.attrsSent, e = f.attributes(); e != nil {
		return p, e
	}
	if read.index == "" {
		p.dateParams, e = f.dates()
		return p, e
	}
	if v, ok := f.get(read.index); ok {
		p.lastConsumedSet = true
		if v == "" || v == "null" {
			p.lastConsumedNull = true
		} else {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return p, badRequest(codeConsumedIndexInvalid, read.index+" "+strconv.Quote(v)+" is not a message index (a whole number of 0 or more); send an index or an empty value for none")
			}
			p.lastConsumed = n
		}
	}
	if v, ok := f.get(read.timestamp); ok {
		p.consumptionSent = true
		p.consumption = noDate
		if v != "" {
			t, err := parseDate(v)
			if err != nil {
				return p, badRequest(codeConsumptionTSInvalid, read.timestamp+" "+strconv.Quote(v)+" is not an ISO 8601 date-time; send it as RFC 3339, for example 2025-01-01T00:00:00Z")
			}
			p.consumption = t
		}
	}
	p.dateParams, e = f.dates()
	return p, e
}

// checkChannelRole checks that id is a channel role of svc.
func checkChannelRole(svc *service, id sid) *apiError {
	if r := svc.role(id); r == nil || r.typ != "channel" {
		return badRequest(codeChannelRoleNotFound, "RoleSid "+id.format("RL")+" is not a channel role of service "+svc.sid.format("IS")+"; list its roles and pick one of type channel")
	}
	return nil
}

// apply sets the sent parameters other than the dates on m.
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
}

func (s *Server) createMember(c *call) answer {
	identity, perr := c.form.identity()
	p, perr2 := parseMemberParams(c.form, c.view().readOnCreate)
	if perr == nil {
		perr = perr2
	}
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
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
			u = s.newUser(svc, identity, svc.defaultServiceRole, now)
		}
		u.joined++
		m := &member{
			sid: freshSID(s, ch.membersBySID), identity: identity, role: svc.defaultChannelRole,
			attrs: "{}", lastConsumption: noDate,
		}
		p.apply(m)
		m.created, m.updated = p.forCreate(now)
		ch.addMember(m)
		return answer{status: http.StatusCreated, body: c.view().member(nil, c.u, s.account, svc, ch, m)}
	})
}

func (s *Server) updateMember(c *call) answer {
	p, perr := parseMemberParams(c.form, c.view().readOnUpdate)
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		m, e := memberFor(c, ch)
		if e != nil {
			return errAnswer(e)
		}
		if perr != nil {
			return errAnswer(perr)
		}
		if !p.any() {
			r := c.view().readOnUpdate
			return errAnswer(noUpdateParameters("member", "RoleSid, Attributes, "+r.index+", "+r.timestamp+", DateCreated or DateUpdated"))
		}
		if p.roleSent {
			if e := checkChannelRole(svc, p.role); e != nil {
				return errAnswer(e)
			}
		}
		p.apply(m)
		m.created, m.updated = p.forUpdate(m.created, s.nowUnix())
		return answer{status: http.StatusOK, body: c.view().member(nil, c.u, s.account, svc, ch, m)}
	})
}

func (s *Server) deleteMember(c *call) answer {
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		m, e := memberFor(c, ch)
		if e != nil {
			return errAnswer(e)
		}
		ch.removeMember(m)
		if u := svc.usersByIdentity[m.identity]; u != nil && u.joined > 0 {
			u.joined--
		}
		return answer{status: http.StatusNoContent}
	})
}

package emulator

import (
	"net/http"
	"strconv"
)

func messageNotFound(ref string, ch *channel) *apiError {
	return notFound(codeMessageNotFound, "Message "+strconv.Quote(ref)+" was not found in channel "+ch.sid.format("CH")+"; check the IM SID")
}

// messageAt finds the position of the message a path names (IM SIDs only).
func messageAt(ch *channel, ref string) (int, *apiError) {
	if id, ok := parseSID("IM", ref); ok {
		if pos, found := ch.messagePos(id); found {
			return pos, nil
		}
	}
	return 0, messageNotFound(ref, ch)
}

func (s *Server) listMessages(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	var filters [][2]string
	if o, ok := first(c.query(), "Order"); ok {
		switch o {
		case "asc":
		case "desc":
			pq.desc = true
		default:
			return errAnswer(badRequest(codeInvalidParameter, "Order "+strconv.Quote(o)+" is not a message order; send asc or desc"))
		}
		filters = append(filters, [2]string{"Order", o})
	}
	return s.lockChannel(c, svc, reading, func(ch *channel) answer {
		msgs := ch.msgs
		return list(c, channelPath(svc, ch)+"/Messages", "messages", filters, pq, len(msgs),
			func(i int) int64 { return msgs[i].index },
			func(b []byte, i int) []byte { return appendMessageJSON(b, c.u, s.account, svc, ch, &msgs[i]) })
	})
}

func (s *Server) fetchMessage(c *call) answer {
	return s.inChannel(c, reading, func(svc *service, ch *channel) answer {
		pos, e := messageAt(ch, c.rt.leaf)
		if e != nil {
			return errAnswer(e)
		}
		return answer{status: http.StatusOK, body: appendMessageJSON(nil, c.u, s.account, svc, ch, &ch.msgs[pos])}
	})
}

// messageParams are the parsed parameters of a message create or update.
type messageParams struct {
	from, body, attrs, lastUpdatedBy       string
	fromSent, bodySent, attrsSent, lubSent bool
	mediaSID                               sid // valid when mediaSent
	mediaSent                              bool
	dateParams
}

func (p messageParams) any() bool {
	return p.fromSent || p.bodySent || p.attrsSent || p.lubSent || p.createdSent || p.updatedSent
}

func parseMessageParams(f form, create bool) (messageParams, *apiError) {
	var p messageParams
	var e *apiError
	p.from, p.fromSent = f.get("From")
	p.body, p.bodySent = f.get("Body")
	p.lastUpdatedBy, p.lubSent = f.get("LastUpdatedBy")
	if p.attrs, p.attrsSent, e = f.attributes(); e != nil {
		return p, e
	}
	if p.dateParams, e = f.dates(); e != nil {
		return p, e
	}
	if v, ok := f.get("MediaSid"); ok && create {
		id, valid := parseSID("ME", v)
		if !valid {
			return p, badRequest(codeMediaSIDInvalid, "MediaSid "+strconv.Quote(v)+" is not a media SID (ME followed by 32 hex digits); upload the media first and send its SID")
		}
		p.mediaSID, p.mediaSent = id, true
	}
	return p, nil
}

func (s *Server) createMessage(c *call) answer {
	p, perr := parseMessageParams(c.form, true)
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		if perr != nil {
			return errAnswer(perr)
		}
		var md *media
		if p.mediaSent {
			if md = svc.media[p.mediaSID]; md == nil {
				return errAnswer(badRequest(codeMediaSIDInvalid, "MediaSid "+p.mediaSID.format("ME")+" was not uploaded to service "+svc.sid.format("IS")+
					"; a file belongs to the service it was uploaded to, so upload it to this service's Media first and send the SID that returns"))
			}
		}
		m := message{sid: freshSID(s, ch.msgBySID), from: orSystem(p.from), body: p.body, attrs: "{}", media: md}
		if p.attrsSent {
			m.attrs = p.attrs
		}
		if p.lubSent && p.lastUpdatedBy != "" {
			m.lastUpdatedBy = p.lastUpdatedBy
			m.flags |= msgHasLastUpdatedBy
		}
		m.created, m.updated = p.forCreate(s.nowUnix())
		if m.updated > m.created {
			m.flags |= msgEdited
		}
		pos := ch.appendMessage(m)
		if md != nil {
			md.link(ch.sid, m.sid, s.nowUnix())
		}
		return answer{status: http.StatusCreated, body: appendMessageJSON(nil, c.u, s.account, svc, ch, &ch.msgs[pos])}
	})
}

func (s *Server) updateMessage(c *call) answer {
	p, perr := parseMessageParams(c.form, false)
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		pos, e := messageAt(ch, c.rt.leaf)
		if e != nil {
			return errAnswer(e)
		}
		if perr != nil {
			return errAnswer(perr)
		}
		if !p.any() {
			return errAnswer(noUpdateParameters("message", "Body, Attributes, From, LastUpdatedBy, DateCreated or DateUpdated"))
		}
		m := &ch.msgs[pos]
		if p.fromSent {
			m.from = orSystem(p.from)
		}
		if p.bodySent {
			m.body = p.body
		}
		if p.attrsSent {
			m.attrs = p.attrs
		}
		if p.lubSent {
			m.lastUpdatedBy = p.lastUpdatedBy
			m.flags &^= msgHasLastUpdatedBy
			if p.lastUpdatedBy != "" {
				m.flags |= msgHasLastUpdatedBy
			}
		}
		m.created, m.updated = p.forUpdate(m.created, s.nowUnix())
		if p.bodySent || p.attrsSent {
			// A change of content is an edit when it lands after creation.
			m.flags &^= msgEdited
			if m.updated > m.created {
				m.flags |= msgEdited
			}
		}
		return answer{status: http.StatusOK, body: appendMessageJSON(nil, c.u, s.account, svc, ch, m)}
	})
}

func (s *Server) deleteMessage(c *call) answer {
	return s.inChannel(c, limitedWrite, func(svc *service, ch *channel) answer {
		pos, e := messageAt(ch, c.rt.leaf)
		if e != nil {
			return errAnswer(e)
		}
		ch.removeMessage(pos)
		return answer{status: http.StatusNoContent}
	})
}

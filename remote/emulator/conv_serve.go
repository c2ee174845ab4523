package emulator

import (
	"net/http"
)

// The Conversations v1 view and Chat v3's channel update share the state
// and the request pipeline of serve.go; this file routes their paths and
// finds what they name.

// maxConvSmallPageSize is the largest page of Conversations' Users and
// Roles lists (the other lists allow maxPageSize).
const maxConvSmallPageSize = 50

// chatV2 reports whether rt is a path of Chat v2, which Config.ChatAPI can
// turn off.
func (rt route) chatV2() bool { return rt.kind >= routeServices && rt.kind <= routeMessage }

// conv reports whether rt is a path of Conversations v1.
func (rt route) conv() bool { return rt.kind >= routeConvService && rt.kind <= routeConvMessage }

// maxPageSize is the largest PageSize rt's list allows.
func (rt route) maxPageSize() int {
	if rt.kind == routeConvUsers || rt.kind == routeConvRoles {
		return maxConvSmallPageSize
	}
	return maxPageSize
}

// matchConvRoute maps the segments of a path below /v1/ onto a route.
func matchConvRoute(segs []string) route {
	if segs[0] != "Services" || len(segs) < 2 {
		return route{}
	}
	svc := segs[1]
	switch len(segs) {
	case 2:
		return route{kind: routeConvService, svc: svc}
	case 3:
		switch segs[2] {
		case "Roles":
			return route{kind: routeConvRoles, svc: svc}
		case "Users":
			return route{kind: routeConvUsers, svc: svc}
		case "Conversations":
			return route{kind: routeConversations, svc: svc}
		}
	case 4:
		switch segs[2] {
		case "Users":
			return route{kind: routeConvUser, svc: svc, leaf: segs[3]}
		case "Conversations":
			return route{kind: routeConversation, svc: svc, ch: segs[3]}
		}
	case 5, 6:
		if segs[2] != "Conversations" {
			return route{}
		}
		var list, one routeKind
		switch segs[4] {
		case "Participants":
			list, one = routeParticipants, routeParticipant
		case "Messages":
			list, one = routeConvMessages, routeConvMessage
		default:
			return route{}
		}
		if len(segs) == 5 {
			return route{kind: list, svc: svc, ch: segs[3]}
		}
		return route{kind: one, svc: svc, ch: segs[3], leaf: segs[5]}
	}
	return route{}
}

// matchV3Route maps the segments of a path below /v3/ onto a route: Chat
// v3 serves only the channel update that makes a channel private.
func matchV3Route(segs []string) route {
	if len(segs) == 4 && segs[0] == "Services" && segs[2] == "Channels" {
		return route{kind: routeV3Channel, svc: segs[1], ch: segs[3]}
	}
	return route{}
}

// chatTwins maps each Conversations route onto the Chat route whose
// handlers serve it, rendering through c.view(); convOnly serves what
// Chat's handlers cannot.
var chatTwins = map[routeKind]routeKind{
	routeConvService:   routeService,
	routeConvRoles:     routeRoles,
	routeConvUsers:     routeUsers,
	routeConvUser:      routeUser,
	routeConversations: routeChannels,
	routeConversation:  routeChannel,
	routeParticipants:  routeMembers,
	routeParticipant:   routeMember,
	routeConvMessages:  routeMessages,
	routeConvMessage:   routeMessage,
}

// twin is the route whose handlers in dispatch serve rt.
func (rt route) twin() routeKind {
	if k, ok := chatTwins[rt.kind]; ok {
		return k
	}
	return rt.kind
}

// convOnly serves the requests of Conversations v1 and Chat v3 that have
// no Chat v2 handler, and reports whether c was one.
func (s *Server) convOnly(c *call) (answer, bool) {
	post := c.r.Method == http.MethodPost
	switch {
	case c.rt.kind == routeConversations && post:
		return s.createConversation(c), true
	case c.rt.kind == routeConversations:
		return s.listConversations(c), true
	case c.rt.kind == routeConversation && post:
		return s.updateConversation(c), true
	case c.rt.kind == routeV3Channel:
		return s.makeChannelPrivate(c), true
	}
	return answer{}, false
}

// view is how one API shows the shared state: its paths, its renderers
// and the names of its parameters. Handlers that differ between Chat and
// Conversations only in these take them from c.view().
type view struct {
	prefix              string // "/v2" or "/v1"
	channels, members   string // path segments: "Channels", "Members" or "Conversations", "Participants"
	membersKey          string // meta.key of the members list
	service             func(b []byte, u urls, acct sid, svc *service) []byte
	role                func(b []byte, u urls, acct sid, svc *service, r *role) []byte
	user                func(b []byte, u urls, acct sid, svc *service, usr *user) []byte
	channel             func(b []byte, u urls, acct sid, svc *service, ch *channel) []byte
	member              func(b []byte, u urls, acct sid, svc *service, ch *channel, m *member) []byte
	message             func(b []byte, u urls, acct sid, svc *service, ch *channel, m *message) []byte
	messageNames        messageNames
	messageUpdateParams string      // named in the 20161 answer
	readOnCreate        readHorizon // read-position parameters a member create takes
	readOnUpdate        readHorizon // and a member update
}

var (
	chatView = view{
		prefix: "/v2", channels: "Channels", members: "Members", membersKey: "members",
		service: appendServiceJSON, role: appendRoleJSON, user: appendUserJSON,
		channel: appendChannelJSON, member: appendMemberJSON, message: appendMessageJSON,
		messageNames:        chatMessageNames,
		messageUpdateParams: "Body, Attributes, From, LastUpdatedBy, DateCreated or DateUpdated",
		readOnCreate:        chatReadHorizon, readOnUpdate: chatReadHorizon,
	}
	convView = view{
		prefix: "/v1", channels: "Conversations", members: "Participants", membersKey: "participants",
		service: appendConvServiceJSON, role: appendConvRoleJSON, user: appendConvUserJSON,
		channel: appendConversationJSON, member: appendParticipantJSON, message: appendConvMessageJSON,
		messageNames:        convMessageNames,
		messageUpdateParams: "Author, Body, Attributes, DateCreated or DateUpdated",
		// Conversations has no read-position parameters on participant
		// create: they are set by update only.
		readOnUpdate: convReadHorizon,
	}
)

// view is the API c's path belongs to.
func (c *call) view() *view {
	if c.rt.conv() {
		return &convView
	}
	return &chatView
}

// channelPath is the path of ch in this view.
func (v *view) channelPath(svc *service, ch *channel) string {
	return v.prefix + "/Services/" + svc.sid.format("IS") + "/" + v.channels + "/" + ch.sid.format("CH")
}

// inView gives a Chat error the code of c's view: Conversations answers
// "not found" with 20404 (keeping the message); other errors pass unchanged.
func (c *call) inView(e *apiError) *apiError {
	if e == nil || e.status != http.StatusNotFound || !c.rt.conv() {
		return e
	}
	return notFound(codeNotFound, e.message)
}

// serviceFor finds the service c's path names, with the error code of c's
// view.
func (s *Server) serviceFor(c *call) (*service, *apiError) {
	svc, e := s.serviceOf(c.rt.svc)
	return svc, c.inView(e)
}

// channelFor finds the channel c's path names in svc. Conversations sees
// private channels only: a public one is not found there. The caller holds
// svc.mu.
func channelFor(c *call, svc *service) (*channel, *apiError) {
	ch, e := channelOf(svc, c.rt.ch)
	if e == nil && !ch.private && c.rt.conv() {
		e = notFound(codeNotFound, "Conversation "+c.rt.ch+" was not found in service "+svc.sid.format("IS")+": it is a public Chat channel, which Conversations does not show; make it private with POST /v3/Services/{ServiceSid}/Channels/{ChannelSid} and Type=private")
	}
	return ch, c.inView(e)
}

// memberFor finds the member or participant c's path names in ch (SID or
// identity), with the error code of c's view.
func memberFor(c *call, ch *channel) (*member, *apiError) {
	m, e := memberOf(ch, c.rt.leaf)
	return m, c.inView(e)
}

// messageFor finds the position of the message c's path names in ch (IM
// SIDs only), with the error code of c's view.
func messageFor(c *call, ch *channel) (int, *apiError) {
	pos, e := messageAt(ch, c.rt.leaf)
	return pos, c.inView(e)
}

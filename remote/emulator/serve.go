package emulator

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statsPath serves the counters; it needs no credentials and is never
// subject to faults or counted.
const statsPath = "/emulator/stats"

// routeKind is one of the API paths the emulator serves.
type routeKind int

const (
	routeUnknown routeKind = iota
	routeServices
	routeService
	routeRoles
	routeUsers
	routeUser
	routeChannels
	routeChannel
	routeMembers
	routeMember
	routeMessages
	routeMessage
	// Conversations v1 and Chat v3 (conv_serve.go).
	routeConvService
	routeConvRoles
	routeConvUsers
	routeConvUser
	routeConversations
	routeConversation
	routeParticipants
	routeParticipant
	routeConvMessages
	routeConvMessage
	routeV3Channel
	routeMediaUpload  // POST /mcs/v1/Services/{sid}/Media
	routeMedia        // GET …/Media/{sid}
	routeMediaContent // GET …/Media/{sid}/Content
	routeMediaTemp    // GET /mcs/temp/{token}, the temporary URL, without credentials
)

// routeInfo is the path template (as counted in Stats) and the methods of
// each route.
var routeInfo = [...]struct {
	template string
	methods  string // as sent in Allow
}{
	routeUnknown:  {"(unknown path)", ""},
	routeServices: {"/v2/Services", "GET, POST"},
	routeService:  {"/v2/Services/{sid}", "GET"},
	routeRoles:    {"/v2/Services/{sid}/Roles", "GET"},
	routeUsers:    {"/v2/Services/{sid}/Users", "GET, POST"},
	routeUser:     {"/v2/Services/{sid}/Users/{sid}", "GET, POST, DELETE"},
	routeChannels: {"/v2/Services/{sid}/Channels", "GET, POST"},
	routeChannel:  {"/v2/Services/{sid}/Channels/{sid}", "GET, POST, DELETE"},
	routeMembers:  {"/v2/Services/{sid}/Channels/{sid}/Members", "GET, POST"},
	routeMember:   {"/v2/Services/{sid}/Channels/{sid}/Members/{sid}", "GET, POST, DELETE"},
	routeMessages: {"/v2/Services/{sid}/Channels/{sid}/Messages", "GET, POST"},
	routeMessage:  {"/v2/Services/{sid}/Channels/{sid}/Messages/{sid}", "GET, POST, DELETE"},

	routeConvService:   {"/v1/Services/{sid}", "GET"},
	routeConvRoles:     {"/v1/Services/{sid}/Roles", "GET"},
	routeConvUsers:     {"/v1/Services/{sid}/Users", "GET, POST"},
	routeConvUser:      {"/v1/Services/{sid}/Users/{sid}", "GET, POST, DELETE"},
	routeConversations: {"/v1/Services/{sid}/Conversations", "GET, POST"},
	routeConversation:  {"/v1/Services/{sid}/Conversations/{sid}", "GET, POST, DELETE"},
	routeParticipants:  {"/v1/Services/{sid}/Conversations/{sid}/Participants", "GET, POST"},
	routeParticipant:   {"/v1/Services/{sid}/Conversations/{sid}/Participants/{sid}", "GET, POST, DELETE"},
	routeConvMessages:  {"/v1/Services/{sid}/Conversations/{sid}/Messages", "GET, POST"},
	routeConvMessage:   {"/v1/Services/{sid}/Conversations/{sid}/Messages/{sid}", "GET, POST, DELETE"},
	routeV3Channel:     {"/v3/Services/{sid}/Channels/{sid}", "POST"},
	routeMediaUpload:   {"/mcs/v1/Services/{sid}/Media", "POST"},
	routeMedia:         {"/mcs/v1/Services/{sid}/Media/{sid}", "GET"},
	routeMediaContent:  {"/mcs/v1/Services/{sid}/Media/{sid}/Content", "GET"},
	routeMediaTemp:     {"/mcs/temp/{token}", "GET"},
}

// route is a matched request path. svc, ch and leaf are the unescaped path
// references ({ServiceSid}, {ChannelSid}, and the last {Sid}).
type route struct {
	kind          routeKind
	svc, ch, leaf string
}

func (rt route) allows(method string) bool {
	for m := range strings.SplitSeq(routeInfo[rt.kind].methods, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

// statsKey is "METHOD /template"; methods outside HTTP's usual set are
// counted together so a client cannot grow the map without bound.
func (rt route) statsKey(method string) string {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut,
		http.MethodPatch, http.MethodHead, http.MethodOptions:
	default:
		method = "OTHER"
	}
	return method + " " + routeInfo[rt.kind].template
}

// matchRoute maps a request path onto a route. Path segments are
// unescaped one by one, so a unique name or identity may contain an
// escaped "/".
func matchRoute(u *url.URL) route {
	p := u.EscapedPath()
	if strings.HasPrefix(p, mediaPrefix+"/") {
		return matchMediaRoute(p)
	}
	if segs, ok := pathSegments(p, "/v1/"); ok {
		return matchConvRoute(segs)
	}
	if segs, ok := pathSegments(p, "/v3/"); ok {
		return matchV3Route(segs)
	}
	segs, ok := pathSegments(p, "/v2/")
	if !ok {
		return route{}
	}
	if segs[0] != "Services" {
		return route{}
	}
	switch len(segs) {
	case 1:
		return route{kind: routeServices}
	case 2:
		return route{kind: routeService, svc: segs[1]}
	case 3:
		switch segs[2] {
		case "Roles":
			return route{kind: routeRoles, svc: segs[1]}
		case "Users":
			return route{kind: routeUsers, svc: segs[1]}
		case "Channels":
			return route{kind: routeChannels, svc: segs[1]}
		}
	case 4:
		switch segs[2] {
		case "Users":
			return route{kind: routeUser, svc: segs[1], leaf: segs[3]}
		case "Channels":
			return route{kind: routeChannel, svc: segs[1], ch: segs[3]}
		}
	case 5:
		if segs[2] == "Channels" {
			switch segs[4] {
			case "Members":
				return route{kind: routeMembers, svc: segs[1], ch: segs[3]}
			case "Messages":
				return route{kind: routeMessages, svc: segs[1], ch: segs[3]}
			}
		}
	case 6:
		if segs[2] == "Channels" {
			switch segs[4] {
			case "Members":
				return route{kind: routeMember, svc: segs[1], ch: segs[3], leaf: segs[5]}
			case "Messages":
				return route{kind: routeMessage, svc: segs[1], ch: segs[3], leaf: segs[5]}
			}
		}
	}
	return route{}
}

// pathSegments returns the unescaped segments of escaped path p below
// prefix, and false if p is not below prefix or has an empty or badly
// escaped segment.
func pathSegments(p, prefix string) ([]string, bool) {
	if !strings.HasPrefix(p, prefix) {
		return nil, false
	}
	raw := strings.Split(p[len(prefix):], "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		v, err := url.PathUnescape(r)
		if err != nil || v == "" {
			return nil, false
		}
		segs[i] = v
	}
	return segs, true
}

// answer is a handler's response, held back until the fault switches have
// had their say.
type answer struct {
	status int
	body   []byte
	// send, when set, writes the answer instead of body (a redirect, a
	// file's bytes).
	send func(w http.ResponseWriter)
	// pooled: body came from pageBuffers and goes back once written.
	pooled bool
}

// pageBuffers holds the buffers list pages are rendered into: a backup
// without latency asks for thousands of pages a second, and a buffer
// each was a third of the emulator's allocations. Buffers over
// pageBufferKeep go to the collector.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

const pageBufferKeep = 1 << 20

func errAnswer(e *apiError) answer { return answer{status: e.status, body: errorBody(e)} }

// call is one API request being served.
type call struct {
	r      *http.Request
	rt     route
	form   form
	u      urls
	faults faultSettings
	q      url.Values // see query
}

// query is the request's query string, parsed on first use.
func (c *call) query() url.Values {
	if c.q == nil {
		c.q = c.r.URL.Query()
	}
	return c.q
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == statsPath {
		s.serveStats(w, r)
		return
	}
	rt := matchRoute(r.URL)
	s.stats.request(rt.statsKey(r.Method))
	fs := s.faults.get()

	n := s.inFlight.Add(1)
	if fs.maxConcurrency > 0 && n > int64(fs.maxConcurrency) {
		// Refused at the door: answered at once, without the latency, and
		// not holding a place while it is answered.
		s.inFlight.Add(-1)
		s.reply(w, errAnswer(newAPIError(http.StatusTooManyRequests, codeTooManyRequests,
			"Too many concurrent requests: more than "+strconv.Itoa(fs.maxConcurrency)+" in flight; the request was not carried out, retry it later")))
		return
	}
	defer s.inFlight.Add(-1)

	// A write waits out the latency before it is carried out, so that a
	// client that gives up meanwhile leaves nothing done. A read is
	// answered when the latency has passed since it arrived, the time it
	// took to handle included: the service the emulator stands for
	// answers in that time, and handling it after the wait would make
	// every read that much longer than the latency asked for.
	arrived := time.Now()
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if fs.latency > 0 && !read && !s.waitUntil(w, r, arrived.Add(fs.latency)) {
		return
	}
	ans, isWrite := s.handle(w, r, rt, fs)
	if fs.latency > 0 && read && !s.waitUntil(w, r, arrived.Add(fs.latency)) {
		return
	}
	if isWrite && ans.status < 300 && s.faults.hit(fs.lostResponseRate) {
		s.stats.lostResponse()
		s.dropConnection(w)
		return
	}
	s.reply(w, ans)
}

// waitUntil waits until t, and reports whether to go on: not when the
// client went away (no answer), nor when the server shuts down (answered
// 503 here).
func (s *Server) waitUntil(w http.ResponseWriter, r *http.Request, t time.Time) bool {
	switch s.sleep(r.Context(), time.Until(t)) {
	case sleepClientGone:
		return false
	case sleepShutdown:
		// A read handled already may have set headers for its own answer.
		w.Header().Del("WWW-Authenticate")
		w.Header().Del("Allow")
		s.reply(w, errAnswer(newAPIError(http.StatusServiceUnavailable, codeServiceUnavailable,
			"The emulator is shutting down; the request was not carried out")))
		return false
	}
	return true
}

// handle checks an admitted request (authentication, route, method,
// webhook header, fault rate, form) and runs its handler. It returns the
// answer to send, and whether the request is a write.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rt route, fs faultSettings) (ans answer, isWrite bool) {
	if rt.kind != routeMediaTemp && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		return errAnswer(newAPIError(http.StatusUnauthorized, codeAuthenticate, "Authenticate")), false
	}
	if rt.kind == routeUnknown {
		return errAnswer(notFound(codeNotFound, "The requested resource "+r.URL.Path+" was not found; Chat v2 paths start with /v2/Services, Conversations v1 paths with /v1/Services")), false
	}
	if rt.chatV2() && s.cfg.ChatAPI == APIOff {
		return errAnswer(notFound(codeNotFound, "The requested resource "+r.URL.Path+" was not found: the Chat v2 API is shut down here (--chat-api off); use Conversations v1 at /v1/Services")), false
	}
	if !rt.allows(r.Method) {
		w.Header().Set("Allow", routeInfo[rt.kind].methods)
		return errAnswer(newAPIError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"Method "+r.Method+" is not allowed on "+routeInfo[rt.kind].template+"; use "+routeInfo[rt.kind].methods)), false
	}

	isWrite = r.Method == http.MethodPost || r.Method == http.MethodDelete
	if isWrite {
		hv, sent := r.Header[http.CanonicalHeaderKey("X-Twilio-Webhook-Enabled")]
		s.stats.write(sent && len(hv) == 1 && hv[0] == "true")
		if sent && (len(hv) != 1 || (hv[0] != "true" && hv[0] != "false")) {
			return errAnswer(badRequest(codeInvalidParameter,
				`X-Twilio-Webhook-Enabled must be "true" or "false"; send one of them or leave the header out`)), isWrite
		}
	}

	if s.faults.hit(fs.faultRate) {
		return errAnswer(s.faults.serverError()), isWrite
	}

	c := &call{r: r, rt: rt, u: urls{base: s.base(r)}, faults: fs}
	if r.Method == http.MethodPost && rt.kind != routeMediaUpload { // an upload's body is the file
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
				return errAnswer(newAPIError(http.StatusRequestEntityTooLarge, codeInvalidParameter,
					"Request body is larger than "+strconv.Itoa(maxFormBytes)+" bytes; send smaller parameters")), isWrite
			}
			return errAnswer(badRequest(codeInvalidParameter,
				"Request body is not valid application/x-www-form-urlencoded data; encode the parameters as a form")), isWrite
		}
		c.form = form(r.Form)
	}
	return s.dispatch(c), isWrite
}

// dispatch runs the handler of c's route and method. It is a switch rather
// than a table of handler funcs on purpose: a call through a func value
// makes c escape, costing every request an allocation.
func (s *Server) dispatch(c *call) answer {
	if ans, ok := s.convOnly(c); ok {
		return ans
	}
	m := c.r.Method
	switch c.rt.twin() {
	case routeServices:
		if m == http.MethodPost {
			return s.createService(c)
		}
		return s.listServices(c)
	case routeService:
		return s.fetchService(c)
	case routeRoles:
		return s.listRoles(c)
	case routeUsers:
		if m == http.MethodPost {
			return s.createUser(c)
		}
		return s.listUsers(c)
	case routeUser:
		switch m {
		case http.MethodPost:
			return s.updateUser(c)
		case http.MethodDelete:
			return s.deleteUser(c)
		}
		return s.fetchUser(c)
	case routeChannels:
		if m == http.MethodPost {
			return s.createChannel(c)
		}
		return s.listChannels(c)
	case routeChannel:
		switch m {
		case http.MethodPost:
			return s.updateChannel(c)
		case http.MethodDelete:
			return s.deleteChannel(c)
		}
		return s.fetchChannel(c)
	case routeMembers:
		if m == http.MethodPost {
			return s.createMember(c)
		}
		return s.listMembers(c)
	case routeMember:
		switch m {
		case http.MethodPost:
			return s.updateMember(c)
		case http.MethodDelete:
			return s.deleteMember(c)
		}
		return s.fetchMember(c)
	case routeMessages:
		if m == http.MethodPost {
			return s.createMessage(c)
		}
		return s.listMessages(c)
	case routeMessage:
		switch m {
		case http.MethodPost:
			return s.updateMessage(c)
		case http.MethodDelete:
			return s.deleteMessage(c)
		}
		return s.fetchMessage(c)
	case routeMediaUpload:
		return s.uploadMedia(c)
	case routeMedia:
		return s.fetchMedia(c)
	case routeMediaContent:
		return s.mediaContent(c)
	case routeMediaTemp:
		return s.serveTemporary(c)
	}
	return errAnswer(notFound(codeNotFound, "The requested resource was not found"))
}

// reply writes ans and counts its status.
func (s *Server) reply(w http.ResponseWriter, ans answer) {
	s.stats.answered(ans.status)
	if ans.send != nil {
		ans.send(w)
		return
	}
	if ans.status == http.StatusNoContent {
		w.WriteHeader(ans.status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(ans.body)))
	w.WriteHeader(ans.status)
	_, _ = w.Write(ans.body) // the client may have gone; nothing to do about it
	if ans.pooled && cap(ans.body) <= pageBufferKeep {
		b := ans.body[:0]
		pageBuffers.Put(&b)
	}
}

// dropConnection closes the client's connection without an answer.
func (s *Server) dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not an HTTP/1 connection we can take over: abort the handler,
		// which makes net/http close the connection (or reset the stream).
		s.log.Debug("cannot hijack connection, aborting instead", "err", err)
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close() // the point is that the client sees nothing
}

// authorized checks HTTP Basic credentials in constant time.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	got := user + ":" + pass
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.basicCreds)) == 1
}

type sleepResult int

const (
	sleepDone sleepResult = iota
	sleepClientGone
	sleepShutdown
)

// sleep waits d unless the request is cancelled or the server shuts down.
func (s *Server) sleep(ctx context.Context, d time.Duration) sleepResult {
	if h := s.testHookLatency.Load(); h != nil {
		(*h)()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return sleepDone
	case <-ctx.Done():
		return sleepClientGone
	case <-s.done:
		return sleepShutdown
	}
}

// serveStats answers GET /emulator/stats.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		e := newAPIError(http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method "+r.Method+" is not allowed on "+statsPath+"; use GET")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(e.status)
		_, _ = w.Write(errorBody(e))
		return
	}
	body, err := json.Marshal(s.Stats())
	if err != nil { // maps of strings to integers always marshal
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

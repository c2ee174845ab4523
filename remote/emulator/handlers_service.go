package emulator

import (
	"net/http"
	"slices"
	"strconv"
)

// Default roles of every service, with the permissions the emulator gives
// them (it does not enforce permissions).
var defaultRoles = [...]struct {
	name, typ string
	perms     []string
}{
	{"service admin", "deployment", []string{
		"createChannel", "joinChannel", "destroyChannel", "inviteMember", "removeMember",
		"editChannelName", "editChannelAttributes", "addMember", "editAnyMessage",
		"editAnyMessageAttributes", "deleteAnyMessage", "editAnyUserInfo", "editOwnUserInfo",
	}},
	{"service user", "deployment", []string{
		"createChannel", "joinChannel", "destroyChannel", "inviteMember", "editOwnUserInfo",
	}},
	{"channel admin", "channel", []string{
		"sendMessage", "sendMediaMessage", "leaveChannel", "editOwnMessage", "editOwnMessageAttributes",
		"deleteOwnMessage", "addMember", "removeMember", "inviteMember", "editChannelName",
		"editChannelAttributes", "editAnyMessage", "editAnyMessageAttributes", "deleteAnyMessage",
		"destroyChannel",
	}},
	{"channel user", "channel", []string{
		"sendMessage", "sendMediaMessage", "leaveChannel", "editOwnMessage",
		"editOwnMessageAttributes", "deleteOwnMessage",
	}},
}

// buildService makes a service with its four default roles; roleIDs are
// the SIDs of service admin, service user, channel admin and channel user.
func buildService(id sid, friendlyName string, created int64, roleIDs [4]sid) *service {
	svc := newService(id, friendlyName, created)
	for i, d := range defaultRoles {
		svc.roles = append(svc.roles, &role{
			seq: uint64(i + 1), sid: roleIDs[i], name: d.name, typ: d.typ,
			perms: d.perms, created: created, updated: created,
		})
	}
	svc.defaultServiceRole = roleIDs[1]
	svc.defaultChannelCreatorRole = roleIDs[2]
	svc.defaultChannelRole = roleIDs[3]
	return svc
}

// serviceOf finds the service a path names.
func (s *Server) serviceOf(ref string) (*service, *apiError) {
	if id, ok := parseSID("IS", ref); ok {
		if svc := s.world.service(id); svc != nil {
			return svc, nil
		}
	}
	return nil, notFound(codeServiceNotFound, "Service "+strconv.Quote(ref)+" was not found; check the IS SID (GET /v2/Services lists them)")
}

// serviceAndPaging finds the service of a list request and reads its
// paging. A missing service is answered before bad paging, and both before
// a bad filter or a missing channel.
func (s *Server) serviceAndPaging(c *call) (*service, pageQuery, *apiError) {
	svc, e := s.serviceFor(c)
	if e != nil {
		return nil, pageQuery{}, e
	}
	pq, e := parsePageQuery(c.query(), c.rt.maxPageSize())
	return svc, pq, e
}

// list renders one page of a list of n items; keyOf gives the paging key
// of item i (ascending in i) and item renders item i.
func list(c *call, path, key string, filters [][2]string, pq pageQuery, n int, keyOf func(int) int64, item func([]byte, int) []byte) answer {
	from, to, next, prev := window(n, keyOf, pq)
	b := slices.Grow((*pageBuffers.Get().(*[]byte))[:0], 600+(to-from)*800)
	b = appendListOpen(b, key)
	emit := func(i, k int) {
		if k > 0 {
			b = append(b, ',')
		}
		b = item(b, i)
	}
	if pq.desc {
		for i := to - 1; i >= from; i-- {
			emit(i, to-1-i)
		}
	} else {
		for i := from; i < to; i++ {
			emit(i, i-from)
		}
	}
	b = appendListClose(b, listPage{
		base: c.u.base, path: path, filters: filters, key: key, pq: pq, next: next, prev: prev,
	})
	return answer{status: http.StatusOK, body: b, pooled: true}
}

func (s *Server) listServices(c *call) answer {
	pq, e := parsePageQuery(c.query(), maxPageSize)
	if e != nil {
		return errAnswer(e)
	}
	s.world.mu.RLock()
	svcs := slices.Clone(s.world.services)
	s.world.mu.RUnlock()
	return list(c, "/v2/Services", "services", nil, pq, len(svcs),
		func(i int) int64 { return int64(svcs[i].seq) },
		func(b []byte, i int) []byte {
			svc := svcs[i]
			svc.mu.RLock()
			defer svc.mu.RUnlock()
			return appendServiceJSON(b, c.u, s.account, svc)
		})
}

func (s *Server) fetchService(c *call) answer {
	svc, e := s.serviceFor(c)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	return answer{status: http.StatusOK, body: c.view().service(nil, c.u, s.account, svc)}
}

func (s *Server) createService(c *call) answer {
	name, _ := c.form.get("FriendlyName")
	if name == "" {
		return errAnswer(badRequest(codeFriendlyNameMissing, "FriendlyName is missing; send a name for the new service"))
	}
	var roleIDs [4]sid
	for i := range roleIDs {
		roleIDs[i] = s.newID()
	}
	svc := buildService(s.newID(), name, s.nowUnix(), roleIDs)
	s.world.add(svc)
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	return answer{status: http.StatusCreated, body: appendServiceJSON(nil, c.u, s.account, svc)}
}

func (s *Server) listRoles(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	path := c.view().prefix + "/Services/" + svc.sid.format("IS") + "/Roles"
	return list(c, path, "roles", nil, pq, len(svc.roles),
		func(i int) int64 { return int64(svc.roles[i].seq) },
		func(b []byte, i int) []byte { return c.view().role(b, c.u, s.account, svc, svc.roles[i]) })
}

func (s *Server) listUsers(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	path := c.view().prefix + "/Services/" + svc.sid.format("IS") + "/Users"
	return list(c, path, "users", nil, pq, len(svc.users),
		func(i int) int64 { return int64(svc.users[i].seq) },
		func(b []byte, i int) []byte { return c.view().user(b, c.u, s.account, svc, svc.users[i]) })
}

func (s *Server) fetchUser(c *call) answer {
	return s.inUser(c, reading, func(svc *service, u *user) answer {
		return answer{status: http.StatusOK, body: c.view().user(nil, c.u, s.account, svc, u)}
	})
}

// inUser finds the service and user c's path names (SID or identity) and
// runs f on them with the service's lock held as a asks (reading or
// writing).
func (s *Server) inUser(c *call, a access, f func(svc *service, u *user) answer) answer {
	svc, e := s.serviceFor(c)
	if e != nil {
		return errAnswer(e)
	}
	defer svc.lock(a)()
	u := svc.user(c.rt.leaf)
	if u == nil {
		return errAnswer(c.inView(userNotFound(c.rt.leaf, svc)))
	}
	return f(svc, u)
}

func userNotFound(ref string, svc *service) *apiError {
	return notFound(codeUserNotFound, "User "+strconv.Quote(ref)+" was not found in service "+svc.sid.format("IS")+"; check the US SID or identity")
}

func (s *Server) createUser(c *call) answer {
	svc, e := s.serviceFor(c)
	if e != nil {
		return errAnswer(e)
	}
	f := c.form
	identity, e := f.identity()
	if e != nil {
		return errAnswer(e)
	}
	p, e := parseUserParams(f)
	if e != nil {
		return errAnswer(e)
	}

	svc.mu.Lock()
	defer svc.mu.Unlock()
	if e := checkServiceRole(svc, p); e != nil {
		return errAnswer(e)
	}
	if svc.usersByIdentity[identity] != nil {
		return errAnswer(conflict(codeUserExists, "User with identity "+strconv.Quote(identity)+" already exists in service "+svc.sid.format("IS")+"; fetch it instead of creating it"))
	}
	u := s.newUser(svc, identity, svc.defaultServiceRole, s.nowUnix())
	p.apply(u)
	return answer{status: http.StatusCreated, body: c.view().user(nil, c.u, s.account, svc, u)}
}

// updateUser serves Chat v2's user update and Conversations v1's: the
// same parameters (FriendlyName, Attributes, RoleSid), each rendered in
// its own view.
func (s *Server) updateUser(c *call) answer {
	p, perr := parseUserParams(c.form)
	return s.inUser(c, writing, func(svc *service, u *user) answer {
		if perr != nil {
			return errAnswer(perr)
		}
		if !p.any() {
			return errAnswer(noUpdateParameters("user", "FriendlyName, Attributes or RoleSid"))
		}
		if e := checkServiceRole(svc, p); e != nil {
			return errAnswer(e)
		}
		p.apply(u)
		u.updated = s.nowUnix()
		return answer{status: http.StatusOK, body: c.view().user(nil, c.u, s.account, svc, u)}
	})
}

// deleteUser serves Chat v2's user delete and Conversations v1's.
func (s *Server) deleteUser(c *call) answer {
	return s.inUser(c, writing, func(svc *service, u *user) answer {
		svc.removeUser(u)
		return answer{status: http.StatusNoContent}
	})
}

// removeUser deletes u; its members (participants) stay. The caller holds mu.
func (svc *service) removeUser(u *user) {
	svc.users = deleteSeq(svc.users, u.seq, func(x *user) uint64 { return x.seq })
	delete(svc.usersBySID, u.sid)
	delete(svc.usersByIdentity, u.identity)
}

// userParams are the parsed parameters of a user create or update.
type userParams struct {
	role                        sid
	attrs, friendlyName         string
	roleSent, attrsSent, fnSent bool
}

func (p userParams) any() bool { return p.roleSent || p.attrsSent || p.fnSent }

func parseUserParams(f form) (userParams, *apiError) {
	var p userParams
	var e *apiError
	if p.role, p.roleSent, e = f.roleSID(codeRoleNotFound); e != nil {
		return p, e
	}
	if p.attrs, p.attrsSent, e = f.attributes(); e != nil {
		return p, e
	}
	p.friendlyName, p.fnSent = f.get("FriendlyName")
	return p, nil
}

// checkServiceRole checks that a RoleSid p sends is a deployment role of svc.
func checkServiceRole(svc *service, p userParams) *apiError {
	if !p.roleSent {
		return nil
	}
	if r := svc.role(p.role); r == nil || r.typ != "deployment" {
		return badRequest(codeRoleNotFound, "RoleSid "+p.role.format("RL")+" is not a service role of service "+svc.sid.format("IS")+"; list its roles and pick one of type deployment (service in Conversations)")
	}
	return nil
}

// apply sets the sent parameters on u; an empty FriendlyName makes it null.
func (p userParams) apply(u *user) {
	if p.roleSent {
		u.role = p.role
	}
	if p.attrsSent {
		u.attrs = p.attrs
	}
	if p.fnSent {
		u.friendlyName = nonEmpty(p.friendlyName)
	}
}

// newUser adds a user with attributes "{}" created at now to svc. The
// caller holds svc.mu.
func (s *Server) newUser(svc *service, identity string, role sid, now int64) *user {
	u := &user{sid: freshSID(s, svc.usersBySID), identity: identity, attrs: "{}", role: role, created: now, updated: now}
	svc.addUser(u)
	return u
}

// freshSID draws SIDs for a resource created through the API until one is
// not a key of taken (the caller holds the lock that guards taken).
func freshSID[V any](s *Server, taken map[sid]V) sid {
	for {
		id := s.newID()
		if _, used := taken[id]; !used {
			return id
		}
	}
}

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
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return nil, pageQuery{}, e
	}
	pq, e := parsePageQuery(c.query())
	return svc, pq, e
}

// list renders one page of a list of n items; keyOf gives the paging key
// of item i (ascending in i) and item renders item i.
func list(c *call, path, key string, filters [][2]string, pq pageQuery, n int, keyOf func(int) int64, item func([]byte, int) []byte) answer {
	from, to, next, prev := window(n, keyOf, pq)
	b := make([]byte, 0, 600+(to-from)*800)
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
	return answer{status: http.StatusOK, body: b}
}

func (s *Server) listServices(c *call) answer {
	pq, e := parsePageQuery(c.query())
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
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	return answer{status: http.StatusOK, body: appendServiceJSON(nil, c.u, s.account, svc)}
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
	path := "/v2/Services/" + svc.sid.format("IS") + "/Roles"
	return list(c, path, "roles", nil, pq, len(svc.roles),
		func(i int) int64 { return int64(svc.roles[i].seq) },
		func(b []byte, i int) []byte { return appendRoleJSON(b, c.u, s.account, svc, svc.roles[i]) })
}

func (s *Server) listUsers(c *call) answer {
	svc, pq, e := s.serviceAndPaging(c)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	path := "/v2/Services/" + svc.sid.format("IS") + "/Users"
	return list(c, path, "users", nil, pq, len(svc.users),
		func(i int) int64 { return int64(svc.users[i].seq) },
		func(b []byte, i int) []byte { return appendUserJSON(b, c.u, s.account, svc, svc.users[i]) })
}

func (s *Server) fetchUser(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	u := svc.user(c.rt.leaf)
	if u == nil {
		return errAnswer(userNotFound(c.rt.leaf, svc))
	}
	return answer{status: http.StatusOK, body: appendUserJSON(nil, c.u, s.account, svc, u)}
}

func userNotFound(ref string, svc *service) *apiError {
	return notFound(codeUserNotFound, "User "+strconv.Quote(ref)+" was not found in service "+svc.sid.format("IS")+"; check the US SID or identity")
}

func (s *Server) createUser(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	f := c.form
	identity, e := f.identity()
	if e != nil {
		return errAnswer(e)
	}
	roleID, roleSent, e := f.roleSID(codeRoleNotFound)
	if e != nil {
		return errAnswer(e)
	}
	attrs, attrsSent, e := f.attributes()
	if e != nil {
		return errAnswer(e)
	}
	fn, _ := f.get("FriendlyName")

	svc.mu.Lock()
	defer svc.mu.Unlock()
	if roleSent {
		if r := svc.role(roleID); r == nil || r.typ != "deployment" {
			return errAnswer(badRequest(codeRoleNotFound, "RoleSid "+roleID.format("RL")+" is not a service role of service "+svc.sid.format("IS")+"; list its roles and pick one of type deployment"))
		}
	} else {
		roleID = svc.defaultServiceRole
	}
	if svc.usersByIdentity[identity] != nil {
		return errAnswer(conflict(codeUserExists, "User with identity "+strconv.Quote(identity)+" already exists in service "+svc.sid.format("IS")+"; fetch it instead of creating it"))
	}
	u := s.newUser(svc, identity, roleID, s.nowUnix())
	if attrsSent {
		u.attrs = attrs
	}
	u.friendlyName = nonEmpty(fn)
	return answer{status: http.StatusCreated, body: appendUserJSON(nil, c.u, s.account, svc, u)}
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

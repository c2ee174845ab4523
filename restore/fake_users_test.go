package restore

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// The fake target's users and API, and the fake snapshot's users.

// API names the API the fake stands for; Chat unless set.
func (t *fakeTarget) API() string { return cmp.Or(t.api, remote.APIChat) }

func (t *fakeTarget) ListUsers(ctx context.Context, service string) iter.Seq2[*remote.User, error] {
	return func(yield func(*remote.User, error) bool) {
		if err := t.read("ListUsers"); err != nil {
			yield(nil, err)
			return
		}
		t.mu.Lock()
		var us []*remote.User
		for _, u := range t.users[service] {
			cp := *u
			us = append(us, &cp)
		}
		t.mu.Unlock()
		for _, u := range us {
			if !yield(u, nil) {
				return
			}
		}
	}
}

func (t *fakeTarget) findUser(service, sidOrIdentity string) *remote.User {
	for _, u := range t.users[service] {
		if u.SID == sidOrIdentity || u.Identity == sidOrIdentity {
			return u
		}
	}
	return nil
}

func (t *fakeTarget) FetchUser(ctx context.Context, service, sidOrIdentity string) (*remote.User, error) {
	if err := t.read("FetchUser"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if u := t.findUser(service, sidOrIdentity); u != nil {
		cp := *u
		return &cp, nil
	}
	return nil, notFound("user " + sidOrIdentity)
}

func applyUser(u *remote.User, p remote.UserParams) {
	setStr(&u.FriendlyName, p.FriendlyName)
	setStr(&u.Attributes, p.Attributes)
	setStr(&u.RoleSID, p.RoleSID)
}

func (t *fakeTarget) CreateUser(ctx context.Context, service string, p remote.UserParams) (*remote.User, error) {
	var out remote.User
	err := t.write(ctx, "CreateUser", func() error {
		if t.findUser(service, p.Identity) != nil {
			return fmt.Errorf("fake: code 50201: %w", remote.ErrConflict)
		}
		if t.users == nil {
			t.users = map[string][]*remote.User{}
		}
		u := &remote.User{SID: t.sid("US"), ServiceSID: service, Identity: p.Identity, Attributes: "{}",
			RoleSID: t.roles[service][2].SID, DateCreated: time.Now().UTC().Truncate(time.Second)}
		applyUser(u, p)
		t.users[service] = append(t.users[service], u)
		out = *u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (t *fakeTarget) UpdateUser(ctx context.Context, service, user string, p remote.UserParams) (*remote.User, error) {
	var out remote.User
	err := t.write(ctx, "UpdateUser", func() error {
		u := t.findUser(service, user)
		if u == nil {
			return notFound("user " + user)
		}
		applyUser(u, p)
		out = *u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (t *fakeTarget) DeleteUser(ctx context.Context, service, user string) error {
	return t.write(ctx, "DeleteUser", func() error {
		u := t.findUser(service, user)
		if u == nil {
			return notFound("user " + user)
		}
		t.users[service] = slices.DeleteFunc(t.users[service], func(x *remote.User) bool { return x == u })
		return nil
	})
}

// addUser puts a user into the target as someone else would.
func (t *fakeTarget) addUser(service string, u remote.User) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users = map[string][]*remote.User{}
	}
	u.SID = t.sid("US")
	t.users[service] = append(t.users[service], &u)
}

// usersOf returns copies of the service's users.
func (t *fakeTarget) usersOf(service string) []remote.User {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []remote.User
	for _, u := range t.users[service] {
		out = append(out, *u)
	}
	return out
}

func (s *fakeSnap) Users() ([]store.UserRecord, error) { return slices.Clone(s.users), nil }

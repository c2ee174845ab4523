package remote

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
)

// ListServices lists the account's Chat services.
func (c *Client) ListServices(ctx context.Context) iter.Seq2[*Service, error] {
	q, _ := ListOptions{}.query(false)
	l := lister{first: c.newCall(http.MethodGet, "/v2/Services", q), key: "services", what: "services"}
	return walk[Service](ctx, c, l, nil)
}

// FetchService fetches one service by SID (IS…).
func (a *api) FetchService(ctx context.Context, sid string) (*Service, error) {
	p, err := a.servicePath(sid)
	if err != nil {
		return nil, fmt.Errorf("fetch service: %w", err)
	}
	return one[Service](ctx, a.c, a.newCall(http.MethodGet, p, nil), "service")
}

// CreateService creates a Chat service. It is not paced: services belong to
// the account, and creating one is rare.
func (c *Client) CreateService(ctx context.Context, p ServiceParams) (*Service, error) {
	if p.FriendlyName == "" {
		return nil, errors.New("create service: friendly name is empty: it is required to create a service")
	}
	r := c.newCall(http.MethodPost, "/v2/Services", nil)
	r.form = url.Values{"FriendlyName": {p.FriendlyName}}
	return one[Service](ctx, c, r, "service")
}

// ListRoles lists the roles of a service.
func (a *api) ListRoles(ctx context.Context, service string) iter.Seq2[*Role, error] {
	l, err := a.serviceLister(service, "Roles", "roles")
	return walk[Role](ctx, a.c, l, err)
}

// ListUsers lists the users of a service.
func (a *api) ListUsers(ctx context.Context, service string) iter.Seq2[*User, error] {
	l, err := a.serviceLister(service, "Users", "users")
	return walk[User](ctx, a.c, l, err)
}

// serviceLister lists the service's resources under seg ("Roles"), or says
// why it cannot.
func (a *api) serviceLister(service, seg, what string) (lister, error) {
	sp, err := a.servicePath(service)
	if err != nil {
		return lister{}, fmt.Errorf("list %s: %w", what, err)
	}
	q, _ := ListOptions{PageSize: a.smallPage}.query(false)
	return lister{first: a.newCall(http.MethodGet, sp+"/"+seg, q), key: listKey(seg), what: what}, nil
}

// FetchUser fetches a user by SID (US…) or identity.
func (a *api) FetchUser(ctx context.Context, service, sidOrIdentity string) (*User, error) {
	p, err := a.userPath(service, sidOrIdentity)
	if err != nil {
		return nil, fmt.Errorf("fetch user: %w", err)
	}
	return one[User](ctx, a.c, a.newCall(http.MethodGet, p, nil), "user")
}

// CreateUser creates a user. It is paced by the service's write rate.
func (a *api) CreateUser(ctx context.Context, service string, p UserParams) (*User, error) {
	sp, err := a.servicePath(service)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	f, err := p.form(true)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	r := a.newCall(http.MethodPost, sp+"/Users", nil)
	r.form, r.limiter = a.params(KindUser, f, true), a.c.serviceRate.get(service)
	return one[User](ctx, a.c, r, "user")
}

// UpdateUser updates a user (by SID or identity); p.Identity is not sent.
// It is paced by the service's write rate, as CreateUser.
func (a *api) UpdateUser(ctx context.Context, service, user string, p UserParams) (*User, error) {
	up, err := a.userPath(service, user)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	f, _ := p.form(false)
	r := a.newCall(http.MethodPost, up, nil)
	r.form, r.limiter = a.params(KindUser, f, false), a.c.serviceRate.get(service)
	return one[User](ctx, a.c, r, "user")
}

// DeleteUser deletes a user (by SID or identity). It is paced by the
// service's write rate, as CreateUser.
func (a *api) DeleteUser(ctx context.Context, service, user string) error {
	up, err := a.userPath(service, user)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	r := a.newCall(http.MethodDelete, up, nil)
	r.limiter = a.c.serviceRate.get(service)
	return none(ctx, a.c, r)
}

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
func (c *Client) FetchService(ctx context.Context, sid string) (*Service, error) {
	p, err := servicePath(sid)
	if err != nil {
		return nil, fmt.Errorf("fetch service: %w", err)
	}
	return one[Service](ctx, c, c.newCall(http.MethodGet, p, nil), "service")
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
func (c *Client) ListRoles(ctx context.Context, service string) iter.Seq2[*Role, error] {
	sp, err := servicePath(service)
	if err != nil {
		return walk[Role](ctx, c, lister{}, fmt.Errorf("list roles: %w", err))
	}
	q, _ := ListOptions{}.query(false)
	return walk[Role](ctx, c, lister{first: c.newCall(http.MethodGet, sp+"/Roles", q), key: "roles", what: "roles"}, nil)
}

// ListUsers lists the users of a service.
func (c *Client) ListUsers(ctx context.Context, service string) iter.Seq2[*User, error] {
	sp, err := servicePath(service)
	if err != nil {
		return walk[User](ctx, c, lister{}, fmt.Errorf("list users: %w", err))
	}
	q, _ := ListOptions{}.query(false)
	return walk[User](ctx, c, lister{first: c.newCall(http.MethodGet, sp+"/Users", q), key: "users", what: "users"}, nil)
}

// FetchUser fetches a user by SID (US…) or identity.
func (c *Client) FetchUser(ctx context.Context, service, sidOrIdentity string) (*User, error) {
	p, err := userPath(service, sidOrIdentity)
	if err != nil {
		return nil, fmt.Errorf("fetch user: %w", err)
	}
	return one[User](ctx, c, c.newCall(http.MethodGet, p, nil), "user")
}

// CreateUser creates a user. It is paced by the service's write rate.
func (c *Client) CreateUser(ctx context.Context, service string, p UserParams) (*User, error) {
	sp, err := servicePath(service)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	f, err := p.form()
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	r := c.newCall(http.MethodPost, sp+"/Users", nil)
	r.form, r.limiter = f, c.serviceRate.get(service)
	return one[User](ctx, c, r, "user")
}

// userPath is /v2/Services/{service}/Users/{user}.
func userPath(service, user string) (string, error) {
	sp, err := servicePath(service)
	if err != nil {
		return "", err
	}
	u, err := segment("user", "a user SID (US…) or identity", user)
	if err != nil {
		return "", err
	}
	return sp + "/Users/" + u, nil
}

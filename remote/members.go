package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
)

// ListMembers lists the members of a channel (by SID or unique name).
// o.Order must be empty: members have no order parameter.
func (c *Client) ListMembers(ctx context.Context, service, channel string, o ListOptions) iter.Seq2[*Member, error] {
	l, err := c.memberLister(service, channel, o)
	return walk[Member](ctx, c, l, err)
}

// MembersPage fetches one page: pageURL "" means the first page built from o,
// otherwise pageURL (a next_page_url) is fetched verbatim.
func (c *Client) MembersPage(ctx context.Context, service, channel string, o ListOptions, pageURL string) (*Page[*Member], error) {
	l, err := c.memberLister(service, channel, o)
	if err != nil {
		return nil, err
	}
	return getPage[Member](ctx, c, l, pageURL)
}

func (c *Client) memberLister(service, channel string, o ListOptions) (lister, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return lister{}, fmt.Errorf("list members: %w", err)
	}
	q, err := o.query(false)
	if err != nil {
		return lister{}, fmt.Errorf("list members: %w", err)
	}
	return lister{first: c.newCall(http.MethodGet, cp+"/Members", q), key: "members", what: "members"}, nil
}

// memberPath is …/Channels/{channel}/Members/{member}.
func memberPath(service, channel, member string) (string, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return "", err
	}
	m, err := segment("member", "a member SID (MB…) or identity", member)
	if err != nil {
		return "", err
	}
	return cp + "/Members/" + m, nil
}

// FetchMember fetches a member by SID (MB…) or identity.
func (c *Client) FetchMember(ctx context.Context, service, channel, sidOrIdentity string) (*Member, error) {
	p, err := memberPath(service, channel, sidOrIdentity)
	if err != nil {
		return nil, fmt.Errorf("fetch member: %w", err)
	}
	return one[Member](ctx, c, c.newCall(http.MethodGet, p, nil), "member")
}

// CreateMember adds a member (p.Identity is required). It is paced by the
// channel's write rate.
func (c *Client) CreateMember(ctx context.Context, service, channel string, p MemberParams) (*Member, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("create member: %w", err)
	}
	f, err := p.form(true)
	if err != nil {
		return nil, fmt.Errorf("create member: %w", err)
	}
	r := c.newCall(http.MethodPost, cp+"/Members", nil)
	r.form, r.limiter = f, c.channelRate.get(channelKey(service, channel))
	return one[Member](ctx, c, r, "member")
}

// UpdateMember updates a member (by SID or identity); p.Identity is not sent.
// It is paced by the channel's write rate.
func (c *Client) UpdateMember(ctx context.Context, service, channel, member string, p MemberParams) (*Member, error) {
	mp, err := memberPath(service, channel, member)
	if err != nil {
		return nil, fmt.Errorf("update member: %w", err)
	}
	f, _ := p.form(false)
	r := c.newCall(http.MethodPost, mp, nil)
	r.form, r.limiter = f, c.channelRate.get(channelKey(service, channel))
	return one[Member](ctx, c, r, "member")
}

// DeleteMember removes a member (by SID or identity). It is paced by the
// channel's write rate.
func (c *Client) DeleteMember(ctx context.Context, service, channel, member string) error {
	mp, err := memberPath(service, channel, member)
	if err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	r := c.newCall(http.MethodDelete, mp, nil)
	r.limiter = c.channelRate.get(channelKey(service, channel))
	return none(ctx, c, r)
}

package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
)

// ListMembers lists the members of a channel (by SID or unique name).
// o.Order must be empty: members have no order parameter.
func (a *api) ListMembers(ctx context.Context, service, channel string, o ListOptions) iter.Seq2[*Member, error] {
	l, err := a.memberLister(service, channel, o)
	return walk[Member](ctx, a.c, l, err)
}

// MembersPage fetches one page: pageURL "" means the first page built from o,
// otherwise pageURL (a next_page_url) is fetched verbatim.
func (a *api) MembersPage(ctx context.Context, service, channel string, o ListOptions, pageURL string) (*Page[*Member], error) {
	l, err := a.memberLister(service, channel, o)
	if err != nil {
		return nil, err
	}
	return getPage[Member](ctx, a.c, l, pageURL)
}

func (a *api) memberLister(service, channel string, o ListOptions) (lister, error) {
	cp, err := a.channelPath(service, channel)
	if err != nil {
		return lister{}, fmt.Errorf("list members: %w", err)
	}
	q, err := o.query(false)
	if err != nil {
		return lister{}, fmt.Errorf("list members: %w", err)
	}
	return lister{first: a.newCall(http.MethodGet, cp+"/"+a.members, q), key: listKey(a.members), what: "members"}, nil
}

// FetchMember fetches a member by SID (MB…) or identity.
func (a *api) FetchMember(ctx context.Context, service, channel, sidOrIdentity string) (*Member, error) {
	p, err := a.memberPath(service, channel, sidOrIdentity)
	if err != nil {
		return nil, fmt.Errorf("fetch member: %w", err)
	}
	return one[Member](ctx, a.c, a.newCall(http.MethodGet, p, nil), "member")
}

// CreateMember adds a member (p.Identity is required). It is paced by the
// channel's write rate. Through Conversations, p.LastConsumedMessageIndex
// and p.LastConsumptionTimestamp are not sent: Conversations sets a
// participant's read horizon on update only, so set it with UpdateMember.
func (a *api) CreateMember(ctx context.Context, service, channel string, p MemberParams) (*Member, error) {
	cp, err := a.channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("create member: %w", err)
	}
	f, err := p.form(true)
	if err != nil {
		return nil, fmt.Errorf("create member: %w", err)
	}
	r := a.newCall(http.MethodPost, cp+"/"+a.members, nil)
	r.form, r.limiter = a.params(KindMember, f, true), a.c.channelRate.get(channelKey(service, channel))
	return one[Member](ctx, a.c, r, "member")
}

// UpdateMember updates a member (by SID or identity); p.Identity is not sent.
// It is paced by the channel's write rate.
func (a *api) UpdateMember(ctx context.Context, service, channel, member string, p MemberParams) (*Member, error) {
	mp, err := a.memberPath(service, channel, member)
	if err != nil {
		return nil, fmt.Errorf("update member: %w", err)
	}
	f, _ := p.form(false)
	r := a.newCall(http.MethodPost, mp, nil)
	r.form, r.limiter = a.params(KindMember, f, false), a.c.channelRate.get(channelKey(service, channel))
	return one[Member](ctx, a.c, r, "member")
}

// DeleteMember removes a member (by SID or identity). It is paced by the
// channel's write rate.
func (a *api) DeleteMember(ctx context.Context, service, channel, member string) error {
	mp, err := a.memberPath(service, channel, member)
	if err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	r := a.newCall(http.MethodDelete, mp, nil)
	r.limiter = a.c.channelRate.get(channelKey(service, channel))
	return none(ctx, a.c, r)
}

package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strings"
)

// ListChannels lists channels of the given types; no types means both
// "public" and "private" (Chat's own default is public only). Through
// Conversations the types are checked but not sent: Conversations lists the
// private channels only, whatever is asked.
func (a *api) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*Channel, error] {
	l, err := a.channelLister(service, types)
	return walk[Channel](ctx, a.c, l, err)
}

// ChannelsPage fetches one page of channels: pageURL "" means the first page
// of the given types (as for ListChannels), otherwise pageURL (a
// next_page_url) is fetched verbatim.
func (a *api) ChannelsPage(ctx context.Context, service string, pageURL string, types ...string) (*Page[*Channel], error) {
	l, err := a.channelLister(service, types)
	if err != nil {
		return nil, err
	}
	return getPage[Channel](ctx, a.c, l, pageURL)
}

func (a *api) channelLister(service string, types []string) (lister, error) {
	sp, err := a.servicePath(service)
	if err != nil {
		return lister{}, fmt.Errorf("list channels: %w", err)
	}
	if len(types) == 0 {
		types = []string{"public", "private"}
	}
	for _, t := range types {
		if t != "public" && t != "private" {
			return lister{}, fmt.Errorf("list channels: channel type %q is not valid: use \"public\" or \"private\"", t)
		}
	}
	q, _ := ListOptions{}.query(false)
	if a.channelTypes {
		q["Type"] = types
	}
	return lister{first: a.newCall(http.MethodGet, sp+"/"+a.channels, q), key: listKey(a.channels), what: "channels"}, nil
}

// FetchChannel fetches a channel by SID (CH…) or unique name.
func (a *api) FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*Channel, error) {
	p, err := a.channelPath(service, sidOrUniqueName)
	if err != nil {
		return nil, fmt.Errorf("fetch channel: %w", err)
	}
	return one[Channel](ctx, a.c, a.newCall(http.MethodGet, p, nil), "channel")
}

// CreateChannel creates a channel. It is paced by the service's write rate.
// Through Conversations, p.Type and p.CreatedBy are not sent (see Losses).
func (a *api) CreateChannel(ctx context.Context, service string, p ChannelParams) (*Channel, error) {
	sp, err := a.servicePath(service)
	if err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	f, err := p.form(true)
	if err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	r := a.newCall(http.MethodPost, sp+"/"+a.channels, nil)
	r.form, r.limiter = a.params(KindChannel, f, true), a.c.serviceRate.get(service)
	return one[Channel](ctx, a.c, r, "channel")
}

// UpdateChannel updates a channel (by SID or unique name); p.Type is not
// sent. It is paced by the channel's write rate.
func (a *api) UpdateChannel(ctx context.Context, service, channel string, p ChannelParams) (*Channel, error) {
	cp, err := a.channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("update channel: %w", err)
	}
	f, _ := p.form(false)
	r := a.newCall(http.MethodPost, cp, nil)
	r.form, r.limiter = a.params(KindChannel, f, false), a.c.channelRate.get(channelKey(service, channel))
	return one[Channel](ctx, a.c, r, "channel")
}

// DeleteChannel deletes a channel (by SID or unique name) with its members
// and messages. It is paced by the service's write rate.
func (a *api) DeleteChannel(ctx context.Context, service, channel string) error {
	cp, err := a.channelPath(service, channel)
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	r := a.newCall(http.MethodDelete, cp, nil)
	r.limiter = a.c.serviceRate.get(service)
	return none(ctx, a.c, r)
}

// MakeChannelPrivate makes a public channel private through Chat v3
// (POST {base}/v3/Services/{IS}/Channels/{CH} with Type=private), which
// Twilio documents as the way to make a public channel visible to
// Conversations. It is paced by the channel's write rate, and answers with
// the channel in Chat's shape.
func (c *Client) MakeChannelPrivate(ctx context.Context, service, channel string) (*Channel, error) {
	cp, err := c.channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("make channel private: %w", err)
	}
	r := c.newCall(http.MethodPost, "/v3"+strings.TrimPrefix(cp, c.prefix), nil)
	r.form, r.limiter = map[string][]string{"Type": {"private"}}, c.channelRate.get(channelKey(service, channel))
	return one[Channel](ctx, c, r, "channel")
}

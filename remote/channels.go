package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
)

// ListChannels lists channels of the given types; no types means both
// "public" and "private" (the API's own default is public only).
func (c *Client) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*Channel, error] {
	l, err := c.channelLister(service, types)
	if err != nil {
		return walk[Channel](ctx, c, lister{}, fmt.Errorf("list channels: %w", err))
	}
	return walk[Channel](ctx, c, l, nil)
}

// ChannelsPage fetches one page of channels: pageURL "" means the first page
// of the given types (none = public and private), otherwise pageURL (a
// next_page_url) is fetched verbatim.
func (c *Client) ChannelsPage(ctx context.Context, service string, pageURL string, types ...string) (*Page[*Channel], error) {
	l, err := c.channelLister(service, types)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return getPage[Channel](ctx, c, l, pageURL)
}

func (c *Client) channelLister(service string, types []string) (lister, error) {
	sp, err := servicePath(service)
	if err != nil {
		return lister{}, err
	}
	if len(types) == 0 {
		types = []string{"public", "private"}
	}
	for _, t := range types {
		if t != "public" && t != "private" {
			return lister{}, fmt.Errorf("channel type %q is not valid: use \"public\" or \"private\"", t)
		}
	}
	q, _ := ListOptions{}.query(false)
	q["Type"] = types
	return lister{first: c.newCall(http.MethodGet, sp+"/Channels", q), key: "channels", what: "channels"}, nil
}

// FetchChannel fetches a channel by SID (CH…) or unique name.
func (c *Client) FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*Channel, error) {
	p, err := channelPath(service, sidOrUniqueName)
	if err != nil {
		return nil, fmt.Errorf("fetch channel: %w", err)
	}
	return one[Channel](ctx, c, c.newCall(http.MethodGet, p, nil), "channel")
}

// CreateChannel creates a channel. It is paced by the service's write rate.
func (c *Client) CreateChannel(ctx context.Context, service string, p ChannelParams) (*Channel, error) {
	sp, err := servicePath(service)
	if err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	f, err := p.form(true)
	if err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	r := c.newCall(http.MethodPost, sp+"/Channels", nil)
	r.form, r.limiter = f, c.serviceRate.get(service)
	return one[Channel](ctx, c, r, "channel")
}

// UpdateChannel updates a channel (by SID or unique name); p.Type is not
// sent. It is paced by the channel's write rate.
func (c *Client) UpdateChannel(ctx context.Context, service, channel string, p ChannelParams) (*Channel, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("update channel: %w", err)
	}
	f, _ := p.form(false)
	r := c.newCall(http.MethodPost, cp, nil)
	r.form, r.limiter = f, c.channelRate.get(channelKey(service, channel))
	return one[Channel](ctx, c, r, "channel")
}

// DeleteChannel deletes a channel (by SID or unique name) with its members
// and messages. It is paced by the service's write rate.
func (c *Client) DeleteChannel(ctx context.Context, service, channel string) error {
	cp, err := channelPath(service, channel)
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	r := c.newCall(http.MethodDelete, cp, nil)
	r.limiter = c.serviceRate.get(service)
	return none(ctx, c, r)
}

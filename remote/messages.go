package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
)

// ListMessages lists the messages of a channel (by SID or unique name) in
// o.Order ("asc" by default).
func (c *Client) ListMessages(ctx context.Context, service, channel string, o ListOptions) iter.Seq2[*Message, error] {
	l, err := c.messageLister(service, channel, o)
	return walk[Message](ctx, c, l, err)
}

// MessagesPage fetches one page: pageURL "" means the first page built from o,
// otherwise pageURL (a next_page_url) is fetched verbatim.
func (c *Client) MessagesPage(ctx context.Context, service, channel string, o ListOptions, pageURL string) (*Page[*Message], error) {
	l, err := c.messageLister(service, channel, o)
	if err != nil {
		return nil, err
	}
	return getPage[Message](ctx, c, l, pageURL)
}

func (c *Client) messageLister(service, channel string, o ListOptions) (lister, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return lister{}, fmt.Errorf("list messages: %w", err)
	}
	q, err := o.query(true)
	if err != nil {
		return lister{}, fmt.Errorf("list messages: %w", err)
	}
	return lister{first: c.newCall(http.MethodGet, cp+"/Messages", q), key: "messages", what: "messages"}, nil
}

// messagePath is …/Channels/{channel}/Messages/{sid}.
func messagePath(service, channel, sid string) (string, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return "", err
	}
	m, err := segment("message", "a message SID (IM…)", sid)
	if err != nil {
		return "", err
	}
	return cp + "/Messages/" + m, nil
}

// FetchMessage fetches a message by SID (IM…).
func (c *Client) FetchMessage(ctx context.Context, service, channel, sid string) (*Message, error) {
	p, err := messagePath(service, channel, sid)
	if err != nil {
		return nil, fmt.Errorf("fetch message: %w", err)
	}
	return one[Message](ctx, c, c.newCall(http.MethodGet, p, nil), "message")
}

// CreateMessage creates a message. It is paced by the channel's write rate.
func (c *Client) CreateMessage(ctx context.Context, service, channel string, p MessageParams) (*Message, error) {
	cp, err := channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("create message: %w", err)
	}
	r := c.newCall(http.MethodPost, cp+"/Messages", nil)
	r.form, r.limiter = p.form(true), c.channelRate.get(channelKey(service, channel))
	return one[Message](ctx, c, r, "message")
}

// UpdateMessage updates a message; p.MediaSID is not sent. It is paced by
// the channel's write rate.
func (c *Client) UpdateMessage(ctx context.Context, service, channel, sid string, p MessageParams) (*Message, error) {
	mp, err := messagePath(service, channel, sid)
	if err != nil {
		return nil, fmt.Errorf("update message: %w", err)
	}
	r := c.newCall(http.MethodPost, mp, nil)
	r.form, r.limiter = p.form(false), c.channelRate.get(channelKey(service, channel))
	return one[Message](ctx, c, r, "message")
}

// DeleteMessage deletes a message. It is paced by the channel's write rate.
func (c *Client) DeleteMessage(ctx context.Context, service, channel, sid string) error {
	mp, err := messagePath(service, channel, sid)
	if err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	r := c.newCall(http.MethodDelete, mp, nil)
	r.limiter = c.channelRate.get(channelKey(service, channel))
	return none(ctx, c, r)
}

package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
)

// ListMessages lists the messages of a channel (by SID or unique name) in
// o.Order ("asc" by default).
func (a *api) ListMessages(ctx context.Context, service, channel string, o ListOptions) iter.Seq2[*Message, error] {
	l, err := a.messageLister(service, channel, o)
	return walk[Message](ctx, a.c, l, err)
}

// MessagesPage fetches one page: pageURL "" means the first page built from o,
// otherwise pageURL (a next_page_url) is fetched verbatim.
func (a *api) MessagesPage(ctx context.Context, service, channel string, o ListOptions, pageURL string) (*Page[*Message], error) {
	l, err := a.messageLister(service, channel, o)
	if err != nil {
		return nil, err
	}
	return getPage[Message](ctx, a.c, l, pageURL)
}

func (a *api) messageLister(service, channel string, o ListOptions) (lister, error) {
	cp, err := a.channelPath(service, channel)
	if err != nil {
		return lister{}, fmt.Errorf("list messages: %w", err)
	}
	q, err := o.query(true)
	if err != nil {
		return lister{}, fmt.Errorf("list messages: %w", err)
	}
	return lister{first: a.newCall(http.MethodGet, cp+"/Messages", q), key: "messages", what: "messages"}, nil
}

// FetchMessage fetches a message by SID (IM…).
func (a *api) FetchMessage(ctx context.Context, service, channel, sid string) (*Message, error) {
	p, err := a.messagePath(service, channel, sid)
	if err != nil {
		return nil, fmt.Errorf("fetch message: %w", err)
	}
	return one[Message](ctx, a.c, a.newCall(http.MethodGet, p, nil), "message")
}

// CreateMessage creates a message. It is paced by the channel's write rate.
// Through Conversations, p.From is sent as Author and p.LastUpdatedBy is not
// sent (see Losses).
func (a *api) CreateMessage(ctx context.Context, service, channel string, p MessageParams) (*Message, error) {
	cp, err := a.channelPath(service, channel)
	if err != nil {
		return nil, fmt.Errorf("create message: %w", err)
	}
	r := a.newCall(http.MethodPost, cp+"/Messages", nil)
	r.form, r.limiter = a.params(KindMessage, p.form(true), true), a.c.channelRate.get(channelKey(service, channel))
	return one[Message](ctx, a.c, r, "message")
}

// UpdateMessage updates a message; p.MediaSID is not sent. It is paced by
// the channel's write rate.
func (a *api) UpdateMessage(ctx context.Context, service, channel, sid string, p MessageParams) (*Message, error) {
	mp, err := a.messagePath(service, channel, sid)
	if err != nil {
		return nil, fmt.Errorf("update message: %w", err)
	}
	r := a.newCall(http.MethodPost, mp, nil)
	r.form, r.limiter = a.params(KindMessage, p.form(false), false), a.c.channelRate.get(channelKey(service, channel))
	return one[Message](ctx, a.c, r, "message")
}

// DeleteMessage deletes a message. It is paced by the channel's write rate.
func (a *api) DeleteMessage(ctx context.Context, service, channel, sid string) error {
	mp, err := a.messagePath(service, channel, sid)
	if err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	r := a.newCall(http.MethodDelete, mp, nil)
	r.limiter = a.c.channelRate.get(channelKey(service, channel))
	return none(ctx, a.c, r)
}

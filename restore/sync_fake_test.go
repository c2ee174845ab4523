package restore

import (
	"context"
	"slices"

	"github.com/chatvault/chatvault/remote"
)

// The fake target's writes a sync sends.

func (t *fakeTarget) UpdateChannel(ctx context.Context, service, channel string, p remote.ChannelParams) (*remote.Channel, error) {
	var out remote.Channel
	err := t.write(ctx, "UpdateChannel", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		setStr(&c.ch.FriendlyName, p.FriendlyName)
		setStr(&c.ch.UniqueName, p.UniqueName)
		setStr(&c.ch.Attributes, p.Attributes)
		setStr(&c.ch.CreatedBy, p.CreatedBy)
		setTime(&c.ch.DateCreated, p.DateCreated)
		setTime(&c.ch.DateUpdated, p.DateUpdated)
		out = t.channelCopy(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (t *fakeTarget) DeleteChannel(ctx context.Context, service, channel string) error {
	return t.write(ctx, "DeleteChannel", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		t.channels[service] = slices.DeleteFunc(t.channels[service], func(x *fakeChannel) bool { return x == c })
		return nil
	})
}

func (t *fakeTarget) DeleteMember(ctx context.Context, service, channel, member string) error {
	return t.write(ctx, "DeleteMember", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		n := len(c.members)
		c.members = slices.DeleteFunc(c.members, func(m *remote.Member) bool { return m.SID == member || m.Identity == member })
		if len(c.members) == n {
			return notFound("member " + member)
		}
		return nil
	})
}

func (t *fakeTarget) FetchMessage(ctx context.Context, service, channel, sid string) (*remote.Message, error) {
	if err := t.read("FetchMessage"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.find(service, channel)
	if c == nil {
		return nil, notFound("channel " + channel)
	}
	for _, m := range c.messages {
		if m.SID == sid {
			cp := *m
			return &cp, nil
		}
	}
	return nil, notFound("message " + sid)
}

func (t *fakeTarget) UpdateMessage(ctx context.Context, service, channel, sid string, p remote.MessageParams) (*remote.Message, error) {
	var out remote.Message
	err := t.write(ctx, "UpdateMessage", func() error {
		if p.MediaSID != nil {
			return &remote.APIError{Status: 400, Code: 20001, Message: "MediaSid cannot be updated"}
		}
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		for _, m := range c.messages {
			if m.SID == sid {
				setStr(&m.From, p.From)
				setStr(&m.Body, p.Body)
				setStr(&m.Attributes, p.Attributes)
				setStr(&m.LastUpdatedBy, p.LastUpdatedBy)
				setTime(&m.DateCreated, p.DateCreated)
				setTime(&m.DateUpdated, p.DateUpdated)
				out = *m
				return nil
			}
		}
		return notFound("message " + sid)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (t *fakeTarget) DeleteMessage(ctx context.Context, service, channel, sid string) error {
	return t.write(ctx, "DeleteMessage", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		n := len(c.messages)
		c.messages = slices.DeleteFunc(c.messages, func(m *remote.Message) bool { return m.SID == sid })
		if len(c.messages) == n {
			return notFound("message " + sid)
		}
		return nil
	})
}

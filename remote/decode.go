package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// resource is implemented by the pointers to the API's resource types, so the
// decoding and paging code is written once for all of them.
type resource[T any] interface {
	*T
	setRaw(json.RawMessage)
}

func (s *Service) setRaw(b json.RawMessage) { s.Raw = b }
func (r *Role) setRaw(b json.RawMessage)    { r.Raw = b }
func (u *User) setRaw(b json.RawMessage)    { u.Raw = b }
func (c *Channel) setRaw(b json.RawMessage) { c.Raw = b }
func (m *Member) setRaw(b json.RawMessage)  { m.Raw = b }
func (m *Message) setRaw(b json.RawMessage) { m.Raw = b }

// decodeObject decodes one JSON object and keeps data as its Raw. data must
// not be shared with anything else: Raw aliases it.
func decodeObject[T any, P resource[T]](data []byte) (*T, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("expected a JSON object")
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	P(v).setRaw(json.RawMessage(data))
	return v, nil
}

// one sends r and decodes the single resource it answers with. what names
// the resource in errors ("channel").
//
// A write whose 2xx answer cannot be decoded was most likely carried out, but
// the caller cannot know what was created, so it gets an
// *UnknownOutcomeError and reconciles as for a lost answer.
func one[T any, P resource[T]](ctx context.Context, c *Client, r *call, what string) (*T, error) {
	body, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := decodeObject[T, P](body)
	if err != nil {
		err = fmt.Errorf("the answer is not a %s (%w): check that the base URL points at the Chat v2 API", what, err)
		if r.write() {
			return nil, &UnknownOutcomeError{Method: r.method, Path: r.path, Err: err}
		}
		return nil, r.fail(err)
	}
	return v, nil
}

// none sends r and ignores the body of its answer (deletes answer 204).
func none(ctx context.Context, c *Client, r *call) error {
	_, err := c.do(ctx, r)
	return err
}

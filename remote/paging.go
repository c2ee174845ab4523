package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatvault/chatvault/internal/jsonscan"
)

// Page is one page of a list.
type Page[T any] struct {
	Items       []T
	NextPageURL string // "" on the last page
}

// maxPageSize is the largest PageSize the Chat v2 lists accept.
const maxPageSize = 100

// query turns o into the query of a list's first page. Order is accepted only
// for messages, the one list that has it.
func (o ListOptions) query(withOrder bool) (url.Values, error) {
	q := url.Values{}
	switch {
	case o.PageSize == 0:
		q.Set("PageSize", strconv.Itoa(maxPageSize))
	case o.PageSize < 1 || o.PageSize > maxPageSize:
		return nil, fmt.Errorf("page size %d is out of range: use 1 to %d, or 0 for %d", o.PageSize, maxPageSize, maxPageSize)
	default:
		q.Set("PageSize", strconv.Itoa(o.PageSize))
	}
	switch o.Order {
	case "":
	case "asc", "desc":
		if !withOrder {
			return nil, fmt.Errorf("order %q is not supported here: only messages can be listed in an order", o.Order)
		}
		q.Set("Order", o.Order)
	default:
		return nil, fmt.Errorf("order %q is not valid: use \"asc\", \"desc\" or \"\" (ascending)", o.Order)
	}
	return q, nil
}

// decodePage reads a list answer: {"<key>": [...], "meta": {"key": …,
// "next_page_url": …}}. The records are read from the array that meta.key
// names, or fallbackKey when the answer has no meta.key. Each record keeps
// its own bytes as Raw, a capped slice of body: the records of a page share
// its buffer, which must not be used for anything else.
//
// The answer is read in one pass by the scanner of jsonscan.go, which
// checks its syntax and finds each record's bytes: the array named
// fallbackKey is decoded as it is met (meta usually follows it), any other
// only if meta.key names it. A repeated member counts as the last one, as
// with encoding/json.
func decodePage[T any, P resource[T]](body []byte, fallbackKey string) (*Page[*T], error) {
	type member struct {
		key, val []byte
		at       int       // where val starts in body
		items    *Page[*T] // the records of val, when decoded as it was met
		err      error     // why they could not be decoded
	}
	i := jsonscan.SkipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		if !jsonscan.Valid(body) {
			return nil, syntaxError(body)
		}
		return nil, errors.New("expected a JSON object")
	}
	var top []member
	it := jsonscan.NewIter(body, i, 1)
	it.Lazy = true
	for it.Next() {
		k := it.Key[1 : len(it.Key)-1]
		if it.Escaped || !utf8.Valid(k) {
			var s string
			if err := json.Unmarshal(it.Key, &s); err != nil {
				return nil, syntaxError(body)
			}
			k = []byte(s)
		}
		m := member{key: k, at: it.I}
		if it.I < len(body) && body[it.I] == '[' && string(k) == fallbackKey {
			start := it.I
			var end int
			m.items, end, m.err = decodeItems[T, P](body, start, fallbackKey)
			if errors.Is(m.err, jsonscan.ErrSyntax) {
				return nil, syntaxError(body)
			}
			it.Resume(end)
			m.val = body[start:end]
		} else if it.Value() {
			m.val = it.Val
		}
		top = append(top, m)
	}
	if it.Err == nil && jsonscan.SkipSpace(body, it.End) != len(body) {
		it.Err = jsonscan.ErrSyntax
	}
	if it.Err != nil {
		return nil, syntaxError(body)
	}
	find := func(key string) (member, bool) {
		for j := len(top) - 1; j >= 0; j-- {
			if string(top[j].key) == key {
				return top[j], true
			}
		}
		return member{}, false
	}

	var meta struct {
		Key         string  `json:"key"`
		NextPageURL *string `json:"next_page_url"`
	}
	if m, ok := find("meta"); ok {
		if err := json.Unmarshal(m.val, &meta); err != nil {
			return nil, fmt.Errorf("meta: %w", err)
		}
	}
	key := meta.Key
	if key == "" {
		key = fallbackKey
	}
	m, ok := find(key)
	if !ok {
		return nil, fmt.Errorf("no %q array in it", key)
	}
	p, err := m.items, m.err
	switch {
	case p != nil || err != nil:
	case m.val[0] == 'n':
		p = &Page[*T]{} // null: no records
	case m.val[0] != '[':
		var raws []json.RawMessage
		err = fmt.Errorf("%q: %w", key, json.Unmarshal(m.val, &raws))
	default:
		p, _, err = decodeItems[T, P](body, m.at, key)
	}
	if err != nil {
		return nil, err
	}
	if meta.NextPageURL != nil {
		p.NextPageURL = *meta.NextPageURL
	}
	return p, nil
}

// decodeItems decodes the array of records at d[i] (at nesting level 2 of
// the answer), checking its syntax to the end (jsonscan.ErrSyntax). The first record
// that is not an object of T's shape gives an error naming key and its
// position.
func decodeItems[T any, P resource[T]](d []byte, i int, key string) (*Page[*T], int, error) {
	p := &Page[*T]{}
	var block []T // records are allocated in blocks, not one by one
	var first error
	it := jsonscan.NewIter(d, i, 2)
	it.Lazy = true
	for n := 0; it.Next(); n++ {
		start := it.I
		if len(block) == 0 {
			block = make([]T, min(max(8, n), 128))
		}
		v := &block[0]
		end, ok := decodeFields(any(v), d, start, 3)
		if !ok {
			// Not for the fast path: find the record's end, then let
			// encoding/json decode it.
			if !it.Value() {
				break
			}
			end = it.I
			*v = *new(T)
			var err error
			if d[start] != '{' {
				err = errors.New("expected a JSON object")
			} else {
				err = json.Unmarshal(d[start:end], v)
			}
			if err != nil {
				if first == nil {
					first = fmt.Errorf("%s[%d]: %w", key, n, err)
				}
				continue
			}
		}
		it.Resume(end)
		P(v).setRaw(json.RawMessage(d[start:end:end]))
		block = block[1:]
		p.Items = append(p.Items, v)
	}
	if it.Err != nil {
		return nil, 0, it.Err
	}
	if first != nil {
		return nil, it.End, first
	}
	return p, it.End, nil
}

// syntaxError says what is wrong with data, which the scanner refused.
func syntaxError(data []byte) error {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	return jsonscan.ErrSyntax // not reached: the scanner accepts what encoding/json accepts
}

// pageCall builds the call that fetches a next_page_url verbatim. The URL
// must be on the API root's scheme and host (default ports filled in): the
// client sends its credentials with every request and must not send them
// elsewhere because an answer said so. A relative URL is resolved against
// the root.
func (a *api) pageCall(raw string) (*call, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("next page URL is not a valid URL (%v): start the list again from its first page", err)
	}
	u = a.root.ResolveReference(u)
	if u.User != nil {
		return nil, errors.New("next page URL carries user information: refusing to follow it")
	}
	if !sameOrigin(u, a.root) {
		return nil, fmt.Errorf("next page URL points at %s://%s, not at the API base %s://%s: refusing to send credentials there (check the %s, or the proxy in front of the API)",
			u.Scheme, u.Host, a.root.Scheme, a.root.Host, a.setting)
	}
	u.Fragment, u.RawFragment = "", ""
	return &call{method: http.MethodGet, url: u.String(), path: u.EscapedPath(), api: a}, nil
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// lister describes one list endpoint.
type lister struct {
	first *call  // the first page
	key   string // the records' array when meta.key is absent
	what  string // plural for errors, e.g. "messages"
}

// getPage fetches the first page of l (pageURL "") or pageURL.
func getPage[T any, P resource[T]](ctx context.Context, c *Client, l lister, pageURL string) (*Page[*T], error) {
	r := l.first
	if pageURL != "" {
		var err error
		if r, err = l.first.api.pageCall(pageURL); err != nil {
			return nil, fmt.Errorf("list %s: %w", l.what, err)
		}
	}
	body, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	p, err := decodeList[T, P](r.api, body, l.key)
	if err != nil {
		return nil, r.fail(fmt.Errorf("the answer is not a page of %s (%w): %s", l.what, err, r.api.hint()))
	}
	if p.NextPageURL != "" {
		next, err := r.api.pageCall(p.NextPageURL)
		if err != nil {
			return nil, r.fail(err)
		}
		p.NextPageURL = next.url
	}
	return p, nil
}

// walk yields every record of l, page after page, following next_page_url
// until it is null. It stops at the first error (yielded with a nil record)
// or when the consumer stops. A URL met twice ends the walk with an error
// rather than looping forever. setupErr, when not nil, is yielded alone.
func walk[T any, P resource[T]](ctx context.Context, c *Client, l lister, setupErr error) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		if setupErr != nil {
			yield(nil, setupErr)
			return
		}
		seen := map[string]bool{l.first.url: true}
		next := ""
		for {
			p, err := getPage[T, P](ctx, c, l, next)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, v := range p.Items {
				if !yield(v, nil) {
					return
				}
			}
			if p.NextPageURL == "" {
				return
			}
			if seen[p.NextPageURL] {
				yield(nil, fmt.Errorf("list %s: the service sent a next page URL already visited (%s): stopping instead of looping; retry the list later",
					l.what, stripQuery(p.NextPageURL)))
				return
			}
			seen[p.NextPageURL] = true
			next = p.NextPageURL
		}
	}
}

// stripQuery returns raw without its query, for messages.
func stripQuery(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

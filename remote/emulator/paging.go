package emulator

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Paging follows the Chat v2 rules: PageSize (default 50, maximum 100),
// Page (zero-based) and PageToken. A page token names a position, not an
// offset: "PT<key>" means "the items after key" and "PB<key>" means "the
// items before key", in the list's order. The key is a message's index, or
// the creation sequence number of a service, user, channel or member, so a
// next_page_url stays correct while items are added or deleted.

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// pageQuery is the paging part of a list request.
type pageQuery struct {
	size  int
	page  int
	token pageToken
	desc  bool
}

type pageToken struct {
	set    bool
	before bool // "PB": the page before key; otherwise "PT": the page after key
	key    int64
}

func (t pageToken) String() string {
	p := "PT"
	if t.before {
		p = "PB"
	}
	return p + strconv.FormatInt(t.key, 10)
}

// parsePageQuery reads PageSize, Page and PageToken. A PageSize above the
// list's maximum (limit) is lowered to it (twilio-go sends up to 1000), as
// documented in doc.go; zero, negative or non-numeric sizes are refused.
func parsePageQuery(q url.Values, limit int) (pageQuery, *apiError) {
	pq := pageQuery{size: min(defaultPageSize, limit)}
	if v, ok := first(q, "PageSize"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			lim := strconv.Itoa(limit)
			return pq, badRequest(codeInvalidParameter, "PageSize "+strconv.Quote(v)+" is not a whole number from 1 to "+lim+"; send a PageSize from 1 to "+lim+" or leave it out for "+strconv.Itoa(pq.size))
		}
		pq.size = min(n, limit)
	}
	if v, ok := first(q, "Page"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pq, badRequest(codeInvalidParameter, "Page "+strconv.Quote(v)+" is not a whole number of 0 or more; send a zero-based page number or follow next_page_url")
		}
		pq.page = n
	}
	if v, ok := first(q, "PageToken"); ok {
		t, ok := parsePageToken(v)
		if !ok {
			return pq, badRequest(codeInvalidPageToken, "PageToken "+strconv.Quote(v)+" is not a page token this list issued; follow next_page_url as returned instead of building tokens")
		}
		pq.token = t
	}
	return pq, nil
}

func parsePageToken(v string) (pageToken, bool) {
	if len(v) < 3 || len(v) > 22 {
		return pageToken{}, false
	}
	var t pageToken
	switch v[:2] {
	case "PT":
	case "PB":
		t.before = true
	default:
		return pageToken{}, false
	}
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return pageToken{}, false
		}
	}
	n, err := strconv.ParseInt(v[2:], 10, 64)
	if err != nil {
		return pageToken{}, false
	}
	t.set, t.key = true, n
	return t, true
}

// first returns the first value of name in q and whether it was sent.
func first(q url.Values, name string) (string, bool) {
	vs, ok := q[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// window picks the page out of n items held in ascending key order (key(i)
// is the key of item i). It returns the item positions [from, to) — to be
// emitted in reverse for a descending list — and the tokens of the next and
// previous pages (unset when there is none).
func window(n int, key func(int) int64, pq pageQuery) (from, to int, next, prev pageToken) {
	above := func(k int64) int { return sort.Search(n, func(i int) bool { return key(i) > k }) }
	atOrAbove := func(k int64) int { return sort.Search(n, func(i int) bool { return key(i) >= k }) }
	t := pq.token
	if !pq.desc {
		switch {
		case !t.set:
			from = n
			if pq.page <= n { // page*size cannot overflow
				from = min(pq.page*pq.size, n)
			}
			to = min(from+pq.size, n)
		case t.before:
			to = atOrAbove(t.key)
			from = max(0, to-pq.size)
		default:
			from = above(t.key)
			to = min(from+pq.size, n)
		}
		if from < to {
			if to < n {
				next = pageToken{set: true, key: key(to - 1)}
			}
			if from > 0 {
				prev = pageToken{set: true, before: true, key: key(from)}
			}
		}
		return from, to, next, prev
	}
	switch {
	case !t.set:
		skip := n
		if pq.page <= n { // page*size cannot overflow
			skip = min(pq.page*pq.size, n)
		}
		to = n - skip
		from = max(0, to-pq.size)
	case t.before:
		from = above(t.key)
		to = min(n, from+pq.size)
	default:
		to = atOrAbove(t.key)
		from = max(0, to-pq.size)
	}
	if from < to {
		if from > 0 {
			next = pageToken{set: true, key: key(from)}
		}
		if to < n {
			prev = pageToken{set: true, before: true, key: key(to - 1)}
		}
	}
	return from, to, next, prev
}

// listURL builds the absolute URL of one page of a list. filters are the
// list's own query parameters (Type, Identity, Order), already in the order
// they should appear.
func listURL(base, path string, filters [][2]string, size, page int, token pageToken) string {
	var sb strings.Builder
	sb.WriteString(base)
	sb.WriteString(path)
	sb.WriteString("?PageSize=")
	sb.WriteString(strconv.Itoa(size))
	sb.WriteString("&Page=")
	sb.WriteString(strconv.Itoa(page))
	for _, f := range filters {
		sb.WriteByte('&')
		sb.WriteString(url.QueryEscape(f[0]))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(f[1]))
	}
	if token.set {
		sb.WriteString("&PageToken=")
		sb.WriteString(token.String())
	}
	return sb.String()
}

// listPage is what a list handler hands to appendList.
type listPage struct {
	base, path string
	filters    [][2]string
	key        string // "channels", "messages", …
	pq         pageQuery
	next, prev pageToken
}

// appendListOpen starts a list body: `{"<key>":[`.
func appendListOpen(b []byte, key string) []byte {
	b = append(b, '{', '"')
	b = append(b, key...)
	return append(b, '"', ':', '[')
}

// appendListClose ends the items array and appends meta.
func appendListClose(b []byte, lp listPage) []byte {
	b = append(b, ']')
	b = append(b, `,"meta":{"page":`...)
	b = strconv.AppendInt(b, int64(lp.pq.page), 10)
	b = append(b, `,"page_size":`...)
	b = strconv.AppendInt(b, int64(lp.pq.size), 10)
	b = append(b, `,"first_page_url":`...)
	b = appendString(b, listURL(lp.base, lp.path, lp.filters, lp.pq.size, 0, pageToken{}))
	b = append(b, `,"previous_page_url":`...)
	if lp.prev.set {
		b = appendString(b, listURL(lp.base, lp.path, lp.filters, lp.pq.size, max(lp.pq.page-1, 0), lp.prev))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"url":`...)
	b = appendString(b, listURL(lp.base, lp.path, lp.filters, lp.pq.size, lp.pq.page, lp.pq.token))
	b = append(b, `,"next_page_url":`...)
	if lp.next.set {
		b = appendString(b, listURL(lp.base, lp.path, lp.filters, lp.pq.size, lp.pq.page+1, lp.next))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"key":`...)
	b = appendString(b, lp.key)
	return append(b, '}', '}')
}

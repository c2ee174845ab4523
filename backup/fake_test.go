package backup

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// Request kinds counted by fakeSource.
const (
	kService      = "service"
	kRoles        = "roles"
	kChannels     = "channels"
	kFetchChannel = "fetch_channel"
	kMembers      = "members"
	kMessages     = "messages"
	kUsers        = "users"
	kMedia        = "media" // OpenMedia; the fail hook gets the ME SID as channel
)

// fakeSource is an in-memory Chat service implementing Source. It pages
// messages newest first by index (its page URLs name the index to continue
// below), counts requests per kind and injects faults.
type fakeSource struct {
	mu       sync.Mutex
	sid      string
	api      string // remote.APIChat (also when "") or remote.APIConversations: see conversations
	roles    []fakeRole
	users    []fakeUser
	channels []*fakeChannel
	kinds    map[string]int
	urls     map[string][]string // channel SID → message page URLs requested ("" = first page)
	requests atomic.Int64
	gen      int // page URLs of an older generation are refused with 400 (expired token)

	// Faults, all off when zero.
	fail      func(kind, channel string) error                                                // consulted before every request
	pageHook  func(channel string, n int)                                                     // after the n-th message page of a channel was served (1-based)
	pageEdit  func(url string, p *remote.Page[*remote.Message]) *remote.Page[*remote.Message] // rewrites a served page
	pagesSeen map[string]int
	// mediaEdit, when set, rewrites the bytes an OpenMedia serves (the
	// metadata keeps the true size): a corrupt download.
	mediaEdit func(sid string, data []byte) []byte
	mediaSeen map[string]int // OpenMedia requests per ME SID
}

type fakeRole struct{ sid, name string }

type fakeUser struct{ sid, identity string }

type fakeChannel struct {
	sid, uniqueName, typ string
	updated              time.Time
	members              []fakeMember
	messages             []fakeMessage // ascending index
	nextIndex            int64
}

type fakeMember struct{ sid, identity, attrs string }

type fakeMessage struct {
	sid    string
	index  int64
	body   string
	edited bool
	edits  int // how many times edited: the message's date_updated moves with each
	media  *fakeMedia
}

// fakeMedia is a media file of the fake service.
type fakeMedia struct {
	sid, contentType, filename string
	data                       []byte
}

func (m *fakeMedia) remote() *remote.Media {
	return &remote.Media{SID: m.sid, Size: int64(len(m.data)), ContentType: m.contentType, Filename: m.filename}
}

func hexSID(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, n) }

// newFakeSource builds a service with channels × messages (indexes 0…n-1)
// and three members per channel.
func newFakeSource(channels, messages int) *fakeSource {
	f := &fakeSource{
		sid:       hexSID("IS", 1),
		kinds:     map[string]int{},
		urls:      map[string][]string{},
		pagesSeen: map[string]int{},
		mediaSeen: map[string]int{},
		roles:     []fakeRole{{hexSID("RL", 1), "channel user"}, {hexSID("RL", 2), "service admin"}},
		users:     []fakeUser{{hexSID("US", 1), "user-0"}, {hexSID("US", 2), "user-1"}, {hexSID("US", 3), "user-2"}},
	}
	for c := range channels {
		ch := &fakeChannel{
			sid:        hexSID("CH", c+1),
			uniqueName: fmt.Sprintf("room-%d", c+1),
			typ:        []string{"public", "private"}[c%2],
			updated:    time.Date(2026, 1, 1, 0, 0, c, 0, time.UTC),
		}
		for m := range 3 {
			ch.members = append(ch.members, fakeMember{hexSID("MB", (c+1)*100+m), fmt.Sprintf("user-%d", m), "{}"})
		}
		for range messages {
			ch.add(fmt.Sprintf("hello %d", ch.nextIndex))
		}
		f.channels = append(f.channels, ch)
	}
	return f
}

func (c *fakeChannel) add(body string) int64 {
	i := c.nextIndex
	c.nextIndex++
	c.messages = append(c.messages, fakeMessage{sid: fakeMessageSID(c.sid, i), index: i, body: body})
	return i
}

// fakeMessageSID is the SID of the message at index i of channel ch.
func fakeMessageSID(ch string, i int64) string { return fmt.Sprintf("IM%s%016x", ch[18:], i) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// conversations makes f serve as Conversations does (remote.CapabilitiesOf):
// channels without messages_count or links.last_message, private channels
// only, and a message's date_updated set only once it is edited.
func (f *fakeSource) conversations() *fakeSource {
	f.api = remote.APIConversations
	return f
}

func (f *fakeSource) API() string { return cmp.Or(f.api, remote.APIChat) }

// fakeEpoch dates the fake's messages.
var fakeEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *fakeChannel) raw(service string) []byte {
	return mustJSON(map[string]any{
		"sid": c.sid, "service_sid": service, "unique_name": c.uniqueName, "type": c.typ,
		"messages_count": len(c.messages), "members_count": len(c.members),
		"date_updated": c.updated.Format(time.RFC3339),
		"links":        map[string]any{"last_message": c.lastMessageURL()},
	})
}

// lastMessageURL is the channel's links.last_message: nil when empty.
func (c *fakeChannel) lastMessageURL() any {
	if len(c.messages) == 0 {
		return nil
	}
	return "https://chat.example/Messages/" + c.messages[len(c.messages)-1].sid
}

func (c *fakeChannel) remote(service, api string) *remote.Channel {
	if api == remote.APIConversations {
		return &remote.Channel{
			SID: c.sid, ServiceSID: service, UniqueName: c.uniqueName, Type: "private", DateUpdated: c.updated,
			Raw: mustJSON(map[string]any{"sid": c.sid, "chat_service_sid": service, "unique_name": c.uniqueName,
				"date_updated": c.updated.Format(time.RFC3339), "links": map[string]any{"participants": "p", "messages": "m"}}),
		}
	}
	return &remote.Channel{
		SID: c.sid, ServiceSID: service, UniqueName: c.uniqueName, Type: c.typ,
		MessagesCount: len(c.messages), MembersCount: len(c.members), DateUpdated: c.updated,
		Raw: c.raw(service),
	}
}

// remote is the message as api shows it.
func (m fakeMessage) remote(channel, api string) *remote.Message {
	r := &remote.Message{SID: m.sid, Index: m.index, Body: m.body, ChannelSID: channel, Raw: m.raw(channel)}
	if m.media != nil {
		r.Type, r.Media = "media", m.media.remote()
	}
	if api == remote.APIConversations {
		if m.edits > 0 {
			r.DateUpdated = fakeEpoch.Add(time.Duration(m.edits) * time.Second)
		}
		r.Raw = mustJSON(map[string]any{"sid": m.sid, "conversation_sid": channel, "index": m.index, "body": m.body,
			"date_updated": map[bool]any{true: r.DateUpdated.Format(time.RFC3339), false: nil}[m.edits > 0]})
	}
	return r
}

func (m fakeMember) raw(channel string) []byte {
	return mustJSON(map[string]any{"sid": m.sid, "channel_sid": channel, "identity": m.identity, "attributes": m.attrs})
}

func (m fakeMessage) raw(channel string) []byte {
	o := map[string]any{"sid": m.sid, "channel_sid": channel, "index": m.index, "body": m.body, "was_edited": m.edited, "type": "text"}
	if m.media != nil {
		o["type"], o["media"] = "media", m.media.remote()
	}
	return mustJSON(o)
}

// postMedia posts a media message with a file of size bytes to channel ch
// and returns the file.
func (f *fakeSource) postMedia(ch, size int) *fakeMedia {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.channels[ch]
	i := c.add("")
	data := make([]byte, size)
	for k := range data {
		data[k] = byte(k*7 + int(i) + ch)
	}
	me := &fakeMedia{sid: hexSID("ME", (ch+1)<<20+int(i)), contentType: "image/png", filename: fmt.Sprintf("pic-%d.png", i), data: data}
	c.messages[len(c.messages)-1].media = me
	return me
}

// mediaRequests is how many OpenMedia requests media sid had.
func (f *fakeSource) mediaRequests(sid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mediaSeen[sid]
}

// findMedia returns media sid of the service; f.mu held.
func (f *fakeSource) findMedia(sid string) *fakeMedia {
	for _, c := range f.channels {
		for _, m := range c.messages {
			if m.media != nil && m.media.sid == sid {
				return m.media
			}
		}
	}
	return nil
}

// OpenMedia serves a media file; like the real client, reading its body
// to the end fails with remote.ErrMediaCorrupt when the byte count is not
// the size the metadata gives.
func (f *fakeSource) OpenMedia(ctx context.Context, service, sid string) (*remote.MediaFile, io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mediaSeen[sid]++
	if err := f.begin(ctx, kMedia, sid); err != nil {
		return nil, nil, err
	}
	me := f.findMedia(sid)
	if me == nil {
		return nil, nil, notFound("/v1/Services/"+service+"/Media/"+sid, 20404)
	}
	meta := &remote.MediaFile{SID: sid, ServiceSID: service, ContentType: me.contentType, Filename: me.filename,
		Size: int64(len(me.data)), Raw: mustJSON(map[string]any{"sid": sid, "size": len(me.data), "content_type": me.contentType, "filename": me.filename})}
	data := me.data
	if f.mediaEdit != nil {
		data = f.mediaEdit(sid, slices.Clone(data))
	}
	return meta, io.NopCloser(&sizedReader{r: bytes.NewReader(data), want: meta.Size}), nil
}

// sizedReader fails at EOF when it read another count than want.
type sizedReader struct {
	r    io.Reader
	n    int64
	want int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err == io.EOF && s.n != s.want {
		return n, fmt.Errorf("fake: %d bytes, metadata says %d: %w", s.n, s.want, remote.ErrMediaCorrupt)
	}
	return n, err
}

// --- mutations used by tests ---

func (f *fakeSource) channel(i int) *fakeChannel {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.channels[i]
}

func (f *fakeSource) postMessages(ch, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.channels[ch]
	for range n {
		c.add("new " + strconv.FormatInt(c.nextIndex, 10))
	}
	// Like the emulator (and, as far as is documented, the service): a new
	// message leaves the channel's date_updated alone.
}

func (f *fakeSource) editMessage(ch int, index int64, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, m := range f.channels[ch].messages {
		if m.index == index {
			f.channels[ch].messages[k].body, f.channels[ch].messages[k].edited = body, true
			f.channels[ch].messages[k].edits++
			return
		}
	}
	panic("no such message")
}

func (f *fakeSource) deleteMessage(ch int, index int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.channels[ch]
	c.messages = slices.DeleteFunc(c.messages, func(m fakeMessage) bool { return m.index == index })
}

func (f *fakeSource) deleteChannel(ch int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels = slices.Delete(f.channels, ch, ch+1)
}

func (f *fakeSource) resetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kinds = map[string]int{}
	f.urls = map[string][]string{}
	f.pagesSeen = map[string]int{}
	f.mediaSeen = map[string]int{}
}

func (f *fakeSource) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kinds[kind]
}

func (f *fakeSource) pageURLs(ch string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.urls[ch])
}

// --- Source ---

// begin counts a request of kind and returns the injected fault, if any.
// It is called with f.mu held.
func (f *fakeSource) begin(ctx context.Context, kind, channel string) error {
	f.requests.Add(1)
	f.kinds[kind]++
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail(kind, channel)
	}
	return nil
}

func (f *fakeSource) Requests() int64 { return f.requests.Load() }

func notFound(path string, code int) error {
	return &remote.APIError{Method: "GET", Path: path, Status: 404, Code: code, Message: "not found"}
}

func (f *fakeSource) FetchService(ctx context.Context, sid string) (*remote.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(ctx, kService, ""); err != nil {
		return nil, err
	}
	if sid != f.sid {
		return nil, notFound("/v2/Services/"+sid, 50050)
	}
	return &remote.Service{SID: f.sid, Raw: mustJSON(map[string]any{"sid": f.sid, "friendly_name": "fake"})}, nil
}

func (f *fakeSource) ListUsers(ctx context.Context, service string) iter.Seq2[*remote.User, error] {
	return pages(ctx, f, kUsers, "", func(int) ([]*remote.User, bool, error) {
		var page []*remote.User
		for _, u := range f.users {
			page = append(page, &remote.User{SID: u.sid, Identity: u.identity, Raw: mustJSON(map[string]any{"sid": u.sid, "identity": u.identity})})
		}
		return page, false, nil
	})
}

func (f *fakeSource) ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error] {
	return func(yield func(*remote.Role, error) bool) {
		f.mu.Lock()
		err := f.begin(ctx, kRoles, "")
		var roles []*remote.Role
		for _, r := range f.roles {
			roles = append(roles, &remote.Role{SID: r.sid, FriendlyName: r.name, Raw: mustJSON(map[string]any{"sid": r.sid, "friendly_name": r.name})})
		}
		f.mu.Unlock()
		if err != nil {
			yield(nil, err)
			return
		}
		for _, r := range roles {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// fakeChannelPage is the channel listing's page size.
const fakeChannelPage = 50

func (f *fakeSource) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error] {
	return pages(ctx, f, kChannels, "", func(n int) ([]*remote.Channel, bool, error) {
		start := n * fakeChannelPage
		var page []*remote.Channel
		for i, c := range f.channels {
			visible := f.API() == remote.APIChat || c.typ == "private"
			if i >= start && i < start+fakeChannelPage && visible && (len(types) == 0 || slices.Contains(types, c.typ)) {
				page = append(page, c.remote(f.sid, f.API()))
			}
		}
		return page, len(f.channels) > start+fakeChannelPage, nil
	})
}

// pages yields the items of pages 0, 1, … until one fails or says no more
// follow. Each page is one request of kind: page runs with f.mu held, after
// the request was counted (and not when it was refused).
func pages[T any](ctx context.Context, f *fakeSource, kind, channel string, page func(n int) (items []T, more bool, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for n := 0; ; n++ {
			f.mu.Lock()
			err := f.begin(ctx, kind, channel)
			var items []T
			more := false
			if err == nil {
				items, more, err = page(n)
			}
			f.mu.Unlock()
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}

// find returns the channel by SID or unique name; f.mu held.
func (f *fakeSource) find(sidOrName string) *fakeChannel {
	for _, c := range f.channels {
		if c.sid == sidOrName || c.uniqueName == sidOrName {
			return c
		}
	}
	return nil
}

func (f *fakeSource) FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(ctx, kFetchChannel, sidOrUniqueName); err != nil {
		return nil, err
	}
	c := f.find(sidOrUniqueName)
	if c == nil || f.API() == remote.APIConversations && c.typ == "public" {
		return nil, notFound("/v2/Services/"+service+"/Channels/"+sidOrUniqueName, 50300)
	}
	return c.remote(f.sid, f.API()), nil
}

func (f *fakeSource) ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error] {
	size := cmp.Or(o.PageSize, 100)
	return pages(ctx, f, kMembers, channel, func(n int) ([]*remote.Member, bool, error) {
		c := f.find(channel)
		if c == nil {
			return nil, false, notFound("/v2/Services/"+service+"/Channels/"+channel+"/Members", 50300)
		}
		start := n * size
		var page []*remote.Member
		for _, m := range c.members[min(start, len(c.members)):min(start+size, len(c.members))] {
			page = append(page, &remote.Member{SID: m.sid, Identity: m.identity, ChannelSID: c.sid, Raw: m.raw(c.sid)})
		}
		return page, len(c.members) > start+size, nil
	})
}

// MessagesPage serves newest-first pages only (backup never asks for asc);
// a page URL continues below the index it names.
func (f *fakeSource) MessagesPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error) {
	f.mu.Lock()
	f.urls[channel] = append(f.urls[channel], pageURL)
	err := f.begin(ctx, kMessages, channel)
	page, perr := f.messagesPage(service, channel, o, pageURL)
	var n int
	if err == nil && perr == nil {
		f.pagesSeen[channel]++
		n = f.pagesSeen[channel]
	}
	hook := f.pageHook
	if f.pageEdit != nil && perr == nil && err == nil {
		page = f.pageEdit(pageURL, page)
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	if hook != nil {
		hook(channel, n)
	}
	return page, nil
}

// messagesPage builds a page; f.mu held.
func (f *fakeSource) messagesPage(service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error) {
	if o.Order != "desc" {
		return nil, fmt.Errorf("fake serves Order=desc only, got %q", o.Order)
	}
	c := f.find(channel)
	path := "/v2/Services/" + service + "/Channels/" + channel + "/Messages"
	if c == nil {
		return nil, notFound(path, 50300)
	}
	size := o.PageSize
	before := int64(1 << 62)
	if pageURL != "" {
		u, err := url.Parse(pageURL)
		if err != nil {
			return nil, err
		}
		if u.Query().Get("Gen") != strconv.Itoa(f.gen) {
			return nil, &remote.APIError{Method: "GET", Path: path, Status: 400, Code: 21481, Message: "invalid PageToken"}
		}
		if size, err = strconv.Atoi(u.Query().Get("PageSize")); err != nil {
			return nil, err
		}
		if before, err = strconv.ParseInt(u.Query().Get("Before"), 10, 64); err != nil {
			return nil, err
		}
	}
	p := &remote.Page[*remote.Message]{}
	for k := len(c.messages) - 1; k >= 0 && len(p.Items) < size; k-- {
		m := c.messages[k]
		if m.index >= before {
			continue
		}
		p.Items = append(p.Items, m.remote(c.sid, f.API()))
	}
	if len(p.Items) == size {
		low := p.Items[len(p.Items)-1].Index
		if slices.ContainsFunc(c.messages, func(m fakeMessage) bool { return m.index < low }) {
			p.NextPageURL = fmt.Sprintf("http://fake%s?Order=desc&PageSize=%d&Before=%d&Gen=%d", path, size, low, f.gen)
		}
	}
	return p, nil
}

// ListMessages lists oldest first only (Compare never asks for desc), a
// page of o.PageSize (default 100) per request, counted as kMessages.
func (f *fakeSource) ListMessages(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Message, error] {
	size := cmp.Or(o.PageSize, 100)
	var after int64 // the highest index listed so far
	return pages(ctx, f, kMessages, channel, func(n int) ([]*remote.Message, bool, error) {
		if n == 0 {
			after = -1
		}
		c := f.find(channel)
		switch {
		case o.Order != "asc":
			return nil, false, fmt.Errorf("fake lists Order=asc only, got %q", o.Order)
		case c == nil:
			return nil, false, notFound("/v2/Services/"+service+"/Channels/"+channel+"/Messages", 50300)
		}
		var page []*remote.Message
		for _, m := range c.messages {
			if m.index <= after {
				continue
			}
			if len(page) == size {
				return page, true, nil
			}
			page = append(page, m.remote(c.sid, f.API()))
			after = m.index
		}
		return page, false, nil
	})
}

var _ Source = (*fakeSource)(nil)

// expect fails the test when got != want.
func expect[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

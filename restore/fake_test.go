package restore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// ---- fake target service ----

// fault is what fakeTarget does with one request.
type fault int

const (
	faultNone  fault = iota
	faultLost        // carry the write out, then report an unknown outcome
	faultFail        // report an unknown outcome without acting (a 5xx)
	faultAuth        // 401
	faultError       // some other API error
	faultKill        // carry the write out, then "kill the process" (see fakeTarget.kill)
)

type fakeChannel struct {
	ch       remote.Channel
	members  []*remote.Member
	messages []*remote.Message
	next     int64
}

type fakeTarget struct {
	mu       sync.Mutex
	seq      int
	channels map[string][]*fakeChannel // service → channels
	roles    map[string][]*remote.Role
	users    map[string][]*remote.User
	api      string // API(): "" is Chat
	requests atomic.Int64
	writes   atomic.Int64
	// onWrite, when set, decides the fate of every write; n counts writes from 1.
	onWrite func(op string, n int64) fault
	// onRead, when set, decides the fate of every read.
	onRead func(op string) fault
	// kill is called on faultKill after the write was carried out; from
	// then on every write fails until killed is reset.
	kill   func()
	killed bool
	// beforeFetchChannel runs (unlocked) before a channel is read, given its SID or unique name.
	beforeFetchChannel func(sidOrUniqueName string)
	// afterCreateMessage runs (unlocked) after a message is created: tests use it to write foreign messages.
	afterCreateMessage func(channel string)
	// media holds each service's media files: service → ME SID → file.
	media   map[string]map[string]*fakeFile
	uploads atomic.Int64 // media uploads carried out
}

// fakeFile is a media file of a fake service.
type fakeFile struct {
	media remote.Media
	data  []byte
}

func newFakeTarget(services ...string) *fakeTarget {
	t := &fakeTarget{channels: map[string][]*fakeChannel{}, roles: map[string][]*remote.Role{}, media: map[string]map[string]*fakeFile{}}
	for _, s := range services {
		t.channels[s] = nil
		t.media[s] = map[string]*fakeFile{}
		t.roles[s] = []*remote.Role{
			{SID: t.sid("RL"), ServiceSID: s, FriendlyName: "channel user", Type: "channel"},
			{SID: t.sid("RL"), ServiceSID: s, FriendlyName: "channel admin", Type: "channel"},
			{SID: t.sid("RL"), ServiceSID: s, FriendlyName: "service user", Type: "deployment"},
		}
	}
	return t
}

func (t *fakeTarget) sid(prefix string) string {
	t.seq++
	return fmt.Sprintf("%s%032x", prefix, t.seq+0xabc000)
}

var errFakeAuth = fmt.Errorf("fake: HTTP 401 code 20003: %w", remote.ErrAuthentication)

func (t *fakeTarget) read(op string) error {
	t.requests.Add(1)
	if t.onRead != nil {
		switch t.onRead(op) {
		case faultAuth:
			return errFakeAuth
		case faultError, faultFail:
			return fmt.Errorf("fake: HTTP 500 on %s", op)
		}
	}
	return nil
}

// write runs apply unless the fault says otherwise.
func (t *fakeTarget) write(ctx context.Context, op string, apply func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.requests.Add(1)
	n := t.writes.Add(1)
	f := faultNone
	if t.onWrite != nil {
		f = t.onWrite(op, n)
	}
	switch f {
	case faultAuth:
		return errFakeAuth
	case faultError:
		return fmt.Errorf("fake: HTTP 400 code 50000 on %s", op)
	case faultFail:
		return fmt.Errorf("fake: HTTP 503 on %s: %w", op, remote.ErrUnknownOutcome)
	}
	t.mu.Lock()
	if t.killed {
		// The "process" is dead: it sends nothing more.
		t.mu.Unlock()
		return fmt.Errorf("fake: process killed: %w", context.Canceled)
	}
	err := apply()
	if err == nil && f == faultKill {
		t.killed = true // at once, so no other goroutine writes after the kill
	}
	t.mu.Unlock()
	if err != nil {
		return err
	}
	switch f {
	case faultLost:
		return fmt.Errorf("fake: connection reset: %w", remote.ErrUnknownOutcome)
	case faultKill:
		t.kill()
		return fmt.Errorf("fake: killed: %w", context.Canceled)
	}
	return nil
}

func (t *fakeTarget) Requests() int64 { return t.requests.Load() }

func (t *fakeTarget) find(service, sidOrName string) *fakeChannel {
	for _, c := range t.channels[service] {
		if c.ch.SID == sidOrName || (c.ch.UniqueName != "" && c.ch.UniqueName == sidOrName) {
			return c
		}
	}
	return nil
}

func notFound(what string) error {
	return fmt.Errorf("fake: %s: HTTP 404: %w", what, remote.ErrNotFound)
}

func (t *fakeTarget) ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error] {
	return func(yield func(*remote.Role, error) bool) {
		if err := t.read("ListRoles"); err != nil {
			yield(nil, err)
			return
		}
		t.mu.Lock()
		rs, ok := t.roles[service]
		rs = slices.Clone(rs)
		t.mu.Unlock()
		if !ok {
			yield(nil, notFound("service "+service))
			return
		}
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (t *fakeTarget) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error] {
	return func(yield func(*remote.Channel, error) bool) {
		if err := t.read("ListChannels"); err != nil {
			yield(nil, err)
			return
		}
		t.mu.Lock()
		var out []*remote.Channel
		for _, c := range t.channels[service] {
			cp := t.channelCopy(c)
			out = append(out, &cp)
		}
		t.mu.Unlock()
		for _, c := range out {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func (t *fakeTarget) channelCopy(c *fakeChannel) remote.Channel {
	cp := c.ch
	cp.MembersCount, cp.MessagesCount = len(c.members), len(c.messages)
	return cp
}

func (t *fakeTarget) FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error) {
	if t.beforeFetchChannel != nil {
		t.beforeFetchChannel(sidOrUniqueName)
	}
	if err := t.read("FetchChannel"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.find(service, sidOrUniqueName)
	if c == nil {
		return nil, notFound("channel " + sidOrUniqueName)
	}
	cp := t.channelCopy(c)
	return &cp, nil
}

func (t *fakeTarget) CreateChannel(ctx context.Context, service string, p remote.ChannelParams) (*remote.Channel, error) {
	var out remote.Channel
	err := t.write(ctx, "CreateChannel", func() error {
		if _, ok := t.channels[service]; !ok {
			return notFound("service " + service)
		}
		if p.UniqueName != nil && t.find(service, *p.UniqueName) != nil {
			return fmt.Errorf("fake: code 50307: %w", remote.ErrConflict)
		}
		c := &fakeChannel{ch: remote.Channel{
			SID: t.sid("CH"), ServiceSID: service, Type: "public", Attributes: "{}", CreatedBy: "system",
			DateCreated: time.Now().UTC().Truncate(time.Second),
		}}
		setStr(&c.ch.FriendlyName, p.FriendlyName)
		setStr(&c.ch.UniqueName, p.UniqueName)
		setStr(&c.ch.Attributes, p.Attributes)
		setStr(&c.ch.CreatedBy, p.CreatedBy)
		setTime(&c.ch.DateCreated, p.DateCreated)
		setTime(&c.ch.DateUpdated, p.DateUpdated)
		if p.Type != "" {
			c.ch.Type = p.Type
		}
		t.channels[service] = append(t.channels[service], c)
		out = t.channelCopy(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func setStr(dst *string, p *string) {
	if p != nil {
		*dst = *p
	}
}

func setTime(dst *time.Time, p *time.Time) {
	if p != nil {
		*dst = *p
	}
}

func (t *fakeTarget) FetchMember(ctx context.Context, service, channel, sidOrIdentity string) (*remote.Member, error) {
	if err := t.read("FetchMember"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.find(service, channel)
	if c == nil {
		return nil, notFound("channel " + channel)
	}
	for _, m := range c.members {
		if m.SID == sidOrIdentity || m.Identity == sidOrIdentity {
			cp := *m
			return &cp, nil
		}
	}
	return nil, notFound("member " + sidOrIdentity)
}

func (t *fakeTarget) CreateMember(ctx context.Context, service, channel string, p remote.MemberParams) (*remote.Member, error) {
	var out remote.Member
	err := t.write(ctx, "CreateMember", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		for _, m := range c.members {
			if m.Identity == p.Identity {
				return fmt.Errorf("fake: code 50404: %w", remote.ErrConflict)
			}
		}
		m := &remote.Member{SID: t.sid("MB"), ChannelSID: c.ch.SID, ServiceSID: service, Identity: p.Identity,
			RoleSID: t.roles[service][0].SID, Attributes: "{}", DateCreated: time.Now().UTC().Truncate(time.Second)}
		applyMember(m, p)
		c.members = append(c.members, m)
		out = *m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func applyMember(m *remote.Member, p remote.MemberParams) {
	setStr(&m.RoleSID, p.RoleSID)
	setStr(&m.Attributes, p.Attributes)
	setTime(&m.DateCreated, p.DateCreated)
	setTime(&m.DateUpdated, p.DateUpdated)
	if p.LastConsumedMessageIndex != nil {
		v := *p.LastConsumedMessageIndex
		m.LastConsumedMessageIndex = &v
	}
	if p.LastConsumptionTimestamp != nil {
		v := *p.LastConsumptionTimestamp
		m.LastConsumptionTimestamp = &v
	}
}

func (t *fakeTarget) UpdateMember(ctx context.Context, service, channel, member string, p remote.MemberParams) (*remote.Member, error) {
	var out remote.Member
	err := t.write(ctx, "UpdateMember", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		for _, m := range c.members {
			if m.SID == member || m.Identity == member {
				applyMember(m, p)
				out = *m
				return nil
			}
		}
		return notFound("member " + member)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (t *fakeTarget) MessagesPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error) {
	if err := t.read("MessagesPage"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.find(service, channel)
	if c == nil {
		return nil, notFound("channel " + channel)
	}
	size := o.PageSize
	if size == 0 {
		size = 100
	}
	off := 0
	if pageURL != "" {
		off, _ = strconv.Atoi(strings.TrimPrefix(pageURL, "page:"))
	}
	ms := slices.Clone(c.messages)
	if o.Order == "desc" {
		slices.Reverse(ms)
	}
	p := &remote.Page[*remote.Message]{}
	for i := off; i < len(ms) && i < off+size; i++ {
		cp := *ms[i]
		p.Items = append(p.Items, &cp)
	}
	if off+size < len(ms) {
		p.NextPageURL = fmt.Sprintf("page:%d", off+size)
	}
	return p, nil
}

func (t *fakeTarget) CreateMessage(ctx context.Context, service, channel string, p remote.MessageParams) (*remote.Message, error) {
	var out remote.Message
	err := t.write(ctx, "CreateMessage", func() error {
		c := t.find(service, channel)
		if c == nil {
			return notFound("channel " + channel)
		}
		if p.MediaSID != nil && t.media[service][*p.MediaSID] == nil {
			return &remote.APIError{Method: "POST", Path: "/Messages", Status: 400, Code: 50510, Message: "media not in this service"}
		}
		out = t.addMessage(c, p)
		return nil
	})
	if err == nil && t.afterCreateMessage != nil {
		t.afterCreateMessage(channel)
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// addMessage appends a message; t.mu is held.
func (t *fakeTarget) addMessage(c *fakeChannel, p remote.MessageParams) remote.Message {
	now := time.Now().UTC().Truncate(time.Second)
	m := &remote.Message{SID: t.sid("IM"), ChannelSID: c.ch.SID, ServiceSID: c.ch.ServiceSID, To: c.ch.SID,
		From: "system", Attributes: "{}", Type: "text", Index: c.next, DateCreated: now, DateUpdated: now}
	c.next++
	setStr(&m.From, p.From)
	setStr(&m.Body, p.Body)
	setStr(&m.Attributes, p.Attributes)
	setStr(&m.LastUpdatedBy, p.LastUpdatedBy)
	setTime(&m.DateCreated, p.DateCreated)
	setTime(&m.DateUpdated, p.DateUpdated)
	if p.MediaSID != nil {
		m.Type = "media"
		m.Media = &remote.Media{SID: *p.MediaSID}
		if f := t.media[c.ch.ServiceSID][*p.MediaSID]; f != nil {
			md := f.media
			m.Media = &md
		}
	}
	m.WasEdited = !m.DateUpdated.Equal(m.DateCreated)
	c.messages = append(c.messages, m)
	return *m
}

// addMedia stores a media file in service and returns its SID; t.mu held.
func (t *fakeTarget) addMedia(service, sid, contentType, filename string, data []byte) string {
	if sid == "" {
		sid = t.sid("ME")
	}
	t.media[service][sid] = &fakeFile{media: remote.Media{SID: sid, Size: int64(len(data)), ContentType: contentType, Filename: filename},
		data: slices.Clone(data)}
	return sid
}

// file returns media sid of service, nil when it has none.
func (t *fakeTarget) file(service, sid string) *fakeFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.media[service][sid]
}

func (t *fakeTarget) FetchMedia(ctx context.Context, service, sid string) (*remote.MediaFile, error) {
	if err := t.read("FetchMedia"); err != nil {
		return nil, err
	}
	f := t.file(service, sid)
	if f == nil {
		return nil, notFound("media " + sid)
	}
	return &remote.MediaFile{SID: sid, ServiceSID: service, ContentType: f.media.ContentType, Filename: f.media.Filename, Size: f.media.Size}, nil
}

// UploadMedia reads the whole file (a body that fails fails the upload,
// nothing is stored) and stores it as a new media file of the service.
func (t *fakeTarget) UploadMedia(ctx context.Context, service string, u remote.MediaUpload) (*remote.MediaFile, error) {
	var out remote.MediaFile
	err := t.write(ctx, "UploadMedia", func() error {
		if _, ok := t.media[service]; !ok {
			return notFound("service " + service)
		}
		rc, err := u.Open()
		if err != nil {
			return fmt.Errorf("fake: opening the upload body: %w", err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("fake: reading the upload body: %w", err)
		}
		if int64(len(data)) != u.Size {
			return fmt.Errorf("fake: upload body of %d bytes, Size says %d", len(data), u.Size)
		}
		sid := t.addMedia(service, "", u.ContentType, u.Filename, data)
		t.uploads.Add(1)
		out = remote.MediaFile{SID: sid, ServiceSID: service, ContentType: u.ContentType, Filename: u.Filename, Size: u.Size}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// deleteChannel removes channel sid from the service, as an operator might.
func (t *fakeTarget) deleteChannel(service, sid string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.channels[service])
	t.channels[service] = slices.DeleteFunc(t.channels[service], func(c *fakeChannel) bool { return c.ch.SID == sid })
	return len(t.channels[service]) < n
}

// deleteMessages removes the messages of channel sid at the given
// positions (0 = oldest); the indexes of the others do not change.
func (t *fakeTarget) deleteMessages(service, sid string, positions ...int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.find(service, sid)
	if c == nil {
		return 0
	}
	doomed := map[*remote.Message]bool{}
	for _, p := range positions {
		if p < len(c.messages) {
			doomed[c.messages[p]] = true
		}
	}
	c.messages = slices.DeleteFunc(c.messages, func(m *remote.Message) bool { return doomed[m] })
	return len(doomed)
}

// channelsOf returns the service's channels (copies of their state).
func (t *fakeTarget) channelsOf(service string) []*fakeChannel {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*fakeChannel
	for _, c := range t.channels[service] {
		cp := &fakeChannel{ch: t.channelCopy(c), next: c.next}
		for _, m := range c.members {
			mm := *m
			cp.members = append(cp.members, &mm)
		}
		for _, m := range c.messages {
			mm := *m
			cp.messages = append(cp.messages, &mm)
		}
		out = append(out, cp)
	}
	return out
}

// ---- fake archive ----

type fakeSnap struct {
	msgErr   map[string]error             // Messages of this channel fail after the first record
	media    map[string]store.MediaRecord // by ME SID
	meta     store.Snapshot
	channels []store.ChannelRecord
	roles    []store.RoleRecord
	users    []store.UserRecord
	members  map[string][]store.MemberRecord
	messages map[string][]store.MessageRecord
}

type fakeArchive struct {
	snaps    []*fakeSnap
	mu       sync.Mutex
	journals map[string]*fakeJournal
	// failView makes View fail (archive errors).
	failView error
	// batch: a journal commits by itself when this many puts are queued (default 5).
	batch int
	// contents are the archived media files by SHA-256; damaged ones fail
	// with store.ErrCorrupt halfway through.
	contents map[string][]byte
	damaged  map[string]bool
}

func newFakeArchive(snaps ...*fakeSnap) *fakeArchive {
	return &fakeArchive{snaps: snaps, journals: map[string]*fakeJournal{}, contents: map[string][]byte{}, damaged: map[string]bool{}}
}

// archiveFiles archives a file for every media message of snap (its bytes
// derived from its SID, its size as the message says) and returns them by
// ME SID.
func (a *fakeArchive) archiveFiles(snap *fakeSnap) map[string][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if snap.media == nil {
		snap.media = map[string]store.MediaRecord{}
	}
	files := map[string][]byte{}
	for _, msgs := range snap.messages {
		for _, rec := range msgs {
			m, err := parseMessage(rec)
			if err != nil || m.Media == nil {
				continue
			}
			data := fileOf(m.Media)
			sum := sha256.Sum256(data)
			sha := hex.EncodeToString(sum[:])
			a.contents[sha] = data
			snap.media[m.Media.SID] = store.MediaRecord{SID: m.Media.SID, SHA256: sha, Size: m.Media.Size,
				ContentType: m.Media.ContentType, Filename: m.Media.Filename}
			files[m.Media.SID] = data
		}
	}
	return files
}

// fileOf is the file of source media m in the tests: its bytes derived
// from its SID, as long as its size says.
func fileOf(m *srcMedia) []byte {
	data := make([]byte, m.Size)
	for i := range data {
		data[i] = m.SID[2+i%32] + byte(i)
	}
	return data
}

// mediaOf returns the media of snap's messages.
func mediaOf(t *testing.T, snap *fakeSnap) []*srcMedia {
	t.Helper()
	var out []*srcMedia
	for _, msgs := range snap.messages {
		for _, rec := range msgs {
			m, err := parseMessage(rec)
			if err != nil {
				t.Fatal(err)
			}
			if m.Media != nil {
				out = append(out, m.Media)
			}
		}
	}
	return out
}

// holdMedia gives service the media files of snap's messages, under their
// own SIDs: the source service, where they were posted.
func (t *fakeTarget) holdMedia(tt *testing.T, service string, snap *fakeSnap) {
	for _, m := range mediaOf(tt, snap) {
		t.mu.Lock()
		t.addMedia(service, m.SID, m.ContentType, m.Filename, fileOf(m))
		t.mu.Unlock()
	}
}

func (a *fakeArchive) HasContent(sha string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.contents[sha]
	return ok, nil
}

func (a *fakeArchive) OpenContent(sha string) (io.ReadCloser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	data, ok := a.contents[sha]
	if !ok {
		return nil, fmt.Errorf("content %s: %w", sha, store.ErrNotFound)
	}
	if a.damaged[sha] {
		return io.NopCloser(io.MultiReader(bytes.NewReader(data[:len(data)/2]),
			iotest.ErrReader(fmt.Errorf("content %s: chunk 1: %w", sha, store.ErrCorrupt)))), nil
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (a *fakeArchive) Services() ([]string, error) {
	set := map[string]bool{}
	for _, s := range a.snaps {
		set[s.meta.Service] = true
	}
	return slices.Sorted(maps.Keys(set)), nil
}

func (a *fakeArchive) Snapshots() ([]store.Snapshot, error) {
	var out []store.Snapshot
	for _, s := range a.snaps {
		out = append(out, s.meta)
	}
	slices.SortFunc(out, func(x, y store.Snapshot) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

func (a *fakeArchive) ResolveSnapshot(sel, service string) (store.Snapshot, error) {
	var best *fakeSnap
	for _, s := range a.snaps {
		if service != "" && s.meta.Service != service {
			continue
		}
		if sel == "latest" || sel == "" {
			if best == nil || s.meta.ID > best.meta.ID {
				best = s
			}
		} else if strconv.FormatUint(s.meta.ID, 10) == sel {
			best = s
		}
	}
	if best == nil {
		return store.Snapshot{}, store.ErrNoSnapshot
	}
	return best.meta, nil
}

func (a *fakeArchive) SnapshotAsOf(service string, t time.Time) (store.Snapshot, error) {
	var best *fakeSnap
	for _, s := range a.snaps {
		if s.meta.Service == service && s.meta.Status == store.StatusComplete && !s.meta.Finished.After(t) {
			if best == nil || s.meta.Finished.After(best.meta.Finished) {
				best = s
			}
		}
	}
	if best == nil {
		// As the archive words it.
		return store.Snapshot{}, fmt.Errorf("the archive has no complete snapshot of service %s finished at or before %s; list them with `chatvault snapshots`: %w",
			service, t.UTC().Format(time.RFC3339), store.ErrNoSnapshot)
	}
	return best.meta, nil
}

func (a *fakeArchive) View(id uint64) (snapshotView, error) {
	if a.failView != nil {
		return nil, a.failView
	}
	for _, s := range a.snaps {
		if s.meta.ID == id {
			return s, nil
		}
	}
	return nil, store.ErrNoSnapshot
}

func (a *fakeArchive) Journal(source, target string) (journal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := source + ">" + target
	j, ok := a.journals[k]
	if !ok {
		j = &fakeJournal{committed: map[string][]byte{}, batch: cmp.Or(a.batch, 5)}
		a.journals[k] = j
	}
	return j, nil
}

func (s *fakeSnap) Channels() ([]store.ChannelRecord, error) { return slices.Clone(s.channels), nil }
func (s *fakeSnap) Channel(x string) (store.ChannelRecord, error) {
	for _, c := range s.channels {
		if c.SID == x || (c.UniqueName != "" && c.UniqueName == x) {
			return c, nil
		}
	}
	return store.ChannelRecord{}, store.ErrNotFound
}
func (s *fakeSnap) Roles() ([]store.RoleRecord, error) { return slices.Clone(s.roles), nil }
func (s *fakeSnap) Members(ch string) ([]store.MemberRecord, error) {
	return slices.Clone(s.members[ch]), nil
}
func (s *fakeSnap) Messages(ch string) iter.Seq2[store.MessageRecord, error] {
	return func(yield func(store.MessageRecord, error) bool) {
		for i, m := range s.messages[ch] {
			if err := s.msgErr[ch]; err != nil && i == 1 {
				yield(store.MessageRecord{}, err)
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}
func (s *fakeSnap) MessageCount(ch string) (int, error) { return len(s.messages[ch]), nil }
func (s *fakeSnap) Media(sid string) (store.MediaRecord, bool, error) {
	rec, ok := s.media[sid]
	return rec, ok, nil
}

// fakeJournal commits queued puts in batches, in order, like the store's
// writer; crash drops what is not committed, as a kill would.
type fakeJournal struct {
	mu        sync.Mutex
	committed map[string][]byte
	queued    []kv
	batch     int  // commit automatically when this many are queued
	dead      bool // after a crash: nothing more is saved
	puts      int
	failPut   error // Put fails with it
}

type kv struct {
	k string
	v []byte
}

func (j *fakeJournal) Get(key string) ([]byte, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.queued) - 1; i >= 0; i-- {
		if j.queued[i].k == key {
			return slices.Clone(j.queued[i].v), true, nil
		}
	}
	v, ok := j.committed[key]
	return slices.Clone(v), ok, nil
}

func (j *fakeJournal) Put(key string, value []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead {
		return nil
	}
	if j.failPut != nil {
		return j.failPut
	}
	j.puts++
	j.queued = append(j.queued, kv{key, slices.Clone(value)})
	if len(j.queued) >= j.batch {
		j.commitLocked()
	}
	return nil
}

func (j *fakeJournal) commitLocked() {
	for _, e := range j.queued {
		j.committed[e.k] = e.v
	}
	j.queued = nil
}

// Scan sees committed entries only (the strictest reading of the contract).
func (j *fakeJournal) Scan(prefix string, fn func(string, []byte) error) error {
	j.mu.Lock()
	keys := slices.Sorted(maps.Keys(j.committed))
	vals := map[string][]byte{}
	for _, k := range keys {
		vals[k] = slices.Clone(j.committed[k])
	}
	j.mu.Unlock()
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			if err := fn(k, vals[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *fakeJournal) Flush(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.dead {
		j.commitLocked()
	}
	return nil
}

// crash loses the queued batch and stops saving; revive starts saving again
// (a new process opening the archive).
func (j *fakeJournal) crash() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.queued, j.dead = nil, true
}

func (j *fakeJournal) revive() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dead = false
}

func (j *fakeJournal) value(key string) (chanState, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.committed[key]
	var st chanState
	if ok {
		_ = json.Unmarshal(v, &st)
	}
	return st, ok
}

package restore

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

const (
	// flushEvery bounds how many created messages may sit in an unsaved
	// journal batch; after a kill, resuming lists at most about this many
	// target messages to adopt.
	flushEvery = 200
	// maxAttempts bounds how often one create is resent after unknown outcomes.
	maxAttempts = 12
	// progressEvery batches Progress.Messages calls.
	progressEvery = 50
)

// conflictError stops a channel: the target holds something this restore
// did not create. It becomes a Conflict in the Result.
type conflictError struct{ reason string }

func (e *conflictError) Error() string { return e.reason }

func conflictf(format string, args ...any) error {
	return &conflictError{reason: fmt.Sprintf(format, args...)}
}

// chanRun restores one channel; its methods run on one goroutine.
type chanRun struct {
	r     *runner
	rec   store.ChannelRecord
	src   *srcChannel
	st    chanState
	fresh bool // the target channel was created by this run (or will be, in a dry run): it holds nothing yet

	// Tallies, merged into the Result when the channel ends.
	created, skippedCh        int
	members, messages, msSkip int
	before                    int         // messages older than the channel's restored range (chanState.From)
	newMembers                int         // members created, adopted or (dry run) planned
	isReady                   bool        // the runner was told (ready)
	turnPassed                atomic.Bool // the next channel may create (passTurn)
	skipped                   []Skipped
	conflicts                 []Conflict // found without stopping the channel
	seen                      int        // archived messages dealt with (for Progress)
	unreported                int

	uploaded      int   // media files uploaded
	uploadedBytes int64 // their bytes

	// Dry run.
	writes      int   // write requests left to do
	uploads     int   // media uploads left to do
	uploadBytes int64 // their bytes
	newMin      int64 // smallest source index that would be newly mapped; -1 none

	// Sync (sync.go).
	tgt              *remote.Channel // the journaled target channel as read back; nil when created by this run
	updated, deleted int
	membersRemoved   int  // members this run deleted from the target (sync)
	gone             int  // target messages this run's deletions removed (answered 2xx)
	resumed          bool // an earlier sync of the channel was interrupted: read back before each write
	actions          []Action
}

// channel restores one channel. Problems confined to the channel (a
// conflict, an API error) are recorded in the Result and nil is returned;
// an error is returned only when the whole run must stop (authentication,
// the archive, ctx).
func (r *runner) channel(ctx context.Context, rec store.ChannelRecord) error {
	c := &chanRun{r: r, rec: rec, newMin: -1}
	err := c.run(ctx)
	c.finish()
	if err == nil {
		return nil
	}
	var ce *conflictError
	var se *storeErr
	switch {
	case errors.As(err, &ce):
		r.log.Warn("channel left untouched: conflict", "channel", rec.SID, "unique_name", rec.UniqueName, "reason", ce.reason)
		r.update(func(res *Result) {
			res.Conflicts = append(res.Conflicts, Conflict{Channel: rec.SID, UniqueName: rec.UniqueName, Reason: ce.reason})
		})
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("restore channel %s: %w", rec.SID, err)
	case errors.Is(err, remote.ErrAuthentication):
		return fmt.Errorf("restore into %s: the service refused the credentials; check the account SID and auth token or API key: %w", r.o.Target, err)
	case errors.As(err, &se), errors.Is(err, errUsersFailed):
		return err
	}
	r.log.Error("channel restore failed; a rerun continues it", "channel", rec.SID, "unique_name", rec.UniqueName, "err", err)
	r.update(func(res *Result) {
		res.Failed = append(res.Failed, Failure{Channel: rec.SID, UniqueName: rec.UniqueName, Error: err.Error()})
	})
	return nil
}

// passTurn lets the next channel create its target (see turns), once:
// this one has sent its create, or needs none, or stopped.
func (c *chanRun) passTurn() {
	if c.r.turns != nil && c.turnPassed.CompareAndSwap(false, true) {
		c.r.turns.pass(c.rec.SID)
	}
}

// ready tells the runner, once, that the channel's target is created or
// found (or that the channel stopped before).
func (c *chanRun) ready() {
	if !c.isReady {
		c.isReady = true
		c.r.channelReady()
	}
}

// finish merges the channel's tallies into the Result.
func (c *chanRun) finish() {
	r := c.r
	if n := r.counts[c.rec.SID] - c.seen + c.unreported; n > 0 {
		r.o.Progress.Messages(n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.ChannelsCreated += c.created
	r.res.ChannelsSkipped += c.skippedCh
	r.res.Members += c.members
	r.res.Messages += c.messages
	r.res.MessagesSkipped += c.msSkip
	r.res.MessagesBeforeRange += c.before
	r.res.MediaUploaded += c.uploaded
	r.res.MediaBytes += c.uploadedBytes
	r.res.Skipped = append(r.res.Skipped, c.skipped...)
	r.res.Conflicts = append(r.res.Conflicts, c.conflicts...)
	r.res.Updated += c.updated
	r.res.Deleted += c.deleted
	r.planned.Actions = append(r.planned.Actions, c.actions...)
	if r.o.DryRun && c.writes > 0 {
		r.chanPlans = append(r.chanPlans, chain{writes: c.writes, bytes: c.uploadBytes})
		r.planned.Writes += c.writes
		r.planned.MediaUploads += c.uploads
		r.planned.MediaBytes += c.uploadBytes
	}
}

func (c *chanRun) run(ctx context.Context) error {
	r := c.r
	defer c.ready()    // also when the channel stops before it is
	defer c.passTurn() // also when it stops before its create
	src, err := parseChannel(c.rec)
	if err != nil {
		return err
	}
	c.src = src
	st, _, err := r.loadState(c.rec.SID)
	if err != nil {
		return err
	}
	c.st = st
	if st.Target == "" {
		err = c.ensureChannel(ctx)
	} else {
		err = c.checkTarget(ctx)
	}
	if err != nil {
		return err
	}
	c.passTurn()
	c.ready()
	if err := c.syncBefore(ctx); err != nil {
		return err
	}
	if err := c.syncMessages(ctx); err != nil {
		return err
	}
	news, err := c.restoreMessages(ctx)
	if err != nil {
		return err
	}
	// Members come after the messages, which need none: adding a member
	// makes its user if there is none, so the members wait for the
	// users, which wait for the first channels (see runner.users).
	if err := r.awaitUsers(ctx); err != nil {
		return err
	}
	members, err := c.restoreMembers(ctx)
	if err != nil {
		return err
	}
	if r.o.Sync {
		// The sync's member pass sets read positions with the other fields.
		if err := c.syncMembers(ctx, members); err != nil {
			return err
		}
	} else if !c.st.Finished || news > 0 || c.newMembers > 0 {
		// A finished channel to which this run added nothing has its read
		// positions set already.
		if err := c.restoreLCMI(ctx, members); err != nil {
			return err
		}
	}
	if r.o.DryRun || c.st.Finished {
		return nil
	}
	c.st.Finished = true
	if err := r.saveState(c.rec.SID, c.st); err != nil {
		return err
	}
	return journalErr("flush", chanKey(c.rec.SID), r.j.Flush(ctx))
}

// checkTarget reads the journaled target channel back (one request). One
// that was deleted since is forgotten together with everything the journal
// holds of it (the channel moves to its next generation) and restored again
// from scratch. One that holds fewer messages than this restore created in
// it has lost some to deletion: that is reported as a conflict but not
// repaired, since a message cannot be inserted before later ones.
func (c *chanRun) checkTarget(ctx context.Context) error {
	r := c.r
	if !r.claim(c.st.Target, c.rec.SID) {
		other, _ := r.claimedBy(c.st.Target)
		return conflictf("the journal maps both this channel and source channel %s onto target channel %s", other, c.st.Target)
	}
	t, err := r.dst.FetchChannel(ctx, r.o.Target, c.st.Target)
	if errors.Is(err, remote.ErrNotFound) {
		r.log.Warn("target channel was deleted since it was restored; restoring the channel again",
			"channel", c.rec.SID, "target_channel", c.st.Target)
		r.unclaim(c.st.Target, c.rec.SID)
		c.st = c.st.forgotten()
		if !r.o.DryRun {
			if err := r.saveState(c.rec.SID, c.st); err != nil {
				return err
			}
		}
		return c.ensureChannel(ctx)
	}
	if err != nil {
		return fmt.Errorf("look up target channel %s: %w", c.st.Target, err)
	}
	c.skippedCh++
	c.tgt = t
	if !r.o.Sync && c.st.Finished && remote.CapabilitiesOf(r.api).MessageCounts && int64(t.MessagesCount) < c.st.Restored {
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"target channel %s holds %d messages, fewer than the %d restored into it: messages were deleted from it, and restore does not "+
				"put them back, since a message cannot be inserted before later ones; delete the target channel and rerun to restore it whole",
			t.SID, t.MessagesCount, c.st.Restored)})
	}
	return nil
}

// ensureChannel finds or creates the target channel and journals it.
func (c *chanRun) ensureChannel(ctx context.Context) error {
	r := c.r
	t, err := c.findExisting(ctx, c.st.Pending)
	if err != nil {
		return err
	}
	if t != nil {
		return c.adopt(ctx, t, false)
	}
	if r.o.DryRun {
		c.fresh = true
		c.writes++
		c.plan("create", "channel", c.rec.SID, "", nil)
		r.mu.Lock()
		r.planned.Channels++
		r.mu.Unlock()
		return nil
	}
	if c.src.UniqueName == nil || *c.src.UniqueName == "" {
		// Nothing but this mark tells a later run that a channel without
		// unique name may exist already: save it before sending.
		c.st.Pending = true
		if err := r.saveState(c.rec.SID, c.st); err != nil {
			return err
		}
		if err := r.j.Flush(ctx); err != nil {
			return journalErr("flush", chanKey(c.rec.SID), err)
		}
	}
	p := channelParams(c.src)
	if err := r.turns.wait(ctx, c.rec.SID); err != nil {
		return fmt.Errorf("create target channel: %w", err)
	}
	// The turn passes once the create is on the wire: it has then taken
	// its place in the service's pacing, so the next create is paced after
	// it. (HTTP tracing composes with the client's own; a target that
	// sends no HTTP request passes the turn when the create returns.)
	sendCtx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: c.passTurn})
	sent := false
	for range maxAttempts {
		ch, err := r.dst.CreateChannel(sendCtx, r.o.Target, p)
		c.passTurn()
		if err == nil {
			return c.adopt(ctx, ch, true)
		}
		unknown := errors.Is(err, remote.ErrUnknownOutcome)
		if ctx.Err() != nil || (!unknown && !errors.Is(err, remote.ErrConflict)) {
			return fmt.Errorf("create target channel: %w", err)
		}
		sent = sent || unknown
		r.log.Debug("channel create outcome unknown or conflicting; looking for it", "channel", c.rec.SID, "err", err)
		t, err := c.findExisting(ctx, true)
		if err != nil {
			return err
		}
		if t != nil {
			return c.adopt(ctx, t, sent)
		}
	}
	return fmt.Errorf("create target channel: no answer after %d attempts; rerun the restore", maxAttempts)
}

// findExisting looks in the target for a channel this restore may have
// created without journaling it. It returns nil when there is none, and a
// conflictError when the target holds a same-named channel that is not ours.
// Channels without unique name are looked for only when lookup is set (a
// create may have been sent).
func (c *chanRun) findExisting(ctx context.Context, lookup bool) (*remote.Channel, error) {
	r := c.r
	un := deref(c.src.UniqueName)
	if un != "" {
		t, err := r.dst.FetchChannel(ctx, r.o.Target, un)
		if errors.Is(err, remote.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up target channel %q: %w", un, err)
		}
		if other, ok := r.claimedBy(t.SID); ok && other != c.rec.SID {
			return nil, conflictf("target channel %s with unique name %q was restored from source channel %s", t.SID, un, other)
		}
		if n, err := c.holds(ctx, t); err != nil || n > 0 {
			if err != nil {
				return nil, err
			}
			return nil, conflictf("target channel %s with unique name %q already holds %d messages that this restore did not create; it was left untouched (rename or delete it, or restore into another service)",
				t.SID, un, n)
		}
		if diff := channelDiff(c.src, t, r.lost); diff != "" {
			return nil, conflictf("target channel %s with unique name %q exists, is empty, but differs from the archived channel in %s; it was left untouched (delete it or restore into another service)",
				t.SID, un, diff)
		}
		return t, nil
	}
	if !lookup {
		return nil, nil
	}
	for t, err := range r.dst.ListChannels(ctx, r.o.Target) {
		if err != nil {
			return nil, fmt.Errorf("list target channels: %w", err)
		}
		if t.UniqueName != "" || t.MessagesCount > 0 || channelDiff(c.src, t, r.lost) != "" {
			continue
		}
		if _, ok := r.claimedBy(t.SID); ok {
			continue
		}
		if n, err := c.holds(ctx, t); err != nil || n > 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		return t, nil
	}
	return nil, nil
}

// holds returns how many messages target channel t holds: its
// messages_count through Chat. Conversations gives no count, so there it
// is 1 when the channel holds any message (one read), else 0.
func (c *chanRun) holds(ctx context.Context, t *remote.Channel) (int, error) {
	r := c.r
	if remote.CapabilitiesOf(r.api).MessageCounts {
		return t.MessagesCount, nil
	}
	page, err := r.dst.MessagesPage(ctx, r.o.Target, t.SID, remote.ListOptions{PageSize: 1, Order: "desc"}, "")
	if err != nil {
		return 0, fmt.Errorf("look for messages in target channel %s: %w", t.SID, err)
	}
	return min(len(page.Items), 1), nil
}

// adopt journals t as this channel's target and saves the journal before
// anything is written into the channel: a channel holding anything must be
// known to the journal, or a later run would take it for someone else's.
func (c *chanRun) adopt(ctx context.Context, t *remote.Channel, created bool) error {
	r := c.r
	if !r.claim(t.SID, c.rec.SID) {
		other, _ := r.claimedBy(t.SID)
		return conflictf("target channel %s is already the restore of source channel %s", t.SID, other)
	}
	c.st.Target, c.st.Pending = t.SID, false
	c.st.Hash = channelHash(c.src)
	if created {
		c.created++
		c.fresh = true
	} else {
		c.skippedCh++
	}
	if r.o.DryRun {
		return nil
	}
	if err := r.saveState(c.rec.SID, c.st); err != nil {
		return err
	}
	return journalErr("flush", chanKey(c.rec.SID), r.j.Flush(ctx))
}

// restoreMembers creates the archived members the journal does not know.
func (c *chanRun) restoreMembers(ctx context.Context) ([]*srcMember, error) {
	r := c.r
	recs, err := r.view.Members(c.rec.SID)
	if err != nil {
		return nil, fmt.Errorf("read archived members of channel %s: %w", c.rec.SID, err)
	}
	members := make([]*srcMember, 0, len(recs))
	for _, rec := range recs {
		m, err := parseMember(rec)
		if errors.Is(err, errNoIdentity) {
			c.skipped = append(c.skipped, Skipped{Channel: c.rec.SID, Member: rec.SID, Kind: SkipParticipant,
				Reason: "a participant without identity (an SMS or WhatsApp address) is not restored: adding it would send the channel's next messages to that address"})
			continue
		}
		if err != nil {
			return nil, err
		}
		members = append(members, m)
		if _, ok, err := r.j.Get(c.st.memberKey(m.SID)); err != nil || ok {
			if err != nil {
				return nil, journalErr("read", c.st.memberKey(m.SID), err)
			}
			continue
		}
		c.newMembers++
		if r.o.DryRun {
			if c.timestampOnly(m) {
				c.writes++
			}
			c.writes++
			c.plan("create", "member", m.Identity, "", nil)
			r.mu.Lock()
			r.planned.Members++
			r.mu.Unlock()
			continue
		}
		sid, created, foreign, err := c.createMember(ctx, m)
		if err != nil {
			return nil, err
		}
		if c.timestampOnly(m) {
			if err := c.updateMember(ctx, m, sid, nil); err != nil {
				return nil, err
			}
		}
		if err := c.writtenMember(m, sid, foreign); err != nil {
			return nil, err
		}
		if err := journalErr("write", c.st.memberKey(m.SID), r.j.Put(c.st.memberKey(m.SID), []byte(sid))); err != nil {
			return nil, err
		}
		if created {
			c.members++
		}
	}
	if !r.o.DryRun && !c.st.MembersDone {
		c.st.MembersDone = true
		if err := r.saveState(c.rec.SID, c.st); err != nil {
			return nil, err
		}
	}
	return members, nil
}

// createMember creates m in the target channel, or adopts it when the
// channel has it already (identity is unique per channel). created reports
// whether this run made it; foreign, that the member found was neither
// sent by this run nor provably an earlier run's (ownMember).
func (c *chanRun) createMember(ctx context.Context, m *srcMember) (sid string, created, foreign bool, err error) {
	r := c.r
	p := c.memberParams(m)
	sent := false
	for range maxAttempts {
		t, err := r.dst.CreateMember(ctx, r.o.Target, c.st.Target, p)
		if err == nil {
			return t.SID, true, false, nil
		}
		unknown := errors.Is(err, remote.ErrUnknownOutcome)
		if ctx.Err() != nil || (!unknown && !errors.Is(err, remote.ErrConflict)) {
			return "", false, false, fmt.Errorf("create member %q (source %s) in target channel %s: %w", m.Identity, m.SID, c.st.Target, err)
		}
		sent = sent || unknown
		t, ferr := r.dst.FetchMember(ctx, r.o.Target, c.st.Target, m.Identity)
		if ferr == nil {
			return t.SID, sent, !sent && !c.ownMember(m, t), nil
		}
		if !errors.Is(ferr, remote.ErrNotFound) {
			return "", false, false, fmt.Errorf("look up member %q in target channel %s: %w", m.Identity, c.st.Target, ferr)
		}
	}
	return "", false, false, fmt.Errorf("create member %q (source %s) in target channel %s: no answer after %d attempts; rerun the restore",
		m.Identity, m.SID, c.st.Target, maxAttempts)
}

// restoreMessages replays the archived messages after the journal's
// position, in index order, and returns how many it created or adopted.
func (c *chanRun) restoreMessages(ctx context.Context) (int, error) {
	r := c.r
	var extras []*remote.Message // target messages after LastTgtIndex, oldest first, not yet matched
	reconciled := c.fresh || c.nothingBeyond()
	if !reconciled && !c.st.Finished {
		var err error
		if extras, err = c.beyond(ctx); err != nil {
			return 0, err
		}
		reconciled = true
	}
	news, unflushed := 0, 0
	prev := int64(-1)
	for rec, err := range r.view.Messages(c.rec.SID) {
		if err != nil {
			return news, fmt.Errorf("read archived messages of channel %s: %w", c.rec.SID, err)
		}
		c.seen++
		if c.unreported++; c.unreported >= progressEvery {
			r.o.Progress.Messages(c.unreported)
			c.unreported = 0
		}
		if rec.Index <= prev {
			return news, fmt.Errorf("archived messages of channel %s are out of order (index %d after %d): %w",
				c.rec.SID, rec.Index, prev, store.ErrCorrupt)
		}
		prev = rec.Index
		m, err := parseMessage(rec)
		if err != nil {
			return news, err
		}
		if !c.selected(m) {
			continue
		}
		media, archived, reason, err := restorableMedia(r.view, r.a, m, r.sameSvc)
		if err != nil {
			return news, err
		}
		if reason != "" {
			c.skip(m, SkipMedia, reason)
			continue
		}
		if m.Index <= c.st.LastSrcIndex {
			v, ok, err := r.j.Get(c.st.indexKey(c.rec.SID, m.Index))
			if err != nil {
				return news, journalErr("read", c.st.indexKey(c.rec.SID, m.Index), err)
			}
			switch {
			case ok && string(v) != deletedIndex:
				c.msSkip++
			case c.st.From != nil && m.Index < *c.st.From:
				// Older than the channel's restored range, which the restore
				// that began it started later (--since): left out again,
				// not reported as behind each run.
				c.before++
			default:
				c.skip(m, SkipBehind, fmt.Sprintf("not restored by an earlier run, which restored later messages (up to index %d) already; "+
					"a message cannot be inserted before them", c.st.LastSrcIndex))
			}
			continue
		}
		if !reconciled {
			if extras, err = c.beyond(ctx); err != nil {
				return news, err
			}
			reconciled = true
		}
		if len(extras) > 0 {
			t := extras[0]
			extras = extras[1:]
			if diff := messageDiff(m, t, r.lost); diff != "" {
				return news, conflictf("target channel %s holds message %s (index %d) after the last restored one that differs from the next archived message %s (index %d) in %s; it was left as is",
					c.st.Target, t.SID, t.Index, m.SID, m.Index, diff)
			}
			if err := c.record(m, t); err != nil {
				return news, err
			}
			c.msSkip++
			news++
			continue
		}
		mediaSID, skip, err := c.targetMedia(ctx, m, media, archived)
		if err != nil {
			return news, err
		}
		if skip != "" {
			c.skip(m, SkipMedia, skip)
			continue
		}
		if r.o.DryRun {
			c.writes++
			c.plan("create", "message", strconv.FormatInt(m.Index, 10), "", nil)
			if c.newMin < 0 {
				c.newMin = m.Index
			}
			r.mu.Lock()
			r.planned.Messages++
			r.mu.Unlock()
			news++
			continue
		}
		t, err := c.createMessage(ctx, m, mediaSID)
		if err != nil {
			return news, err
		}
		if err := c.record(m, t); err != nil {
			return news, err
		}
		c.messages++
		news++
		if unflushed++; unflushed >= flushEvery {
			if err := r.j.Flush(ctx); err != nil {
				return news, journalErr("flush", chanKey(c.rec.SID), err)
			}
			unflushed = 0
		}
	}
	if len(extras) > 0 {
		return news, conflictf("target channel %s holds %d messages after the last restored one that match no archived message still to restore; it was left as is",
			c.st.Target, len(extras))
	}
	if !r.o.DryRun && !c.st.MessagesDone {
		c.st.MessagesDone = true
		if err := r.saveState(c.rec.SID, c.st); err != nil {
			return news, err
		}
	}
	return news, nil
}

func (c *chanRun) selected(m *srcMessage) bool { return c.r.o.keeps(m) }

// keeps reports whether m's date_created lies in [Since, Until].
func (o *Options) keeps(m *srcMessage) bool {
	if o.Since.IsZero() && o.Until.IsZero() {
		return true
	}
	if m.DateCreated == nil {
		return false
	}
	return !m.DateCreated.Before(o.Since) && (o.Until.IsZero() || !m.DateCreated.After(o.Until))
}

func (c *chanRun) skip(m *srcMessage, kind, reason string) {
	c.skipped = append(c.skipped, Skipped{Channel: c.rec.SID, Message: m.SID, Kind: kind, Reason: reason})
}

// record journals that archived message m is target message t: what was
// written (for a sync), then the index entry, both queued before the state
// that points past them, so a saved state always has its entries saved too.
func (c *chanRun) record(m *srcMessage, t *remote.Message) error {
	r := c.r
	src, tgt := m.Index, t.Index
	if r.o.DryRun {
		if c.newMin < 0 {
			c.newMin = src
		}
		return nil
	}
	if err := c.writtenMessage(m, written{Target: t.SID}); err != nil {
		return err
	}
	k := c.st.indexKey(c.rec.SID, src)
	if err := r.j.Put(k, []byte(strconv.FormatInt(tgt, 10))); err != nil {
		return journalErr("write", k, err)
	}
	if c.st.From == nil && c.st.LastSrcIndex < 0 {
		c.st.From = &src
	}
	c.st.LastSrcIndex, c.st.LastTgtIndex = src, tgt
	c.st.Restored++
	return r.saveState(c.rec.SID, c.st)
}

// createMessage creates m in the target channel, with media mediaSID when
// not "", exactly once and returns the target message. After an unknown
// outcome it looks at the newest target message: the channel is written
// only by this goroutine, so a message after LastTgtIndex can only be this
// one.
func (c *chanRun) createMessage(ctx context.Context, m *srcMessage, mediaSID string) (*remote.Message, error) {
	r := c.r
	p := messageParams(m, mediaSID)
	for range maxAttempts {
		t, err := r.dst.CreateMessage(ctx, r.o.Target, c.st.Target, p)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil || !errors.Is(err, remote.ErrUnknownOutcome) {
			return nil, fmt.Errorf("create message %s (index %d) in target channel %s: %w", m.SID, m.Index, c.st.Target, err)
		}
		r.log.Debug("message create outcome unknown; checking the target", "channel", c.rec.SID, "message", m.SID, "err", err)
		page, err := r.dst.MessagesPage(ctx, r.o.Target, c.st.Target, remote.ListOptions{PageSize: 2, Order: "desc"}, "")
		if err != nil {
			return nil, fmt.Errorf("check target channel %s for message %s: %w", c.st.Target, m.SID, err)
		}
		var after []*remote.Message
		for _, t := range page.Items {
			if t.Index > c.st.LastTgtIndex {
				after = append(after, t)
			}
		}
		switch {
		case len(after) == 0:
			continue // not carried out: send again
		case len(after) > 1:
			return nil, conflictf("target channel %s gained messages this restore did not send (found %d after index %d); stopped",
				c.st.Target, len(after), c.st.LastTgtIndex)
		}
		if diff := messageDiff(m, after[0], r.lost); diff != "" {
			return nil, conflictf("target channel %s gained message %s that this restore did not send (differs from %s in %s); stopped",
				c.st.Target, after[0].SID, m.SID, diff)
		}
		return after[0], nil
	}
	return nil, fmt.Errorf("create message %s (index %d) in target channel %s: no answer after %d attempts; rerun the restore",
		m.SID, m.Index, c.st.Target, maxAttempts)
}

// beyond lists the target messages after LastTgtIndex, oldest first: after
// a kill, the messages created whose journal entries were not saved.
func (c *chanRun) beyond(ctx context.Context) ([]*remote.Message, error) {
	r := c.r
	var out []*remote.Message
	pageURL := ""
	for {
		page, err := r.dst.MessagesPage(ctx, r.o.Target, c.st.Target, remote.ListOptions{PageSize: 100, Order: "desc"}, pageURL)
		if err != nil {
			return nil, fmt.Errorf("list newest messages of target channel %s: %w", c.st.Target, err)
		}
		for _, t := range page.Items {
			if t.Index <= c.st.LastTgtIndex {
				slices.Reverse(out)
				return out, nil
			}
			out = append(out, t)
		}
		if page.NextPageURL == "" {
			slices.Reverse(out)
			return out, nil
		}
		pageURL = page.NextPageURL
	}
}

// restoreLCMI sets each member's last consumed message index, mapped onto
// the restored indexes: the target index of the newest restored message at
// or before the source's.
func (c *chanRun) restoreLCMI(ctx context.Context, members []*srcMember) error {
	r := c.r
	var need []*srcMember
	for _, m := range members {
		if m.LastConsumedMessageIndex != nil {
			need = append(need, m)
		}
	}
	if len(need) == 0 {
		return nil
	}
	slices.SortFunc(need, func(a, b *srcMember) int {
		return int(min(max(*a.LastConsumedMessageIndex-*b.LastConsumedMessageIndex, -1), 1))
	})
	best := make([]int64, len(need)) // best[i]: target index for need[i]; -1 none
	for i := range best {
		best[i] = -1
	}
	if !c.fresh || !r.o.DryRun {
		if !r.o.DryRun {
			// Scan reads what is saved; the index entries of this run must be.
			if err := r.j.Flush(ctx); err != nil {
				return journalErr("flush", chanKey(c.rec.SID), err)
			}
		}
		err := scanIndexes(r.j, c.rec.SID, c.st, func(s, t int64) {
			i, _ := slices.BinarySearchFunc(need, s, func(m *srcMember, s int64) int {
				return int(min(max(*m.LastConsumedMessageIndex-s, -1), 1))
			})
			if i < len(need) && t > best[i] {
				best[i] = t
			}
		})
		if err != nil {
			return err
		}
		for i := 1; i < len(best); i++ {
			best[i] = max(best[i], best[i-1])
		}
	}
	for i, m := range need {
		lcmi := *m.LastConsumedMessageIndex
		v, ok, err := r.j.Get(c.st.lcmiKey(m.SID))
		if err != nil {
			return journalErr("read", c.st.lcmiKey(m.SID), err)
		}
		if r.o.DryRun {
			// Messages still to restore get target indexes above every
			// restored one, so any at or before lcmi changes the mapping.
			if (c.newMin >= 0 && c.newMin <= lcmi) || (best[i] >= 0 && (!ok || string(v) != strconv.FormatInt(best[i], 10))) {
				c.writes++
			}
			continue
		}
		if best[i] < 0 || (ok && string(v) == strconv.FormatInt(best[i], 10)) {
			continue
		}
		if err := c.updateLCMI(ctx, m, best[i]); err != nil {
			return err
		}
		if err := r.j.Put(c.st.lcmiKey(m.SID), []byte(strconv.FormatInt(best[i], 10))); err != nil {
			return journalErr("write", c.st.lcmiKey(m.SID), err)
		}
	}
	return nil
}

func (c *chanRun) updateLCMI(ctx context.Context, m *srcMember, idx int64) error {
	r := c.r
	tgt, ok, err := r.j.Get(c.st.memberKey(m.SID))
	if err != nil {
		return journalErr("read", c.st.memberKey(m.SID), err)
	}
	if !ok {
		return fmt.Errorf("member %s (%q) is missing from the restore journal; rerun the restore", m.SID, m.Identity)
	}
	n := int(idx)
	return c.updateMember(ctx, m, string(tgt), &n)
}

// updateMember sets the read horizon of m, whose target is member tgt: the
// index idx (nil: left alone) and m's read timestamp, with m's
// date_updated. Setting the same values twice is harmless, so an unknown
// outcome is simply sent again.
func (c *chanRun) updateMember(ctx context.Context, m *srcMember, tgt string, idx *int) error {
	r := c.r
	p := remote.MemberParams{
		LastConsumedMessageIndex: idx,
		LastConsumptionTimestamp: utc(m.LastConsumptionTimestamp),
		DateUpdated:              utc(m.DateUpdated),
	}
	var err error
	for range maxAttempts {
		_, err = r.dst.UpdateMember(ctx, r.o.Target, c.st.Target, tgt, p)
		if err == nil || ctx.Err() != nil || !errors.Is(err, remote.ErrUnknownOutcome) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("set read horizon of member %q in target channel %s: %w", m.Identity, c.st.Target, err)
	}
	return nil
}

// timestampOnly: m's read timestamp must be set by an update of its own.
// Conversations takes a participant's read horizon on update only; a
// member with a read index gets its timestamp with the index (restoreLCMI).
func (c *chanRun) timestampOnly(m *srcMember) bool {
	return c.r.api == remote.APIConversations && m.LastConsumedMessageIndex == nil && m.LastConsumptionTimestamp != nil
}

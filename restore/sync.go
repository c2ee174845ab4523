package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// ErrNotRestored: Options.Sync names a target this archive's journal has
// never restored from the source; a plain restore must come first.
var ErrNotRestored = errors.New("the target was never restored from this source")

// Journal keys of what a restore wrote, per channel generation (see doc.go, "Sync").
const (
	keyWrittenMember  = "wb/" // wb/<source CH>[@gen]/<source MB> → written (JSON)
	keyWrittenMessage = "wm/" // wm/<source CH>[@gen]/<source index, 20 digits> → written (JSON)
)

// written is what the journal keeps of one member or message restore
// wrote into the target: enough for a sync to tell whether the archived
// record changed since, and to address it, without reading the target.
type written struct {
	Target  string `json:"t"`                 // target SID
	Hash    string `json:"h"`                 // stateHash of the parameters last written
	Foreign bool   `json:"foreign,omitempty"` // found in the target, not created by restore: never updated or deleted
	Deleted bool   `json:"del,omitempty"`     // deleted by a sync
	Date    int64  `json:"d,omitempty"`       // message: date_created, Unix seconds (the range test of a deletion)
}

// Action is one write a dry run of a sync would send.
type Action struct {
	Op      string   `json:"op"`                // "create", "update" or "delete"
	Kind    string   `json:"kind"`              // "user", "channel", "member" or "message"
	Channel string   `json:"channel,omitempty"` // source channel SID; none for a user
	Source  string   `json:"source,omitempty"`  // user or member identity (source MB SID of a member to delete), or archived message index
	Target  string   `json:"target,omitempty"`  // target SID, when there is one
	Fields  []string `json:"fields,omitempty"`  // update: what changed, when the journal can tell
}

// stateHash identifies the parameters a write sends: equal hashes, same write.
func stateHash(p any) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("restore: encode write parameters: %v", err)) // plain structs of strings and times
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

func channelHash(c *srcChannel) string { return stateHash(channelParams(c)) }

// messageHash is the hash of m's create parameters with its source media
// SID: the media a target message is created with (the source's, or a copy
// uploaded from the archive) is the same file whatever its SID.
func messageHash(m *srcMessage) string { return stateHash(messageParams(m, m.media())) }

func (st chanState) writtenMemberPrefix(ch string) string {
	return keyWrittenMember + ch + genSuffix(st.Gen) + "/"
}
func (st chanState) writtenMessagePrefix(ch string) string {
	return keyWrittenMessage + ch + genSuffix(st.Gen) + "/"
}

// memberParams are the parameters that create or update m; role mapped by
// friendly name (an archived role the target lacks is left out, and logged).
func (c *chanRun) memberParams(m *srcMember) remote.MemberParams {
	r := c.r
	p := remote.MemberParams{
		Identity:                 m.Identity,
		Attributes:               m.Attributes,
		DateCreated:              utc(m.DateCreated),
		DateUpdated:              utc(m.DateUpdated),
		LastConsumptionTimestamp: utc(m.LastConsumptionTimestamp),
	}
	if m.RoleSID != nil && *m.RoleSID != "" {
		if t, ok := r.roleMap[*m.RoleSID]; ok {
			p.RoleSID = &t
		} else {
			r.log.Warn("archived role has no namesake in the target; the member gets the target's default channel role",
				"channel", c.rec.SID, "member", m.SID, "role", *m.RoleSID)
		}
	}
	return p
}

// ownMember reports whether target member t, found where m's create was
// refused ("member exists"), is provably restore's: equal to m in every
// field a create sends, to the second. Another writer's member would not
// be (as channels are adopted, see doc.go).
func (c *chanRun) ownMember(m *srcMember, t *remote.Member) bool {
	p := c.memberParams(m)
	role := deref(p.RoleSID)
	if role == "" {
		role = t.RoleSID
	}
	return memberDiffs(m, t, role, t.RoleSID, nil).without(remote.KindMember, c.r.lost).first("last_consumed_message_index", "last_consumption_timestamp") == ""
}

// writtenMember journals that archived member m is target member sid;
// foreign: found in the target rather than created, which a sync reports.
func (c *chanRun) writtenMember(m *srcMember, sid string, foreign bool) error {
	if foreign && c.r.o.Sync {
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"member %q (%s) was already in target channel %s, not created by restore; it is left as it is, never updated or deleted",
			m.Identity, sid, c.st.Target)})
	}
	w := written{Target: sid, Hash: stateHash(c.memberParams(m)), Foreign: foreign}
	return c.putWritten(c.st.writtenMemberPrefix(c.rec.SID)+m.SID, w)
}

// writtenMessage journals w as what archived message m's target holds;
// its hash and date are m's.
func (c *chanRun) writtenMessage(m *srcMessage, w written) error {
	w.Hash = messageHash(m)
	if m.DateCreated != nil {
		w.Date = m.DateCreated.Unix()
	}
	return c.putWritten(c.messageKey(m.Index), w)
}

func (c *chanRun) messageKey(idx int64) string {
	return fmt.Sprintf("%s%020d", c.st.writtenMessagePrefix(c.rec.SID), idx)
}

func (c *chanRun) putWritten(key string, w written) error {
	b, _ := json.Marshal(w)
	return journalErr("write", key, c.r.j.Put(key, b))
}

// scanWritten reads the written entries under prefix, in key order.
func scanWritten(j journal, prefix string, fn func(rest string, w written) error) error {
	err := j.Scan(prefix, func(key string, value []byte) error {
		var w written
		if err := json.Unmarshal(value, &w); err != nil {
			return fmt.Errorf("restore journal entry %s is damaged (%v); restore into a new target", key, err)
		}
		return fn(strings.TrimPrefix(key, prefix), w)
	})
	return journalErr("scan", prefix, err)
}

// plan lists one write of a sync's dry run.
func (c *chanRun) plan(op, kind, source, target string, fields []string) {
	if !c.r.o.Sync {
		return
	}
	c.actions = append(c.actions, Action{Op: op, Kind: kind, Channel: c.rec.SID, Source: source, Target: target, Fields: fields})
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	switch op {
	case "update":
		r.planned.Updates++
	case "delete":
		r.planned.Deletes++
	}
}

// planUser lists a user's create (target "") or update in a sync's dry run; r.mu is held.
func (r *runner) planUser(identity, target string) {
	if !r.o.Sync {
		return
	}
	op := "create"
	if target != "" {
		op = "update"
	}
	r.planned.Actions = append(r.planned.Actions, Action{Op: op, Kind: "user", Source: identity, Target: target})
	if target != "" {
		r.planned.Updates++
	}
}

// note adds a line to the plan's notes once.
func (r *runner) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.noted == nil {
		r.noted = map[string]bool{}
	}
	if !r.noted[s] {
		r.noted[s] = true
		r.planned.Notes = append(r.planned.Notes, s)
	}
}

// checkSync refuses a sync into a target the journal j has never
// restored from source; it reads only the journal.
func checkSync(j journal, o Options, source string) error {
	if !o.Sync {
		return nil
	}
	errFound := errors.New("found")
	err := j.Scan(keyChannel, func(_ string, value []byte) error {
		var st chanState
		if json.Unmarshal(value, &st) == nil && st.Target != "" {
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return nil
	case err != nil:
		return journalErr("scan", keyChannel, err)
	}
	return fmt.Errorf("%w: %w: the restore journal of this archive holds nothing restored from %s into %s; "+
		"run a plain restore (without --sync) first, then --sync brings it up to date",
		ErrInvalidOptions, ErrNotRestored, source, o.Target)
}

// ranged reports whether the run is bounded by --since or --until.
func (o *Options) ranged() bool { return !o.Since.IsZero() || !o.Until.IsZero() }

// keepsDate reports whether a date_created (Unix seconds; 0 unknown) lies in [Since, Until].
func (o *Options) keepsDate(unix int64) bool {
	if !o.ranged() {
		return true
	}
	if unix == 0 {
		return false
	}
	t := time.Unix(unix, 0)
	return !t.Before(o.Since) && (o.Until.IsZero() || !t.After(o.Until))
}

// attempt sends a write whose outcome may be lost, exactly once in effect:
// after an unknown outcome it calls check, which reads the target back and
// reports whether the write took effect, before sending it again. With
// first, it checks before the first send too (a killed sync may have sent it).
func attempt(ctx context.Context, what string, first bool, send func() error, check func() (bool, error)) error {
	if first {
		done, err := check()
		if err != nil {
			return fmt.Errorf("%s: check what an interrupted sync did: %w", what, err)
		}
		if done {
			return nil
		}
	}
	for range maxAttempts {
		err := send()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !errors.Is(err, remote.ErrUnknownOutcome) {
			return fmt.Errorf("%s: %w", what, err)
		}
		done, err := check()
		if err != nil {
			return fmt.Errorf("%s: check after an unknown outcome: %w", what, err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("%s: no answer after %d attempts; rerun the sync", what, maxAttempts)
}

// write sends one update or delete of the channel's sync: the channel is
// marked as being synced (saved) before its first, so that after a kill
// the next sync reads each write back before sending it again.
func (c *chanRun) write(ctx context.Context, what string, send func() error, check func() (bool, error)) error {
	if !c.st.Syncing {
		c.st.Syncing = true
		if err := c.r.saveState(c.rec.SID, c.st); err != nil {
			return err
		}
		if err := c.r.j.Flush(ctx); err != nil {
			return journalErr("flush", chanKey(c.rec.SID), err)
		}
	}
	return attempt(ctx, what, c.resumed, send, check)
}

// synced clears the channel's mark once its sync is done.
func (c *chanRun) synced() error {
	if !c.st.Syncing || c.r.o.DryRun {
		return nil
	}
	c.st.Syncing = false
	return c.r.saveState(c.rec.SID, c.st)
}

// gone reports whether err says the resource does not exist.
func gone(err error) bool { return errors.Is(err, remote.ErrNotFound) }

// syncBefore brings the journaled target channel's own fields up to date
// and deletes the members the snapshot no longer has, before restore
// creates new members (an identity removed and added again is a new member).
func (c *chanRun) syncBefore(ctx context.Context) error {
	if !c.r.o.Sync || c.tgt == nil {
		return nil
	}
	c.resumed = c.st.Syncing
	if err := c.syncChannel(ctx); err != nil {
		return err
	}
	return c.deleteGoneMembers(ctx)
}

// syncChannel updates the target channel when the archived channel
// changed since it was written.
func (c *chanRun) syncChannel(ctx context.Context) error {
	r, t := c.r, c.tgt
	h := channelHash(c.src)
	if c.st.Hash == h {
		return nil
	}
	f := channelDiffs(c.src, t).without(remote.KindChannel, r.lost)
	if f.first("type") == "" {
		// Already as archived (a journal from before sync, or an update
		// whose journal entry a kill lost): record it.
		return c.channelWritten(h)
	}
	if r.o.DryRun {
		c.writes++
		c.plan("update", "channel", c.rec.SID, t.SID, f)
		return nil
	}
	p := channelParams(c.src)
	p.Type = "" // cannot change after creation
	if p.UniqueName != nil && *p.UniqueName == t.UniqueName {
		p.UniqueName = nil
	}
	err := c.write(ctx, "update target channel "+t.SID, func() error {
		_, err := r.dst.UpdateChannel(ctx, r.o.Target, t.SID, p)
		return err
	}, func() (bool, error) {
		now, err := r.dst.FetchChannel(ctx, r.o.Target, t.SID)
		if err != nil {
			return false, err
		}
		return channelDiffs(c.src, now).without(remote.KindChannel, r.lost).first("type") == "", nil
	})
	if err != nil {
		return err
	}
	c.updated++
	return c.channelWritten(h)
}

func (c *chanRun) channelWritten(h string) error {
	if c.r.o.DryRun {
		return nil
	}
	c.st.Hash = h
	return c.r.saveState(c.rec.SID, c.st)
}

// deleteGoneMembers deletes the target members restore created whose
// archived member the snapshot no longer has.
func (c *chanRun) deleteGoneMembers(ctx context.Context) error {
	r := c.r
	recs, err := r.view.Members(c.rec.SID)
	if err != nil {
		return fmt.Errorf("read archived members of channel %s: %w", c.rec.SID, err)
	}
	have := make(map[string]bool, len(recs))
	for _, m := range recs {
		have[m.SID] = true
	}
	prefix := c.st.writtenMemberPrefix(c.rec.SID)
	type doomed struct {
		src string
		w   written
	}
	var todo []doomed
	err = scanWritten(r.j, prefix, func(src string, w written) error {
		if !have[src] && !w.Deleted {
			todo = append(todo, doomed{src, w})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range todo {
		if d.w.Foreign {
			c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
				"member %s of target channel %s is gone from the snapshot, but restore found it in the target rather than creating it; it was left as is",
				d.w.Target, c.st.Target)})
			continue
		}
		if r.o.DryRun {
			c.writes++
			c.plan("delete", "member", d.src, d.w.Target, nil)
			continue
		}
		removed := false // by this run: the channel's members_count read before it counts the member
		err := c.write(ctx, fmt.Sprintf("delete member %s from target channel %s", d.w.Target, c.st.Target), func() error {
			err := r.dst.DeleteMember(ctx, r.o.Target, c.st.Target, d.w.Target)
			removed = err == nil
			if !gone(err) {
				return err
			}
			return nil
		}, func() (bool, error) {
			_, err := r.dst.FetchMember(ctx, r.o.Target, c.st.Target, d.w.Target)
			if gone(err) {
				removed = true // the delete whose answer was lost
				return true, nil
			}
			return false, err
		})
		if err != nil {
			return err
		}
		c.deleted++
		if removed {
			c.membersRemoved++
		}
		d.w.Deleted = true
		if err := c.putWritten(prefix+d.src, d.w); err != nil {
			return err
		}
	}
	return nil
}

// syncMessages updates the restored messages whose archived record changed
// and deletes those the snapshot no longer has, walking the archived
// messages and the journal's written entries together in index order.
// New messages are left to restoreMessages.
func (c *chanRun) syncMessages(ctx context.Context) error {
	r := c.r
	if !r.o.Sync || c.tgt == nil {
		return nil
	}
	// Entries past LastSrcIndex are not confirmed by the channel's state
	// (a kill may have lost the rest of their batch): restoreMessages
	// reconciles them. Those up to it are exactly the restored messages,
	// so they also give the count of messages restore keeps in the
	// target, whatever a kill lost of an earlier state.
	var entries []entry
	seen := false
	prefix := c.st.writtenMessagePrefix(c.rec.SID)
	err := scanWritten(r.j, prefix, func(rest string, w written) error {
		idx, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return fmt.Errorf("restore journal entry %s%s is damaged", prefix, rest)
		}
		seen = true
		if !w.Deleted && idx <= c.st.LastSrcIndex {
			entries = append(entries, entry{idx, w})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !seen && c.st.LastSrcIndex >= 0 {
		if entries, err = c.backfillMessages(ctx); err != nil {
			return err
		}
		seen = len(entries) > 0
	}
	if seen && !r.o.DryRun {
		c.st.Restored = int64(len(entries))
	}
	outside := 0
	newest := int64(-1) // the newest restored message the target keeps
	del := func(e entry) error {
		if !r.o.keepsDate(e.w.Date) {
			outside++
			newest = max(newest, e.idx)
			return nil
		}
		return c.deleteMessage(ctx, e.idx, e.w)
	}
	for rec, err := range r.view.Messages(c.rec.SID) {
		if err != nil {
			return fmt.Errorf("read archived messages of channel %s: %w", c.rec.SID, err)
		}
		for len(entries) > 0 && entries[0].idx < rec.Index {
			if err := del(entries[0]); err != nil {
				return err
			}
			entries = entries[1:]
		}
		if len(entries) == 0 || entries[0].idx != rec.Index {
			continue
		}
		e := entries[0]
		entries = entries[1:]
		newest = max(newest, e.idx)
		m, err := parseMessage(rec)
		if err != nil {
			return err
		}
		if !c.selected(m) || messageHash(m) == e.w.Hash {
			continue
		}
		_, _, why, err := restorableMedia(r.view, r.a, m, r.sameSvc)
		if err != nil {
			return err
		}
		if why != "" {
			continue
		}
		if err := c.updateMessage(ctx, m, e.w); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := del(e); err != nil {
			return err
		}
	}
	if !r.o.DryRun && seen {
		// Deleting the newest restored messages (a sync to an older
		// snapshot) lets a later sync append them again, in order.
		c.st.LastSrcIndex = newest
	}
	if outside > 0 {
		r.note("--since/--until bound the sync: messages the snapshot no longer has that were created outside the range are not deleted")
		r.log.Info("messages gone from the snapshot but outside --since/--until were not deleted", "channel", c.rec.SID, "messages", outside)
	}
	if !r.o.DryRun {
		if err := r.saveState(c.rec.SID, c.st); err != nil {
			return err
		}
	}
	return nil
}

// entry is a wm/ entry: what restore wrote at an archived message index.
type entry struct {
	idx int64
	w   written
}

// backfillMessages makes the wm/ entries of a channel restored before
// sync kept them, from one listing of the target channel: each restored
// message's target SID, and the archived message's hash when the target
// holds it unchanged ("" otherwise, so that it is updated). A message the
// target no longer holds gets none (checkCounts reports it). It returns the
// entries up to last_src_index, and saves them unless in a dry run.
func (c *chanRun) backfillMessages(ctx context.Context) ([]entry, error) {
	r := c.r
	bySrc := map[int64]int64{}
	if err := scanIndexes(r.j, c.rec.SID, c.st, func(s, t int64) { bySrc[s] = t }); err != nil || len(bySrc) == 0 {
		return nil, err
	}
	byTgt := map[int64]*remote.Message{}
	tgt := &targetMessages{ctx: ctx, dst: r.dst, service: r.o.Target, channel: c.st.Target}
	for {
		t, err := tgt.peek()
		if err != nil {
			return nil, fmt.Errorf("list messages of target channel %s: %w", c.st.Target, err)
		}
		if t == nil {
			break
		}
		byTgt[t.Index] = t
		tgt.pop()
	}
	archived := map[int64]*srcMessage{}
	for rec, err := range r.view.Messages(c.rec.SID) {
		if err != nil {
			return nil, fmt.Errorf("read archived messages of channel %s: %w", c.rec.SID, err)
		}
		if _, ok := bySrc[rec.Index]; ok {
			m, err := parseMessage(rec)
			if err != nil {
				return nil, err
			}
			archived[rec.Index] = m
		}
	}
	var out []entry
	for _, s := range slices.Sorted(maps.Keys(bySrc)) {
		t := byTgt[bySrc[s]]
		if t == nil || s > c.st.LastSrcIndex {
			continue
		}
		w := written{Target: t.SID, Date: t.DateCreated.Unix()}
		if m := archived[s]; m != nil && messageDiffs(m, t).without(remote.KindMessage, r.lost).first() == "" {
			w.Hash = messageHash(m)
		}
		out = append(out, entry{s, w})
		if !r.o.DryRun {
			if err := c.putWritten(c.messageKey(s), w); err != nil {
				return nil, err
			}
		}
	}
	r.log.Info("restore journal of a channel restored before sync completed from the target's messages",
		"channel", c.rec.SID, "messages", len(out))
	return out, nil
}

// updateMessage writes archived message m over target message w.Target.
func (c *chanRun) updateMessage(ctx context.Context, m *srcMessage, w written) error {
	r := c.r
	if r.o.DryRun {
		c.writes++
		c.plan("update", "message", strconv.FormatInt(m.Index, 10), w.Target, nil)
		return nil
	}
	p := messageParams(m, m.media())
	p.MediaSID = nil // a message's media cannot change: an update never sends it again
	if p.LastUpdatedBy == nil {
		p.LastUpdatedBy = new("") // clears one an edit set (a sync to an older snapshot)
	}
	missing := false
	err := c.write(ctx, fmt.Sprintf("update message %s in target channel %s", w.Target, c.st.Target), func() error {
		_, err := r.dst.UpdateMessage(ctx, r.o.Target, c.st.Target, w.Target, p)
		if gone(err) {
			missing = true
			return nil
		}
		return err
	}, func() (bool, error) {
		t, err := r.dst.FetchMessage(ctx, r.o.Target, c.st.Target, w.Target)
		if gone(err) {
			missing = true
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return messageDiffs(m, t).without(remote.KindMessage, r.lost).first() == "", nil
	})
	if err != nil {
		return err
	}
	if missing {
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"message %s (archived index %d) was deleted from target channel %s by someone else; its change was not applied, and restore does not put it back",
			w.Target, m.Index, c.st.Target)})
		return nil
	}
	c.updated++
	return c.writtenMessage(m, w)
}

// deleteMessage deletes the target message restored from archived index idx.
func (c *chanRun) deleteMessage(ctx context.Context, idx int64, w written) error {
	r := c.r
	if r.o.DryRun {
		c.writes++
		c.plan("delete", "message", strconv.FormatInt(idx, 10), w.Target, nil)
		return nil
	}
	removed, sent := false, false // removed: by this run, after the count was read
	err := c.write(ctx, fmt.Sprintf("delete message %s from target channel %s", w.Target, c.st.Target), func() error {
		sent = true
		err := r.dst.DeleteMessage(ctx, r.o.Target, c.st.Target, w.Target)
		if err == nil {
			removed = true
		}
		if gone(err) {
			return nil
		}
		return err
	}, func() (bool, error) {
		_, err := r.dst.FetchMessage(ctx, r.o.Target, c.st.Target, w.Target)
		if gone(err) {
			removed = sent // most likely by the request whose answer was lost
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return err
	}
	c.deleted++
	if removed {
		c.gone++
	}
	// The index entry first: a kill before the written entry leaves the
	// delete to be sent again (answered 404), never a mapping of it.
	k := c.st.indexKey(c.rec.SID, idx)
	if err := journalErr("write", k, r.j.Put(k, []byte(deletedIndex))); err != nil {
		return err
	}
	w.Deleted = true
	if err := c.putWritten(c.messageKey(idx), w); err != nil {
		return err
	}
	c.st.Restored-- // after the entry: the entries are what counts (see syncMessages)
	return r.saveState(c.rec.SID, c.st)
}

// nothingBeyond reports whether a sync knows, from the count of the
// channel read back, that the target holds no message after the journal's
// last one, so the newest messages need not be listed before appending.
func (c *chanRun) nothingBeyond() bool {
	r := c.r
	return r.o.Sync && c.tgt != nil && c.st.Finished && c.st.Restored > 0 && remote.CapabilitiesOf(r.api).MessageCounts &&
		int64(c.tgt.MessagesCount-c.gone) == c.st.Restored
}

// checkCounts compares the target channel's message count, as read before
// the sync, with what restore put there (after the messages this run found
// there unjournaled were adopted): more means someone else added messages,
// fewer that someone deleted some. Either is reported; neither is touched.
func (c *chanRun) checkCounts() {
	if c.tgt == nil || (c.st.Restored == 0 && c.st.LastSrcIndex >= 0) || !remote.CapabilitiesOf(c.r.api).MessageCounts {
		return // created by this run, a journal from before the count existed, or an API without counts
	}
	live, want := int64(c.tgt.MessagesCount-c.gone), c.st.Restored-int64(c.messages)
	switch {
	case live > want:
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"target channel %s holds %d messages that restore did not create; they were left untouched",
			c.st.Target, live-want)})
	case live < want:
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"target channel %s holds %d messages, fewer than the %d restored into it: someone deleted some, and restore does not put them back; "+
				"delete the target channel and rerun to restore it whole", c.st.Target, live, want)})
	}
}

// syncMembers updates the members restore created whose archived fields
// or read position changed, one write each (read position included), and
// reports those it found in the target instead of creating them.
func (c *chanRun) syncMembers(ctx context.Context, members []*srcMember) error {
	r := c.r
	if !r.o.DryRun {
		c.checkCounts()
	}
	if !r.o.DryRun {
		// The index map is read from what is saved.
		if err := r.j.Flush(ctx); err != nil {
			return journalErr("flush", chanKey(c.rec.SID), err)
		}
	}
	pairs := map[int64]int64{}
	if err := scanIndexes(r.j, c.rec.SID, c.st, func(s, t int64) { pairs[s] = t }); err != nil {
		return err
	}
	mapping := newIndexMapping(pairs)
	prefix := c.st.writtenMemberPrefix(c.rec.SID)
	live := 0
	for _, m := range members {
		v, ok, err := r.j.Get(prefix + m.SID)
		if err != nil {
			return journalErr("read", prefix+m.SID, err)
		}
		var w written
		if ok {
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("restore journal entry %s%s is damaged (%v); restore into a new target", prefix, m.SID, err)
			}
		}
		if !ok {
			sid, legacy, err := r.j.Get(c.st.memberKey(m.SID))
			if err != nil {
				return journalErr("read", c.st.memberKey(m.SID), err)
			}
			if !legacy {
				if r.o.DryRun && m.LastConsumedMessageIndex != nil && c.newMin >= 0 && c.newMin <= *m.LastConsumedMessageIndex {
					c.writes++ // a member to create, whose read position follows
				}
				continue
			}
			// Restored before sync kept what it wrote: written once more.
			w = written{Target: string(sid)}
		}
		live++
		p := c.memberParams(m) // an update does not send the identity
		h := stateHash(p)
		want := mapping.at(m.LastConsumedMessageIndex)
		lk := c.st.lcmiKey(m.SID)
		sent, _, err := r.j.Get(lk)
		if err != nil {
			return journalErr("read", lk, err)
		}
		moved := want != nil && string(sent) != strconv.FormatInt(*want, 10)
		if r.o.DryRun && m.LastConsumedMessageIndex != nil && c.newMin >= 0 && c.newMin <= *m.LastConsumedMessageIndex {
			moved = true // messages still to create change the mapping
		}
		if w.Hash == h && !moved {
			continue
		}
		if w.Foreign {
			c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
				"member %q (%s) of target channel %s was not created by restore; its archived changes were not applied",
				m.Identity, w.Target, c.st.Target)})
			continue
		}
		if r.o.DryRun {
			c.writes++
			c.plan("update", "member", m.Identity, w.Target, nil)
			continue
		}
		if want != nil {
			n := int(*want)
			p.LastConsumedMessageIndex = &n
		}
		if err := c.syncMember(ctx, m, w.Target, p, want); err != nil {
			return err
		}
		c.updated++
		if err := c.putWritten(prefix+m.SID, written{Target: w.Target, Hash: h}); err != nil {
			return err
		}
		if want != nil {
			if err := journalErr("write", lk, r.j.Put(lk, []byte(strconv.FormatInt(*want, 10)))); err != nil {
				return err
			}
		}
	}
	if err := c.synced(); err != nil {
		return err
	}
	if c.tgt == nil || r.o.DryRun {
		return nil
	}
	// members_count was read (c.tgt) before this run created and removed
	// members.
	inTarget := c.tgt.MembersCount + c.members - c.membersRemoved
	if !remote.CapabilitiesOf(r.api).MessageCounts {
		// No counts on the channel: one listing of the members, and the
		// newest message, tell what someone else added.
		var err error
		if inTarget, err = c.countMembers(ctx); err != nil {
			return err
		}
		if err := c.checkNewest(ctx); err != nil {
			return err
		}
	}
	if inTarget > live {
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"target channel %s holds %d members that restore did not create; they were left untouched",
			c.st.Target, inTarget-live)})
	}
	return nil
}

// countMembers counts the target channel's members.
func (c *chanRun) countMembers(ctx context.Context) (int, error) {
	n := 0
	for _, err := range c.r.dst.ListMembers(ctx, c.r.o.Target, c.st.Target, remote.ListOptions{}) {
		if err != nil {
			return 0, fmt.Errorf("list members of target channel %s: %w", c.st.Target, err)
		}
		n++
	}
	return n, nil
}

// checkNewest reports messages after the journal's last one, which
// restore did not write.
func (c *chanRun) checkNewest(ctx context.Context) error {
	page, err := c.r.dst.MessagesPage(ctx, c.r.o.Target, c.st.Target, remote.ListOptions{PageSize: 1, Order: "desc"}, "")
	if err != nil {
		return fmt.Errorf("read the newest message of target channel %s: %w", c.st.Target, err)
	}
	if len(page.Items) > 0 && page.Items[0].Index > c.st.LastTgtIndex {
		c.conflicts = append(c.conflicts, Conflict{Channel: c.rec.SID, UniqueName: c.rec.UniqueName, Reason: fmt.Sprintf(
			"target channel %s holds messages after the last one restore created (index %d, newest %d); they were left untouched",
			c.st.Target, c.st.LastTgtIndex, page.Items[0].Index)})
	}
	return nil
}

func (c *chanRun) syncMember(ctx context.Context, m *srcMember, sid string, p remote.MemberParams, lcmi *int64) error {
	r := c.r
	return c.write(ctx, fmt.Sprintf("update member %q in target channel %s", m.Identity, c.st.Target), func() error {
		_, err := r.dst.UpdateMember(ctx, r.o.Target, c.st.Target, sid, p)
		return err
	}, func() (bool, error) {
		t, err := r.dst.FetchMember(ctx, r.o.Target, c.st.Target, sid)
		if err != nil {
			return false, err
		}
		role := deref(p.RoleSID)
		if role == "" {
			role = t.RoleSID // not sent: the target's
		}
		ignore := []string{}
		if lcmi == nil {
			ignore = append(ignore, "last_consumed_message_index") // not sent
		}
		return memberDiffs(m, t, role, t.RoleSID, lcmi).without(remote.KindMember, r.lost).first(ignore...) == "", nil
	})
}

// deleteGoneChannels deletes the target channels restore created whose
// archived channel the snapshot no longer has. Only a sync of every
// channel does, and not with --since/--until (deleting a channel deletes
// all of its messages, whatever their dates).
func (r *runner) deleteGoneChannels(ctx context.Context, chans []store.ChannelRecord) error {
	if len(r.o.Channels) > 0 {
		return nil
	}
	have := make(map[string]bool, len(chans))
	for _, c := range chans {
		have[c.SID] = true
	}
	type doomed struct {
		src string
		st  chanState
	}
	var todo []doomed
	err := r.j.Scan(keyChannel, func(key string, value []byte) error {
		src := strings.TrimPrefix(key, keyChannel)
		var st chanState
		if err := json.Unmarshal(value, &st); err != nil {
			return fmt.Errorf("restore journal entry %s is damaged: %w", key, err)
		}
		if st.Target != "" && !have[src] {
			todo = append(todo, doomed{src, st})
		}
		return nil
	})
	if err := journalErr("scan", keyChannel, err); err != nil {
		return err
	}
	if len(todo) > 0 && r.o.ranged() {
		r.note(fmt.Sprintf("--since/--until bound the sync: %d channels the snapshot no longer has are not deleted", len(todo)))
		return nil
	}
	for _, d := range todo {
		if r.o.DryRun {
			r.mu.Lock()
			r.planned.Deletes++
			r.planned.Writes++
			r.planned.Actions = append(r.planned.Actions, Action{Op: "delete", Kind: "channel", Channel: d.src, Target: d.st.Target})
			r.chanPlans = append(r.chanPlans, chain{writes: 1})
			r.mu.Unlock()
			continue
		}
		err := attempt(ctx, "delete target channel "+d.st.Target, false, func() error {
			if err := r.dst.DeleteChannel(ctx, r.o.Target, d.st.Target); !gone(err) {
				return err
			}
			return nil
		}, func() (bool, error) {
			_, err := r.dst.FetchChannel(ctx, r.o.Target, d.st.Target)
			if gone(err) {
				return true, nil
			}
			return false, err
		})
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, remote.ErrAuthentication) {
				return err
			}
			r.update(func(res *Result) {
				res.Failed = append(res.Failed, Failure{Channel: d.src, Error: err.Error()})
			})
			continue
		}
		r.unclaim(d.st.Target, d.src)
		if err := r.saveState(d.src, d.st.forgotten()); err != nil {
			return err
		}
		r.update(func(res *Result) { res.Deleted++ })
	}
	return nil
}

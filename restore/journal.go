package restore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Journal keys (see doc.go for the format and why it is enough). The keys
// of a channel's members and messages carry the channel's generation
// (chanState.Gen) after its source SID, as "@<gen>", except generation 0.
const (
	keyChannel = "ch/"   // ch/<source CH> → chanState (JSON)
	keyMember  = "mb/"   // mb/<source MB>[@gen] → target MB SID
	keyIndex   = "ix/"   // ix/<source CH>[@gen]/<source index, 20 digits> → target index (decimal)
	keyLCMI    = "lcmi/" // lcmi/<source MB>[@gen] → target last_consumed_message_index sent (decimal)
	keyMedia   = "me/"   // me/<source CH>[@gen]/<source ME> → target ME SID uploaded for it
)

// chanState is the journal record of one source channel.
type chanState struct {
	// Target is the target channel SID; "" while the channel is not created.
	Target string `json:"target"`
	// Pending: a CreateChannel for a channel without unique name may have
	// been sent; look for it before creating another.
	Pending      bool  `json:"pending,omitempty"`
	MembersDone  bool  `json:"members_done"`
	MessagesDone bool  `json:"messages_done"`
	LastSrcIndex int64 `json:"last_src_index"` // source index of the newest restored message; -1 none
	// From is the source index of the first message restored into the
	// channel in this generation, where its restored range begins (a
	// restore with --since starts it late); nil before any, or in a
	// journal written before it was kept.
	From         *int64 `json:"from,omitempty"`
	LastTgtIndex int64  `json:"last_tgt_index"` // its target index; -1 none
	Finished     bool   `json:"finished"`
	// Restored counts the target messages journaled (ix entries) in this
	// generation: fewer in the target means some were deleted there.
	// Journals written before it existed have 0: not known.
	Restored int64 `json:"restored,omitempty"`
	// Gen is the channel's generation: raised each time its target channel
	// is found deleted and the channel is restored again from scratch. The
	// entries of an earlier generation stay in the journal, unused: the
	// journal cannot delete, and one write of this state forgets them all
	// at once, which a kill cannot leave half done.
	Gen int64 `json:"gen,omitempty"`
	// Hash is the state of the channel last written (channelHash), so a
	// sync knows whether it changed; "" before sync existed.
	Hash string `json:"hash,omitempty"`
	// Syncing: a sync sent (or was about to send) updates or deletions
	// into the channel and has not finished it; the next sync reads each
	// back before sending it again.
	Syncing bool `json:"syncing,omitempty"`
}

func newChanState() chanState { return chanState{LastSrcIndex: -1, LastTgtIndex: -1} }

// forgotten is the state of a channel whose target is gone: a fresh
// state of the next generation.
func (st chanState) forgotten() chanState {
	n := newChanState()
	n.Gen = st.Gen + 1
	return n
}

// genSuffix is what the keys of generation gen add after the source SID.
func genSuffix(gen int64) string {
	if gen == 0 {
		return ""
	}
	return "@" + strconv.FormatInt(gen, 10)
}

func chanKey(src string) string { return keyChannel + src }

func (st chanState) memberKey(src string) string { return keyMember + src + genSuffix(st.Gen) }
func (st chanState) lcmiKey(src string) string   { return keyLCMI + src + genSuffix(st.Gen) }
func (st chanState) indexPrefix(ch string) string {
	return keyIndex + ch + genSuffix(st.Gen) + "/"
}
func (st chanState) mediaKey(ch, me string) string {
	return keyMedia + ch + genSuffix(st.Gen) + "/" + me
}
func (st chanState) indexKey(ch string, srcIndex int64) string {
	return fmt.Sprintf("%s%020d", st.indexPrefix(ch), srcIndex)
}

func (r *runner) loadState(src string) (chanState, bool, error) { return readState(r.j, src) }

// readState reads the journal record of source channel src; a channel the
// journal does not know has a fresh state.
func readState(j journal, src string) (chanState, bool, error) {
	st := newChanState()
	v, ok, err := j.Get(chanKey(src))
	if err != nil || !ok {
		return st, false, journalErr("read", chanKey(src), err)
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, false, fmt.Errorf("restore journal entry %s is damaged (%v); restore into a new target or remove the archive's journal", chanKey(src), err)
	}
	return st, true, nil
}

func (r *runner) saveState(src string, st chanState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return journalErr("write", chanKey(src), r.j.Put(chanKey(src), b))
}

// loadClaims reads which target channels the journal already maps.
func (r *runner) loadClaims() error {
	err := r.j.Scan(keyChannel, func(key string, value []byte) error {
		var st chanState
		if err := json.Unmarshal(value, &st); err != nil {
			return fmt.Errorf("restore journal entry %s is damaged: %w", key, err)
		}
		if st.Target != "" {
			r.claimed[st.Target] = strings.TrimPrefix(key, keyChannel)
		}
		return nil
	})
	return journalErr("scan", keyChannel, err)
}

// claim records that target channel tgt is src's; false when another
// source channel has it already.
func (r *runner) claim(tgt, src string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if other, ok := r.claimed[tgt]; ok && other != src {
		return false
	}
	r.claimed[tgt] = src
	return true
}

// unclaim forgets that target channel tgt is src's (it was deleted).
func (r *runner) unclaim(tgt, src string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.claimed[tgt] == src {
		delete(r.claimed, tgt)
	}
}

func (r *runner) claimedBy(tgt string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.claimed[tgt]
	return s, ok
}

// deletedIndex is the value of an ix/ entry whose target message a sync
// deleted: read positions map as if it had never been restored.
const deletedIndex = "-"

// scanIndexes reads the restored source→target index pairs of channel ch
// in state st's generation and calls fn for each, in no particular order;
// pairs whose target message a sync deleted are left out.
func scanIndexes(j journal, ch string, st chanState, fn func(src, tgt int64)) error {
	p := st.indexPrefix(ch)
	err := j.Scan(p, func(key string, value []byte) error {
		if string(value) == deletedIndex {
			return nil
		}
		s, err1 := strconv.ParseInt(strings.TrimPrefix(key, p), 10, 64)
		t, err2 := strconv.ParseInt(string(value), 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("restore journal entry %s is damaged", key)
		}
		fn(s, t)
		return nil
	})
	return journalErr("scan", p, err)
}

// storeErr marks a failure of the restore journal: without it nothing can
// be restored safely, so it stops the whole run.
type storeErr struct{ err error }

func (e *storeErr) Error() string { return e.err.Error() }
func (e *storeErr) Unwrap() error { return e.err }

func journalErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &storeErr{fmt.Errorf("restore journal in archive: %s %s: %w", op, key, err)}
}

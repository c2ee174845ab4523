package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/chatvault/chatvault/internal/jsonscan"
	bolt "go.etcd.io/bbolt"
)

// Batching of the writer goroutine: it takes whatever is queued, up to
// these bounds, into one transaction. The queue holds up to opQueueLen
// operations and maxQueuedBytes of resources (see queue.go).
const (
	opQueueLen      = 256
	maxBatchRecords = 5000
	// A batch of fewer records than lingerRecords that no caller waits on
	// (no Flush, Finish or other call with an answer) waits up to
	// batchLinger for more operations before it commits.
	lingerRecords = 1000
	batchLinger   = 2 * time.Millisecond
	maxBatchBytes = 16 << 20
)

type opKind uint8

const (
	opBegin opKind = iota + 1
	opFinish
	opPutService
	opPutRole
	opPutChannel
	opDeleteChannel
	opPutMembers
	opDeleteMembers
	opPutMessages
	opDeleteMessages
	opSetSync
	opJournalPut
	opBarrier
	opStop
	opContentChunk
	opContentDone
	opContentDiscard
	opPutMedia
	opDeleteMedia
	opPutUsers
	opDeleteUsers
	opSetAPI
)

// op is one queued write. It owns its slices (copies of the caller's).
type op struct {
	kind     opKind
	w        *Writer
	j        *Journal
	channel  string
	sid      string
	label    string
	raw      []byte
	members  []MemberRecord
	messages []MessageRecord
	records  [][]byte // opPutMessages: messages[i] encoded as a record
	sids     []string
	indexes  []int64
	jseq     uint64
	up       *upload // content ops
	chunk    uint32  // opContentChunk: index of the chunk in raw

	// opFinish and opStop
	status   Status
	requests int64
	failed   []string
	finished time.Time

	reply  chan opResult
	res    opResult
	queued int // bytes counted in the archive's queueBudget
}

type opResult struct {
	id   uint64
	snap Snapshot
	err  error
}

func (o *op) weight() (records, size int) {
	switch o.kind {
	case opPutMembers, opPutUsers:
		for _, m := range o.members {
			size += len(m.Raw)
		}
		return len(o.members), size
	case opPutMessages:
		// The queue holds each message encoded as the record it will be
		// stored as.
		for i, m := range o.messages {
			size += len(m.Raw)
			if i < len(o.records) {
				size += len(o.records[i])
			}
		}
		return len(o.messages), size
	case opDeleteMembers, opDeleteMedia, opDeleteUsers:
		return len(o.sids), 0
	case opDeleteMessages:
		return len(o.indexes), 0
	}
	return 1, len(o.raw)
}

func (a *Archive) stickyErr() error {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.werr
}

// send queues o for the writer goroutine.
func (a *Archive) send(o *op) error {
	if a.ro {
		return a.errReadOnly("write")
	}
	if err := a.stickyErr(); err != nil {
		return err
	}
	if a.closing.Load() {
		return a.errClosed()
	}
	_, n := o.weight()
	if !a.queue.acquire(n) {
		return a.errClosed()
	}
	o.queued = n
	select {
	case a.ops <- o:
		return nil
	case <-a.done:
		a.queue.release(n)
		return a.errClosed()
	}
}

// call queues o and waits until the transaction holding it is committed.
func (a *Archive) call(ctx context.Context, o *op) (opResult, error) {
	o.reply = make(chan opResult, 1)
	if err := a.send(o); err != nil {
		return opResult{}, err
	}
	select {
	case r := <-o.reply:
		return r, r.err
	case <-a.stopped:
		select {
		case r := <-o.reply:
			return r, r.err
		default:
			return opResult{}, a.errClosed()
		}
	case <-ctx.Done():
		return opResult{}, fmt.Errorf("archive %s: waiting for queued writes to be committed: %w", a.path, ctx.Err())
	}
}

// run is the writer goroutine: it owns every write transaction of the
// queue, applying queued ops in order, many per transaction.
func (a *Archive) run() {
	defer close(a.stopped)
	defer a.queue.close()
	var batch []*op
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch = append(batch[:0], <-a.ops)
		a.queue.release(batch[0].queued)
		stop := batch[0].kind == opStop
		records, size := batch[0].weight()
		chunks := b2i(batch[0].kind == opContentChunk)
		waited := batch[0].reply != nil
		lingering := false
	fill:
		for !stop && records < maxBatchRecords && size < maxBatchBytes && chunks < maxBatchChunks {
			var o *op
			select {
			case o = <-a.ops:
			default:
				// Nothing more queued. A batch no caller waits on and
				// holding few records waits up to batchLinger for more:
				// each commit costs an fdatasync, and callers that queue
				// as they go (a backup's walks) would otherwise commit a
				// page at a time.
				if waited || records >= lingerRecords {
					break fill
				}
				if !lingering {
					lingering = true
					linger.Reset(batchLinger)
				}
				select {
				case o = <-a.ops:
				case <-linger.C:
					break fill
				}
			}
			a.queue.release(o.queued)
			batch = append(batch, o)
			r, s := o.weight()
			records += r
			size += s
			chunks += b2i(o.kind == opContentChunk)
			stop = o.kind == opStop
			waited = waited || o.reply != nil
		}
		if lingering && !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		a.applyBatch(batch)
		clear(batch)
		if stop {
			return
		}
		a.releaseMapped()
	}
}

func (a *Archive) applyBatch(batch []*op) {
	err := a.stickyErr()
	if err == nil && a.writes(batch) {
		a.mu.RLock()
		err = guard(func() error {
			return a.db.Update(func(tx *bolt.Tx) error {
				ap := newApplier(a, tx)
				for _, o := range batch {
					if err := ap.apply(o); err != nil {
						return err
					}
				}
				return ap.flushCounts()
			})
		})
		a.mu.RUnlock()
		a.committed.Store(a.committed.Load() || err == nil)
		if err != nil {
			err = a.errDamaged("writing", err)
			err = fmt.Errorf("archive %s: writing failed, nothing more is written in this run: %w", a.path, err)
			a.errMu.Lock()
			if a.werr == nil {
				a.werr = err
			}
			a.errMu.Unlock()
		}
	}
	for _, o := range batch {
		if err == nil && o.kind == opJournalPut {
			o.j.committed(o.sid, o.jseq)
		}
		if o.kind == opContentChunk {
			a.recycleChunk(o.raw) // bbolt has let go of it
		}
		if o.reply != nil {
			r := o.res
			r.err = err
			o.reply <- r
		}
	}
}

// writes reports whether applying batch can change the file. Barriers,
// and a stop with no snapshot left to mark interrupted, cannot: they need
// no transaction, and skipping it keeps an archive that was opened
// read-write but not written byte for byte as it was (an empty bbolt
// commit still rewrites a meta page).
func (a *Archive) writes(batch []*op) bool {
	for _, o := range batch {
		switch o.kind {
		case opBarrier:
		case opStop:
			a.wmu.Lock()
			running := false
			for _, w := range a.writers {
				running = running || (w.id != 0 && !w.closed)
			}
			a.wmu.Unlock()
			if running {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// Writer records one snapshot. Its methods are safe for concurrent use: they
// queue operations to the archive's single writer goroutine, which applies
// them in order, many per transaction. An error from the writer goroutine is
// returned by the next call and by Flush/Finish.
type Writer struct {
	a        *Archive
	service  string
	full     bool
	started  time.Time
	id       uint64 // set by the writer goroutine before BeginSnapshot returns
	finished atomic.Bool

	// Owned by the writer goroutine.
	added, changed, deleted int
	// Changes of other kinds: added + changed + deleted (see other).
	channelsChanged, membersChanged, usersChanged int
	closed                                        bool
}

// BeginSnapshot starts a snapshot of service in state running; the snapshot
// record is committed before it returns. Only one Writer per service may be
// open in an Archive at a time.
func (a *Archive) BeginSnapshot(service string, full bool, started time.Time) (*Writer, error) {
	if a.ro {
		return nil, a.errReadOnly("begin a snapshot")
	}
	if err := validEntity("service SID", service); err != nil {
		return nil, fmt.Errorf("archive %s: begin snapshot: %v", a.path, err)
	}
	if started.IsZero() {
		started = time.Now()
	}
	if err := a.vetService(service); err != nil {
		return nil, errRefused(fmt.Errorf("not beginning a snapshot of service %s: %w", service, err))
	}
	w := &Writer{a: a, service: service, full: full, started: started.UTC()}
	a.wmu.Lock()
	if other := a.writers[service]; other != nil {
		a.wmu.Unlock()
		return nil, fmt.Errorf("archive %s: a snapshot of service %s is already being written; finish it before beginning another", a.path, service)
	}
	a.writers[service] = w
	a.wmu.Unlock()
	res, err := a.call(context.Background(), &op{kind: opBegin, w: w})
	if err != nil {
		a.unregister(w)
		return nil, err
	}
	w.id = res.id
	return w, nil
}

func (a *Archive) unregister(w *Writer) {
	a.wmu.Lock()
	if a.writers[w.service] == w {
		delete(a.writers, w.service)
	}
	a.wmu.Unlock()
}

// ID returns the snapshot id.
func (w *Writer) ID() uint64 { return w.id }

func (w *Writer) send(o *op) error {
	if w.finished.Load() {
		return fmt.Errorf("archive %s: snapshot %d is finished; begin a new snapshot to write more", w.a.path, w.id)
	}
	o.w = w
	return w.a.send(o)
}

func (w *Writer) invalid(format string, args ...any) error {
	return fmt.Errorf("archive %s: snapshot %d: %s", w.a.path, w.id, fmt.Sprintf(format, args...))
}

func (w *Writer) checkJSON(what string, raw []byte) error {
	if !jsonscan.Valid(raw) {
		return w.invalid("%s is not valid JSON; store the resource exactly as the API returned it", what)
	}
	return nil
}

func (w *Writer) checkEntity(what, s string) error {
	if err := validEntity(what, s); err != nil {
		return w.invalid("%v", err)
	}
	return nil
}

// PutService stores the raw service resource if it differs from the current version.
func (w *Writer) PutService(raw []byte) error {
	if err := w.checkJSON("service", raw); err != nil {
		return err
	}
	return w.send(&op{kind: opPutService, raw: slices.Clone(raw)})
}

// PutRole stores the raw role if it differs from the current version.
func (w *Writer) PutRole(sid, friendlyName string, raw []byte) error {
	if err := w.checkEntity("role SID", sid); err != nil {
		return err
	}
	if err := w.checkJSON("role "+sid, raw); err != nil {
		return err
	}
	return w.send(&op{kind: opPutRole, sid: sid, label: friendlyName, raw: slices.Clone(raw)})
}

// PutChannel stores the channel if it differs from the current version.
func (w *Writer) PutChannel(sid, uniqueName string, raw []byte) error {
	if err := w.checkEntity("channel SID", sid); err != nil {
		return err
	}
	if err := w.checkJSON("channel "+sid, raw); err != nil {
		return err
	}
	return w.send(&op{kind: opPutChannel, sid: sid, label: uniqueName, raw: slices.Clone(raw)})
}

// DeleteChannel records that the channel no longer exists: the channel and
// every live member and message of it get tombstones (the messages count as
// Deleted).
func (w *Writer) DeleteChannel(sid string) error {
	if err := w.checkEntity("channel SID", sid); err != nil {
		return err
	}
	return w.send(&op{kind: opDeleteChannel, sid: sid})
}

// PutMembers stores each member that differs from its current version.
func (w *Writer) PutMembers(channelSID string, ms []MemberRecord) error {
	if err := w.checkEntity("channel SID", channelSID); err != nil {
		return err
	}
	return w.putLabelled(opPutMembers, "member", channelSID, ms)
}

// putLabelled queues a put of SID/label/raw records (members of channel, or
// users with channel ""), copied into one buffer.
func (w *Writer) putLabelled(kind opKind, what, channel string, ms []MemberRecord) error {
	if len(ms) == 0 {
		return nil
	}
	size := 0
	for _, m := range ms {
		if err := w.checkEntity(what+" SID", m.SID); err != nil {
			return err
		}
		if err := w.checkJSON(what+" "+m.SID, m.Raw); err != nil {
			return err
		}
		size += len(m.Raw)
	}
	buf := make([]byte, 0, size)
	cp := make([]MemberRecord, len(ms))
	for i, m := range ms {
		start := len(buf)
		buf = append(buf, m.Raw...)
		cp[i] = MemberRecord{SID: m.SID, Identity: m.Identity, Raw: buf[start:len(buf):len(buf)]}
	}
	return w.send(&op{kind: kind, channel: channel, members: cp})
}

// PutMessages stores each message that differs from its current version.
// Indexes must be >= 0.
func (w *Writer) PutMessages(channelSID string, ms []MessageRecord) error {
	if err := w.checkEntity("channel SID", channelSID); err != nil {
		return err
	}
	if len(ms) == 0 {
		return nil
	}
	size := 0
	for _, m := range ms {
		if m.Index < 0 {
			return w.invalid("message %s in channel %s has index %d; indexes must be >= 0", m.SID, channelSID, m.Index)
		}
		if !jsonscan.Valid(m.Raw) {
			return w.invalid("message %d in channel %s is not valid JSON; store the resource exactly as the API returned it", m.Index, channelSID)
		}
		size += len(m.Raw)
	}
	// What is queued is the records as they will be stored (compressed),
	// encoded here rather than in the writer goroutine, which the callers
	// all wait on; not the raw messages: the goroutine decodes a record
	// back only to compare it with a stored version of other bytes. A
	// message compresses to about a quarter of its size: room for a half
	// is enough but for pages of incompressible messages, for which append
	// grows the buffer (the slices taken before keep the old one).
	buf := make([]byte, 0, size/2+len(ms)*16)
	cp := make([]MessageRecord, len(ms))
	recs := make([][]byte, len(ms))
	for i, m := range ms {
		start := len(buf)
		buf = w.a.appendResource(buf, kindPut, m.SID, m.Raw)
		recs[i] = buf[start:len(buf):len(buf)]
		cp[i] = MessageRecord{SID: m.SID, Index: m.Index}
	}
	return w.send(&op{kind: opPutMessages, channel: channelSID, messages: cp, records: recs})
}

// DeleteMembers records the deletion (tombstones) of live members.
func (w *Writer) DeleteMembers(channelSID string, sids []string) error {
	if err := w.checkEntity("channel SID", channelSID); err != nil {
		return err
	}
	return w.deleteEntities(opDeleteMembers, "member SID", channelSID, sids)
}

// deleteEntities queues tombstones for string entities (of channel, or of
// the service with channel "").
func (w *Writer) deleteEntities(kind opKind, what, channel string, sids []string) error {
	for _, s := range sids {
		if err := w.checkEntity(what, s); err != nil {
			return err
		}
	}
	if len(sids) == 0 {
		return nil
	}
	return w.send(&op{kind: kind, channel: channel, sids: slices.Clone(sids)})
}

// DeleteMessages records the deletion (tombstones) of live messages.
func (w *Writer) DeleteMessages(channelSID string, indexes []int64) error {
	if err := w.checkEntity("channel SID", channelSID); err != nil {
		return err
	}
	for _, i := range indexes {
		if i < 0 {
			return w.invalid("message index %d in channel %s: indexes must be >= 0", i, channelSID)
		}
	}
	if len(indexes) == 0 {
		return nil
	}
	return w.send(&op{kind: opDeleteMessages, channel: channelSID, indexes: slices.Clone(indexes)})
}

// SetSync stores the channel's sync state, ordered after the operations queued before it.
func (w *Writer) SetSync(channelSID string, s ChannelSync) error {
	if err := w.checkEntity("channel SID", channelSID); err != nil {
		return err
	}
	js, err := json.Marshal(s)
	if err != nil {
		return w.invalid("encoding sync state of %s: %v", channelSID, err)
	}
	return w.send(&op{kind: opSetSync, channel: channelSID, raw: js})
}

// Flush waits until every queued operation is committed.
func (w *Writer) Flush(ctx context.Context) error {
	_, err := w.a.call(ctx, &op{kind: opBarrier})
	return err
}

// Finish flushes and closes the snapshot with its final status (complete,
// partial or interrupted) and request count. It returns the snapshot as
// stored, with its totals and counters.
func (w *Writer) Finish(status Status, requests int64, failed []string) (Snapshot, error) {
	switch status {
	case StatusComplete, StatusPartial, StatusInterrupted:
	default:
		return Snapshot{}, w.invalid("cannot finish with status %q; use complete, partial or interrupted", status)
	}
	if !w.finished.CompareAndSwap(false, true) {
		return Snapshot{}, fmt.Errorf("archive %s: snapshot %d is already finished", w.a.path, w.id)
	}
	defer w.a.unregister(w)
	res, err := w.a.call(context.Background(), &op{
		kind: opFinish, w: w, status: status, requests: requests,
		failed: slices.Clone(failed), finished: time.Now().UTC(),
	})
	if err != nil {
		return Snapshot{}, err
	}
	return res.snap, nil
}

var (
	errNegativeCount      = errors.New("live message count went below zero")
	errTombstoneInJournal = errors.New("journal entry is a tombstone")
)

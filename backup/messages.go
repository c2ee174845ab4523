package backup

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// messages brings the archive's copy of one channel's messages up to date.
// The strategy and its guarantees are described in doc.go.
func (r *run) messages(ctx context.Context, j job) error {
	st, ok, err := r.a.Sync(r.o.Service, j.sid)
	if err != nil {
		return storeErr(fmt.Errorf("reading the sync state of channel %s from archive %s: %w", j.sid, r.a.Path(), err))
	}
	if !ok {
		st = store.ChannelSync{SyncedIndex: -1, WalkTop: -1}
	}
	pending := st.WalkTop >= 0 && st.WalkNext != ""
	// An API whose channels do not name their newest message shows no
	// change of messages on the channel: one short newest-first page does.
	var probe *remote.Page[*remote.Message]
	marker := j.marker
	if ok && !r.o.Full && !pending && !r.caps.LastMessageLink {
		o := remote.ListOptions{PageSize: min(probePageSize, r.o.PageSize), Order: "desc"}
		err := r.request(ctx, pagesLeft(j.size, 0, r.o.PageSize), func() (err error) {
			probe, err = r.src.MessagesPage(ctx, r.o.Service, j.sid, o, "")
			return err
		})
		if err != nil {
			return fmt.Errorf("reading messages: %w", err)
		}
		if probe == nil {
			return errors.New("reading messages: the service returned no page")
		}
		r.prog.Messages(len(probe.Items))
		marker = withNewest(j.marker, probe)
	}
	if ok && !r.o.Full && !pending && st.MessagesCount == j.messagesCount && st.Marker == marker {
		r.log.Debug("channel unchanged: no messages to read", "channel", j.sid)
		if probe != nil {
			return r.probeOnly(ctx, j, st, probe)
		}
		return nil
	}

	// bottom is the lowest index a walk must reach: below SyncedIndex every
	// message has been read before, unless this run re-reads everything.
	bottom := st.SyncedIndex
	if r.o.Full || !ok {
		bottom = -1
	}
	w := r.newWalker(j, st)
	if bottom < 0 {
		// The walk reads the whole channel anyway: find deletions page by
		// page. Incremental walks only note what they covered, and look for
		// deletions if the count afterwards says there are some.
		if err := w.reload(ctx, false); err != nil {
			return err
		}
	}
	complete := false // one walk covered the channel from newest to oldest
	if pending {
		// First the messages that arrived since the interrupted walk began,
		// down to where it began; then the rest of that walk.
		if _, err := w.walk(ctx, walkSpec{stopAt: st.WalkTop, clampLo: st.WalkTop + 1}); err != nil {
			return err
		}
		w.pendTop = st.WalkTop
		first, err := w.walk(ctx, walkSpec{from: st.WalkNext, stopAt: bottom, clampLo: math.MinInt64, persist: true})
		if err != nil {
			if !first || !isClientError(err) {
				return err
			}
			// The saved page URL is no longer accepted (its token may have
			// expired): walk again from the newest message. Pages stored
			// already are no-ops for the archive.
			r.log.Info("saved page URL refused: walking the channel again from its newest message",
				"channel", j.sid, "error", err)
			if err := w.restart(ctx); err != nil {
				return err
			}
			if _, err := w.walk(ctx, walkSpec{stopAt: bottom, clampLo: math.MinInt64, persist: true}); err != nil {
				return err
			}
			complete = bottom < 0
		} else if r.media != nil {
			r.media.unread.Store(true) // the pages above WalkNext were read by an earlier run
		}
	} else {
		if _, err := w.walk(ctx, walkSpec{probe: probe, stopAt: bottom, clampLo: math.MinInt64, persist: true}); err != nil {
			return err
		}
		complete = bottom < 0
	}

	count, date := j.messagesCount, j.marker
	switch {
	case complete:
	case r.caps.MessageCounts:
		if count, date, err = w.reconcile(ctx, count, date); err != nil {
			return err
		}
	default:
		// No count to compare with: the deletions found are those in the
		// ranges the walk covered.
		if err := w.sweepCovered(ctx); err != nil {
			return err
		}
	}
	if !r.caps.LastMessageLink {
		date = j.marker + " " + w.newest
	}
	synced := max(st.SyncedIndex, w.top, w.pendTop)
	low, merr := w.media.wait(ctx)
	if low >= 0 {
		// The messages whose files could not be archived must be read
		// again by the next run: sync below the lowest of them, with a
		// count that makes the channel look changed.
		if err := r.w.SetSync(j.sid, store.ChannelSync{SyncedIndex: min(synced, low-1), MessagesCount: -1, WalkTop: -1}); err != nil {
			return storeErr(err)
		}
		return merr
	}
	if merr != nil {
		return merr
	}
	if err := r.w.SetSync(j.sid, store.ChannelSync{
		SyncedIndex:   synced,
		MessagesCount: count,
		Marker:        date,
		WalkTop:       -1,
	}); err != nil {
		return storeErr(err)
	}
	r.log.Debug("channel messages synced", "channel", j.sid, "synced_index", synced,
		"pages", w.pages, "deleted", w.deleted, "rewalked", w.rewalked)
	return nil
}

// reconcile compares the channel's messages_count with the number of
// messages live in the archive after a walk that did not cover the whole
// channel. When they differ it looks for deleted messages, cheapest first:
// in the ranges the walk covered, then among messages posted since the
// listing, and finally by walking the whole channel. It returns the count
// and date_updated the sync state should remember.
func (w *walker) reconcile(ctx context.Context, count int, date string) (int, string, error) {
	n, err := w.liveCount(ctx)
	if err != nil || n == count {
		return count, date, err
	}
	if w.live == nil {
		// The walk noted what it covered; look there first.
		if err := w.reload(ctx, false); err != nil {
			return 0, "", err
		}
		gone, err := w.sweep()
		if err != nil {
			return 0, "", err
		}
		if n -= gone; n == count {
			return count, date, nil
		}
	}
	// The listing may be older than the walk: messages posted in between
	// make the archive hold more than the listed count. Ask again before
	// paying for a complete walk.
	var c *remote.Channel
	err = w.r.request(ctx, w.prio(), func() (err error) {
		c, err = w.r.src.FetchChannel(ctx, w.r.o.Service, w.ch)
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("fetching the channel again to check its message count: %w", err)
	}
	if c.MessagesCount != count || changeMarker(c) != date {
		// The snapshot keeps the channel as it is now, in step with the
		// messages read next.
		if err := w.r.w.PutChannel(c.SID, c.UniqueName, c.Raw); err != nil {
			return 0, "", storeErr(err)
		}
		count, date = c.MessagesCount, changeMarker(c)
		if _, err := w.walk(ctx, walkSpec{stopAt: w.top, clampLo: math.MinInt64, persist: true}); err != nil {
			return 0, "", err
		}
		if n, err = w.liveCount(ctx); err != nil || n == count {
			return count, date, err
		}
	}
	w.r.log.Info("archive and service disagree on the number of messages: reading the whole channel to find deleted ones",
		"channel", w.ch, "archive", n, "service", count)
	w.rewalked = true
	if err := w.reload(ctx, true); err != nil {
		return 0, "", err
	}
	if _, err := w.walk(ctx, walkSpec{stopAt: -1, clampLo: math.MinInt64, persist: true}); err != nil {
		return 0, "", err
	}
	return count, date, nil
}

// newWalker is a walker of channel j from its sync state st.
func (r *run) newWalker(j job, st store.ChannelSync) *walker {
	return &walker{r: r, ch: j.sid, size: j.size, base: st, top: -1, pendTop: -1, covHi: math.MaxInt64, media: &chanMedia{f: r.media}}
}

// probeOnly stores the probe page of a channel whose newest message is as
// archived: the page's other messages may have been edited (an edit that
// leaves date_updated as it was, or below the newest) or deleted, and the
// page is read anyway. Deletions are looked for in the range it covers.
func (r *run) probeOnly(ctx context.Context, j job, st store.ChannelSync, probe *remote.Page[*remote.Message]) error {
	if len(probe.Items) == 0 {
		return nil
	}
	w := r.newWalker(j, st)
	if _, err := w.walk(ctx, walkSpec{probe: probe, stopAt: math.MaxInt64, clampLo: math.MinInt64}); err != nil {
		return err
	}
	if err := w.sweepCovered(ctx); err != nil {
		return err
	}
	if _, err := w.media.wait(ctx); err != nil {
		return err
	}
	if w.deleted > 0 {
		r.log.Info("messages deleted from the newest page of an unchanged channel", "channel", j.sid, "deleted", w.deleted)
	}
	return nil
}

// probePageSize is the size of the newest-first page that tells whether a
// channel changed when its API has no marker for that (see doc.go).
const probePageSize = 5

// withNewest is a channel's change marker for an API whose channels do not
// name their newest message: the channel's own marker and that of the
// newest message on page, a newest-first page.
func withNewest(marker string, page *remote.Page[*remote.Message]) string {
	return marker + " " + newestMarker(page)
}

// newestMarker names the newest message of a newest-first page and its
// last edit: a message posted, deleted or edited at the top changes it.
func newestMarker(page *remote.Page[*remote.Message]) string {
	if len(page.Items) == 0 {
		return ""
	}
	m := page.Items[0]
	edited := ""
	if !m.DateUpdated.IsZero() {
		edited = m.DateUpdated.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%d %s %s", m.Index, m.SID, edited)
}

// sweepCovered looks for deleted messages in the ranges the walk covered,
// when the walk did not load the live indexes.
func (w *walker) sweepCovered(ctx context.Context) error {
	if w.live != nil || len(w.spans) == 0 {
		return nil
	}
	// Only the range the spans cover is read: a nightly run covers the
	// newest page or two of a channel that may hold millions. What this
	// walk queued need not be committed first: the indexes it stored are
	// among those it saw, which are never found deleted.
	lo, hi := w.spans[0].lo, w.spans[0].hi
	for _, s := range w.spans[1:] {
		lo, hi = min(lo, s.lo), max(hi, s.hi)
	}
	live, err := w.r.a.LiveMessageIndexesIn(w.r.o.Service, w.ch, lo, hi)
	if err != nil {
		return storeErr(fmt.Errorf("reading the message indexes of channel %s from archive %s: %w", w.ch, w.r.a.Path(), err))
	}
	w.live = live
	_, err = w.sweep()
	w.live = nil // a part: not the live indexes a walk may go on with
	return err
}

// isClientError reports whether err is the service refusing a request as
// bad (4xx), excluding credentials and rate limiting.
func isClientError(err error) bool {
	var ae *remote.APIError
	return errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 &&
		ae.Status != http.StatusTooManyRequests && !errors.Is(err, remote.ErrAuthentication)
}

// walker reads one channel's messages newest first, a page at a time,
// storing every page, and finds archived messages deleted from the service.
//
// A page of a newest-first walk holds every message whose index lies between
// its lowest index and the lowest index of the page before it (without bound
// above for the first page from the newest, without bound below for the
// last page): the page covers that range. An archived message in a covered
// range that the page does not hold has been deleted from the service.
//
// With the archive's live indexes loaded (live != nil), deletions are queued
// page by page. Otherwise the covered ranges and the indexes read in them
// are noted, and sweep finds the deletions later, if the count calls for it.
type walker struct {
	r     *run
	ch    string
	base  store.ChannelSync // sync state at the start of the run
	live  []int64           // indexes live in the archive at the start of the epoch, ascending; nil = not loaded
	covHi int64             // the next covered range ends at or below this index (per epoch)

	spans []span  // without live: ranges covered, newest first
	seen  []int64 // without live: indexes read within spans

	media *chanMedia // the media files the walk asked for

	size int // messages the channel is thought to hold (job.size)
	read int // messages its walks have read, for the priority of its requests

	newest   string // newestMarker of the last page read from the newest message
	top      int64  // highest index read in this run; -1 = none
	pendTop  int64  // WalkTop of the interrupted walk being finished; -1 = none
	pages    int
	deleted  int
	rewalked bool
}

// prio is the priority of the walker's next request: the pages it is
// thought to have left (see places).
func (w *walker) prio() int { return pagesLeft(w.size, w.read, w.r.o.PageSize) }

// pagesLeft is how many pages of pageSize a channel thought to hold size
// messages has left once read were read: at least 1, the page about to
// be asked for.
func pagesLeft(size, read, pageSize int) int {
	return max(1, (size-read+pageSize-1)/pageSize)
}

// span is a range of indexes, both ends included.
type span struct{ lo, hi int64 }

// walkSpec shapes one walk.
type walkSpec struct {
	from    string                        // "" = the newest page; else a next_page_url, fetched verbatim
	probe   *remote.Page[*remote.Message] // the newest page, read already with a small page size (from is "")
	stopAt  int64                         // stop after the page holding an index <= stopAt (-1 = read to the oldest)
	clampLo int64                         // pages cover nothing below this index
	persist bool                          // save the resume point after each page that has a successor
}

// flush waits until what is queued is committed.
func (w *walker) flush(ctx context.Context) error {
	if err := w.r.w.Flush(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return storeErr(fmt.Errorf("writing to archive %s: %w", w.r.a.Path(), err))
	}
	return nil
}

// reload starts a new epoch with the archive's live indexes loaded (after
// the queued writes are committed, if flush): nothing is covered yet.
func (w *walker) reload(ctx context.Context, flush bool) error {
	if flush {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	live, err := w.r.a.LiveMessageIndexes(w.r.o.Service, w.ch)
	if err != nil {
		return storeErr(fmt.Errorf("reading the message indexes of channel %s from archive %s: %w", w.ch, w.r.a.Path(), err))
	}
	if live == nil {
		live = []int64{}
	}
	if !slices.IsSorted(live) {
		slices.Sort(live)
	}
	w.live = live
	w.covHi = math.MaxInt64
	return nil
}

// restart forgets what was covered so far, for a walk from the newest
// message again.
func (w *walker) restart(ctx context.Context) error {
	w.spans, w.seen = nil, nil
	if w.live != nil {
		return w.reload(ctx, true)
	}
	w.covHi = math.MaxInt64
	return nil
}

// liveCount commits what is queued and returns how many messages of the
// channel are live in the archive.
func (w *walker) liveCount(ctx context.Context) (int, error) {
	if err := w.flush(ctx); err != nil {
		return 0, err
	}
	v, err := w.r.a.View(w.r.w.ID())
	if err == nil {
		var n int
		if n, err = v.MessageCount(w.ch); err == nil {
			return n, nil
		}
	}
	return 0, storeErr(fmt.Errorf("counting the messages of channel %s in archive %s: %w", w.ch, w.r.a.Path(), err))
}

// walk reads pages newest first from s.from until the page holding an index
// at or below s.stopAt, or the last page. failedFirst reports that the error
// came from the walk's first request.
func (w *walker) walk(ctx context.Context, s walkSpec) (failedFirst bool, err error) {
	url := s.from
	resumed := s.from != ""
	for first := true; ; first = false {
		probed := first && s.probe != nil
		page := s.probe
		if !probed {
			page, err = w.fetch(ctx, url)
			w.pages++
			if err != nil && ctx.Err() != nil {
				return false, ctx.Err()
			}
			if err != nil {
				return first, fmt.Errorf("reading messages: %w", err)
			}
			if page == nil {
				return first, errors.New("reading messages: the service returned no page")
			}
			w.r.prog.Messages(len(page.Items))
		}
		if url == "" {
			w.newest = newestMarker(page)
		}
		last := page.NextPageURL == ""
		stop := pageStops(page, s.stopAt)
		pmin, pmax := int64(math.MaxInt64), int64(math.MinInt64)
		recs := make([]store.MessageRecord, len(page.Items))
		for i, m := range page.Items {
			recs[i] = store.MessageRecord{SID: m.SID, Index: m.Index, Raw: m.Raw}
			pmin, pmax = min(pmin, m.Index), max(pmax, m.Index)
		}
		if len(recs) > 0 {
			w.top = max(w.top, pmax)
			if err := w.r.w.PutMessages(w.ch, recs); err != nil {
				return false, storeErr(err)
			}
			if err := w.media.add(ctx, page.Items); err != nil {
				return false, err
			}
		}

		// The index range this page covers (see walker).
		hi := w.covHi
		if first && resumed {
			// Where the interrupted walk's previous page ended is unknown.
			hi = min(hi, pmax)
		}
		lo := pmin
		if last {
			lo = math.MinInt64
		}
		lo = max(lo, s.clampLo)
		if lo <= hi {
			if err := w.cover(lo, hi, recs); err != nil {
				return false, err
			}
			w.covHi = lo
			if lo > math.MinInt64 {
				w.covHi = lo - 1
			}
		}

		if stop {
			return false, nil
		}
		if probed {
			// Its successors come in pages of the walk's size, from the
			// newest message again (url is still ""). What the probe
			// covered stays covered (covHi), so nothing is found deleted
			// twice.
			continue
		}
		if page.NextPageURL == url {
			return false, fmt.Errorf("reading messages: the service returned page %s as its own successor", url)
		}
		url = page.NextPageURL
		// A resume point past a page whose media files are not archived
		// yet would let a kill lose them: it is saved only when the
		// channel's downloads are settled.
		if s.persist && w.media.settled() {
			if err := w.r.w.SetSync(w.ch, store.ChannelSync{
				SyncedIndex:   s.stopAt,
				MessagesCount: w.base.MessagesCount,
				Marker:        w.base.Marker,
				WalkTop:       max(w.top, w.pendTop),
				WalkNext:      url,
			}); err != nil {
				return false, storeErr(err)
			}
		}
	}
}

// pageStops reports whether a walk down to stopAt ends with page: it is the
// last page, or it holds an index at or below stopAt.
func pageStops(page *remote.Page[*remote.Message], stopAt int64) bool {
	if page.NextPageURL == "" {
		return true
	}
	for _, m := range page.Items {
		if m.Index <= stopAt {
			return true
		}
	}
	return false
}

// fetch asks for the page at url (the newest page when ""), on one of the
// run's places at the walk's priority. A walk asks for its next page once
// it has queued the current one: with more walks than places (see
// places), the place serves another walk meanwhile, and a walk holds at
// most one page.
func (w *walker) fetch(ctx context.Context, url string) (page *remote.Page[*remote.Message], err error) {
	o := remote.ListOptions{PageSize: w.r.o.PageSize, Order: "desc"}
	err = w.r.request(ctx, w.prio(), func() (err error) {
		page, err = w.r.src.MessagesPage(ctx, w.r.o.Service, w.ch, o, url)
		return err
	})
	if page != nil {
		w.read += len(page.Items)
	}
	return page, err
}

// cover handles the range [lo, hi] that a page holding recs covers: with the
// live indexes loaded, it queues the deletion of the archived messages in
// the range that recs does not hold; otherwise it notes the range.
func (w *walker) cover(lo, hi int64, recs []store.MessageRecord) error {
	if w.live == nil {
		if n := len(w.spans); n > 0 && w.spans[n-1].lo == hi+1 {
			w.spans[n-1].lo = lo
		} else {
			w.spans = append(w.spans, span{lo, hi})
		}
		for _, m := range recs {
			if m.Index >= lo && m.Index <= hi {
				w.seen = append(w.seen, m.Index)
			}
		}
		return nil
	}
	present := make([]int64, len(recs))
	for k, m := range recs {
		present[k] = m.Index
	}
	slices.Sort(present)
	return w.drop(missing(w.live, span{lo, hi}, present))
}

// sweep queues the deletion of the archived messages in the noted ranges
// that the walk did not read, and returns how many there were. The live
// indexes must be loaded.
func (w *walker) sweep() (int, error) {
	slices.Sort(w.seen)
	var gone []int64
	for _, s := range w.spans {
		gone = append(gone, missing(w.live, s, w.seen)...)
	}
	w.spans, w.seen = nil, nil
	slices.Sort(gone)
	if err := w.drop(gone); err != nil {
		return 0, err
	}
	// They are no longer live: later walks of this epoch must not find
	// them again.
	w.live = slices.DeleteFunc(w.live, func(x int64) bool {
		_, found := slices.BinarySearch(gone, x)
		return found
	})
	return len(gone), nil
}

// drop queues the deletion of the messages at indexes gone.
func (w *walker) drop(gone []int64) error {
	if len(gone) == 0 {
		return nil
	}
	w.deleted += len(gone)
	if err := w.r.w.DeleteMessages(w.ch, gone); err != nil {
		return storeErr(err)
	}
	return nil
}

// missing returns the indexes of live (ascending) within s that present
// (ascending) does not hold.
func missing(live []int64, s span, present []int64) []int64 {
	i, _ := slices.BinarySearch(live, s.lo)
	var out []int64
	for ; i < len(live) && live[i] <= s.hi; i++ {
		if _, found := slices.BinarySearch(present, live[i]); !found {
			out = append(out, live[i])
		}
	}
	return out
}

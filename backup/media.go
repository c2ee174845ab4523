package backup

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// mediaFetcher downloads the media files a run sees for the first time,
// each once, Options.MediaConcurrency at a time, beside the message walks
// (see doc.go, "Media").
type mediaFetcher struct {
	r       *run
	slots   chan struct{}
	backlog chan struct{} // one per download asked for and not ended (mediaBacklog)

	mu   sync.Mutex
	jobs map[string]*mediaJob // by ME SID: every media SID this run has seen

	files atomic.Int64 // files archived by this run
	bytes atomic.Int64 // their bytes

	// unread is set when a walk resumed an interrupted walk's resume
	// point: the pages above it were read by an earlier run, so this
	// run has not seen their media and must not sweep (see doc.go).
	unread atomic.Bool
}

// mediaJob is one media SID: done is closed once it is archived (err nil)
// or could not be (err says why). A SID archived before the run has a job
// that is done from the start.
type mediaJob struct {
	done chan struct{}
	err  error // set before done is closed
}

// corruptAttempts is how often a file whose download does not match its
// metadata is downloaded before its channel fails.
const corruptAttempts = 2

// mediaBacklog is how many downloads per media place may be asked for
// and not ended. A walk that asks for more waits: the walks read pages
// faster than files download when a service's history is mostly media,
// and without a bound every file asked for held a goroutine (9,000 of
// them in a backup of a million messages, whose stacks left the heap so
// little room under the memory limit that it collected 50 times a second).
const mediaBacklog = 8

func newMediaFetcher(r *run) *mediaFetcher {
	return &mediaFetcher{r: r, slots: make(chan struct{}, r.o.MediaConcurrency),
		backlog: make(chan struct{}, mediaBacklog*r.o.MediaConcurrency), jobs: map[string]*mediaJob{}}
}

// want returns the job of media sid, starting its download when the
// archive does not hold the file whole yet; it waits while the backlog of
// downloads is full. It is called from a channel's goroutine, which
// belongs to r.g, so the download can join r.g too.
func (f *mediaFetcher) want(ctx context.Context, sid string) (*mediaJob, error) {
	f.mu.Lock()
	if j, ok := f.jobs[sid]; ok {
		f.mu.Unlock()
		return j, nil
	}
	j := &mediaJob{done: make(chan struct{})}
	f.jobs[sid] = j
	archived, err := f.archived(sid)
	f.mu.Unlock()
	if err != nil {
		j.err = err
		close(j.done)
		return nil, err
	}
	if archived {
		close(j.done)
		return j, nil
	}
	select {
	case f.backlog <- struct{}{}:
	case <-ctx.Done():
		j.err = ctx.Err()
		close(j.done)
		return nil, ctx.Err()
	}
	f.r.g.Go(func() error {
		defer func() { <-f.backlog }()
		defer close(j.done)
		j.err = f.fetch(f.r.gctx, sid)
		if j.err != nil && aborts(j.err) {
			return j.err // ends the run
		}
		return nil
	})
	return j, nil
}

// archived reports whether the archive holds media sid of the service,
// with its whole content.
func (f *mediaFetcher) archived(sid string) (bool, error) {
	a := f.r.a
	rec, ok, err := a.CurrentMedia(f.r.o.Service, sid)
	if err == nil && ok {
		ok, err = a.HasContent(rec.SHA256)
	}
	if err != nil {
		return false, storeErr(fmt.Errorf("looking up media %s in archive %s: %w", sid, a.Path(), err))
	}
	return ok, nil
}

// fetch downloads media sid into the archive's content store and records
// it in the snapshot. A download that does not match its metadata is
// refused and tried again, corruptAttempts times in all.
func (f *mediaFetcher) fetch(ctx context.Context, sid string) error {
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-f.slots }()
	var err error
	for range corruptAttempts {
		var rec store.MediaRecord
		if rec, err = f.download(ctx, sid); err == nil {
			if err := f.r.w.PutMedia(rec); err != nil {
				return storeErr(err)
			}
			f.files.Add(1)
			f.bytes.Add(rec.Size)
			return nil
		}
		if !errors.Is(err, remote.ErrMediaCorrupt) || ctx.Err() != nil {
			break
		}
		f.r.log.Warn("media download does not match its metadata: downloading it again", "media", sid, "error", err)
	}
	return fmt.Errorf("media %s: %w", sid, err)
}

// download streams one attempt of media sid into the content store.
func (f *mediaFetcher) download(ctx context.Context, sid string) (store.MediaRecord, error) {
	meta, body, err := f.r.src.OpenMedia(ctx, f.r.o.Service, sid)
	if err != nil {
		return store.MediaRecord{}, fmt.Errorf("downloading: %w", err)
	}
	defer body.Close()
	cr := &countingReader{r: body, prog: f.r.prog}
	sha, size, err := f.r.a.PutContent(ctx, cr, meta.Size, "")
	switch {
	case err == nil && size != meta.Size:
		// The store checks the length it was given; say so plainly if a
		// store ever did not.
		return store.MediaRecord{}, fmt.Errorf("downloaded %d bytes, the service said %d: %w", size, meta.Size, remote.ErrMediaCorrupt)
	case err == nil:
		return store.MediaRecord{SID: sid, SHA256: sha, Size: size, ContentType: meta.ContentType,
			Filename: meta.Filename, Raw: meta.Raw}, nil
	case ctx.Err() != nil:
		return store.MediaRecord{}, ctx.Err()
	case cr.err != nil:
		// The download failed (the body's error), not the archive.
		return store.MediaRecord{}, fmt.Errorf("downloading: %w", cr.err)
	case errors.Is(err, store.ErrContentMismatch) || (cr.eof && cr.n != meta.Size):
		// The store refused more (or fewer) bytes than the metadata says.
		return store.MediaRecord{}, fmt.Errorf("the download does not have the %d bytes the service said (%v): %w", meta.Size, err, remote.ErrMediaCorrupt)
	}
	return store.MediaRecord{}, storeErr(fmt.Errorf("archiving media %s in archive %s: %w", sid, f.r.a.Path(), err))
}

// countingReader counts the bytes read through it, reports them as
// progress and keeps the first error other than io.EOF.
type countingReader struct {
	r    io.Reader
	prog Progress
	n    int64
	eof  bool
	err  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.prog.MediaBytes(int64(n))
	}
	switch {
	case err == io.EOF:
		c.eof = true
	case err != nil && c.err == nil:
		c.err = err
	}
	return n, err
}

// sweep records as deleted the archived media of the service that no live
// message holds. Only a run that read every message of every channel it
// could read, and failed nowhere, may call it. The media it saw are held;
// so are those of the messages of the channels it kept archived unread
// (public channels, through Conversations: see keptMedia), which it also
// records live again where an earlier build swept them (revive). A run
// that resumed a walk did not read every message, so it sweeps nothing.
func (f *mediaFetcher) sweep(ctx context.Context) error {
	if f.unread.Load() {
		f.r.log.Info("a channel's walk resumed where an earlier run stopped: media not seen are kept; the next --full run records the deleted ones")
		return nil
	}
	f.r.mu.Lock()
	kept := f.r.kept
	f.r.mu.Unlock()
	held, err := f.keptMedia(ctx, kept)
	if err != nil {
		return err
	}
	live, err := f.r.a.LiveMedia(f.r.o.Service)
	if err != nil {
		return storeErr(fmt.Errorf("listing the media of service %s in archive %s: %w", f.r.o.Service, f.r.a.Path(), err))
	}
	if err := f.revive(ctx, held, live); err != nil {
		return err
	}
	f.mu.Lock()
	gone := slices.DeleteFunc(live, func(sid string) bool { return f.jobs[sid] != nil || held[sid] })
	f.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	f.r.log.Info("media no longer in any message: recorded as deleted", "media", len(gone))
	return storeErr(f.r.w.DeleteMedia(gone))
}

// keptMedia returns the media SIDs that the archived messages of the kept
// channels hold, read from the archive: the service's newest snapshot
// before this run's.
func (f *mediaFetcher) keptMedia(ctx context.Context, kept []string) (map[string]bool, error) {
	held := map[string]bool{}
	if len(kept) == 0 {
		return held, nil
	}
	r := f.r
	prev, ok, err := r.snapshotBefore(r.w.ID())
	if err != nil || !ok {
		return held, storeErr(err)
	}
	v, err := r.a.View(prev.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	api := cmp.Or(prev.API, remote.APIChat)
	for _, ch := range kept {
		for m, err := range v.Messages(ch) {
			if err != nil {
				return nil, storeErr(err)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if sid := archivedMediaSID(api, m.Raw); sid != "" {
				held[sid] = true
			}
		}
	}
	return held, nil
}

// revive records as live again each media of held that live (sorted) lacks
// and whose file is still archived, from its newest live record: an
// earlier build's --full run through Conversations recorded the media of
// the public channels it kept unread as deleted, though their messages
// still hold them.
func (f *mediaFetcher) revive(ctx context.Context, held map[string]bool, live []string) error {
	r := f.r
	n := 0
	for _, sid := range slices.Sorted(maps.Keys(held)) {
		if _, ok := slices.BinarySearch(live, sid); ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, ok, err := r.a.LastLiveMedia(r.o.Service, sid)
		if err != nil {
			return storeErr(err)
		}
		if !ok {
			continue // never archived (--no-media)
		}
		if has, err := r.a.HasContent(rec.SHA256); err != nil || !has {
			if err != nil {
				return storeErr(err)
			}
			continue // its file was freed
		}
		if err := r.w.PutMedia(rec); err != nil {
			return storeErr(err)
		}
		n++
	}
	if n > 0 {
		r.log.Info("media of channels kept as archived, recorded deleted by an earlier run, recorded live again", "media", n)
	}
	return nil
}

// archivedMediaSID is the media SID an archived message (of a snapshot read
// through api) holds, "" for none or a record that does not decode.
func archivedMediaSID(api string, raw []byte) string {
	shaped, err := remote.ChatShape(api, remote.KindMessage, raw)
	if err != nil {
		return ""
	}
	var m struct {
		Media *struct {
			SID string `json:"sid"`
		} `json:"media"`
	}
	if json.Unmarshal(shaped, &m) != nil || m.Media == nil {
		return ""
	}
	return m.Media.SID
}

// chanMedia is the media one channel's walk has asked for.
type chanMedia struct {
	f    *mediaFetcher // nil with Options.NoMedia
	jobs []mediaAt
}

// mediaAt is a media job and the index of the message that holds it.
type mediaAt struct {
	job   *mediaJob
	index int64
}

// add asks for the media of the messages of one page.
func (c *chanMedia) add(ctx context.Context, items []*remote.Message) error {
	if c.f == nil {
		return nil
	}
	for _, m := range items {
		if m.Media == nil || m.Media.SID == "" {
			continue
		}
		j, err := c.f.want(ctx, m.Media.SID)
		if err != nil {
			return err
		}
		c.jobs = append(c.jobs, mediaAt{j, m.Index})
	}
	return nil
}

// settled reports whether every file the channel asked for is archived:
// only then may a walk's resume point move past the pages that hold them.
func (c *chanMedia) settled() bool {
	for _, j := range c.jobs {
		select {
		case <-j.job.done:
			if j.job.err != nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// wait waits for the channel's files. It returns the lowest index of a
// message whose file could not be archived (-1: none) with the errors, or
// an error that ends the run.
func (c *chanMedia) wait(ctx context.Context) (int64, error) {
	low := int64(-1)
	var errs []error
	for _, j := range c.jobs {
		select {
		case <-j.job.done:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
		switch err := j.job.err; {
		case err == nil:
		case aborts(err) || ctx.Err() != nil:
			return -1, err
		default:
			if low < 0 || j.index < low {
				low = j.index
			}
			if !slices.ContainsFunc(errs, func(e error) bool { return e == err }) {
				errs = append(errs, err)
			}
		}
	}
	if low >= 0 {
		return low, fmt.Errorf("media files not archived (the next run retries them): %w", errors.Join(errs...))
	}
	return -1, nil
}

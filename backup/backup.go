package backup

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// Source is what backup needs of the service: *remote.Client reads it
// through Chat, its Conversations view through Conversations. API names
// which; what the API shows of changes is its remote.CapabilitiesOf row.
type Source interface {
	API() string
	FetchService(ctx context.Context, sid string) (*remote.Service, error)
	ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error]
	ListUsers(ctx context.Context, service string) iter.Seq2[*remote.User, error]
	ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error]
	FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error)
	ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error]
	MessagesPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error)
	ListMessages(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Message, error] // Compare only
	OpenMedia(ctx context.Context, service, sid string) (*remote.MediaFile, io.ReadCloser, error)
	Requests() int64
}

var (
	_ Source = (*remote.Client)(nil)
	_ Source = (*remote.Conversations)(nil)
)

// Progress receives progress events. Its methods are called from many
// goroutines at once and must not block for long.
type Progress interface {
	Start(channels int) // the number of channels the run will visit, once, before the first ChannelDone
	ChannelDone()       // one channel finished (backed up or failed)
	Messages(n int)     // n messages were read from the service
	MediaBytes(n int64) // n bytes of media files were downloaded
}

// NopProgress discards progress events.
type NopProgress struct{}

func (NopProgress) Start(int)        {}
func (NopProgress) ChannelDone()     {}
func (NopProgress) Messages(int)     {}
func (NopProgress) MediaBytes(int64) {}

var _ Progress = NopProgress{}

// Defaults and bounds of Options.
const (
	DefaultConcurrency = 16
	MaxConcurrency     = 256
	DefaultPageSize    = 100
	MaxPageSize        = 100

	// DefaultMediaConcurrency media files are downloaded at once, beside
	// the Concurrency requests of the message walks.
	DefaultMediaConcurrency = 4
	MaxMediaConcurrency     = 64

	// memberPageSize is always the API's maximum: members are re-listed on
	// every run, so the fewer pages the better.
	memberPageSize = 100
	// maxUniqueName bounds a channel unique name given in Options.Channels
	// (the API allows 256 characters on update).
	maxUniqueName = 256
)

// ErrInvalidOptions matches every error Run returns for bad Options (before
// any request is sent).
var ErrInvalidOptions = errors.New("invalid backup options")

// ErrUnknownChannel matches the error Run returns, before any snapshot is
// begun, when the service has no channel by a name in Options.Channels.
var ErrUnknownChannel = errors.New("channel not in service")

// Options shape a Run.
type Options struct {
	Service     string   // IS… (required)
	Channels    []string // CH SIDs or unique names; empty = all channels
	Full        bool     // re-read every message of every channel
	Concurrency int      // requests in flight (see doc.go); 0 = DefaultConcurrency
	PageSize    int      // messages per page; 0 = DefaultPageSize
	// NoMedia keeps media messages' metadata only: no file is downloaded.
	NoMedia bool
	// MediaConcurrency bounds the media downloads in flight; 0 = DefaultMediaConcurrency.
	MediaConcurrency int
	Progress         Progress // nil = NopProgress
	Logger           *slog.Logger
	// PriorRequests is how many requests the caller sent for this backup
	// before Run, through src's client (choosing the API: remote.Client.
	// ForAPI), so that Result.Requests and the snapshot count them too.
	PriorRequests int64
}

// ChannelFailure is one channel (or, with Channel empty, one service-level
// listing) that could not be backed up in this run.
type ChannelFailure struct {
	Channel string `json:"channel"`
	Error   string `json:"error"`
}

// Result reports a Run.
type Result struct {
	Snapshot        uint64           `json:"snapshot"`
	Service         string           `json:"service"`
	API             string           `json:"api"` // remote.APIChat or remote.APIConversations
	Status          string           `json:"status"`
	Channels        int              `json:"channels"`
	Users           int              `json:"users"` // users listed (and archived) by this run
	Messages        int              `json:"messages"`
	Added           int              `json:"added"` // messages, as Changed and Deleted
	Changed         int              `json:"changed"`
	Deleted         int              `json:"deleted"`
	ChannelsChanged int              `json:"channels_changed"` // channels added, changed or deleted
	MembersChanged  int              `json:"members_changed"`  // members added, changed or deleted
	UsersChanged    int              `json:"users_changed"`    // users added, changed or deleted
	Requests        int64            `json:"requests"`
	DurationSeconds float64          `json:"duration_seconds"`
	Failures        []ChannelFailure `json:"failures,omitempty"`
	Warnings        []string         `json:"warnings,omitempty"`
	MediaFiles      int              `json:"media_files"` // files downloaded and archived by this run
	MediaBytes      int64            `json:"media_bytes"` // their bytes
}

var (
	serviceSIDRe = regexp.MustCompile(`^IS[0-9a-fA-F]{32}$`)
	channelSIDRe = regexp.MustCompile(`^CH[0-9a-fA-F]{32}$`)
)

// validate checks o and fills in its defaults.
func (o *Options) validate() error {
	var errs []error
	if !serviceSIDRe.MatchString(o.Service) {
		if o.Service == "" {
			errs = append(errs, errors.New("no service given: pass the service SID (IS followed by 32 hex digits)"))
		} else {
			errs = append(errs, fmt.Errorf("service %q is not a service SID: use IS followed by 32 hex digits", o.Service))
		}
	}
	if o.PriorRequests < 0 {
		errs = append(errs, fmt.Errorf("prior requests %d is negative", o.PriorRequests))
	}
	for _, c := range o.Channels {
		if err := checkChannelArg(c); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		errs = append(errs, fmt.Errorf("concurrency %d is out of range: use 1 to %d", o.Concurrency, MaxConcurrency))
	}
	switch {
	case o.PageSize == 0:
		o.PageSize = DefaultPageSize
	case o.PageSize < 1 || o.PageSize > MaxPageSize:
		errs = append(errs, fmt.Errorf("page size %d is out of range: use 1 to %d", o.PageSize, MaxPageSize))
	}
	switch {
	case o.MediaConcurrency == 0:
		o.MediaConcurrency = DefaultMediaConcurrency
	case o.MediaConcurrency < 1 || o.MediaConcurrency > MaxMediaConcurrency:
		errs = append(errs, fmt.Errorf("media concurrency %d is out of range: use 1 to %d", o.MediaConcurrency, MaxMediaConcurrency))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	if o.Progress == nil {
		o.Progress = NopProgress{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// checkChannelArg accepts a channel SID or a plausible unique name.
func checkChannelArg(c string) error {
	switch {
	case channelSIDRe.MatchString(c):
		return nil
	case c == "":
		return errors.New("empty channel selector: give a channel SID (CH followed by 32 hex digits) or a unique name")
	case len(c) == 34 && strings.HasPrefix(c, "CH"):
		// The API refuses unique names shaped like a channel SID, so this
		// can only be a mistyped SID.
		return fmt.Errorf("channel %q looks like a channel SID but is not one: use CH followed by 32 hex digits", c)
	case len(c) > maxUniqueName:
		return fmt.Errorf("channel unique name %.20q… is %d bytes long: unique names have at most %d", c, len(c), maxUniqueName)
	case !utf8.ValidString(c) || strings.ContainsFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("channel unique name %q holds invalid or control characters: check the argument", c)
	}
	return nil
}

// run is the state of one Run.
type run struct {
	src   Source
	a     *store.Archive
	w     *store.Writer // set before begun is closed
	o     Options
	log   *slog.Logger
	prog  *startGate
	caps  remote.Capabilities // what the source's API shows of changes
	media *mediaFetcher       // nil with Options.NoMedia

	places *places       // one per request in flight
	jobs   chan struct{} // one per job running (activeJobs)
	queue  *jobQueue     // channels listed and not yet started
	begun  chan struct{} // closed once the snapshot is begun and w is set
	g      *errgroup.Group
	gctx   context.Context // cancelled when the run must end (an aborting error)

	mu       sync.Mutex
	failures []ChannelFailure
	warnings []string
	users    int
	kept     []string // archived channels kept as they are, unread (deleteGoneChannels)

	named   chan struct{} // closed once the listing has looked up every channel asked for
	missing []string      // channels asked for that the service does not have (under mu)
	found   int           // channels asked for that the service has (under mu)
}

// job is one channel to back up: its record and messages, or, as a job
// of its own (members), its members.
type job struct {
	sid, uniqueName string
	raw             []byte
	messagesCount   int
	marker          string
	size            int  // how many messages the channel is thought to hold, to schedule it
	members         bool // the channel's members; the channel's other job stores its record and messages
	ch              *chanJobs
}

// chanJobs is what a channel's two jobs share. A channel's members are
// listed in a job of their own, scheduled after every channel's messages
// job (jobHeap): a message walk is a chain of requests, one after
// another, while a members listing is most often one request, so the
// listings fill the places the walks that end first leave idle at the
// end of a run rather than lengthen every walk's chain by one.
type chanJobs struct {
	stored chan struct{} // closed once the messages job has queued the channel's record, or has ended
	once   sync.Once
	queued bool // the record is queued; set before stored is closed

	left atomic.Int32 // jobs not ended

	// Under run.mu: the jobs' errors, and the channel's entry in
	// run.failures (-1: none yet).
	errs    []error
	failure int
}

// jobsOf returns the two jobs of j's channel.
func jobsOf(j job) (messages, members job) {
	j.ch = &chanJobs{stored: make(chan struct{}), failure: -1}
	j.ch.left.Store(2)
	messages, members = j, j
	members.members = true
	return messages, members
}

// markStored closes stored, once.
func (c *chanJobs) markStored() { c.once.Do(func() { close(c.stored) }) }

// end records the end of one of the channel's jobs and reports whether it
// was the channel's last.
func (c *chanJobs) end() (last bool) { return c.left.Add(-1) == 0 }

func newJob(c *remote.Channel) job {
	return job{
		sid:           c.SID,
		uniqueName:    c.UniqueName,
		raw:           c.Raw,
		messagesCount: c.MessagesCount,
		marker:        changeMarker(c),
		size:          c.MessagesCount,
	}
}

// newJob is the job of channel c, sized for scheduling: by its
// messages_count, or, through an API without one, by the highest index
// archived (a hint only: nothing is known of a channel not archived yet,
// and a failure to read the archive shows again when the channel is
// backed up).
func (r *run) newJob(c *remote.Channel) job {
	j := newJob(c)
	if !r.caps.MessageCounts {
		if st, ok, err := r.a.Sync(r.o.Service, c.SID); err == nil && ok {
			j.size = int(max(st.SyncedIndex, st.WalkTop) + 1)
		}
	}
	return j
}

// push queues the jobs of channel c.
func (r *run) push(c *remote.Channel) {
	messages, members := jobsOf(r.newJob(c))
	r.queue.push(messages)
	r.queue.push(members)
}

// changeMarker is what a channel shows of changes to its messages, as kept
// in its sync state: its date_updated and its links.last_message, the URL
// of its newest message. A message posted while another is deleted leaves
// messages_count alone, and the service need not move date_updated for new
// messages, but the newest message changes. (An edit of the newest message
// changes neither; see doc.go.)
func changeMarker(c *remote.Channel) string {
	var links struct {
		Links struct {
			LastMessage *string `json:"last_message"`
		} `json:"links"`
	}
	_ = json.Unmarshal(c.Raw, &links) // a channel without links has no marker beyond its date
	date := ""
	if !c.DateUpdated.IsZero() {
		date = c.DateUpdated.UTC().Format(time.RFC3339Nano)
	}
	if links.Links.LastMessage == nil {
		return date
	}
	return date + " " + *links.Links.LastMessage
}

// storeError marks a failure of the archive: it ends the whole run.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return &storeError{err}
}

// aborts reports whether err must end the run rather than fail one channel.
func aborts(err error) bool {
	var se *storeError
	return errors.Is(err, remote.ErrAuthentication) || errors.As(err, &se)
}

// warn records a warning for the result.
func (r *run) warn(msg string) {
	r.log.Warn(msg)
	r.mu.Lock()
	r.warnings = append(r.warnings, msg)
	r.mu.Unlock()
}

// previousAPI is the API the newest snapshot of the service was read
// through ("" when there is none; snapshots of earlier releases, Chat).
func (r *run) previousAPI() (string, error) {
	s, ok, err := r.snapshotBefore(math.MaxUint64)
	if err != nil || !ok {
		return "", err
	}
	return cmp.Or(s.API, remote.APIChat), nil
}

// snapshotBefore is the service's newest snapshot with an id below id.
func (r *run) snapshotBefore(id uint64) (store.Snapshot, bool, error) {
	snaps, err := r.a.Snapshots()
	if err != nil {
		return store.Snapshot{}, false, fmt.Errorf("backup of service %s: reading the snapshots of archive %s: %w", r.o.Service, r.a.Path(), err)
	}
	for _, s := range slices.Backward(snaps) {
		if s.Service == r.o.Service && s.ID < id {
			return s, true, nil
		}
	}
	return store.Snapshot{}, false, nil
}

// failJob records the failure of one of channel j's jobs: as the
// channel's failure, or added to it when the channel's other job failed
// too. It is recorded at once, so that a run stopped before the other
// job ends still names the channel.
func (r *run) failJob(j job, err error) {
	r.log.Warn("channel not backed up", "channel", j.sid, "error", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := j.ch
	c.errs = append(c.errs, err)
	msg := fmt.Sprintf("channel %s: %v; the rest of the service was backed up: rerun the backup to retry this channel", j.sid, errors.Join(c.errs...))
	msg = strings.ReplaceAll(msg, "\n", "; ")
	if c.failure < 0 {
		c.failure = len(r.failures)
		r.failures = append(r.failures, ChannelFailure{Channel: j.sid, Error: msg})
		return
	}
	r.failures[c.failure].Error = msg
}

func (r *run) fail(channel string, err error) {
	r.log.Warn("channel not backed up", "channel", channel, "error", err)
	r.mu.Lock()
	r.failures = append(r.failures, ChannelFailure{Channel: channel, Error: err.Error()})
	r.mu.Unlock()
}

// memoryLimit is the Go runtime's soft memory limit while Run runs in a
// process that set none (see doc.go, "Memory"). A backup's live heap is
// about 35 MiB whatever the history's size, but with the collector's
// default headroom (GOGC=100) the heap grew to twice that, and the pages
// freed between collections were returned to the system too late: a
// million messages peaked at 106 MB resident where issue 11 allows 100.
// Under the limit the collector runs sooner and the runtime returns freed
// pages at once.
const memoryLimit = 64 << 20

// limitMemory sets memoryLimit unless the process has a limit of its own
// (GOMEMLIMIT, debug.SetMemoryLimit), and returns what takes it back.
func limitMemory() (restore func()) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return func() {}
	}
	debug.SetMemoryLimit(memoryLimit)
	return func() { debug.SetMemoryLimit(math.MaxInt64) }
}

// Run records one snapshot of service o.Service into a: its service
// resource, roles, channels, members and messages, incrementally unless
// o.Full (see the package documentation).
//
// Errors: invalid Options (ErrInvalidOptions) and a service that cannot be
// fetched end Run before a snapshot is begun. Once begun, the snapshot is
// always finished: "complete", "partial" (some channels failed; see
// Result.Failures; error nil), or "interrupted" when ctx is cancelled (the
// error wraps ctx.Err()), when the service refuses the credentials (the error
// matches remote.ErrAuthentication) or when the archive fails.
func Run(ctx context.Context, src Source, a *store.Archive, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	if src == nil || a == nil {
		return Result{}, fmt.Errorf("%w: backup needs a service client and an open archive", ErrInvalidOptions)
	}
	defer limitMemory()()
	started := time.Now()
	reqs0 := src.Requests() - o.PriorRequests
	r := &run{src: src, a: a, o: o, log: o.Logger, prog: &startGate{Progress: o.Progress},
		caps:   remote.CapabilitiesOf(src.API()),
		places: newPlaces(o.Concurrency), jobs: make(chan struct{}, activeJobs(o.Concurrency)), queue: newJobQueue(), begun: make(chan struct{}), named: make(chan struct{})}
	if !o.NoMedia {
		r.media = newMediaFetcher(r)
	}
	defer r.places.close()
	res := Result{Service: o.Service, API: src.API()}

	// The service resource, the channels and the roles are fetched at once,
	// and channels are backed up as soon as they are listed; but the
	// snapshot is begun only once the service is known to exist and the
	// credentials work, and nothing is stored before.
	stop := r.startListing(ctx)
	defer stop()
	var svc *remote.Service
	svcErr := r.request(ctx, prioListing, func() (err error) {
		svc, err = src.FetchService(ctx, o.Service)
		return err
	})
	if svcErr == nil && ctx.Err() != nil {
		svcErr = ctx.Err()
	}
	if svcErr != nil {
		stop()
		res.Requests = src.Requests() - reqs0
		res.DurationSeconds = time.Since(started).Seconds()
		if ctx.Err() != nil {
			return res, fmt.Errorf("backup of service %s interrupted before a snapshot was begun; nothing was saved: %w", o.Service, ctx.Err())
		}
		return res, fmt.Errorf("backup of service %s: fetching the service: %w%s", o.Service, svcErr, advice(svcErr))
	}

	if err := r.checkNamed(ctx); err != nil {
		stop()
		res.Requests = src.Requests() - reqs0
		res.DurationSeconds = time.Since(started).Seconds()
		return res, err
	}

	prevAPI, err := r.previousAPI()
	if err != nil {
		stop()
		return res, err
	}
	w, err := a.BeginSnapshot(o.Service, o.Full, started)
	if err != nil {
		stop()
		return res, fmt.Errorf("backup of service %s: beginning a snapshot in archive %s: %w", o.Service, a.Path(), err)
	}
	r.w = w
	if err := w.SetAPI(src.API()); err != nil {
		stop()
		_, ferr := w.Finish(store.StatusInterrupted, src.Requests()-reqs0, nil)
		return res, errors.Join(fmt.Errorf("backup of service %s: recording the API in snapshot %d: %w", o.Service, w.ID(), err), ferr)
	}
	if prevAPI != "" && prevAPI != src.API() {
		what := fmt.Sprintf("records this run does not read again keep %s's shape (every reader takes both); a run with --full re-reads every message through %s",
			prevAPI, src.API())
		if o.Full {
			what = fmt.Sprintf("this --full run re-reads every message it can see through %s, and counts each whose shape changed as changed", src.API())
		}
		r.warn(fmt.Sprintf("snapshot %d is read through %s, the previous snapshot of the service through %s: %s", w.ID(), src.API(), prevAPI, what))
	}
	res.Snapshot = w.ID()
	r.log.Info("snapshot begun", "snapshot", w.ID(), "service", o.Service, "full", o.Full)
	close(r.begun)

	runErr := r.body(svc)
	if runErr == nil && ctx.Err() == nil && len(r.failures) == 0 && o.Full && len(o.Channels) == 0 && r.media != nil {
		// Every message was read: media no message holds any more are gone.
		runErr = r.media.sweep(ctx)
	}

	status := store.StatusComplete
	switch {
	case ctx.Err() != nil:
		status = store.StatusInterrupted
		runErr = fmt.Errorf("backup of service %s interrupted; what was read is saved in snapshot %d and a rerun continues from there: %w",
			o.Service, w.ID(), ctx.Err())
	case runErr != nil:
		status = store.StatusInterrupted
		runErr = fmt.Errorf("backup of service %s stopped (snapshot %d saved as interrupted): %w%s", o.Service, w.ID(), runErr, advice(runErr))
	case len(r.failures) > 0:
		status = store.StatusPartial
	}
	res.Requests = src.Requests() - reqs0
	var failed []string
	for _, f := range r.failures {
		if f.Channel != "" {
			failed = append(failed, f.Channel)
		}
	}
	snap, ferr := w.Finish(status, res.Requests, failed)
	if ferr != nil {
		ferr = fmt.Errorf("finishing snapshot %d in archive %s: %w", w.ID(), a.Path(), ferr)
		return res, errors.Join(runErr, ferr)
	}
	res.Status = string(snap.Status)
	res.Channels = snap.Channels
	res.Messages = snap.Messages
	res.Added = snap.Added
	res.Changed = snap.Changed
	res.Deleted = snap.Deleted
	res.ChannelsChanged, res.MembersChanged, res.UsersChanged = snap.ChannelsChanged, snap.MembersChanged, snap.UsersChanged
	res.Failures = r.failures
	res.Warnings = r.warnings
	res.Users = r.users
	if r.media != nil {
		res.MediaFiles, res.MediaBytes = int(r.media.files.Load()), r.media.bytes.Load()
	}
	res.DurationSeconds = time.Since(started).Seconds()
	r.log.Info("snapshot finished", "snapshot", w.ID(), "status", status, "requests", res.Requests)
	return res, runErr
}

// advice tells the user what to do about an error that ends the run.
func advice(err error) string {
	switch {
	case errors.Is(err, remote.ErrAuthentication):
		return "; check the account SID and auth token (or API key and secret)"
	case errors.Is(err, remote.ErrNotFound):
		return "; check the service SID"
	}
	return ""
}

// startListing starts listing the channels (into r.queue) and the roles,
// each holding a slot while it sends requests, in r.g. The returned stop
// cancels them and waits for them: Run calls it when no snapshot is begun,
// and on return.
func (r *run) startListing(ctx context.Context) (stop func()) {
	gctx, cancel := context.WithCancel(ctx)
	r.g, r.gctx = errgroup.WithContext(gctx)
	r.g.Go(func() error { return r.listChannels(r.gctx) })
	r.g.Go(func() error { return r.roles(r.gctx) })
	r.g.Go(func() error { return r.listUsers(r.gctx) })
	return func() {
		cancel()
		_ = r.g.Wait()
	}
}

// awaitSnapshot waits until the snapshot is begun; false if ctx ends first
// (no snapshot is begun when the service fetch failed).
func (r *run) awaitSnapshot(ctx context.Context) bool {
	select {
	case <-r.begun:
		return true
	case <-ctx.Done():
		return false
	}
}

// body does the work of a begun snapshot: it backs up the channels as the
// listing yields them, Options.Concurrency requests at a time, and waits
// for the listing and the roles. It returns only errors that end the run
// (ctx cancelled, authentication, archive failures); the others are
// recorded as failures.
func (r *run) body(svc *remote.Service) error {
	if err := r.w.PutService(svc.Raw); err != nil {
		r.g.Go(func() error { return storeErr(err) })
		return r.g.Wait()
	}
	ctx := r.gctx
	for r.queue.wait(ctx) {
		// Wait for a job to end before choosing: the channel with the most
		// messages among those listed by then goes next.
		if r.startJob(ctx) != nil {
			break
		}
		j := r.queue.pop()
		r.g.Go(func() error {
			defer r.endJob()
			err := r.channel(ctx, j)
			stop := err != nil && (ctx.Err() != nil || aborts(err))
			if err != nil && !stop {
				r.failJob(j, err)
			}
			if j.ch.end() {
				r.prog.ChannelDone()
			}
			switch {
			case !stop:
			case ctx.Err() != nil:
				return err
			default:
				return fmt.Errorf("channel %s: %w", j.sid, err)
			}
			return nil
		})
	}
	return r.g.Wait()
}

// listChannels lists the channels to back up into r.queue: all of them
// (public and private), or those of Options.Channels. Once the snapshot is
// begun it announces their number, and records the deletion of archived
// channels a complete listing no longer has (without Options.Channels).
// A failed listing is recorded as a failure; the channels listed before it
// are still backed up, and none is recorded as deleted.
func (r *run) listChannels(ctx context.Context) error {
	listed, err := r.list(ctx)
	r.queue.close()
	n := len(listed) // each channel listed has its jobs queued
	if err != nil && (aborts(err) || ctx.Err() != nil) {
		return err
	}
	if !r.awaitSnapshot(ctx) {
		return nil
	}
	r.prog.Start(n)
	if err != nil {
		r.fail("", fmt.Errorf("listing the channels of service %s: %w; the channels listed before the failure were backed up, deleted channels were not looked for: rerun the backup", r.o.Service, err))
		return nil
	}
	if len(r.o.Channels) == 0 {
		return r.deleteGoneChannels(listed)
	}
	return nil
}

// list pushes the channels to back up to r.queue and returns the SIDs of
// all channels listed. Selected channels that cannot be fetched are
// recorded as failures.
func (r *run) list(ctx context.Context) (map[string]bool, error) {
	defer close(r.named)
	listed := make(map[string]bool)
	if len(r.o.Channels) == 0 {
		err := r.request(ctx, prioListing, func() error {
			for c, err := range r.src.ListChannels(ctx, r.o.Service, "public", "private") {
				if err != nil {
					return err
				}
				if !listed[c.SID] { // a listing that repeats a channel backs it up once
					listed[c.SID] = true
					r.push(c)
				}
			}
			return nil
		})
		return listed, err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.Concurrency)
	for _, name := range r.o.Channels {
		g.Go(func() error {
			var c *remote.Channel
			err := r.request(gctx, prioListing, func() (err error) {
				c, err = r.src.FetchChannel(gctx, r.o.Service, name)
				return err
			})
			switch {
			case err == nil:
				mu.Lock()
				r.found++
				if !listed[c.SID] {
					listed[c.SID] = true
					r.push(c)
				}
				mu.Unlock()
			case aborts(err) || gctx.Err() != nil:
				return err
			case errors.Is(err, remote.ErrNotFound):
				mu.Lock()
				r.missing = append(r.missing, name)
				mu.Unlock()
				r.fail(name, fmt.Errorf("channel %q does not exist in service %s: check the channel SID or unique name", name, r.o.Service))
			default:
				r.fail(name, fmt.Errorf("fetching channel %q: %w; rerun the backup to retry it", name, err))
			}
			return nil
		})
	}
	return listed, g.Wait()
}

// deleteGoneChannels records the deletion of archived channels that the
// complete listing no longer has.
func (r *run) deleteGoneChannels(listed map[string]bool) error {
	live, err := r.a.LiveChannels(r.o.Service)
	if err != nil {
		return storeErr(fmt.Errorf("reading the channels of service %s from archive %s: %w", r.o.Service, r.a.Path(), err))
	}
	var unseen []string
	for _, sid := range live {
		if listed[sid] {
			continue
		}
		if !r.caps.PublicChannels {
			public, err := r.archivedPublic(sid)
			if err != nil {
				return err
			}
			if public {
				unseen = append(unseen, sid)
				continue
			}
		}
		r.log.Info("channel deleted from the service", "channel", sid)
		if err := r.w.DeleteChannel(sid); err != nil {
			return storeErr(err)
		}
	}
	r.mu.Lock()
	r.kept = unseen
	r.mu.Unlock()
	if len(unseen) > 0 {
		r.warn(fmt.Sprintf("%d public channels archived before (%s) are not visible through %s, which shows private channels only: "+
			"they are kept as archived, not recorded as deleted, and were not read again; to back them up through %s, make them private with Chat v3 "+
			"(see \"Moving from Programmable Chat to Conversations\" in the README), or back up through --api chat while Chat answers",
			len(unseen), listSome(unseen, 5), r.src.API(), r.src.API()))
	}
	return nil
}

// listSome joins the first n of sids, and says how many more there are.
func listSome(sids []string, n int) string {
	if len(sids) <= n {
		return strings.Join(sids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(sids[:n], ", "), len(sids)-n)
}

// archivedPublic reports whether the archive's current version of channel
// sid says it is public: only a record read through Chat can.
func (r *run) archivedPublic(sid string) (bool, error) {
	rec, err := r.a.CurrentChannel(r.o.Service, sid)
	if err != nil {
		return false, storeErr(fmt.Errorf("reading channel %s from archive %s: %w", sid, r.a.Path(), err))
	}
	var ch struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(rec.Raw, &ch) // a record that does not decode is not known to be public
	return ch.Type == "public", nil
}

// roles lists the roles of the service and, once the snapshot is begun,
// stores them (those listed before a failure too). A failed listing is
// recorded as a failure; the roles keep their previous state.
func (r *run) roles(ctx context.Context) error {
	var roles []*remote.Role
	err := r.request(ctx, prioListing, func() error {
		for role, err := range r.src.ListRoles(ctx, r.o.Service) {
			if err != nil {
				return err
			}
			roles = append(roles, role)
		}
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return err
	}
	if aborts(err) {
		return fmt.Errorf("listing roles: %w", err)
	}
	if !r.awaitSnapshot(ctx) {
		return nil
	}
	for _, role := range roles {
		if err := r.w.PutRole(role.SID, role.FriendlyName, role.Raw); err != nil {
			return fmt.Errorf("listing roles: %w", storeErr(err))
		}
	}
	if err != nil {
		r.fail("", fmt.Errorf("listing the roles of service %s: %w; roles keep their previous state: rerun the backup", r.o.Service, err))
	}
	return nil
}

// channel runs one of a channel's jobs: its record and messages, or its
// members (once the record is queued).
func (r *run) channel(ctx context.Context, j job) error {
	if j.members {
		select {
		case <-j.ch.stored:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !j.ch.queued {
			return nil // the messages job failed before; its error names the channel
		}
		return r.request(ctx, prioMembers, func() error { return r.members(ctx, j.sid) })
	}
	defer j.ch.markStored()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.w.PutChannel(j.sid, j.uniqueName, j.raw); err != nil {
		return storeErr(err)
	}
	j.ch.queued = true
	j.ch.markStored()
	return r.messages(ctx, j)
}

// members stores the channel's members and records the deletion of archived
// members the complete listing no longer has.
func (r *run) members(ctx context.Context, channel string) error {
	listed := make(map[string]bool)
	batch := make([]store.MemberRecord, 0, memberPageSize)
	for m, err := range r.src.ListMembers(ctx, r.o.Service, channel, remote.ListOptions{PageSize: memberPageSize}) {
		if err != nil {
			return fmt.Errorf("listing members: %w", err)
		}
		listed[m.SID] = true
		batch = append(batch, store.MemberRecord{SID: m.SID, Identity: m.Identity, Raw: m.Raw})
		if len(batch) == memberPageSize {
			if err := r.w.PutMembers(channel, batch); err != nil {
				return storeErr(err)
			}
			// The writer may still hold the slice: start a new one.
			batch = make([]store.MemberRecord, 0, memberPageSize)
		}
	}
	if len(batch) > 0 {
		if err := r.w.PutMembers(channel, batch); err != nil {
			return storeErr(err)
		}
	}
	live, err := r.a.LiveMembers(r.o.Service, channel)
	if err != nil {
		return storeErr(fmt.Errorf("reading the members of channel %s from archive %s: %w", channel, r.a.Path(), err))
	}
	var gone []string
	for _, sid := range live {
		if !listed[sid] {
			gone = append(gone, sid)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		if err := r.w.DeleteMembers(channel, gone); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

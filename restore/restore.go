package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatvault/chatvault/internal/names"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
	"golang.org/x/sync/errgroup"
)

// Target is what restore needs of the target service: *remote.Client writes
// it through Chat, the client's Conversations view through Conversations.
type Target interface {
	ListRoles(ctx context.Context, service string) iter.Seq2[*remote.Role, error]
	ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error]
	FetchChannel(ctx context.Context, service, sidOrUniqueName string) (*remote.Channel, error)
	CreateChannel(ctx context.Context, service string, p remote.ChannelParams) (*remote.Channel, error)
	ListMembers(ctx context.Context, service, channel string, o remote.ListOptions) iter.Seq2[*remote.Member, error]
	FetchMember(ctx context.Context, service, channel, sidOrIdentity string) (*remote.Member, error)
	CreateMember(ctx context.Context, service, channel string, p remote.MemberParams) (*remote.Member, error)
	UpdateMember(ctx context.Context, service, channel, member string, p remote.MemberParams) (*remote.Member, error)
	MessagesPage(ctx context.Context, service, channel string, o remote.ListOptions, pageURL string) (*remote.Page[*remote.Message], error)
	CreateMessage(ctx context.Context, service, channel string, p remote.MessageParams) (*remote.Message, error)
	ListUsers(ctx context.Context, service string) iter.Seq2[*remote.User, error]
	FetchUser(ctx context.Context, service, sidOrIdentity string) (*remote.User, error)
	CreateUser(ctx context.Context, service string, p remote.UserParams) (*remote.User, error)
	UpdateUser(ctx context.Context, service, user string, p remote.UserParams) (*remote.User, error)
	DeleteUser(ctx context.Context, service, user string) error // only by a sync
	FetchMedia(ctx context.Context, service, sid string) (*remote.MediaFile, error)
	UploadMedia(ctx context.Context, service string, u remote.MediaUpload) (*remote.MediaFile, error)
	Requests() int64
	API() string // remote.APIChat or remote.APIConversations
	// Sync (Options.Sync) also updates and deletes what restore wrote.
	UpdateChannel(ctx context.Context, service, channel string, p remote.ChannelParams) (*remote.Channel, error)
	DeleteChannel(ctx context.Context, service, channel string) error
	DeleteMember(ctx context.Context, service, channel, member string) error
	FetchMessage(ctx context.Context, service, channel, sid string) (*remote.Message, error)
	UpdateMessage(ctx context.Context, service, channel, sid string, p remote.MessageParams) (*remote.Message, error)
	DeleteMessage(ctx context.Context, service, channel, sid string) error
}

var (
	_ Target = (*remote.Client)(nil)
	_ Target = (*remote.Conversations)(nil)
)

// Progress receives progress reports. Its methods are called from several
// goroutines at once and must be safe for concurrent use.
type Progress interface {
	// Start is called once with the number of selected channels and the
	// number of archived messages in them (filtered or not).
	Start(channels, messages int)
	// ChannelDone is called when a channel is finished, skipped, conflicted or failed.
	ChannelDone()
	// Messages reports n more archived messages dealt with (created, found
	// already restored, filtered out or skipped).
	Messages(n int)
	// MediaBytes reports n more bytes of media files read for uploads.
	MediaBytes(n int64)
}

// NopProgress discards progress reports.
type NopProgress struct{}

func (NopProgress) Start(channels, messages int) {}
func (NopProgress) ChannelDone()                 {}
func (NopProgress) Messages(n int)               {}
func (NopProgress) MediaBytes(n int64)           {}

var _ Progress = NopProgress{}

// Defaults and bounds of Options.
const (
	DefaultConcurrency = 8
	MaxConcurrency     = 64
	DefaultWriteRate   = 25.0
	// DefaultUploadRate is the bytes per second one media upload is
	// assumed to move, for the dry-run estimate.
	DefaultUploadRate = 10e6
)

// Options shape Run.
type Options struct {
	Target      string        // IS… (required)
	Source      string        // IS…; required when the archive holds several services
	Snapshot    string        // "latest" (default: the newest complete snapshot, else the newest) or a decimal snapshot id
	AsOf        time.Time     // non-zero: newest complete snapshot finished at or before it; conflicts with Snapshot != ""
	Channels    []string      // CH SIDs or unique names; empty = all (and every user; else their members' users)
	Since       time.Time     // keep messages with date_created >= Since (zero = open)
	Until       time.Time     // keep messages with date_created <= Until (zero = open)
	DryRun      bool          // send no write request; fill Result.Plan
	Concurrency int           // channels restored in parallel; default 8; 1..64
	Latency     time.Duration // round trip assumed by the dry-run estimate; measured when zero
	WriteRate   float64       // per-channel writes per second assumed by the estimate; default 25
	UploadRate  float64       // bytes per second of a media upload assumed by the estimate; default DefaultUploadRate
	Progress    Progress      // default NopProgress
	Logger      *slog.Logger  // default discards
	// Sync also updates what changed and deletes what the snapshot no
	// longer has, among what this archive's restores created in the
	// target; the journal must know the target (see "Sync" in doc.go).
	Sync bool
}

// Conflict is a channel whose target holds what restore cannot reconcile
// with the archive: something this restore did not create (the channel is
// left untouched), or fewer messages than this restore created in it
// (messages deleted in the target, which are not put back; the rest of the
// channel is restored as usual).
type Conflict struct {
	Channel    string `json:"channel"`
	UniqueName string `json:"unique_name,omitempty"`
	Reason     string `json:"reason"`
}

// Skipped is an archived message that was not restored.
type Skipped struct {
	Channel string `json:"channel"`
	Message string `json:"message"`          // "" for a member
	Member  string `json:"member,omitempty"` // the archived member (SkipParticipant)
	Kind    string `json:"kind"`             // SkipMedia, SkipBehind or SkipParticipant
	Reason  string `json:"reason"`
}

// Kinds of Skipped.
const (
	// SkipMedia: a media message whose file is not in the archive (backed
	// up with --no-media, or before chatvault archived media files),
	// restored into another service (or into its own, which no longer has
	// the media): there is no file to attach.
	SkipMedia = "media"
	// SkipBehind: a message older than what an earlier run already restored
	// into the channel; adding it now would break the channel's order.
	SkipBehind = "behind"
	// SkipParticipant: a member without identity, a conversation's SMS or
	// WhatsApp participant known by its address alone. Chat cannot hold
	// it, and adding it through Conversations would send the restored
	// conversation's next messages to that phone: it is left out.
	SkipParticipant = "participant"
)

// Failure is a channel whose restore stopped on an error. A rerun continues it.
type Failure struct {
	Channel    string `json:"channel"`
	UniqueName string `json:"unique_name,omitempty"`
	Error      string `json:"error"`
}

// Plan is what a dry run found left to do.
type Plan struct {
	Channels         int     `json:"channels"`
	Members          int     `json:"members"`
	Messages         int     `json:"messages"`
	Users            int     `json:"users"`          // to create (or update, ones an earlier run created)
	Writes           int     `json:"write_requests"` // media uploads included
	MediaUploads     int     `json:"media_uploads"`
	MediaBytes       int64   `json:"media_bytes"` // bytes the media uploads send
	EstimatedSeconds float64 `json:"estimated_seconds"`
	// Sync only: updates and deletions to make, each write listed in
	// Actions, and Notes on what the run will not do (deletions outside
	// --since/--until).
	Updates int      `json:"updates,omitempty"`
	Deletes int      `json:"deletes,omitempty"`
	Actions []Action `json:"actions,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Result reports a run. Status is one of:
//
//   - "complete" (StatusComplete): the run ended without error and every
//     selected message is in the target;
//   - "partial" (StatusPartial): the run ended without error, but some
//     channels are in Conflicts or Failed, or some messages in Skipped;
//   - "interrupted" (StatusInterrupted): Run returned an error because ctx
//     was cancelled; the journal is saved and a rerun continues;
//   - "failed" (StatusFailed): Run returned any other error (invalid
//     options, an unknown channel, refused credentials, an archive
//     failure); the Result holds what was done before it.
type Result struct {
	Status          string     `json:"status"`
	Target          string     `json:"target"`
	Source          string     `json:"source"`
	Snapshot        uint64     `json:"snapshot"`
	ChannelsCreated int        `json:"channels_created"`
	ChannelsSkipped int        `json:"channels_skipped"` // found already restored
	Members         int        `json:"members"`          // created by this run
	Messages        int        `json:"messages"`         // created by this run
	MessagesSkipped int        `json:"messages_skipped"` // found already restored; kept for one release, same as MessagesAlreadyRestored
	MediaUploaded   int        `json:"media_uploaded"`   // media files uploaded by this run
	MediaBytes      int64      `json:"media_uploaded_bytes"`
	Conflicts       []Conflict `json:"conflicts"` // never null in JSON
	Skipped         []Skipped  `json:"skipped"`   // never null in JSON
	Failed          []Failure  `json:"failed,omitempty"`
	Requests        int64      `json:"requests"`
	DurationSeconds float64    `json:"duration_seconds"`
	DryRun          bool       `json:"dry_run,omitempty"`
	Plan            *Plan      `json:"plan,omitempty"`
	// Warnings are what the operator should know though nothing failed:
	// the snapshot restored did not complete, say.
	Warnings []string `json:"warnings,omitempty"`
	// MessagesAlreadyRestored: archived messages found already in the
	// target (the new name of MessagesSkipped, which holds the same value).
	MessagesAlreadyRestored int `json:"messages_already_restored"`
	// MessagesBeforeRange: archived messages older than the first message
	// restored into their channel, where a restore with --since began its
	// range. They cannot be put before the messages restored after them,
	// and are left out, as that restore left them: not Skipped, and no
	// reason for a partial status run after run.
	MessagesBeforeRange int `json:"messages_before_range,omitempty"`
	// Updated and Deleted count the users, channels, members and messages a sync
	// (Options.Sync) updated or deleted in the target.
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
	// API is the API the target was written through: remote.APIChat or
	// remote.APIConversations.
	API string `json:"api,omitempty"`
	// Users: users this run created in the target (or updated, when an
	// earlier run had created them).
	Users int `json:"users"`
	// Losses are the fields of the archived records restored that the
	// target's API cannot carry from the snapshot's (remote.Losses), with
	// how many records hold a value there; each is also a line of
	// Warnings. None when the APIs are the same.
	Losses []LossCount `json:"losses,omitempty"`
}

// Status values of Result.
const (
	StatusComplete    = "complete"
	StatusPartial     = "partial"
	StatusInterrupted = "interrupted"
	StatusFailed      = "failed"
)

var (
	// ErrInvalidOptions wraps every problem found in Options before any
	// request is sent (malformed SID or time, contradictory selection).
	ErrInvalidOptions = errors.New("invalid restore options")
	// ErrUnknownChannel: a channel named in Options.Channels is not in the snapshot.
	ErrUnknownChannel = errors.New("channel not in snapshot")
	// ErrSourceRequired: the archive holds several services and Options.Source is empty.
	ErrSourceRequired = errors.New("source service must be chosen")
)

var (
	serviceSIDRe = regexp.MustCompile(`^IS[0-9a-fA-F]{32}$`)
)

// validate checks o and fills its defaults. It sends nothing.
func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	if o.Target == "" {
		return bad("the target service is required; give its SID (IS followed by 32 hex digits)")
	}
	if !serviceSIDRe.MatchString(o.Target) {
		return bad("target service %q is not a service SID; want IS followed by 32 hex digits", o.Target)
	}
	if o.Source != "" && !serviceSIDRe.MatchString(o.Source) {
		return bad("source service %q is not a service SID; want IS followed by 32 hex digits", o.Source)
	}
	if !o.AsOf.IsZero() && o.Snapshot != "" {
		return bad("choose a snapshot either by id (%q) or by time (as of %s), not both", o.Snapshot, o.AsOf.UTC().Format(time.RFC3339))
	}
	if o.Snapshot != "" && o.Snapshot != "latest" {
		if id, err := strconv.ParseUint(o.Snapshot, 10, 64); err != nil || id == 0 {
			return bad("snapshot %q is neither \"latest\" nor a snapshot id (a positive whole number)", o.Snapshot)
		}
	}
	for _, c := range o.Channels {
		switch {
		case c == "":
			return bad("an empty channel was selected; give a channel SID or unique name")
		case len(c) > 256:
			return bad("channel %q… is longer than any unique name (256 characters)", c[:32])
		}
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Until.Before(o.Since) {
		return bad("--until %s is before --since %s; nothing would be restored",
			o.Until.UTC().Format(time.RFC3339), o.Since.UTC().Format(time.RFC3339))
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return bad("concurrency %d is out of range; use 1 to %d", o.Concurrency, MaxConcurrency)
	}
	if o.Latency < 0 {
		return bad("latency %s is negative", o.Latency)
	}
	switch {
	case o.WriteRate == 0:
		o.WriteRate = DefaultWriteRate
	case o.WriteRate < 0 || o.WriteRate != o.WriteRate:
		return bad("write rate %v is not a positive number of writes per second", o.WriteRate)
	}
	switch {
	case o.UploadRate == 0:
		o.UploadRate = DefaultUploadRate
	case o.UploadRate < 0 || o.UploadRate != o.UploadRate:
		return bad("upload rate %v is not a positive number of bytes per second", o.UploadRate)
	}
	if o.Progress == nil {
		o.Progress = NopProgress{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run restores one snapshot's channels from a into the target service via
// dst, exactly once (see the package documentation). It returns the Result
// so far together with any error: an authentication failure from the
// service, a failure of the archive, or ctx's error (wrapped) when ctx was
// cancelled; in that case the journal has been saved and a rerun continues.
func Run(ctx context.Context, dst Target, a *store.Archive, o Options) (Result, error) {
	if a == nil {
		return Result{Status: StatusFailed, Target: o.Target, Conflicts: []Conflict{}, Skipped: []Skipped{}, DryRun: o.DryRun}, errors.New("restore: no archive given")
	}
	return run(ctx, dst, storeArchive{a}, o)
}

func run(ctx context.Context, dst Target, a archive, o Options) (res Result, err error) {
	start := time.Now()
	res = Result{Target: o.Target, Conflicts: []Conflict{}, DryRun: o.DryRun}
	var reqs0 int64
	if dst != nil {
		reqs0 = dst.Requests()
	}
	defer func() {
		if dst != nil {
			res.Requests = dst.Requests() - reqs0
		}
		res.DurationSeconds = time.Since(start).Seconds()
		res.Status = status(ctx, &res, err)
		res.MessagesAlreadyRestored = res.MessagesSkipped
		if res.Skipped == nil {
			res.Skipped = []Skipped{}
		}
	}()
	if err := o.validate(); err != nil {
		return res, err
	}
	if dst == nil {
		return res, errors.New("restore: no target client given")
	}

	sel, err := selectFrom(a, &o)
	snap, view, chans := sel.snap, sel.view, sel.chans
	if snap.ID != 0 {
		res.Source, res.Snapshot = snap.Service, snap.ID
		res.Warnings = append(res.Warnings, sel.warnings...)
	}
	if err != nil {
		return res, err
	}
	total, counts := 0, make(map[string]int, len(chans))
	for _, c := range chans {
		n, err := view.MessageCount(c.SID)
		if err != nil {
			return res, fmt.Errorf("restore: count archived messages of channel %s: %w", c.SID, err)
		}
		total += n
		counts[c.SID] = n
	}
	roles, j := sel.roles, sel.j
	if err := checkSync(j, o, snap.Service); err != nil {
		return res, err
	}
	res.API = dst.API()
	if res.Losses, err = countLosses(sel.raw, chans, sel.api, res.API); err != nil {
		return res, err
	}
	if len(res.Losses) > 0 {
		w := lossWarnings(res.Losses, res.API)
		o.Logger.Warn("fields the target's API cannot carry are not restored", "from", sel.api, "to", res.API, "fields", len(w))
		res.Warnings = append(res.Warnings, w...)
	}

	// The first request reads the target's roles: it proves the target
	// exists and the credentials work before anything else happens. Its
	// round trip, with those of a dry run's channel lookups, gives the
	// latency the dry-run estimate assumes (see roundTrips).
	t0 := time.Now()
	tgtRoles, err := targetRoles(ctx, dst, o.Target)
	if err != nil {
		return res, err
	}
	var trips *roundTrips
	if o.Latency == 0 {
		o.Latency = time.Since(t0)
		if o.DryRun {
			trips = &roundTrips{d: []time.Duration{o.Latency}}
			dst = timedTarget{Target: dst, trips: trips}
		}
	}

	r := &runner{
		dst:       dst,
		a:         a,
		view:      view,
		j:         j,
		o:         o,
		log:       o.Logger,
		srcUsers:  sel.users,
		roleMap:   mapRoles(roles, tgtRoles, "channel"),
		userRoles: mapRoles(roles, tgtRoles, "deployment"),
		sameSvc:   strings.EqualFold(snap.Service, o.Target),
		api:       res.API,
		lost:      lostFields(sel.api, res.API),
		res:       &res,
		counts:    counts,
		claimed:   map[string]string{},
		chanPlans: []chain{},
	}
	if err := r.loadClaims(); err != nil {
		return res, err
	}
	if err := r.noteAPI(); err != nil {
		return res, err
	}
	o.Progress.Start(len(chans), total)

	// The users are restored beside the channels, once the first channels
	// are created (see runner.users); a channel's members wait for them.
	top, tctx := errgroup.WithContext(ctx)
	r.initUsers(min(o.Concurrency, len(chans)))
	top.Go(func() error { return r.users(tctx) })
	top.Go(func() error {
		g, gctx := errgroup.WithContext(tctx)
		g.SetLimit(o.Concurrency)
		// Longest first: the longest chain of writes bounds the run, and
		// the channels' creates are paced one after another, in turns.
		order := longestFirst(chans, counts)
		r.turns = newTurns(order)
		for _, c := range order {
			if gctx.Err() != nil {
				break
			}
			g.Go(func() error {
				defer o.Progress.ChannelDone()
				return r.channel(gctx, c)
			})
		}
		if err := g.Wait(); !errors.Is(err, errUsersFailed) {
			return err
		}
		return r.usersErr
	})
	werr := top.Wait()
	if werr == nil && ctx.Err() == nil && o.Sync {
		werr = r.deleteGoneChannels(ctx, chans)
	}

	// Save what was done whatever happened, even when ctx is cancelled.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	ferr := j.Flush(fctx)
	cancel()
	if o.DryRun {
		if trips != nil {
			r.o.Latency = trips.median()
		}
		res.Plan = r.plan()
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("restore into %s interrupted; the journal is saved and a rerun continues: %w", o.Target, ctx.Err())
	}
	if werr != nil {
		return res, werr
	}
	if ferr != nil {
		return res, fmt.Errorf("restore: save restore journal in archive: %w", ferr)
	}
	return res, nil
}

// status is the Status of a run that returned res and err.
func status(ctx context.Context, res *Result, err error) string {
	switch {
	case err != nil && (ctx.Err() != nil || errors.Is(err, context.Canceled)):
		return StatusInterrupted
	case err != nil:
		return StatusFailed
	case len(res.Conflicts) > 0 || len(res.Skipped) > 0 || len(res.Failed) > 0:
		return StatusPartial
	}
	return StatusComplete
}

// selection is what Run and VerifyTarget read from the archive before
// sending any request.
type selection struct {
	snap     store.Snapshot
	warnings []string              // about the snapshot picked
	api      string                // the API the snapshot was read through
	raw      snapshotView          // records as that API returned them
	view     snapshotView          // records in Chat's shape
	chans    []store.ChannelRecord // selected, in the snapshot's order
	users    []*srcUser            // those the selected channels bring (selectedUsers)
	roles    []store.RoleRecord    // archived
	j        journal               // of (snapshot's service, o.Target)
}

// selectFrom picks the snapshot and channels o selects and opens the
// restore journal. On error, the snapshot is set once it was found.
func selectFrom(a archive, o *Options) (sel selection, err error) {
	if sel.snap, err = selectSnapshot(a, o); err != nil {
		return sel, err
	}
	if sel.snap.Status != store.StatusComplete {
		w := fmt.Sprintf("snapshot %d of %s is %s, not complete: it may lack channels, members or messages the source had; "+
			"restoring it as it is", sel.snap.ID, sel.snap.Service, sel.snap.Status)
		if (o.Snapshot == "" || o.Snapshot == "latest") && o.AsOf.IsZero() {
			w = fmt.Sprintf("the archive holds no complete snapshot of %s; restoring its newest, snapshot %d, which is %s "+
				"and may lack channels, members or messages the source had", sel.snap.Service, sel.snap.ID, sel.snap.Status)
		}
		o.Logger.Warn(w)
		sel.warnings = append(sel.warnings, w)
	}
	if sel.raw, err = a.View(sel.snap.ID); err != nil {
		return sel, fmt.Errorf("restore: open snapshot %d of archive: %w", sel.snap.ID, err)
	}
	sel.api = snapshotAPI(sel.snap)
	sel.view = shaped(sel.raw, sel.api)
	if sel.chans, err = selectChannels(sel.view, o.Channels, sel.snap.ID); err != nil {
		return sel, err
	}
	if sel.users, err = selectedUsers(sel.view, sel.chans, len(o.Channels) > 0); err != nil {
		return sel, err
	}
	if sel.roles, err = sel.view.Roles(); err != nil {
		return sel, fmt.Errorf("restore: read archived roles of snapshot %d: %w", sel.snap.ID, err)
	}
	if sel.j, err = a.Journal(sel.snap.Service, o.Target); err != nil {
		return sel, fmt.Errorf("restore: open restore journal for %s → %s: %w", sel.snap.Service, o.Target, err)
	}
	return sel, nil
}

func selectSnapshot(a archive, o *Options) (store.Snapshot, error) {
	source := o.Source
	if source == "" {
		svcs, err := a.Services()
		if err != nil {
			return store.Snapshot{}, fmt.Errorf("restore: list services in archive: %w", err)
		}
		switch len(svcs) {
		case 0:
			return store.Snapshot{}, fmt.Errorf("restore: the archive holds no snapshot; run a backup first: %w", store.ErrNoSnapshot)
		case 1:
			source = svcs[0]
		default:
			return store.Snapshot{}, fmt.Errorf("%w: the archive holds snapshots of %d services (%s, …); choose one with --source",
				ErrSourceRequired, len(svcs), svcs[0])
		}
	}
	if !o.AsOf.IsZero() {
		s, err := a.SnapshotAsOf(source, o.AsOf)
		if err != nil {
			return s, fmt.Errorf("restore: %w", err) // the archive's error names the service, the time and what to do
		}
		return s, nil
	}
	sel := o.Snapshot
	if sel == "" || sel == "latest" {
		return latestSnapshot(a, source)
	}
	s, err := a.ResolveSnapshot(sel, source)
	if err != nil {
		return s, fmt.Errorf("restore: snapshot %q of %s not found in archive; list them with `chatvault snapshots`: %w", sel, source, err)
	}
	if s.Service != source {
		return s, fmt.Errorf("restore: snapshot %d is of service %s, not of %s: %w", s.ID, s.Service, source, store.ErrNoSnapshot)
	}
	return s, nil
}

// latestSnapshot is the newest complete snapshot of source, else (none
// completed) its newest snapshot of any status.
func latestSnapshot(a archive, source string) (store.Snapshot, error) {
	snaps, err := a.Snapshots()
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("restore: list snapshots in archive: %w", err)
	}
	var best, newest store.Snapshot
	for _, s := range snaps {
		if s.Service != source {
			continue
		}
		if s.ID > newest.ID {
			newest = s
		}
		if s.Status == store.StatusComplete && s.ID > best.ID {
			best = s
		}
	}
	switch {
	case best.ID != 0:
		return best, nil
	case newest.ID != 0:
		return newest, nil
	}
	return store.Snapshot{}, fmt.Errorf("restore: the archive holds no snapshot of %s; list them with `chatvault snapshots`: %w", source, store.ErrNoSnapshot)
}

// unknownChannel is the error for a channel name the snapshot lacks,
// naming the channels the user may have meant.
func unknownChannel(v snapshotView, name string, snap uint64) error {
	msg := fmt.Sprintf("restore: channel %q is not in snapshot %d", name, snap)
	cs, err := v.Channels()
	if err != nil {
		return fmt.Errorf("%s (listing its channels to suggest others failed too: %v): %w", msg, err, ErrUnknownChannel)
	}
	known := make([]string, len(cs))
	for i, c := range cs {
		known[i] = cmp.Or(c.UniqueName, c.SID)
	}
	return fmt.Errorf("%s; %s (chatvault ls lists them): %w", msg, names.Suggest([]string{name}, known, fmt.Sprintf("snapshot %d", snap)), ErrUnknownChannel)
}

func selectChannels(v snapshotView, sel []string, snap uint64) ([]store.ChannelRecord, error) {
	if len(sel) == 0 {
		cs, err := v.Channels()
		if err != nil {
			return nil, fmt.Errorf("restore: list channels of snapshot %d: %w", snap, err)
		}
		return cs, nil
	}
	var out []store.ChannelRecord
	seen := map[string]bool{}
	for _, s := range sel {
		c, err := v.Channel(s)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, unknownChannel(v, s, snap)
			}
			return nil, fmt.Errorf("restore: look up channel %q in snapshot %d: %w", s, snap, err)
		}
		if !seen[c.SID] {
			seen[c.SID] = true
			out = append(out, c)
		}
	}
	return out, nil
}

func targetRoles(ctx context.Context, dst Target, target string) ([]*remote.Role, error) {
	var out []*remote.Role
	for r, err := range dst.ListRoles(ctx, target) {
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("restore into %s interrupted: %w", target, ctx.Err())
			}
			if errors.Is(err, remote.ErrNotFound) {
				return nil, fmt.Errorf("restore: target service %s not found; check the SID and the credentials' account: %w", target, err)
			}
			return nil, fmt.Errorf("restore: list roles of target service %s: %w", target, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// mapRoles maps source role SIDs to the SIDs of target roles of type typ
// ("channel" for members, "deployment" for users) by friendly name.
func mapRoles(src []store.RoleRecord, tgt []*remote.Role, typ string) map[string]string {
	byName := map[string]*remote.Role{}
	for _, r := range tgt {
		if r.Type == typ || r.Type == "" {
			byName[r.FriendlyName] = r
		}
	}
	m := map[string]string{}
	for _, r := range src {
		if t, ok := byName[r.FriendlyName]; ok {
			m[r.SID] = t.SID
		}
	}
	return m
}

// runner holds what the channel workers share.
type runner struct {
	dst       Target
	a         archive
	view      snapshotView
	j         journal
	o         Options
	log       *slog.Logger
	roleMap   map[string]string // source role SID → target channel role SID
	userRoles map[string]string // source role SID → target deployment role SID
	sameSvc   bool              // target is the source service (its media can be reused)
	api       string            // the API the target is written through
	lost      map[string]bool   // "kind/field" the target's API cannot carry from the snapshot's: not compared
	srcUsers  []*srcUser        // the archived users to restore (selectedUsers)

	mu        sync.Mutex
	res       *Result
	counts    map[string]int    // archived messages per source channel (for Progress)
	claimed   map[string]string // target CH → source CH, per the journal
	planned   Plan              // dry run: what is left to do
	noted     map[string]bool   // sync: notes already in the plan
	chanPlans []chain           // dry run: what is left to do per channel

	// Users (see users).
	waiting   atomic.Int64  // channels to be ready before the users start
	firstDone chan struct{} // closed when they are
	usersDone chan struct{} // closed when the users are restored, or failed
	usersErr  error         // set before usersDone is closed

	turns *turns // the order of the channels' creates
}

// longestFirst returns chans ordered by their archived messages, most
// first (in their order among equals).
func longestFirst(chans []store.ChannelRecord, counts map[string]int) []store.ChannelRecord {
	order := slices.Clone(chans)
	slices.SortStableFunc(order, func(a, b store.ChannelRecord) int { return cmp.Compare(counts[b.SID], counts[a.SID]) })
	return order
}

// turns make the channels' creates go in the order the channels are
// started, longest first. The service paces creates one after another
// (Limits.ServiceWriteRate), while the unique-name lookups before them
// answer in any order: without turns the longest channel could be created
// last of its round, a whole round of creates after the others, and end
// the run that late.
type turns struct {
	gate []chan struct{} // gate[i] is closed when the i-th channel may create
	at   map[string]int  // source channel SID → its index
}

func newTurns(order []store.ChannelRecord) *turns {
	t := &turns{gate: make([]chan struct{}, len(order)+1), at: make(map[string]int, len(order))}
	for i, c := range order {
		t.gate[i] = make(chan struct{})
		t.at[c.SID] = i
	}
	t.gate[len(order)] = make(chan struct{})
	close(t.gate[0])
	return t
}

// wait returns once every channel started before sid has sent its
// create (its request written, so paced ahead of sid's), or found it needs
// none, or stopped.
func (t *turns) wait(ctx context.Context, sid string) error {
	i, ok := t.at[sid]
	if !ok {
		return nil
	}
	select {
	case <-t.gate[i]:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pass lets the channel after sid create. Each channel passes once.
func (t *turns) pass(sid string) {
	if i, ok := t.at[sid]; ok {
		close(t.gate[i+1])
	}
}

func (r *runner) update(fn func(res *Result)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.res)
}

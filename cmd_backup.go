package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

type backupOptions struct {
	Conn        connOptions
	Archive     string
	Service     string
	Channels    []string
	Full        bool
	API         string // remote.APIAuto, APIChat or APIConversations
	Concurrency int
	PageSize    int
	JSON        bool
	Quiet       bool
	// NoMedia keeps media messages' metadata only; MediaConcurrency bounds
	// the media downloads in flight, beside Concurrency.
	NoMedia          bool
	MediaConcurrency int
}

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "record a snapshot of a service's channels, members and messages into the archive",
		Flags: append(credentialFlags(),
			&cli.StringFlag{Name: "service", Usage: "service `SID` (IS…) to back up"},
			archiveFlag(),
			channelFlag("only this channel (`CH…|UNIQUE_NAME`); repeat for more"),
			&cli.BoolFlag{Name: "full", Usage: "re-read every message, catching edits and deletions of old messages"},
			apiFlag(),
			&cli.IntFlag{Name: "concurrency", Usage: "requests in flight at once", Value: 16},
			&cli.IntFlag{Name: "page-size", Usage: "records per list request (at most 100)", Value: 100},
			&cli.BoolFlag{Name: "no-media", Usage: "keep media messages' metadata only, without downloading their files"},
			&cli.IntFlag{Name: "media-concurrency", Usage: "media files downloaded at once, beside --concurrency", Value: backup.DefaultMediaConcurrency},
			jsonFlag(),
			quietFlag(),
		),
		Action: func(c *cli.Context) error {
			return runBackup(c.Context, backupOptions{
				Conn:        connFrom(c),
				Archive:     c.String("archive"),
				Service:     c.String("service"),
				Channels:    c.StringSlice("channel"),
				Full:        c.Bool("full"),
				API:         c.String("api"),
				Concurrency: c.Int("concurrency"),
				PageSize:    c.Int("page-size"),
				JSON:        c.Bool("json"),
				Quiet:       c.Bool("quiet"),

				NoMedia:          c.Bool("no-media"),
				MediaConcurrency: c.Int("media-concurrency"),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func (o backupOptions) validate() error {
	if err := checkSID("--service", "IS", o.Service); err != nil {
		return err
	}
	if err := needArchive(o.Archive); err != nil {
		return err
	}
	if err := checkChannels(o.Channels); err != nil {
		return err
	}
	if err := remote.CheckAPI(o.API); err != nil {
		return usagef("--api: %v", err)
	}
	if o.Concurrency < 1 || o.Concurrency > 256 {
		return usagef("--concurrency %d is out of range: give 1 to 256", o.Concurrency)
	}
	if o.PageSize < 1 || o.PageSize > 100 {
		return usagef("--page-size %d is out of range: give 1 to 100 (the API's maximum)", o.PageSize)
	}
	if o.MediaConcurrency < 1 || o.MediaConcurrency > backup.MaxMediaConcurrency {
		return usagef("--media-concurrency %d is out of range: give 1 to %d", o.MediaConcurrency, backup.MaxMediaConcurrency)
	}
	return o.Conn.validate()
}

func runBackup(ctx context.Context, o backupOptions, stdout, stderr io.Writer) error {
	var (
		res    backup.Result
		runErr error
		began  bool
	)
	if err := o.validate(); err != nil {
		return err
	}
	// The requests of a backup are bounded by --concurrency, and its media
	// downloads by --media-concurrency; the client must allow that many in
	// flight.
	inFlight := o.Concurrency + o.MediaConcurrency
	cl, err := o.Conn.client(remote.WithLimits(remote.Limits{MaxInFlight: max(inFlight, remote.DefaultLimits().MaxInFlight)}),
		retryOption(o.Quiet, stderr))
	if err != nil {
		return err
	}
	_, statErr := os.Stat(o.Archive)
	created := errors.Is(statErr, fs.ErrNotExist)
	a, err := store.Open(o.Archive, store.Options{Create: true})
	if err != nil {
		return err
	}
	defer func() {
		a.Close()
		// A first run that could not even begin a snapshot (wrong
		// credentials, a mistyped service) leaves no empty archive behind.
		if created && !began {
			os.Remove(o.Archive)
		}
	}()

	before := cl.Requests()
	api, err := cl.ForAPI(ctx, o.Service, o.API)
	if err != nil {
		return fmt.Errorf("backup of service %s: %w", o.Service, err)
	}
	chosen := cl.Requests() - before // the requests that chose the API: counted with the run's
	var progress backup.Progress = backup.NopProgress{}
	if !o.JSON && !o.Quiet && isTerminal(stderr) {
		bar := newProgressBar(stderr, "backing up")
		defer bar.finish()
		progress = backupProgress{bar}
	}
	res, runErr = backup.Run(ctx, via[backup.Source](cl, api), a, backup.Options{
		Service:     o.Service,
		Channels:    o.Channels,
		Full:        o.Full,
		Concurrency: o.Concurrency,
		PageSize:    o.PageSize,
		Progress:    progress,

		NoMedia:          o.NoMedia,
		MediaConcurrency: o.MediaConcurrency,
		PriorRequests:    chosen,
	})
	began = res.Snapshot != 0
	if res.Snapshot != 0 {
		if err := reportBackup(stdout, stderr, o, res, runErr); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if res.Status != string(store.StatusComplete) {
		return partialError(fmt.Sprintf("backup of %s into snapshot %d", res.Service, res.Snapshot), backupReasons(res))
	}
	return nil
}

// via is the client's view that speaks api (see remote.Client.ForAPI): the
// Client itself for Chat, its Conversations view for Conversations. T is
// the interface the caller reads or writes through.
func via[T any](cl *remote.Client, api string) T {
	if api == remote.APIConversations {
		return any(cl.Conversations()).(T)
	}
	return any(cl).(T)
}

func reportBackup(stdout, stderr io.Writer, o backupOptions, res backup.Result, runErr error) error {
	if o.JSON {
		return printResult(stdout, res, runErr)
	}
	fmt.Fprintf(stdout, "snapshot %d of %s through %s: %s, %s, %s (%d added, %d changed, %d deleted), %s, %s downloaded (%s), %s in %.1fs%s\n",
		res.Snapshot, res.Service, res.API, res.Status, plural(res.Channels, "channel"), plural(res.Messages, "message"), res.Added, res.Changed, res.Deleted,
		plural(res.Users, "user"), plural(res.MediaFiles, "media file"), megabytes(res.MediaBytes), plural(int(res.Requests), "request"), res.DurationSeconds,
		otherChanges(res))
	for _, w := range res.Warnings {
		if !o.Quiet {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	return nil
}

// otherChanges words a backup's changes besides messages, "" for none.
func otherChanges(res backup.Result) string {
	var parts []string
	for _, c := range []struct {
		n    int
		noun string
	}{{res.ChannelsChanged, "channel"}, {res.MembersChanged, "member"}, {res.UsersChanged, "user"}} {
		if c.n > 0 {
			parts = append(parts, plural(c.n, c.noun))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; also added, changed or deleted: " + strings.Join(parts, ", ")
}

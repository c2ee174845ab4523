package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/restore"
	"github.com/chatvault/chatvault/store"
)

type restoreOptions struct {
	Conn        connOptions
	Archive     string
	Target      string
	Source      string
	Snapshot    string
	AsOf        string
	Channels    []string
	Since       string
	Until       string
	DryRun      bool
	Concurrency int
	Webhooks    bool
	API         string // remote.APIAuto, APIChat or APIConversations
	JSON        bool
	Quiet       bool
	Sync        bool
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "recreate a snapshot's channels, members and messages in a service, exactly once",
		Flags: append(credentialFlags(),
			apiFlag(),
			archiveFlag(),
			&cli.StringFlag{Name: "service", Usage: "target service `SID` (IS…)"},
			&cli.StringFlag{Name: "source", Usage: "source service `SID` (IS…); required when the archive holds several"},
			&cli.StringFlag{Name: "snapshot", Usage: "snapshot `ID` or latest (default latest)"},
			&cli.StringFlag{Name: "as-of", Usage: "restore the newest complete snapshot finished at or before `TIME` (RFC 3339)"},
			channelFlag("only this channel (`CH…|UNIQUE_NAME`); repeat for more"),
			&cli.StringFlag{Name: "since", Usage: "only messages created at or after `TIME` (RFC 3339)"},
			&cli.StringFlag{Name: "until", Usage: "only messages created at or before `TIME` (RFC 3339)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "send no writes; print the plan and its estimated duration"},
			&cli.IntFlag{Name: "concurrency", Usage: "channels restored at once", Value: 8},
			&cli.BoolFlag{Name: "webhooks", Usage: "let the service fire post-event webhooks for the writes (off by default)"},
			&cli.BoolFlag{Name: "sync", Usage: "into a target restored before: also update what changed and delete what the snapshot no longer has, among what restore created"},
			jsonFlag(),
			quietFlag(),
		),
		Action: func(c *cli.Context) error {
			return runRestore(c.Context, restoreOptions{
				Conn:        connFrom(c),
				Archive:     c.String("archive"),
				Target:      c.String("service"),
				Source:      c.String("source"),
				Snapshot:    c.String("snapshot"),
				AsOf:        c.String("as-of"),
				Channels:    c.StringSlice("channel"),
				Since:       c.String("since"),
				Until:       c.String("until"),
				DryRun:      c.Bool("dry-run"),
				Concurrency: c.Int("concurrency"),
				Webhooks:    c.Bool("webhooks"),
				API:         c.String("api"),
				JSON:        c.Bool("json"),
				Quiet:       c.Bool("quiet"),
				Sync:        c.Bool("sync"),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// libOptions validates o and turns it into restore's options.
func (o restoreOptions) libOptions() (restore.Options, error) {
	var ro restore.Options
	if err := checkSID("--service", "IS", o.Target); err != nil {
		return ro, err
	}
	if err := checkOptionalSID("--source", "IS", o.Source); err != nil {
		return ro, err
	}
	if err := needArchive(o.Archive); err != nil {
		return ro, err
	}
	if err := checkSnapshotSel(o.Snapshot); err != nil {
		return ro, err
	}
	if err := checkChannels(o.Channels); err != nil {
		return ro, err
	}
	asOf, err := parseTime("--as-of", o.AsOf)
	if err != nil {
		return ro, err
	}
	if !asOf.IsZero() && o.Snapshot != "" {
		return ro, usagef("--as-of and --snapshot both pick a snapshot; give one of them")
	}
	since, err := parseTime("--since", o.Since)
	if err != nil {
		return ro, err
	}
	until, err := parseTime("--until", o.Until)
	if err != nil {
		return ro, err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return ro, usagef("--until %s is before --since %s", o.Until, o.Since)
	}
	if o.Concurrency < 1 || o.Concurrency > 64 {
		return ro, usagef("--concurrency %d is out of range: give 1 to 64", o.Concurrency)
	}
	if err := remote.CheckAPI(cmp.Or(o.API, remote.APIAuto)); err != nil {
		return ro, usagef("--api: %v", err)
	}
	if err := o.Conn.validate(); err != nil {
		return ro, err
	}
	return restore.Options{
		Target:      o.Target,
		Source:      o.Source,
		Snapshot:    o.Snapshot,
		AsOf:        asOf,
		Channels:    o.Channels,
		Since:       since,
		Until:       until,
		DryRun:      o.DryRun,
		Concurrency: o.Concurrency,
		Sync:        o.Sync,
	}, nil
}

func runRestore(ctx context.Context, o restoreOptions, stdout, stderr io.Writer) error {
	ro, err := o.libOptions()
	if err != nil {
		return err
	}
	cl, err := o.Conn.client(remote.WithWebhooks(o.Webhooks), retryOption(o.Quiet, stderr))
	if err != nil {
		return err
	}
	a, err := store.Open(o.Archive, store.Options{})
	if err != nil {
		return err
	}
	defer a.Close()

	ro.Progress = restore.NopProgress{}
	if !o.JSON && !o.Quiet && isTerminal(stderr) {
		bar := newProgressBar(stderr, "restoring")
		defer bar.finish()
		ro.Progress = restoreProgress{bar}
	}
	api, err := cl.ForAPI(ctx, o.Target, cmp.Or(o.API, remote.APIAuto))
	if err != nil {
		return fmt.Errorf("restore into service %s: %w", o.Target, err)
	}
	res, runErr := restore.Run(ctx, via[restore.Target](cl, api), a, ro)
	if res.Snapshot != 0 {
		if err := reportRestore(stdout, stderr, o, res, runErr); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if res.Status != "complete" {
		return partialError(fmt.Sprintf("restore of snapshot %d into %s", res.Snapshot, res.Target), restoreReasons(res))
	}
	return nil
}

func reportRestore(stdout, stderr io.Writer, o restoreOptions, res restore.Result, runErr error) error {
	if o.JSON {
		return printResult(stdout, res, runErr)
	}
	switch {
	case runErr != nil && res.API == "":
		// Stopped before the target was written or planned for (a
		// channel not in the snapshot, say): the error says it all.
	case o.Sync:
		reportSync(stdout, stderr, o, res, runErr)
	case res.Plan != nil:
		p := res.Plan
		fmt.Fprintf(stdout, "dry run of snapshot %d into %s through %s: would create %s, %s, %s, %s and upload %s (%s) in %s, about %s\n",
			res.Snapshot, res.Target, res.API, plural(p.Users, "user"), plural(p.Channels, "channel"), plural(p.Members, "member"), plural(p.Messages, "message"),
			plural(p.MediaUploads, "media file"), megabytes(p.MediaBytes), plural(p.Writes, "write request"),
			(time.Duration(p.EstimatedSeconds * float64(time.Second))).Round(time.Second))
	default:
		fmt.Fprintf(stdout, "restored snapshot %d into %s through %s: %s, %s, %s created (%d already there), %s, %s (%d already there), %s uploaded (%s), %s in %.1fs\n",
			res.Snapshot, res.Target, res.API, res.Status, plural(res.Users, "user"), plural(res.ChannelsCreated, "channel"), res.ChannelsSkipped,
			plural(res.Members, "member"), plural(res.Messages, "message"), res.MessagesSkipped,
			plural(res.MediaUploaded, "media file"), megabytes(res.MediaBytes), plural(int(res.Requests), "request"), res.DurationSeconds)
	}
	if !o.Quiet {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	return nil
}

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

type verifyOptions struct {
	Conn     connOptions
	Archive  string
	Snapshot string
	Service  string
	Source   string   // with Service: compare the restored target Service with the snapshot of Source
	Channels []string // with Source: only these channels (as restore --channel restored them)
	API      string   // remote.APIAuto, APIChat or APIConversations
	JSON     bool
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check the archive's integrity and, with --service, compare a snapshot with the live service",
		Flags: append(credentialFlags(),
			apiFlag(),
			archiveFlag(),
			snapshotFlag(),
			&cli.StringFlag{Name: "service", Usage: "also compare the snapshot with this live service `SID` (IS…)"},
			&cli.StringFlag{Name: "source", Usage: "--service is a restore target: compare it with the snapshot of this source `SID` (IS…) it was restored from"},
			channelFlag("with --source: only this channel (`CH…|UNIQUE_NAME`), as restore --channel restored it; repeat for more"),
			jsonFlag(),
		),
		Action: func(c *cli.Context) error {
			return runVerify(c.Context, verifyOptions{
				Conn:     connFrom(c),
				Archive:  c.String("archive"),
				Snapshot: c.String("snapshot"),
				Service:  c.String("service"),
				Source:   c.String("source"),
				Channels: c.StringSlice("channel"),
				API:      c.String("api"),
				JSON:     c.Bool("json"),
			}, c.App.Writer)
		},
	}
}

// verifyResult is verify's JSON result.
type verifyResult struct {
	OK          bool                `json:"ok"`
	Snapshot    uint64              `json:"snapshot,omitempty"`
	Problems    []store.Problem     `json:"problems"`
	Differences []backup.Difference `json:"differences"`
	// API: the API the live service was read through (with --service).
	API string `json:"api,omitempty"`
	// NotVisible: archived public channels the live service's API does not
	// show (Conversations shows private channels only); not differences.
	NotVisible []backup.Difference `json:"not_visible,omitempty"`
	// NotCompared: the fields one of the two APIs cannot carry, which are
	// therefore not compared (backup.NotCompared).
	NotCompared []notCompared `json:"not_compared,omitempty"`
}

// notCompared is a field verify does not compare, and why.
type notCompared struct {
	Kind  string `json:"kind"`
	Field string `json:"field"`
	Why   string `json:"why"`
}

func runVerify(ctx context.Context, o verifyOptions, stdout io.Writer) error {
	if err := checkSelection(o.Snapshot, o.Service); err != nil {
		return err
	}
	if o.Service != "" {
		if err := o.Conn.validate(); err != nil {
			return err
		}
		if err := remote.CheckAPI(cmp.Or(o.API, remote.APIAuto)); err != nil {
			return usagef("--api: %v", err)
		}
	}
	if o.Source != "" {
		return runVerifyTarget(ctx, o, stdout)
	}
	if len(o.Channels) > 0 {
		return usagef("--channel compares a restore target with --source; leave it out to verify the archive or compare it with its own service")
	}
	res := verifyResult{Problems: []store.Problem{}, Differences: []backup.Difference{}}
	a, err := openArchiveRead(o.Archive)
	if err != nil {
		// A file that cannot be opened as an archive is the first problem
		// verify reports; the exit code still says why (10 or 11).
		if o.JSON {
			res.Problems = append(res.Problems, store.Problem{Where: o.Archive, What: err.Error()})
			printJSON(stdout, res)
		}
		return err
	}
	defer a.Close()

	if o.Snapshot != "latest" && o.Snapshot != "" && o.Service == "" {
		// An explicit snapshot must exist even when only integrity is checked.
		snap, err := a.ResolveSnapshot(o.Snapshot, "")
		if err != nil {
			return err
		}
		res.Snapshot = snap.ID
	}
	if res.Problems, err = a.Check(); err != nil {
		return err
	}
	if res.Problems == nil {
		res.Problems = []store.Problem{}
	}
	if o.Service != "" {
		if err := compareLive(ctx, o, a, &res); err != nil {
			return err
		}
	}
	res.OK = len(res.Problems) == 0 && len(res.Differences) == 0
	if o.JSON {
		if err := printJSON(stdout, res); err != nil {
			return err
		}
	} else {
		reportVerify(stdout, o, res)
	}
	if !res.OK {
		return fmt.Errorf("archive %s: %s, %s: %w", o.Archive, plural(len(res.Problems), "problem"), plural(len(res.Differences), "difference"), errDifferences)
	}
	return nil
}

// compareLive compares the selected snapshot of o.Service with the live service.
func compareLive(ctx context.Context, o verifyOptions, a *store.Archive, res *verifyResult) error {
	cl, err := o.Conn.client()
	if err != nil {
		return err
	}
	v, err := openView(a, o.Snapshot, o.Service)
	if errors.Is(err, store.ErrNoSnapshot) {
		return fmt.Errorf("%w; if %s is a restore target, compare it with the snapshot it was restored from: verify --service %s --source IS_SOURCE",
			err, o.Service, o.Service)
	}
	if err != nil {
		return err
	}
	res.Snapshot = v.Snapshot().ID
	if res.API, err = cl.ForAPI(ctx, o.Service, cmp.Or(o.API, remote.APIAuto)); err != nil {
		return fmt.Errorf("verify service %s: %w", o.Service, err)
	}
	for _, l := range backup.NotCompared(v.Snapshot().API, res.API) {
		res.NotCompared = append(res.NotCompared, notCompared{l.Kind, l.Field, l.Why})
	}
	diffs, err := backup.Compare(ctx, via[backup.Source](cl, res.API), v)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		if d.Kind == backup.DiffNotVisible {
			res.NotVisible = append(res.NotVisible, d)
		} else {
			res.Differences = append(res.Differences, d)
		}
	}
	return nil
}

func reportVerify(w io.Writer, o verifyOptions, res verifyResult) {
	for _, p := range res.Problems {
		fmt.Fprintf(w, "problem: %s: %s\n", p.Where, p.What)
	}
	for _, l := range res.NotCompared {
		fmt.Fprintf(w, "not compared: %s %s: %s\n", l.Kind, l.Field, l.Why)
	}
	for _, d := range res.NotVisible {
		fmt.Fprintf(w, "not compared: channel %s is public, and %s shows private channels only; make it private (Chat v3) to compare it\n", d.Channel, res.API)
	}
	for _, d := range res.Differences {
		what := "channel " + d.Channel
		if d.User != "" {
			what = "user " + d.User
		}
		if d.Member != "" {
			what += " member " + d.Member
		}
		if d.Message != nil {
			what += " message " + *d.Message
		}
		fmt.Fprintf(w, "%s: %s %v\n", d.Kind, what, d.Fields)
	}
	switch {
	case res.OK && o.Service != "":
		fmt.Fprintf(w, "archive %s is intact and snapshot %d equals the live service %s (read through %s)\n", o.Archive, res.Snapshot, o.Service, res.API)
	case res.OK:
		fmt.Fprintf(w, "archive %s is intact\n", o.Archive)
	default:
		fmt.Fprintf(w, "%s, %s\n", plural(len(res.Problems), "problem"), plural(len(res.Differences), "difference"))
	}
}

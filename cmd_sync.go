package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/restore"
	"github.com/chatvault/chatvault/store"
)

// reportSync prints the text result of restore --sync: the plan of a dry
// run with its updates and deletions, or what the sync did.
func reportSync(stdout, stderr io.Writer, o restoreOptions, res restore.Result, runErr error) {
	if errors.Is(runErr, restore.ErrNotRestored) {
		return // nothing was done; the error says what to do
	}
	if p := res.Plan; p != nil {
		fmt.Fprintf(stdout, "dry run of a sync of snapshot %d into %s (%s API): would create %d users, %d channels, %d members, %d messages, "+
			"upload %d media files (%s), update %d and delete %d, in %d write requests, about %s\n",
			res.Snapshot, res.Target, res.API, p.Users, p.Channels, p.Members, p.Messages, p.MediaUploads, megabytes(p.MediaBytes), p.Updates, p.Deletes, p.Writes,
			(time.Duration(p.EstimatedSeconds * float64(time.Second))).Round(time.Second))
		for _, a := range p.Actions {
			fmt.Fprintf(stdout, "  %s %s %s\n", a.Op, a.Kind, actionName(a))
		}
		if !o.Quiet {
			for _, n := range p.Notes {
				fmt.Fprintf(stderr, "note: %s\n", n)
			}
		}
		return
	}
	fmt.Fprintf(stdout, "synced snapshot %d into %s (%s API): %s, %d users, %d channels created, %d members, %d messages created, "+
		"%d media files uploaded (%s), %d updated, %d deleted, %d requests in %.1fs\n",
		res.Snapshot, res.Target, res.API, res.Status, res.Users, res.ChannelsCreated, res.Members, res.Messages,
		res.MediaUploaded, megabytes(res.MediaBytes), res.Updated, res.Deleted, res.Requests, res.DurationSeconds)
}

// actionName names what a planned write is about, for people.
func actionName(a restore.Action) string {
	s := a.Source
	switch a.Kind {
	case "message":
		s = "index " + s
	case "channel":
		s = a.Channel
	}
	if a.Kind != "channel" && a.Kind != "user" {
		s += " in channel " + a.Channel
	}
	if a.Target != "" {
		s += " (target " + a.Target + ")"
	}
	return s
}

// verifyTargetResult is the JSON result of verify --service IS_TARGET --source IS_SOURCE.
type verifyTargetResult struct {
	OK          bool                 `json:"ok"`
	Snapshot    uint64               `json:"snapshot,omitempty"`
	Source      string               `json:"source"`
	Target      string               `json:"target"`
	Problems    []store.Problem      `json:"problems"`
	Differences []restore.Difference `json:"differences"`
}

// runVerifyTarget checks the archive and compares the restored target
// o.Service with the snapshot of o.Source it was restored from, through the
// restore journal's mapping.
func runVerifyTarget(ctx context.Context, o verifyOptions, stdout io.Writer) error {
	if err := checkSID("--source", "IS", o.Source); err != nil {
		return err
	}
	if o.Service == "" {
		return usagef("--source names the service a target was restored from; give the target with --service IS_TARGET")
	}
	if o.Service == o.Source {
		return usagef("--service and --source are both %s: to compare a snapshot with its own live service, leave out --source", o.Source)
	}
	res := verifyTargetResult{Source: o.Source, Target: o.Service, Problems: []store.Problem{}, Differences: []restore.Difference{}}
	a, err := openArchiveRead(o.Archive)
	if err != nil {
		if o.JSON {
			res.Problems = append(res.Problems, store.Problem{Where: o.Archive, What: err.Error()})
			printJSON(stdout, res)
		}
		return err
	}
	defer a.Close()
	snap, err := a.ResolveSnapshot(cmp.Or(o.Snapshot, "latest"), o.Source)
	if err != nil {
		return err
	}
	res.Snapshot = snap.ID
	if res.Problems, err = a.Check(); err != nil {
		return err
	}
	if res.Problems == nil {
		res.Problems = []store.Problem{}
	}
	cl, err := o.Conn.client()
	if err != nil {
		return err
	}
	api, err := cl.ForAPI(ctx, o.Service, cmp.Or(o.API, remote.APIAuto))
	if err != nil {
		return fmt.Errorf("verify target %s: %w", o.Service, err)
	}
	diffs, err := restore.VerifyTarget(ctx, via[restore.Target](cl, api), a, restore.Options{Target: o.Service, Source: o.Source,
		Snapshot: fmt.Sprint(snap.ID), Channels: o.Channels})
	if err != nil {
		return err
	}
	if diffs != nil {
		res.Differences = diffs
	}
	res.OK = len(res.Problems) == 0 && len(res.Differences) == 0
	if o.JSON {
		if err := printJSON(stdout, res); err != nil {
			return err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintf(stdout, "problem: %s: %s\n", p.Where, p.What)
		}
		for _, d := range res.Differences {
			fmt.Fprintf(stdout, "%s: %s %v %s\n", d.Kind, differenceName(d), d.Fields, d.Detail)
		}
		if res.OK {
			fmt.Fprintf(stdout, "archive %s is intact and target %s holds snapshot %d of %s faithfully\n", o.Archive, o.Service, res.Snapshot, o.Source)
		} else {
			fmt.Fprintf(stdout, "%s, %s between target %s and snapshot %d of %s\n",
				plural(len(res.Problems), "problem"), plural(len(res.Differences), "difference"), o.Service, res.Snapshot, o.Source)
		}
	}
	if !res.OK {
		return fmt.Errorf("target %s against snapshot %d of %s: %s, %s: %w",
			o.Service, res.Snapshot, o.Source, plural(len(res.Problems), "problem"), plural(len(res.Differences), "difference"), errDifferences)
	}
	return nil
}

func differenceName(d restore.Difference) string {
	if d.User != "" {
		return "user " + d.User
	}
	s := "channel " + d.Channel
	if d.Member != "" {
		s += " member " + d.Member
	}
	if d.Message != nil {
		s += " message " + *d.Message
	}
	return s
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/store"
)

type forgetOptions struct {
	Archive string
	Policy  store.Policy
	DryRun  bool
	Compact bool
	JSON    bool
}

func forgetCommand() *cli.Command {
	return &cli.Command{
		Name:  "forget",
		Usage: "remove the snapshots no keep rule keeps, and free the data only they used",
		Flags: []cli.Flag{archiveFlag(),
			&cli.IntFlag{Name: "keep-last", Usage: "keep the `N` newest snapshots of each service"},
			&cli.IntFlag{Name: "keep-daily", Usage: "keep the newest snapshot of each of the last `N` days with snapshots"},
			&cli.IntFlag{Name: "keep-weekly", Usage: "keep the newest snapshot of each of the last `N` weeks with snapshots"},
			&cli.IntFlag{Name: "keep-monthly", Usage: "keep the newest snapshot of each of the last `N` months with snapshots"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be removed; change nothing"},
			&cli.BoolFlag{Name: "compact", Usage: "rewrite the file afterwards so freed space returns to the file system"},
			jsonFlag()},
		Action: func(c *cli.Context) error {
			return runForget(c.Context, forgetOptions{
				Archive: c.String("archive"),
				Policy: store.Policy{Last: c.Int("keep-last"), Daily: c.Int("keep-daily"),
					Weekly: c.Int("keep-weekly"), Monthly: c.Int("keep-monthly")},
				DryRun: c.Bool("dry-run"), Compact: c.Bool("compact"), JSON: c.Bool("json"),
			}, c.App.Writer)
		},
	}
}

// forgetResult is the JSON result of forget.
type forgetResult struct {
	store.ForgetResult
	DryRun       bool  `json:"dry_run"`
	Compacted    bool  `json:"compacted"`
	SizeBefore   int64 `json:"size_before"`
	SizeAfter    int64 `json:"size_after"`
	ProblemsLeft int   `json:"problems"`
}

func runForget(_ context.Context, o forgetOptions, stdout io.Writer) error {
	p := o.Policy
	if p.Last < 0 || p.Daily < 0 || p.Weekly < 0 || p.Monthly < 0 {
		return usagef("--keep-* values cannot be negative")
	}
	if p.Last+p.Daily+p.Weekly+p.Monthly == 0 {
		return usagef("forget needs at least one rule: --keep-last, --keep-daily, --keep-weekly or --keep-monthly")
	}
	if err := needArchive(o.Archive); err != nil {
		return err
	}
	// A dry run opens the archive read-only, so it changes no byte of it.
	a, err := store.Open(o.Archive, store.Options{ReadOnly: o.DryRun})
	if err != nil {
		return err
	}
	defer a.Close()
	res := forgetResult{DryRun: o.DryRun, SizeBefore: fileSize(o.Archive)}
	if res.ForgetResult, err = a.Forget(p, o.DryRun); err != nil {
		return err
	}
	if o.Compact && !o.DryRun {
		if err := a.Compact(); err != nil {
			return err
		}
		res.Compacted = true
	}
	if !o.DryRun {
		problems, err := a.Check()
		if err != nil {
			return err
		}
		res.ProblemsLeft = len(problems)
	}
	res.SizeAfter = fileSize(o.Archive)
	if o.JSON {
		if err := printJSON(stdout, res); err != nil {
			return err
		}
	} else {
		if o.DryRun {
			fmt.Fprintf(stdout, "dry run: would keep snapshots %v and remove %v; nothing was freed, file %d bytes\n",
				res.Keep, res.Remove, res.SizeBefore)
		} else {
			fmt.Fprintf(stdout, "kept snapshots %v, removed %v, freed %d records; file %d -> %d bytes\n",
				res.Keep, res.Remove, res.FreedRecords, res.SizeBefore, res.SizeAfter)
		}
	}
	if res.ProblemsLeft > 0 {
		return fmt.Errorf("the archive has %d integrity problems after forget; run 'chatvault verify': %w", res.ProblemsLeft, errDifferences)
	}
	return nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

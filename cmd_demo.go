package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/restore"
	"github.com/chatvault/chatvault/store"
)

type demoOptions struct {
	Dir      string
	Channels int
	Messages int
}

func demoCommand() *cli.Command {
	def := emulator.DefaultConfig()
	return &cli.Command{
		Name:  "demo",
		Usage: "back up an in-process emulator's sample history, restore it into a second service and verify it",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "keep demo.vault in `DIR` (default: a new temporary folder)"},
			&cli.IntFlag{Name: "channels", Usage: "channels of sample history", Value: def.Channels},
			&cli.IntFlag{Name: "messages", Usage: "about this many messages per channel", Value: def.Messages},
		},
		Action: func(c *cli.Context) error {
			return runDemo(c.Context, demoOptions{Dir: c.String("dir"), Channels: c.Int("channels"), Messages: c.Int("messages")}, c.App.Writer)
		},
	}
}

// runDemo shows chatvault end to end on harmless data: nothing leaves the
// machine, and the archive is the only file written.
func runDemo(ctx context.Context, o demoOptions, stdout io.Writer) error {
	if o.Channels < 1 || o.Channels > 1000 || o.Messages < 0 || o.Messages > 100000 {
		return usagef("demo takes 1 to 1000 --channels and 0 to 100000 --messages")
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "chatvault-demo-")
		if err != nil {
			return fmt.Errorf("cannot create a folder for the demo archive: %w", err)
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create --dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "demo.vault")
	if err := replaceDemoArchive(path, stdout); err != nil {
		return err
	}
	step := func(n int, format string, args ...any) {
		fmt.Fprintf(stdout, "%d. "+format+"\n", append([]any{n}, args...)...)
	}

	cfg := emulator.DefaultConfig()
	cfg.Channels, cfg.Messages = o.Channels, o.Messages
	emu, err := emulator.New(cfg)
	if err != nil {
		return fmt.Errorf("starting the demo emulator: %w", err)
	}
	info, err := emu.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the demo emulator: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		emu.Shutdown(sctx)
	}()
	source, target := info.Services[0], info.Services[1]
	step(1, "emulator at %s: source service %s with %d channels of sample history, empty target %s",
		info.BaseURL, source, cfg.Channels, target)

	cl, err := remote.NewClient(remote.Credentials{AccountSID: info.AccountSID, AuthToken: info.AuthToken}, remote.WithBaseURL(info.BaseURL), remote.WithVersion(version))
	if err != nil {
		return err
	}
	a, err := store.Open(path, store.Options{Create: true})
	if err != nil {
		return err
	}
	defer a.Close()

	b, err := backup.Run(ctx, cl, a, backup.Options{Service: source})
	if err != nil {
		return fmt.Errorf("demo backup: %w", err)
	}
	step(2, "backup into %s: snapshot %d %s, %d channels, %d messages, %d requests in %.2fs (%.0f messages/s)",
		path, b.Snapshot, b.Status, b.Channels, b.Messages, b.Requests, b.DurationSeconds, rate(b.Messages, b.DurationSeconds))

	b2, err := backup.Run(ctx, cl, a, backup.Options{Service: source})
	if err != nil {
		return fmt.Errorf("demo incremental backup: %w", err)
	}
	step(3, "incremental backup: snapshot %d %s, %d added, %d changed, %d deleted, %d requests in %.2fs",
		b2.Snapshot, b2.Status, b2.Added, b2.Changed, b2.Deleted, b2.Requests, b2.DurationSeconds)

	before := emu.Stats()
	ro := restore.Options{Target: target, Source: source, Concurrency: cfg.Channels}
	r, err := restore.Run(ctx, cl, a, ro)
	if err != nil {
		return fmt.Errorf("demo restore: %w", err)
	}
	after := emu.Stats()
	step(4, "restore into %s: %d channels, %d members, %d messages, %d writes in %.2fs (%.0f messages/s), %d webhook-enabled writes",
		target, r.ChannelsCreated, r.Members, r.Messages, after.Writes-before.Writes, r.DurationSeconds,
		rate(r.Messages, r.DurationSeconds), after.WebhooksEnabledWrites-before.WebhooksEnabledWrites)
	media, unexpected := 0, len(r.Conflicts)+len(r.Failed)
	for _, s := range r.Skipped {
		if s.Kind == restore.SkipMedia {
			media++
		} else {
			unexpected++
		}
	}
	if media > 0 {
		fmt.Fprintf(stdout, "   %d media messages were not copied: their media belongs to the source service, and copying media between services is not supported yet (the archive keeps their metadata)\n", media)
	}

	r2, err := restore.Run(ctx, cl, a, ro)
	if err != nil {
		return fmt.Errorf("demo restore rerun: %w", err)
	}
	rerunWrites := emu.Stats().Writes - after.Writes
	step(5, "restore again (exactly once): %d messages created, %d already there, %d writes", r2.Messages, r2.MessagesSkipped, rerunWrites)

	diffs, err := restore.VerifyTarget(ctx, cl, a, ro)
	if err != nil {
		return fmt.Errorf("demo verification: %w", err)
	}
	problems, err := a.Check()
	if err != nil {
		return err
	}
	step(6, "verify: %d differences between the restored history and the backup, %d archive integrity problems", len(diffs), len(problems))
	for i, d := range diffs {
		if i == 10 {
			fmt.Fprintf(stdout, "   … and %d more\n", len(diffs)-10)
			break
		}
		msg := ""
		if d.Message != nil {
			msg = " message " + *d.Message
		}
		fmt.Fprintf(stdout, "   %s channel %s%s %v\n", d.Kind, d.Channel, msg, d.Fields)
	}
	if len(diffs) > 0 || len(problems) > 0 || unexpected > 0 || rerunWrites != 0 {
		return fmt.Errorf("the restored history does not match the source: %w", errDifferences)
	}
	if media > 0 {
		fmt.Fprintf(stdout, "the restored history matches the source field for field, except the %d media messages above. Archive: %s\n", media, path)
	} else {
		fmt.Fprintf(stdout, "the restored history matches the source, field for field. Archive: %s\n", path)
	}
	return nil
}

// replaceDemoArchive removes the archive an earlier demo left at path: a
// new demo's emulator has the same service SIDs, so the old journal would
// make the restore believe it had already run. A file there that is not a
// chatvault archive is left alone and refused.
func replaceDemoArchive(path string, stdout io.Writer) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	a, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%s is in the way of the demo: %w", path, err)
	}
	a.Close()
	fmt.Fprintf(stdout, "0. replacing the archive of an earlier demo at %s\n", path)
	return os.Remove(path)
}

func rate(n int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}

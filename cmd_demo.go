package main

import (
	"context"
	"crypto/sha256"
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

	cl, err := remote.NewClient(remote.Credentials{AccountSID: info.AccountSID, AuthToken: info.AuthToken},
		remote.WithBaseURL(info.BaseURL), remote.WithMediaURL(info.MediaURL), remote.WithVersion(version))
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
	step(2, "backup into %s: snapshot %d %s, %d channels, %d messages, %d media files (%s), %d requests in %.2fs (%.0f messages/s)",
		path, b.Snapshot, b.Status, b.Channels, b.Messages, b.MediaFiles, megabytes(b.MediaBytes), b.Requests, b.DurationSeconds,
		rate(b.Messages, b.DurationSeconds))

	b2, err := backup.Run(ctx, cl, a, backup.Options{Service: source})
	if err != nil {
		return fmt.Errorf("demo incremental backup: %w", err)
	}
	step(3, "incremental backup: snapshot %d %s, %d added, %d changed, %d deleted, %d media files downloaded, %d requests in %.2fs",
		b2.Snapshot, b2.Status, b2.Added, b2.Changed, b2.Deleted, b2.MediaFiles, b2.Requests, b2.DurationSeconds)

	before := emu.Stats()
	ro := restore.Options{Target: target, Source: source, Concurrency: cfg.Channels}
	r, err := restore.Run(ctx, cl, a, ro)
	if err != nil {
		return fmt.Errorf("demo restore: %w", err)
	}
	after := emu.Stats()
	step(4, "restore into %s: %d channels, %d members, %d messages, %d media files uploaded (%s), %d writes in %.2fs (%.0f messages/s), %d webhook-enabled writes",
		target, r.ChannelsCreated, r.Members, r.Messages, r.MediaUploaded, megabytes(r.MediaBytes), after.Writes-before.Writes, r.DurationSeconds,
		rate(r.Messages, r.DurationSeconds), after.WebhooksEnabledWrites-before.WebhooksEnabledWrites)
	unexpected := len(r.Conflicts) + len(r.Failed) + len(r.Skipped)
	for _, s := range r.Skipped {
		fmt.Fprintf(stdout, "   skipped: channel %s message %s: %s\n", s.Channel, s.Message, s.Reason)
	}

	r2, err := restore.Run(ctx, cl, a, ro)
	if err != nil {
		return fmt.Errorf("demo restore rerun: %w", err)
	}
	rerunWrites := emu.Stats().Writes - after.Writes
	rerunUploads := emu.Stats().MediaUploads - after.MediaUploads
	step(5, "restore again (exactly once): %d messages created, %d already there, %d writes, %d media uploads",
		r2.Messages, r2.MessagesSkipped, rerunWrites, rerunUploads)

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
	files, err := compareFiles(ctx, cl, source, target)
	if err != nil {
		return fmt.Errorf("demo media comparison: %w", err)
	}
	step(7, "media: %d restored files (%s) fetched from the target's Media service, %d of them with the SHA-256 of the source's file",
		files.files, megabytes(files.bytes), files.files-len(files.bad))
	for i, b := range files.bad {
		if i == 10 {
			fmt.Fprintf(stdout, "   … and %d more\n", len(files.bad)-10)
			break
		}
		fmt.Fprintf(stdout, "   %s\n", b)
	}
	if len(diffs) > 0 || len(problems) > 0 || unexpected > 0 || rerunWrites != 0 || rerunUploads != 0 || len(files.bad) > 0 || files.files != b.MediaFiles {
		return fmt.Errorf("the restored history does not match the source: %w", errDifferences)
	}
	fmt.Fprintf(stdout, "the restored history matches the source, field for field and byte for byte. Archive: %s\n", path)
	return nil
}

// fileComparison is what compareFiles found.
type fileComparison struct {
	files int      // media files compared
	bytes int64    // their bytes, on one side
	bad   []string // one line per difference
}

// compareFiles fetches the file of every media message of the target
// service and of the source's message it restores from each service's
// Media service, and compares their SHA-256. Channels are paired by unique
// name (every demo channel has one) and their media messages in order.
func compareFiles(ctx context.Context, cl *remote.Client, source, target string) (fileComparison, error) {
	var out fileComparison
	media := func(service string) (map[string][]*remote.Media, error) {
		byName := map[string][]*remote.Media{}
		for ch, err := range cl.ListChannels(ctx, service) {
			if err != nil {
				return nil, err
			}
			byName[ch.UniqueName] = []*remote.Media{}
			for m, err := range cl.ListMessages(ctx, service, ch.SID, remote.ListOptions{}) {
				if err != nil {
					return nil, err
				}
				if m.Media != nil {
					byName[ch.UniqueName] = append(byName[ch.UniqueName], m.Media)
				}
			}
		}
		return byName, nil
	}
	src, err := media(source)
	if err != nil {
		return out, err
	}
	dst, err := media(target)
	if err != nil {
		return out, err
	}
	for name, sm := range src {
		dm, ok := dst[name]
		if !ok || len(dm) != len(sm) {
			out.bad = append(out.bad, fmt.Sprintf("channel %q: %d media messages in the source, %d in the target", name, len(sm), len(dm)))
			continue
		}
		for i := range sm {
			a, n, err := fileSHA256(ctx, cl, source, sm[i].SID)
			if err != nil {
				return out, err
			}
			b, _, err := fileSHA256(ctx, cl, target, dm[i].SID)
			if err != nil {
				return out, err
			}
			out.files++
			out.bytes += n
			if a != b {
				out.bad = append(out.bad, fmt.Sprintf("channel %q: media %s (SHA-256 %x) was restored as %s with SHA-256 %x", name, sm[i].SID, a, dm[i].SID, b))
			}
		}
	}
	return out, nil
}

// fileSHA256 downloads media sid of service and returns its SHA-256 and length.
func fileSHA256(ctx context.Context, cl *remote.Client, service, sid string) ([sha256.Size]byte, int64, error) {
	var sum [sha256.Size]byte
	_, body, err := cl.OpenMedia(ctx, service, sid)
	if err != nil {
		return sum, 0, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return sum, n, fmt.Errorf("downloading media %s of %s: %w", sid, service, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
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

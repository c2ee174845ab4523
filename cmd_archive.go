package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// openArchiveRead opens an existing archive for reading.
func openArchiveRead(path string) (*store.Archive, error) {
	if err := needArchive(path); err != nil {
		return nil, err
	}
	return store.Open(path, store.Options{ReadOnly: true})
}

// ---- snapshots

type snapshotsOptions struct {
	Archive string
	JSON    bool
}

func snapshotsCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshots",
		Usage: "list the snapshots in the archive, oldest first",
		Flags: []cli.Flag{archiveFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			return runSnapshots(c.Context, snapshotsOptions{Archive: c.String("archive"), JSON: c.Bool("json")}, c.App.Writer)
		},
	}
}

// snapshotJSON is a snapshot as `snapshots --json` prints it; finished is
// null while a snapshot runs.
type snapshotJSON struct {
	ID       uint64     `json:"id"`
	Service  string     `json:"service"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`
	Status   string     `json:"status"`
	Full     bool       `json:"full"`
	Channels int        `json:"channels"`
	Messages int        `json:"messages"`
	Added    int        `json:"added"`
	Changed  int        `json:"changed"`
	Deleted  int        `json:"deleted"`
	// Channels, members and users added, changed or deleted.
	ChannelsChanged int      `json:"channels_changed"`
	MembersChanged  int      `json:"members_changed"`
	UsersChanged    int      `json:"users_changed"`
	Requests        int64    `json:"requests"`
	Failed          []string `json:"failed,omitempty"`
	API             string   `json:"api"` // the API the snapshot was read through
}

func toSnapshotJSON(s store.Snapshot) snapshotJSON {
	j := snapshotJSON{ID: s.ID, Service: s.Service, Started: s.Started.UTC(), Status: string(s.Status), Full: s.Full,
		Channels: s.Channels, Messages: s.Messages, Added: s.Added, Changed: s.Changed, Deleted: s.Deleted,
		ChannelsChanged: s.ChannelsChanged, MembersChanged: s.MembersChanged, UsersChanged: s.UsersChanged,
		Requests: s.Requests, Failed: s.Failed, API: snapshotAPI(s)}
	if !s.Finished.IsZero() {
		f := s.Finished.UTC()
		j.Finished = &f
	}
	return j
}

// snapshotAPI is the API snapshot s was read through: snapshots of earlier
// releases record none, and were read through Chat.
func snapshotAPI(s store.Snapshot) string { return cmp.Or(s.API, remote.APIChat) }

func runSnapshots(_ context.Context, o snapshotsOptions, stdout io.Writer) error {
	a, err := openArchiveRead(o.Archive)
	if err != nil {
		return err
	}
	defer a.Close()
	snaps, err := a.Snapshots()
	if err != nil {
		return err
	}
	out := make([]snapshotJSON, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, toSnapshotJSON(s))
	}
	if o.JSON {
		return printJSON(stdout, map[string]any{"snapshots": out})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tSTARTED\tFINISHED\tSTATUS\tKIND\tCHANNELS\tMESSAGES\tADDED\tCHANGED\tDELETED\tAPI")
	seen := map[string]bool{}
	for _, s := range out {
		fin := "-"
		if s.Finished != nil {
			fin = s.Finished.Format(time.RFC3339)
		}
		// A service's first snapshot reads every message, as --full does.
		kind := "incremental"
		if s.Full || !seen[s.Service] {
			kind = "full"
		}
		seen[s.Service] = true
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", s.ID, s.Service, s.Started.Format(time.RFC3339), fin, s.Status,
			kind, s.Channels, s.Messages, s.Added, s.Changed, s.Deleted, s.API)
	}
	return tw.Flush()
}

// ---- ls

type lsOptions struct {
	Archive  string
	Snapshot string
	Service  string
	Channel  string
	Users    bool
	JSON     bool
}

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ls",
		Usage: "list a snapshot's channels, or one channel's messages",
		Flags: []cli.Flag{archiveFlag(), snapshotFlag(),
			&cli.StringFlag{Name: "service", Usage: "service `SID` (IS…) when the archive holds several"},
			&cli.StringFlag{Name: "channel", Usage: "list this channel's messages (`CH…|UNIQUE_NAME`)"},
			&cli.BoolFlag{Name: "users", Usage: "list the snapshot's users instead of its channels"},
			jsonFlag()},
		Action: func(c *cli.Context) error {
			return runLs(c.Context, lsOptions{Archive: c.String("archive"), Snapshot: c.String("snapshot"),
				Service: c.String("service"), Channel: c.String("channel"), Users: c.Bool("users"), JSON: c.Bool("json")}, c.App.Writer)
		},
	}
}

// channelSummary is the part of a channel `ls` shows.
type channelSummary struct {
	SID          string `json:"sid"`
	UniqueName   string `json:"unique_name"`
	FriendlyName string `json:"friendly_name"`
	Type         string `json:"type"`
	Messages     int    `json:"messages"`
	Members      int    `json:"members"`
}

// checkSelection validates --snapshot and --service.
func checkSelection(sel, service string) error {
	if err := checkSnapshotSel(sel); err != nil {
		return err
	}
	return checkOptionalSID("--service", "IS", service)
}

// openSnapshot validates the selection flags, then opens the archive at
// path for reading and the snapshot sel of service in it. The caller closes
// the archive.
func openSnapshot(path, sel, service string, channels []string) (*store.Archive, *store.View, error) {
	if err := checkSelection(sel, service); err != nil {
		return nil, nil, err
	}
	if err := checkChannels(channels); err != nil {
		return nil, nil, err
	}
	a, err := openArchiveRead(path)
	if err != nil {
		return nil, nil, err
	}
	v, err := openView(a, sel, service)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, v, nil
}

// openView opens the snapshot sel of service for reading.
func openView(a *store.Archive, sel, service string) (*store.View, error) {
	snap, err := a.ResolveSnapshot(sel, service)
	if err != nil {
		return nil, err
	}
	return a.View(snap.ID)
}

func runLs(_ context.Context, o lsOptions, stdout io.Writer) error {
	if o.Users && o.Channel != "" {
		return usagef("ls takes --users or --channel, not both")
	}
	var sel []string
	if o.Channel != "" {
		sel = []string{o.Channel}
	}
	a, v, err := openSnapshot(o.Archive, o.Snapshot, o.Service, sel)
	if err != nil {
		return err
	}
	defer a.Close()
	if o.Channel != "" {
		return lsChannel(v, o, stdout)
	}
	if o.Users {
		return lsUsers(v, o, stdout)
	}
	chs, err := v.Channels()
	if err != nil {
		return err
	}
	api := snapshotAPI(v.Snapshot())
	sums := make([]channelSummary, 0, len(chs))
	for _, ch := range chs {
		var s channelSummary
		if err := decodeShaped(api, remote.KindChannel, ch.Raw, &s); err != nil {
			return fmt.Errorf("channel %s in the archive: %w", ch.SID, err)
		}
		if s.Messages, err = v.MessageCount(ch.SID); err != nil {
			return err
		}
		ms, err := v.Members(ch.SID)
		if err != nil {
			return err
		}
		s.Members = len(ms)
		sums = append(sums, s)
	}
	if o.JSON {
		return printJSON(stdout, map[string]any{"snapshot": v.Snapshot().ID, "api": api, "channels": sums})
	}
	fmt.Fprintln(stdout, snapshotLine(v.Snapshot()))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SID\tUNIQUE NAME\tTYPE\tMEMBERS\tMESSAGES\tFRIENDLY NAME")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", s.SID, s.UniqueName, s.Type, s.Members, s.Messages, s.FriendlyName)
	}
	return tw.Flush()
}

// snapshotLine heads `ls`: which snapshot, of which service, read through
// which API.
func snapshotLine(s store.Snapshot) string {
	return fmt.Sprintf("snapshot %d of %s, read through %s", s.ID, s.Service, snapshotAPI(s))
}

// decodeShaped decodes raw, a record of kind archived by a snapshot read
// through api, in Chat's shape (remote.ChatShape) into v.
func decodeShaped(api, kind string, raw []byte, v any) error {
	shaped, err := remote.ChatShape(api, kind, raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(shaped, v)
}

// userSummary is the part of a user `ls --users` shows.
type userSummary struct {
	SID          string `json:"sid"`
	Identity     string `json:"identity"`
	FriendlyName string `json:"friendly_name"`
	RoleSID      string `json:"role_sid"`
}

// lsUsers prints the snapshot's users.
func lsUsers(v *store.View, o lsOptions, stdout io.Writer) error {
	us, err := v.Users()
	if err != nil {
		return err
	}
	api := snapshotAPI(v.Snapshot())
	sums := make([]userSummary, 0, len(us))
	for _, u := range us {
		var s userSummary
		if err := decodeShaped(api, remote.KindUser, u.Raw, &s); err != nil {
			return fmt.Errorf("user %s in the archive: %w", u.SID, err)
		}
		sums = append(sums, s)
	}
	if o.JSON {
		return printJSON(stdout, map[string]any{"snapshot": v.Snapshot().ID, "api": api, "users": sums})
	}
	fmt.Fprintln(stdout, snapshotLine(v.Snapshot()))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SID\tIDENTITY\tROLE\tFRIENDLY NAME")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.SID, s.Identity, s.RoleSID, s.FriendlyName)
	}
	return tw.Flush()
}

// lsChannel prints one channel's messages, streaming them so a large
// channel never sits in memory.
func lsChannel(v *store.View, o lsOptions, stdout io.Writer) error {
	ch, err := v.Channel(o.Channel)
	if err != nil {
		return fmt.Errorf("channel %q in snapshot %d: %w", o.Channel, v.Snapshot().ID, err)
	}
	w := bufio.NewWriter(stdout)
	if o.JSON {
		fmt.Fprintf(w, `{"snapshot":%d,"channel":%q,"messages":[`, v.Snapshot().ID, ch.SID)
	}
	n := 0
	api := snapshotAPI(v.Snapshot())
	var buf bytes.Buffer
	for m, err := range v.Messages(ch.SID) {
		if err != nil {
			return err
		}
		if o.JSON {
			if n > 0 {
				w.WriteByte(',')
			}
			buf.Reset()
			if err := json.Compact(&buf, m.Raw); err != nil {
				return fmt.Errorf("message %s in the archive is not JSON: %w", m.SID, err)
			}
			w.Write(buf.Bytes())
		} else {
			w.WriteString(lsLine(api, m))
		}
		n++
	}
	if o.JSON {
		w.WriteString("]}\n")
	}
	return w.Flush()
}

// ---- export

type exportOptions struct {
	Archive  string
	Snapshot string
	Service  string
	Channels []string
	Output   string
	Format   string // jsonl (default) or html
	MediaDir string // "" = no files, only the lines
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a snapshot as JSON Lines (its users, then each channel with its members and messages) or as HTML transcripts",
		Flags: []cli.Flag{archiveFlag(), snapshotFlag(),
			&cli.StringFlag{Name: "service", Usage: "service `SID` (IS…) when the archive holds several"},
			channelFlag("only this channel (`CH…|UNIQUE_NAME`); repeat for more"),
			&cli.StringFlag{Name: "output", Usage: "write to `FILE`; - is stdout; with --format html, the folder to write the pages into", Value: "-"},
			&cli.StringFlag{Name: "format", Usage: "jsonl, or html for an index.html and one transcript per channel", Value: "jsonl"},
			&cli.StringFlag{Name: "media-dir", Usage: "also write the media files into `DIR`, named by media SID; each message line with media names its file (html: DIR/media by default)"}},
		Action: func(c *cli.Context) error {
			return runExport(c.Context, exportOptions{Archive: c.String("archive"), Snapshot: c.String("snapshot"),
				Service: c.String("service"), Channels: c.StringSlice("channel"), Output: c.String("output"),
				Format: c.String("format"), MediaDir: c.String("media-dir")}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runExport(ctx context.Context, o exportOptions, stdout, stderr io.Writer) (err error) {
	if err := o.checkFormat(); err != nil {
		return err
	}
	a, v, err := openSnapshot(o.Archive, o.Snapshot, o.Service, o.Channels)
	if err != nil {
		return err
	}
	defer a.Close()
	chs, err := selectChannels(v, o.Channels)
	if err != nil {
		return err
	}
	if o.Format == "html" {
		return exportHTML(ctx, a, v, chs, o, stdout, stderr)
	}
	var media *mediaExporter
	if o.MediaDir != "" {
		if media, err = newMediaExporter(a, v, o.MediaDir); err != nil {
			return err
		}
	}
	out := stdout
	if o.Output != "-" && o.Output != "" {
		f, ferr := createAtomic(o.Output)
		if ferr != nil {
			return fmt.Errorf("cannot write the export: %w", ferr)
		}
		defer func() { err = f.finish(err) }() // err: runExport's result
		out = f
	}
	w := bufio.NewWriterSize(out, 1<<16)
	var buf bytes.Buffer
	// line writes {"key": raw}, with "media_file" beside the message when
	// its file was exported.
	line := func(key string, raw []byte, mediaFile string) error {
		buf.Reset()
		buf.WriteString(`{"` + key + `":`)
		if err := json.Compact(&buf, raw); err != nil {
			return fmt.Errorf("a %s in the archive is not JSON: %w", key, err)
		}
		if mediaFile != "" {
			name, _ := json.Marshal(mediaFile)
			buf.WriteString(`,"media_file":`)
			buf.Write(name)
		}
		buf.WriteString("}\n")
		_, err := w.Write(buf.Bytes())
		return err
	}
	// Users first, so that a reader meets each identity before its
	// members and messages.
	users, err := v.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := line("user", u.Raw, ""); err != nil {
			return err
		}
	}
	for _, ch := range chs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := line("channel", ch.Raw, ""); err != nil {
			return err
		}
		ms, err := v.Members(ch.SID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := line("member", m.Raw, ""); err != nil {
				return err
			}
		}
		for m, err := range v.Messages(ch.SID) {
			if err != nil {
				return err
			}
			file := ""
			if media != nil {
				if file, err = media.file(m.Raw); err != nil {
					return err
				}
			}
			if err := line("message", m.Raw, file); err != nil {
				return err
			}
		}
	}
	if media != nil && len(media.missing) > 0 {
		fmt.Fprintf(stderr, "%d media files are not in the archive (backed up with --no-media, or before chatvault archived media files), e.g. %s; their messages have no media_file\n",
			len(media.missing), media.missing[0])
	}
	return w.Flush()
}

// selectChannels returns the snapshot's channels, or those named by sel (SID
// or unique name) in snapshot order.
func selectChannels(v *store.View, sel []string) ([]store.ChannelRecord, error) {
	all, err := v.Channels()
	if err != nil || len(sel) == 0 {
		return all, err
	}
	want := make(map[string]bool)
	for _, s := range sel {
		ch, err := v.Channel(s)
		if err != nil {
			return nil, fmt.Errorf("channel %q is not in snapshot %d: %w", s, v.Snapshot().ID, err)
		}
		want[ch.SID] = true
	}
	var out []store.ChannelRecord
	for _, ch := range all {
		if want[ch.SID] {
			out = append(out, ch)
		}
	}
	return out, nil
}

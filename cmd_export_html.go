package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/chatvault/chatvault/store"
	"github.com/chatvault/chatvault/transcript"
)

// checkFormat validates --format and the --output it needs.
func (o exportOptions) checkFormat() error {
	switch o.Format {
	case "", "jsonl":
		return nil
	case "html":
		if o.Output == "" || o.Output == "-" {
			return usagef("--format html writes a folder of pages: give it with --output DIR")
		}
		return nil
	}
	return usagef("--format %q is not a known format: give jsonl or html", o.Format)
}

// exportHTML writes the transcripts of chs into o.Output and says where.
func exportHTML(ctx context.Context, a *store.Archive, v *store.View, chs []store.ChannelRecord, o exportOptions, stdout, stderr io.Writer) error {
	if chs == nil {
		chs = []store.ChannelRecord{}
	}
	res, err := transcript.Write(ctx, v, o.Output, transcript.Options{Channels: chs, AllChannels: len(o.Channels) == 0})
	if err != nil {
		return err
	}
	// The pages show images and link files from media/ beside them.
	dir := o.MediaDir
	if dir == "" {
		dir = filepath.Join(o.Output, "media")
	}
	media, err := newMediaExporter(a, v, dir)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		for m, err := range v.Messages(ch.SID) {
			if err != nil {
				return err
			}
			if _, err := media.file(m.Raw); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "wrote %d channels, %d messages in %d pages; open %s/index.html\n", res.Channels, res.Messages, res.Pages, o.Output)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if res.Removed > 0 {
		fmt.Fprintf(stdout, "removed %d pages an earlier export had left in %s\n", res.Removed, o.Output)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/store"
)

type repairOptions struct {
	Archive string
	Output  string
	JSON    bool
}

func repairCommand() *cli.Command {
	return &cli.Command{
		Name:  "repair",
		Usage: "copy every record of a damaged archive that still reads back intact into a new archive",
		Flags: []cli.Flag{
			archiveFlag(),
			&cli.StringFlag{Name: "output", Usage: "the new archive `FILE`; it must not exist"},
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			return runRepair(c.Context, repairOptions{Archive: c.String("archive"), Output: c.String("output"), JSON: c.Bool("json")}, c.App.Writer)
		},
	}
}

// runRepair copies the archive with store.Repair. It exits 0 when
// nothing was lost and 3 (errPartial) when something was: the result
// lists it.
func runRepair(_ context.Context, o repairOptions, stdout io.Writer) error {
	if err := needArchive(o.Archive); err != nil {
		return err
	}
	switch _, err := os.Lstat(o.Output); {
	case o.Output == "":
		return usagef("repair needs --output NEW, the file to write the repaired archive to")
	case err == nil || !errors.Is(err, fs.ErrNotExist):
		return usagef("--output %s already exists; repair writes a new file and never overwrites one: name another", o.Output)
	}
	if same, _ := samePath(o.Archive, o.Output); same {
		return usagef("--output must name a new file, not the archive")
	}
	res, err := store.Repair(o.Archive, o.Output)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := printJSON(stdout, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "wrote %s: %d records and %d media files copied, %d snapshots (%d marked damaged)\n",
			res.Output, res.Records, res.Content, len(res.Snapshots), res.Damaged)
		for _, p := range res.Lost {
			fmt.Fprintf(stdout, "lost: %s: %s\n", p.Where, p.What)
		}
		if more := res.LostCount - len(res.Lost); more > 0 {
			fmt.Fprintf(stdout, "lost: … and %d more\n", more)
		}
		for _, s := range res.Snapshots {
			if s.Status == store.StatusDamaged {
				fmt.Fprintf(stdout, "snapshot %d (%s, was %s) is marked damaged: it lost records it saw\n", s.ID, s.Service, s.Was)
			}
		}
	}
	if !res.Intact {
		return errPartial
	}
	return nil
}

// samePath reports whether paths a and b are the same (b may not exist).
func samePath(a, b string) (bool, error) {
	pa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	pb, err := filepath.Abs(b)
	return pa == pb, err
}

// atomicFile is an output written under a temporary name in its directory
// and renamed into place by finish, so a failed command leaves no partial
// file (export --output).
type atomicFile struct {
	*os.File
	path string
}

func createAtomic(path string) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
}

// finish renames the file into place when err is nil, and otherwise
// removes it; it returns err, or the error of finishing.
func (f *atomicFile) finish(err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(f.Name(), f.path); err == nil {
			return nil
		}
		err = fmt.Errorf("writing %s: %w", f.path, err)
	}
	_ = os.Remove(f.Name())
	return err
}

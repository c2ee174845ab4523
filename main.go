// Command chatvault backs up the message history of a Twilio Programmable
// Chat service into a local archive and restores it, faithfully and exactly
// once, into the same or another service. See README.md and
// ../shared/docs/cli.md for the command-line contract.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without os.Exit, so every deferred Close runs before the
// process ends and tests can drive the whole CLI in-process.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &countingWriter{w: stdout}
	err := newApp(out, stderr).RunContext(ctx, args)
	code := exitCode(ctx, err)
	if err != nil && code != exitOK {
		fmt.Fprintf(stderr, "chatvault: %s\n", errorText(err))
		// With --json, stdout carries one object even when the command
		// failed before it had a result, so a cron job's parser always
		// has something to read.
		if out.n == 0 && wantsJSON(args) {
			printJSON(stdout, map[string]any{"error": errorText(err), "exit_code": code})
		}
	}
	return code
}

// countingWriter counts what a command wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// wantsJSON reports whether the command line asked for a JSON result.
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "-json" || a == "--json=true" || a == "-json=true" {
			return true
		}
	}
	return false
}

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
	err := newApp(stdout, stderr).RunContext(ctx, args)
	code := exitCode(ctx, err)
	if err != nil && code != exitOK {
		fmt.Fprintf(stderr, "chatvault: %s\n", errorText(err))
	}
	return code
}

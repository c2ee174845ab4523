package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chatvault/chatvault/remote/emulator"
)

type emulateOptions struct {
	Listen string
	Config emulator.Config
}

func emulateCommand() *cli.Command {
	def := emulator.DefaultConfig()
	return &cli.Command{
		Name:  "emulate",
		Usage: "serve a local, stateful stand-in for the Chat v2, Conversations v1 and Media Content Service REST APIs",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "listen `ADDRESS`; port 0 picks a free port", Value: "127.0.0.1:8080"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the generated history", Value: def.Seed},
			&cli.IntFlag{Name: "channels", Usage: "channels of generated history", Value: def.Channels},
			&cli.IntFlag{Name: "messages", Usage: "about this many messages per channel", Value: def.Messages},
			&cli.DurationFlag{Name: "latency", Usage: "delay every response by `DURATION`"},
			&cli.IntFlag{Name: "max-concurrency", Usage: "answer 429 (20429) to requests beyond `N` in flight; 0 = unlimited"},
			&cli.IntFlag{Name: "write-rate", Usage: "answer 429 (50063) to writes beyond `N` per second in one channel; 0 = unlimited", Value: def.WriteRate},
			&cli.Float64Flag{Name: "fault-rate", Usage: "answer this `FRACTION` of requests with 500 or 503 without acting"},
			&cli.Float64Flag{Name: "lost-response-rate", Usage: "carry out this `FRACTION` of writes, then drop the connection"},
			&cli.StringFlag{Name: "chat-api", Usage: "serve Chat v2 (`on|off`); off answers every /v2 path 404 (20404), as after Chat's shutdown", Value: "on"},
			&cli.StringFlag{Name: "media-max-size", Usage: "largest generated media file: `SIZE` in bytes or with a unit (512KiB, 8MiB; 1 KiB to 150 MiB)", Value: "8MiB"},
		},
		Action: func(c *cli.Context) error {
			chatAPI, err := emulator.ParseAPISwitch(c.String("chat-api"))
			if err != nil {
				return usagef("--chat-api %s", err)
			}
			mediaMax, err := parseSize(c.String("media-max-size"))
			if err != nil {
				return usagef("--media-max-size: %v", err)
			}
			return runEmulate(c.Context, emulateOptions{
				Listen: c.String("listen"),
				Config: emulator.Config{
					Seed:             c.Int64("seed"),
					Channels:         c.Int("channels"),
					Messages:         c.Int("messages"),
					Latency:          c.Duration("latency"),
					MaxConcurrency:   c.Int("max-concurrency"),
					WriteRate:        c.Int("write-rate"),
					FaultRate:        c.Float64("fault-rate"),
					LostResponseRate: c.Float64("lost-response-rate"),
					ChatAPI:          chatAPI,
					MediaMaxSize:     mediaMax,
				},
			}, c.App.Writer)
		},
	}
}

func (o emulateOptions) validate() error {
	// The emulator's credentials follow from its seed: anyone can work them
	// out, so it serves only this machine.
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return usagef("--listen %q is not HOST:PORT like 127.0.0.1:8080", o.Listen)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--listen %q is not a loopback address: the emulator's credentials are predictable, so it serves only 127.0.0.1, ::1 or localhost", o.Listen)
	}
	c := o.Config
	switch {
	case c.Channels < 0 || c.Channels > 100000:
		return usagef("--channels %d is out of range: give 0 to 100000", c.Channels)
	case c.Messages < 0 || c.Messages > 1000000:
		return usagef("--messages %d is out of range: give 0 to 1000000", c.Messages)
	case c.Latency < 0:
		return usagef("--latency %s is negative", c.Latency)
	case c.MaxConcurrency < 0:
		return usagef("--max-concurrency %d is negative; 0 means unlimited", c.MaxConcurrency)
	case c.WriteRate < 0:
		return usagef("--write-rate %d is negative; 0 means unlimited", c.WriteRate)
	case c.FaultRate < 0 || c.FaultRate > 1:
		return usagef("--fault-rate %g is not a fraction between 0 and 1", c.FaultRate)
	case c.LostResponseRate < 0 || c.LostResponseRate > 1:
		return usagef("--lost-response-rate %g is not a fraction between 0 and 1", c.LostResponseRate)
	case c.MediaMaxSize < 1<<10 || c.MediaMaxSize > 150<<20:
		return usagef("--media-max-size %d bytes is out of range: give 1KiB to 150MiB", c.MediaMaxSize)
	}
	return nil
}

// sizeUnits are the units parseSize accepts, longest first.
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// parseSize reads a size in bytes, such as 1048576, 512KiB or 8MiB.
func parseSize(v string) (int64, error) {
	num, factor := strings.TrimSpace(v), int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, factor = strings.TrimSpace(n), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/factor {
		return 0, fmt.Errorf("%q is not a size; give bytes or a whole number with a unit such as 512KiB or 8MiB", v)
	}
	return n * factor, nil
}

// runEmulate serves until ctx is cancelled (SIGINT/SIGTERM), then shuts down cleanly.
func runEmulate(ctx context.Context, o emulateOptions, stdout io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	srv, err := emulator.New(o.Config)
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	info, err := srv.Start(o.Listen)
	if err != nil {
		return fmt.Errorf("emulator cannot listen on %s: %w", o.Listen, err)
	}
	if err := printJSON(stdout, info); err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/chatvault/chatvault/remote"
)

// version is chatvault's version: set at build time with -ldflags
// "-X main.version=…", or else read from the build info (see version.go).
var version string

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:            "chatvault",
		Usage:           "back up and restore the history of a Twilio chat service (Programmable Chat or Conversations), media files included",
		Version:         version,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// The completion scripts of 'generate' ask the binary for candidates.
		EnableBashCompletion: true,
		// Errors are printed and mapped to exit codes by run, once.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &usageError{err}
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q; run 'chatvault --help' for the list", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			backupCommand(),
			snapshotsCommand(),
			lsCommand(),
			exportCommand(),
			restoreCommand(),
			verifyCommand(),
			forgetCommand(),
			repairCommand(),
			emulateCommand(),
			demoCommand(),
			generateCommand(),
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
		cmd.Before = noArgs
		cmd.HideHelpCommand = true
	}
	return app
}

// noArgs refuses positional arguments: every input is a flag.
func noArgs(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("%s takes no arguments, got %q; see 'chatvault %s --help'", c.Command.Name, c.Args().First(), c.Command.Name)
	}
	return nil
}

// Flags shared by several commands.

func archiveFlag() cli.Flag {
	return &cli.StringFlag{Name: "archive", Usage: "archive `FILE`", EnvVars: []string{"CHATVAULT_ARCHIVE"}}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object on stdout"}
}

func quietFlag() cli.Flag {
	return &cli.BoolFlag{Name: "quiet", Usage: "no progress bar or messages on stderr"}
}

func snapshotFlag() cli.Flag {
	return &cli.StringFlag{Name: "snapshot", Usage: "snapshot `ID` or latest", Value: "latest"}
}

func channelFlag(usage string) cli.Flag {
	return &cli.StringSliceFlag{Name: "channel", Usage: usage}
}

// credentialFlags are the flags of every command that talks to a service.
func credentialFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "account-sid", Usage: "account SID (AC…)", EnvVars: []string{"TWILIO_ACCOUNT_SID"}},
		&cli.StringFlag{Name: "auth-token", Usage: "auth token", EnvVars: []string{"TWILIO_AUTH_TOKEN"}},
		&cli.StringFlag{Name: "api-key", Usage: "API key SID (SK…), used with --api-secret instead of the auth token", EnvVars: []string{"TWILIO_API_KEY"}},
		&cli.StringFlag{Name: "api-secret", Usage: "API key secret", EnvVars: []string{"TWILIO_API_SECRET"}},
		&cli.StringFlag{Name: "base-url", Usage: "API root; http:// only for loopback hosts", Value: "https://chat.twilio.com", EnvVars: []string{"CHATVAULT_BASE_URL"}},
		&cli.StringFlag{Name: "conversations-url", Usage: "Conversations v1 root; http:// only for loopback hosts", Value: remote.DefaultConversationsURL, EnvVars: []string{"CHATVAULT_CONVERSATIONS_URL"}},
		&cli.StringFlag{Name: "media-url", Usage: "Media Content Service root; http:// only for loopback hosts", Value: remote.DefaultMediaURL, EnvVars: []string{"CHATVAULT_MEDIA_URL"}},
		&cli.DurationFlag{Name: "timeout", Usage: "give up on one request after `DURATION`; failed reads are retried up to 8 times with backoff", Value: remote.DefaultTimeout},
	}
}

// connOptions are the credentials and endpoint of a service.
type connOptions struct {
	Creds   remote.Credentials
	BaseURL string
	Timeout time.Duration // per request; 0 means remote.DefaultTimeout
	// ConversationsURL is the Conversations v1 root; "" means remote.DefaultConversationsURL.
	ConversationsURL string
	// MediaURL is the Media Content Service's root; "" means remote.DefaultMediaURL.
	MediaURL string
}

func connFrom(c *cli.Context) connOptions {
	return connOptions{
		Creds: remote.Credentials{
			AccountSID: c.String("account-sid"),
			AuthToken:  c.String("auth-token"),
			APIKey:     c.String("api-key"),
			APISecret:  c.String("api-secret"),
		},
		BaseURL:  c.String("base-url"),
		Timeout:  c.Duration("timeout"),
		MediaURL: c.String("media-url"),

		ConversationsURL: c.String("conversations-url"),
	}
}

// apiFlag is --api of the commands that read or write a service.
func apiFlag() cli.Flag {
	return &cli.StringFlag{Name: "api", Value: remote.APIAuto,
		Usage: "which `API` reads or writes the service: auto (Chat v2 when the service answers there, else Conversations v1), chat or conversations",
		Action: func(_ *cli.Context, v string) error {
			if err := remote.CheckAPI(v); err != nil {
				return &usageError{fmt.Errorf("--api: %w", err)}
			}
			return nil
		}}
}

// validate checks the credentials' shape before any request is sent. It
// never repeats a secret.
func (o connOptions) validate() error {
	cr := o.Creds
	if cr.AccountSID == "" {
		return usagef("--account-sid (or TWILIO_ACCOUNT_SID) is required")
	}
	if err := checkSID("--account-sid", "AC", cr.AccountSID); err != nil {
		return err
	}
	switch {
	case cr.APIKey != "" || cr.APISecret != "":
		if err := checkSID("--api-key", "SK", cr.APIKey); err != nil {
			return err
		}
		if cr.APISecret == "" {
			return usagef("--api-secret (or TWILIO_API_SECRET) is required with --api-key")
		}
	case cr.AuthToken == "":
		return usagef("--auth-token (or TWILIO_AUTH_TOKEN) is required, or --api-key with --api-secret")
	}
	if o.Timeout < 0 || (o.Timeout > 0 && o.Timeout < 100*time.Millisecond) {
		return usagef("--timeout %s is too short: give at least 100ms", o.Timeout)
	}
	if err := checkRoot("--base-url", o.BaseURL, "https://chat.twilio.com"); err != nil {
		return err
	}
	if o.ConversationsURL != "" {
		if err := checkRoot("--conversations-url", o.ConversationsURL, remote.DefaultConversationsURL); err != nil {
			return err
		}
	}
	if o.MediaURL != "" {
		return checkRoot("--media-url", o.MediaURL, remote.DefaultMediaURL)
	}
	return nil
}

// checkRoot validates the API root given with flag; example is a good one.
func checkRoot(flag, root, example string) error {
	u, err := url.Parse(root)
	if err != nil {
		return usagef("%s is not a URL like %s", flag, example)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return usagef("%s %q is not an http(s) URL like %s", flag, u.Redacted(), example)
	}
	return nil
}

// client builds the API client for o.
func (o connOptions) client(opts ...remote.Option) (*remote.Client, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	base := []remote.Option{remote.WithBaseURL(o.BaseURL), remote.WithVersion(version)}
	if o.ConversationsURL != "" {
		base = append(base, remote.WithConversationsURL(o.ConversationsURL))
	}
	if o.MediaURL != "" {
		base = append(base, remote.WithMediaURL(o.MediaURL))
	}
	if o.Timeout != 0 {
		base = append(base, remote.WithTimeout(o.Timeout))
	}
	cl, err := remote.NewClient(o.Creds, append(base, opts...)...)
	if err != nil {
		return nil, &usageError{err}
	}
	return cl, nil
}

var sidPattern = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// checkSID validates a SID given on the command line.
func checkSID(flag, prefix, sid string) error {
	if sid == "" {
		return usagef("%s is required (a %s… SID)", flag, prefix)
	}
	if !strings.HasPrefix(sid, prefix) || !sidPattern.MatchString(sid) {
		// The value is not repeated: a secret pasted into the wrong flag
		// must not end up in a log.
		return usagef("%s is malformed (%d characters): expected %s followed by 32 hexadecimal digits", flag, len(sid), prefix)
	}
	return nil
}

// checkOptionalSID validates sid when it is given.
func checkOptionalSID(flag, prefix, sid string) error {
	if sid == "" {
		return nil
	}
	return checkSID(flag, prefix, sid)
}

// checkChannels validates --channel values: a CH SID or a unique name.
func checkChannels(chs []string) error {
	for _, ch := range chs {
		switch {
		case ch == "":
			return usagef("--channel needs a channel SID (CH…) or unique name")
		case strings.HasPrefix(ch, "CH") && len(ch) == 34 && !sidPattern.MatchString(ch):
			return usagef("--channel %q looks like a channel SID but is malformed: expected CH followed by 32 hexadecimal digits", ch)
		case len(ch) > 256:
			return usagef("--channel %q is too long for a unique name (at most 256 characters)", ch[:40]+"…")
		}
	}
	return nil
}

// parseTime parses an RFC 3339 time flag; "" gives the zero time.
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("%s %q is not an RFC 3339 time like 2026-11-20T00:00:00Z", flag, s)
	}
	return t.UTC(), nil
}

// checkSnapshotSel validates a --snapshot value: "latest" or a positive id.
func checkSnapshotSel(sel string) error {
	if sel == "" || sel == "latest" {
		return nil
	}
	if n, err := strconv.ParseUint(sel, 10, 64); err != nil || n == 0 {
		return usagef("--snapshot %q is neither a snapshot id (1, 2, …) nor latest", sel)
	}
	return nil
}

// needArchive validates --archive.
func needArchive(path string) error {
	if path == "" {
		return usagef("--archive FILE (or CHATVAULT_ARCHIVE) is required")
	}
	return nil
}

// isTerminal reports whether w is a terminal, so progress may be drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// printJSON writes v as one JSON object on stdout.
func printJSON(w io.Writer, v any) error {
	enc := newJSONEncoder(w)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}

// printResult writes a command's result as one JSON object on stdout;
// when the run ended with runErr, the object also carries "error", so a
// parser learns why without reading stderr.
func printResult(w io.Writer, res any, runErr error) error {
	if runErr == nil {
		return printJSON(w, res)
	}
	var buf bytes.Buffer
	if err := newJSONEncoder(&buf).Encode(res); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	obj := bytes.TrimRight(buf.Bytes(), "\n")
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return printJSON(w, res)
	}
	var msgBuf bytes.Buffer
	newJSONEncoder(&msgBuf).Encode(errorText(runErr))
	msg := bytes.TrimRight(msgBuf.Bytes(), "\n")
	if len(obj) > 2 {
		obj = append(obj[:len(obj)-1], ',')
	} else {
		obj = obj[:len(obj)-1]
	}
	obj = append(append(append(obj, `"error":`...), msg...), '}', '\n')
	_, err := w.Write(obj)
	return err
}

func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

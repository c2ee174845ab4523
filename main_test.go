package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// runCLI runs the whole CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"chatvault"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"nil", context.Background(), nil, exitOK},
		{"plain failure", context.Background(), errors.New("boom"), exitFailure},
		{"usage", context.Background(), usagef("bad"), exitUsage},
		{"wrapped usage", context.Background(), fmt.Errorf("x: %w", usagef("bad")), exitUsage},
		{"partial", context.Background(), errPartial, exitPartial},
		{"differences", context.Background(), errDifferences, exitDifferences},
		{"missing archive", context.Background(), fmt.Errorf("open: %w", store.ErrMissing), exitArchive},
		{"not an archive", context.Background(), store.ErrNotArchive, exitArchive},
		{"newer format", context.Background(), store.ErrNewerFormat, exitArchive},
		{"locked", context.Background(), fmt.Errorf("x: %w", store.ErrLocked), exitLocked},
		{"auth", context.Background(), fmt.Errorf("x: %w", remote.ErrAuthentication), exitAuth},
		{"signal", cancelled, fmt.Errorf("x: %w", context.Canceled), exitInterrupted},
		{"cancel without signal", context.Background(), context.Canceled, exitFailure},
		{"interrupted", context.Background(), errInterrupted, exitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.ctx, tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// TestUsageErrors checks that bad input is refused with exit 2 and a message
// naming what was wrong, before any request or archive access.
func TestUsageErrors(t *testing.T) {
	const (
		ac  = "AC0123456789abcdef0123456789abcdef"
		is  = "IS0123456789abcdef0123456789abcdef"
		tok = "secret-token-value"
	)
	archive := t.TempDir() + "/never-created.vault"
	creds := []string{"--account-sid", ac, "--auth-token", tok, "--base-url", "http://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown command", []string{"bakup"}, "unknown command"},
		{"unknown flag", []string{"backup", "--nope"}, "nope"},
		{"positional argument", []string{"snapshots", "--archive", archive, "extra"}, "takes no arguments"},
		{"backup without service", append([]string{"backup", "--archive", archive}, creds...), "--service is required"},
		{"backup malformed service", append([]string{"backup", "--archive", archive, "--service", "IS123"}, creds...), "--service is malformed"},
		{"backup wrong prefix", append([]string{"backup", "--archive", archive, "--service", "CH0123456789abcdef0123456789abcdef"}, creds...), "--service is malformed"},
		{"backup without archive", append([]string{"backup", "--service", is}, creds...), "--archive"},
		{"backup malformed channel", append([]string{"backup", "--archive", archive, "--service", is, "--channel", "CH0123456789abcdef0123456789abcdeZ"}, creds...), "malformed"},
		{"backup page size", append([]string{"backup", "--archive", archive, "--service", is, "--page-size", "101"}, creds...), "--page-size 101"},
		{"backup concurrency", append([]string{"backup", "--archive", archive, "--service", is, "--concurrency", "0"}, creds...), "--concurrency 0"},
		{"backup malformed account", []string{"backup", "--archive", archive, "--service", is, "--account-sid", "AC1", "--auth-token", tok}, "--account-sid is malformed"},
		{"backup no token", []string{"backup", "--archive", archive, "--service", is, "--account-sid", ac}, "--auth-token"},
		{"backup api key without secret", []string{"backup", "--archive", archive, "--service", is, "--account-sid", ac, "--api-key", "SK0123456789abcdef0123456789abcdef"}, "--api-secret"},
		{"backup bad base url", []string{"backup", "--archive", archive, "--service", is, "--account-sid", ac, "--auth-token", tok, "--base-url", "ftp://x"}, "--base-url"},
		{"backup bad media url", append([]string{"backup", "--archive", archive, "--service", is, "--media-url", "ftp://x"}, creds...), "--media-url"},
		{"restore media url not a url", append([]string{"restore", "--archive", archive, "--service", is, "--media-url", "mcs.example"}, creds...), "--media-url"},
		{"media url password redacted", append([]string{"verify", "--archive", archive, "--service", is, "--media-url", "ftp://u:" + tok + "@h"}, creds...), "--media-url"},
		{"backup media concurrency", append([]string{"backup", "--archive", archive, "--service", is, "--media-concurrency", "0"}, creds...), "--media-concurrency 0"},
		{"backup media concurrency too high", append([]string{"backup", "--archive", archive, "--service", is, "--media-concurrency", "65"}, creds...), "--media-concurrency 65"},
		{"base url password redacted", []string{"backup", "--archive", archive, "--service", is, "--account-sid", ac, "--auth-token", tok, "--base-url", "ftp://u:" + tok + "@h"}, "--base-url"},
		{"secret in the key flag not echoed", []string{"backup", "--archive", archive, "--service", is, "--account-sid", ac, "--api-key", tok, "--api-secret", "x"}, "--api-key is malformed"},
		{"restore bad since", append([]string{"restore", "--archive", archive, "--service", is, "--since", "yesterday"}, creds...), "RFC 3339"},
		{"restore bad as-of", append([]string{"restore", "--archive", archive, "--service", is, "--as-of", "2026-13-01T00:00:00Z"}, creds...), "RFC 3339"},
		{"restore until before since", append([]string{"restore", "--archive", archive, "--service", is, "--since", "2026-02-01T00:00:00Z", "--until", "2026-01-01T00:00:00Z"}, creds...), "before --since"},
		{"restore snapshot and as-of", append([]string{"restore", "--archive", archive, "--service", is, "--snapshot", "2", "--as-of", "2026-01-01T00:00:00Z"}, creds...), "give one of them"},
		{"restore bad snapshot", append([]string{"restore", "--archive", archive, "--service", is, "--snapshot", "two"}, creds...), "--snapshot"},
		{"restore bad source", append([]string{"restore", "--archive", archive, "--service", is, "--source", "ISxyz"}, creds...), "--source"},
		{"forget without rule", []string{"forget", "--archive", archive}, "at least one rule"},
		{"forget negative", []string{"forget", "--archive", archive, "--keep-last", "-1"}, "negative"},
		{"emulate bad fault rate", []string{"emulate", "--fault-rate", "1.5"}, "--fault-rate"},
		{"emulate on the network", []string{"emulate", "--listen", "0.0.0.0:0"}, "not a loopback address"},
		{"emulate bad listen", []string{"emulate", "--listen", "8080"}, "HOST:PORT"},
		{"emulate bad chat api", []string{"emulate", "--chat-api", "maybe"}, "--chat-api"},
		{"emulate media size not a size", []string{"emulate", "--media-max-size", "8 lots"}, "--media-max-size"},
		{"emulate media size under 1 KiB", []string{"emulate", "--media-max-size", "1000"}, "--media-max-size"},
		{"emulate media size over 150 MiB", []string{"emulate", "--media-max-size", "1GiB"}, "--media-max-size"},
		{"timeout too short", append([]string{"backup", "--archive", archive, "--service", is, "--timeout", "1ms"}, creds...), "--timeout"},
		{"ls bad snapshot", []string{"ls", "--archive", archive, "--snapshot", "0"}, "--snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
			if strings.Contains(stderr, tok) {
				t.Errorf("stderr leaks the auth token: %q", stderr)
			}
		})
	}
}

func TestPrintResult(t *testing.T) {
	type result struct {
		Status string `json:"status"`
		N      int    `json:"n"`
	}
	tests := []struct {
		name string
		res  any
		err  error
		want string
	}{
		{"no error", result{"complete", 2}, nil, `{"status":"complete","n":2}`},
		{"error appended", result{"failed", 0}, errors.New(`channel "x" <missing>`), `{"status":"failed","n":0,"error":"channel \"x\" <missing>"}`},
		{"empty object", struct{}{}, errors.New("boom"), `{"error":"boom"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printResult(&b, tt.res, tt.err); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(b.String()); got != tt.want {
				t.Errorf("printResult = %s, want %s", got, tt.want)
			}
		})
	}
}

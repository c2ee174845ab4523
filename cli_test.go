package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// binary is the chatvault binary built once for the tests that run it as a
// user would.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "chatvault-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chatvault")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building chatvault:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startEmulator runs `chatvault emulate` as a child process and returns
// what it printed when ready. The child is stopped with SIGINT at cleanup,
// and must exit 0.
func startEmulator(t *testing.T, args ...string) emulator.Info {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"emulate", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("emulate printed no ready line: %v; stderr: %s", err, stderr.String())
	}
	var info emulator.Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatalf("ready line %q is not JSON: %v", line, err)
	}
	if !strings.HasPrefix(info.BaseURL, "http://127.0.0.1:") || len(info.Services) != 2 ||
		!strings.HasPrefix(info.AccountSID, "AC") || info.AuthToken == "" || info.ConversationsURL != info.BaseURL {
		t.Fatalf("ready line lacks fields of cli.md: %s", line)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("emulate did not shut down cleanly on SIGINT: %v; stderr: %s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("emulate did not stop within 10s of SIGINT")
		}
	})
	return info
}

// emulatorEnv is the environment of a chatvault child: this process's,
// with the emulator's credentials and endpoint.
func emulatorEnv(info emulator.Info) []string {
	return append(os.Environ(),
		"TWILIO_ACCOUNT_SID="+info.AccountSID,
		"TWILIO_AUTH_TOKEN="+info.AuthToken,
		"CHATVAULT_BASE_URL="+info.BaseURL,
		"CHATVAULT_CONVERSATIONS_URL="+info.ConversationsURL,
		"CHATVAULT_MEDIA_URL="+info.MediaURL,
	)
}

// chatvault runs the built binary with the emulator's credentials in its
// environment and returns the exit code and output.
func chatvault(t *testing.T, info emulator.Info, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = emulatorEnv(info)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return exitResult(t, info, args, cmd.Run(), stdout.String(), stderr.String())
}

// exitResult turns how a chatvault child ended into its exit code, and
// checks that its output never shows the auth token.
func exitResult(t *testing.T, info emulator.Info, args []string, err error, stdout, stderr string) (int, string, string) {
	t.Helper()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout+stderr, info.AuthToken) {
		t.Errorf("chatvault %v leaked the auth token", args)
	}
	return code, stdout, stderr
}

// decodeJSON checks that out is exactly one JSON object with at least keys.
func decodeJSON(t *testing.T, out string, keys ...string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", out)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON result lacks %q: %s", k, out)
		}
	}
	return m
}

// TestBinaryEndToEnd drives the built binary through a user's whole day:
// emulate, backup, incremental backup, snapshots, ls, export, verify,
// restore, rerun, and the error exits.
func TestBinaryEndToEnd(t *testing.T) {
	info := startEmulator(t, "--channels", "4", "--messages", "30", "--seed", "7")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "e2e.vault")

	code, out, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive, "--json")
	if code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	b := decodeJSON(t, out, "snapshot", "service", "status", "channels", "messages", "added", "changed", "deleted", "requests", "duration_seconds")
	if b["status"] != "complete" || b["snapshot"] != 1.0 || b["channels"] != 4.0 || b["service"] != src ||
		b["media_files"] == 0.0 || b["media_bytes"] == 0.0 {
		t.Errorf("backup result: %s", out)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	code, out, _ = chatvault(t, info, "backup", "--service", src, "--archive", archive, "--json")
	b2 := decodeJSON(t, out, "snapshot")
	if code != 0 || b2["snapshot"] != 2.0 || b2["added"] != 0.0 || b2["messages"] != b["messages"] || b2["media_files"] != 0.0 {
		t.Errorf("incremental backup exit %d: %s", code, out)
	}
	if b2["requests"].(float64) >= b["requests"].(float64) {
		t.Errorf("incremental backup made %v requests, the first %v: nothing was skipped", b2["requests"], b["requests"])
	}

	code, out, _ = chatvault(t, info, "snapshots", "--archive", archive, "--json")
	snaps := decodeJSON(t, out, "snapshots")["snapshots"].([]any)
	if code != 0 || len(snaps) != 2 {
		t.Fatalf("snapshots exit %d: %s", code, out)
	}
	for _, k := range []string{"id", "service", "started", "finished", "status", "channels", "messages"} {
		if _, ok := snaps[0].(map[string]any)[k]; !ok {
			t.Errorf("snapshot lacks %q: %s", k, out)
		}
	}

	code, out, _ = chatvault(t, info, "ls", "--archive", archive, "--json")
	ls := decodeJSON(t, out, "snapshot", "channels")
	chs := ls["channels"].([]any)
	if code != 0 || len(chs) != 4 {
		t.Fatalf("ls exit %d: %s", code, out)
	}
	first := chs[0].(map[string]any)
	for _, k := range []string{"sid", "unique_name", "friendly_name", "type", "messages", "members"} {
		if _, ok := first[k]; !ok {
			t.Errorf("ls channel lacks %q", k)
		}
	}
	code, out, _ = chatvault(t, info, "ls", "--archive", archive, "--channel", first["unique_name"].(string), "--json")
	lc := decodeJSON(t, out, "snapshot", "channel", "messages")
	if code != 0 || lc["channel"] != first["sid"] || float64(len(lc["messages"].([]any))) != first["messages"] {
		t.Errorf("ls --channel exit %d: %.300s", code, out)
	}

	code, out, _ = chatvault(t, info, "export", "--archive", archive)
	if code != 0 {
		t.Fatalf("export exit %d", code)
	}
	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil || len(m) != 1 {
			t.Fatalf("export line is not one keyed object: %q", line)
		}
		for k := range m {
			kinds[k]++
		}
	}
	if kinds["channel"] != 4 || float64(kinds["message"]) != b["messages"] || kinds["member"] == 0 {
		t.Errorf("export counted %v", kinds)
	}
	checkMediaExport(t, info, archive, b["media_files"].(float64))

	// --no-media keeps the metadata only: export then names no file, and
	// says why.
	bare := filepath.Join(t.TempDir(), "bare.vault")
	code, out, _ = chatvault(t, info, "backup", "--service", src, "--archive", bare, "--no-media", "--json")
	if nb := decodeJSON(t, out, "media_files"); code != 0 || nb["media_files"] != 0.0 || nb["messages"] != b["messages"] {
		t.Errorf("backup --no-media exit %d: %s", code, out)
	}
	code, out, errOut = chatvault(t, info, "export", "--archive", bare, "--media-dir", filepath.Join(t.TempDir(), "none"))
	if code != 0 || strings.Contains(out, `"media_file"`) || !strings.Contains(errOut, "not in the archive") || !strings.Contains(errOut, "--no-media") {
		t.Errorf("export --media-dir of a --no-media archive: exit %d, stderr %q", code, errOut)
	}

	code, out, _ = chatvault(t, info, "verify", "--archive", archive, "--service", src, "--json")
	if v := decodeJSON(t, out, "ok", "problems", "differences"); code != 0 || v["ok"] != true {
		t.Errorf("verify --service exit %d: %s", code, out)
	}

	// The seeded history holds media messages: their files are uploaded to
	// the target, and every message is restored.
	code, out, _ = chatvault(t, info, "restore", "--archive", archive, "--service", dst, "--source", src, "--dry-run", "--json")
	dry := decodeJSON(t, out, "plan")
	plan := dry["plan"].(map[string]any)
	if code != exitOK || plan["media_uploads"] != b["media_files"] || plan["media_bytes"] != b["media_bytes"] {
		t.Fatalf("restore --dry-run exit %d: %s", code, out)
	}
	code, out, errOut = chatvault(t, info, "restore", "--archive", archive, "--service", dst, "--source", src, "--json", "--concurrency", "4")
	r := decodeJSON(t, out, "status", "target", "snapshot", "channels_created", "channels_skipped", "members", "messages", "messages_skipped",
		"conflicts", "requests", "duration_seconds", "media_uploaded", "media_uploaded_bytes")
	restored := b["messages"].(float64)
	if code != exitOK || r["status"] != "complete" || r["channels_created"] != 4.0 || r["messages"] != restored ||
		r["media_uploaded"] != b["media_files"] || r["media_uploaded_bytes"] != b["media_bytes"] || len(r["skipped"].([]any)) != 0 {
		t.Fatalf("restore exit %d: %s %s", code, out, errOut)
	}
	if plan["messages"] != restored {
		t.Errorf("dry run planned %v messages, the restore created %v", plan["messages"], restored)
	}
	code, out, _ = chatvault(t, info, "restore", "--archive", archive, "--service", dst, "--source", src, "--json")
	r2 := decodeJSON(t, out, "messages", "messages_skipped")
	if code != exitOK || r2["messages"] != 0.0 || r2["messages_skipped"] != restored || r2["media_uploaded"] != 0.0 {
		t.Errorf("restore rerun exit %d: %s", code, out)
	}

	// A restore that fails after choosing its snapshot says why in its result.
	code, out, _ = chatvault(t, info, "restore", "--archive", archive, "--service", dst, "--source", src, "--channel", "no-such-channel", "--json")
	if f := decodeJSON(t, out, "status", "error"); code != exitFailure || f["status"] != "failed" || !strings.Contains(f["error"].(string), "no-such-channel") {
		t.Errorf("restore of an unknown channel: exit %d: %s", code, out)
	}
	// Without --json, the error alone: no "restored" line for a restore
	// that did not start.
	if code, out, errOut := chatvault(t, info, "restore", "--archive", archive, "--service", dst, "--source", src, "--channel", "no-such-channel", "--dry-run"); code != exitFailure || out != "" || !strings.Contains(errOut, "no-such-channel") {
		t.Errorf("dry run of an unknown channel: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Error exits.
	cmd := []string{"backup", "--service", src, "--archive", archive, "--auth-token", strings.Repeat("0", 32)}
	if code, _, errOut := chatvault(t, info, cmd...); code != exitAuth {
		t.Errorf("wrong token: exit %d, want %d: %s", code, exitAuth, errOut)
	}
	fresh := filepath.Join(t.TempDir(), "fresh.vault")
	code, out, _ = chatvault(t, info, "backup", "--service", src, "--archive", fresh, "--auth-token", strings.Repeat("0", 32), "--json")
	if e := decodeJSON(t, out, "error", "exit_code"); code != exitAuth || e["exit_code"] != float64(exitAuth) {
		t.Errorf("wrong token with --json: exit %d, stdout %s", code, out)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a backup refused by the service left an archive behind: %v", err)
	}
	if code, _, errOut := chatvault(t, info, "verify", "--archive", archive, "--snapshot", "99"); code != exitFailure || !strings.Contains(errOut, "snapshot") {
		t.Errorf("verify of a snapshot that does not exist: exit %d: %s", code, errOut)
	}
	notArchive := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notArchive, []byte("not an archive\n"), 0o600)
	if code, _, errOut := chatvault(t, info, "snapshots", "--archive", notArchive); code != exitArchive {
		t.Errorf("not an archive: exit %d, want %d: %s", code, exitArchive, errOut)
	}
	if got, _ := os.ReadFile(notArchive); string(got) != "not an archive\n" {
		t.Errorf("a file that is not an archive was modified")
	}
	if code, _, _ := chatvault(t, info, "snapshots", "--archive", filepath.Join(t.TempDir(), "none.vault")); code != exitArchive {
		t.Errorf("missing archive: exit %d, want %d", code, exitArchive)
	}

	// A second writer is refused within about a second.
	a, err := store.Open(archive, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, _, errOut = chatvault(t, info, "backup", "--service", src, "--archive", archive)
	a.Close()
	if code != exitLocked || !strings.Contains(errOut, "locked") {
		t.Errorf("locked archive: exit %d, want %d: %s", code, exitLocked, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("locked archive took %s to report", d)
	}
}

// TestHelpGolden holds each command's --help text to a golden file, so a
// change to flags or their wording is a visible diff. Run with -update to
// rewrite them.
func TestHelpGolden(t *testing.T) {
	for _, cmd := range []string{"", "backup", "snapshots", "ls", "export", "restore", "verify", "forget", "emulate", "demo"} {
		name := cmd
		if name == "" {
			name = "chatvault"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--help"}
			if cmd != "" {
				args = []string{cmd, "--help"}
			}
			code, out, _ := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("--help exit %d", code)
			}
			golden := filepath.Join("testdata", "help", name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestHelpGolden -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("--help differs from %s (run with -update if intended):\n%s", golden, out)
			}
		})
	}
}

// checkMediaExport runs `export --media-dir` and checks that every message
// line with media names a file written there, as long as the message's
// media says, and that files are the archived ones (files in all).
func checkMediaExport(t *testing.T, info emulator.Info, archive string, files float64) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "media")
	code, out, errOut := chatvault(t, info, "export", "--archive", archive, "--media-dir", dir)
	if code != 0 {
		t.Fatalf("export --media-dir exit %d: %s", code, errOut)
	}
	named := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l struct {
			Message *remote.Message `json:"message"`
			File    string          `json:"media_file"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if l.Message == nil || l.Message.Media == nil {
			if l.File != "" {
				t.Errorf("a line without media names file %q", l.File)
			}
			continue
		}
		named++
		if !strings.HasPrefix(l.File, l.Message.Media.SID+".") || strings.ContainsAny(l.File, `/\`) {
			t.Errorf("media %s (%s) exported as %q", l.Message.Media.SID, l.Message.Media.ContentType, l.File)
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, l.File)); err != nil || fi.Size() != l.Message.Media.Size {
			t.Errorf("exported file %s: %v, want %d bytes", l.File, err, l.Message.Media.Size)
		}
	}
	entries, _ := os.ReadDir(dir)
	if float64(named) != files || float64(len(entries)) != files {
		t.Errorf("export named %d files and wrote %d, the backup archived %v", named, len(entries), files)
	}
}

// TestHelpHidesSecrets checks that --help names the environment variables
// but never shows a secret set in them.
func TestHelpHidesSecrets(t *testing.T) {
	const secret = "s3cr3tTokenValue"
	t.Setenv("TWILIO_AUTH_TOKEN", secret)
	t.Setenv("TWILIO_API_SECRET", secret)
	for _, cmd := range []string{"backup", "restore", "verify"} {
		code, out, _ := runCLI(t, cmd, "--help")
		if code != 0 || strings.Contains(out, secret) {
			t.Errorf("%s --help exit %d, shows the secret: %v", cmd, code, strings.Contains(out, secret))
		}
		for _, env := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET", "CHATVAULT_BASE_URL", "CHATVAULT_MEDIA_URL", "CHATVAULT_ARCHIVE"} {
			if !strings.Contains(out, env) {
				t.Errorf("%s --help does not name %s", cmd, env)
			}
		}
	}
}

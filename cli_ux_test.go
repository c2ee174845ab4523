package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/transcript"
)

// readmeExample is one command of the README's tested block.
type readmeExample struct {
	line string
	exit int
}

// readmeExamples reads the code block that follows the TestReadmeExamples
// marker in README.md: one command per line, "# exit N" giving the exit
// code it should end with (0 when absent).
func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- TestReadmeExamples runs the next block")
	if !ok {
		t.Fatal("README.md has no block marked for TestReadmeExamples")
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("the marked README block is not a ```sh fence")
	}
	exitRe := regexp.MustCompile(`#\s*exit (\d+)`)
	var out []readmeExample
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ex := readmeExample{line: line}
		if m := exitRe.FindStringSubmatch(line); m != nil {
			ex.exit, _ = strconv.Atoi(m[1])
		}
		out = append(out, ex)
	}
	if len(out) < 5 {
		t.Fatalf("the README block holds %d commands; expected the usage examples", len(out))
	}
	return out
}

// TestReadmeExamples runs the README's usage examples, in order, as a user
// pasting them into a shell would, against `chatvault emulate`, and checks
// each exit code.
func TestReadmeExamples(t *testing.T) {
	examples := readmeExamples(t)
	info := startEmulator(t, "--messages", "25", "--seed", "11")
	dir := t.TempDir()
	env := append(emulatorEnv(info),
		"CHATVAULT_ARCHIVE="+filepath.Join(dir, "chat.vault"),
		"SOURCE="+info.Services[0], "TARGET="+info.Services[1],
		"PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, ex := range examples {
		cmd := exec.Command("bash", "-c", ex.line)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code, _, errOut := exitResult(t, info, []string{ex.line}, cmd.Run(), stdout.String(), stderr.String())
		if code != ex.exit {
			t.Errorf("README: %s\nexit %d, the README says %d; stderr:\n%s", ex.line, code, ex.exit, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "transcripts", "index.html")); err != nil {
		t.Errorf("the README's HTML export wrote no index.html: %v", err)
	}
}

// TestUXEndToEnd checks, through the built binary against the emulator,
// what a user reads: ls marks media and edits, snapshots shows what each
// snapshot changed, the HTML export holds every message, a partial restore
// ends with one summary, a mistyped --channel records no snapshot.
func TestUXEndToEnd(t *testing.T) {
	info := startEmulator(t, "--channels", "4", "--messages", "40", "--seed", "5")
	src, dst := info.Services[0], info.Services[1]
	dir := t.TempDir()
	archive := filepath.Join(dir, "ux.vault")

	code, out, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive, "--json")
	if code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	total := int(decodeJSON(t, out, "messages")["messages"].(float64))

	t.Run("ls marks media and edits", func(t *testing.T) {
		code, out, _ := chatvault(t, info, "ls", "--archive", archive, "--json")
		if code != 0 {
			t.Fatalf("ls exit %d", code)
		}
		var media, edited int
		for _, ch := range decodeJSON(t, out, "channels")["channels"].([]any) {
			name := ch.(map[string]any)["unique_name"].(string)
			_, human, _ := chatvault(t, info, "ls", "--archive", archive, "--channel", name)
			_, js, _ := chatvault(t, info, "ls", "--archive", archive, "--channel", name, "--json")
			lines := strings.Split(strings.TrimRight(human, "\n"), "\n")
			var full struct {
				Messages []json.RawMessage `json:"messages"`
			}
			if err := json.Unmarshal([]byte(js), &full); err != nil || len(full.Messages) != len(lines) {
				t.Fatalf("channel %s: %d human lines, %d JSON messages (%v)", name, len(lines), len(full.Messages), err)
			}
			for i, raw := range full.Messages {
				var m struct {
					WasEdited bool `json:"was_edited"`
				}
				json.Unmarshal(raw, &m)
				if md, ok := transcript.MessageMedia(raw); ok {
					media++
					want := "[media: " + md.Filename + " (" + md.ContentType + ", "
					if !strings.Contains(lines[i], want) || strings.HasSuffix(lines[i], `""`) {
						t.Errorf("media message shown as %q, want %q", lines[i], want)
					}
				}
				if m.WasEdited {
					edited++
					if !strings.Contains(lines[i], "[edited") {
						t.Errorf("edited message not marked: %q", lines[i])
					}
				} else if strings.Contains(lines[i], "[edited") {
					t.Errorf("unedited message marked edited: %q", lines[i])
				}
			}
		}
		if media == 0 || edited == 0 {
			t.Errorf("the seeded history showed %d media and %d edited messages; the test saw none", media, edited)
		}
	})

	t.Run("snapshots shows changes", func(t *testing.T) {
		chatvault(t, info, "backup", "--service", src, "--archive", archive, "--full")
		code, out, _ := chatvault(t, info, "snapshots", "--archive", archive)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 {
			t.Fatalf("snapshots exit %d:\n%s", code, out)
		}
		for _, col := range []string{"KIND", "ADDED", "CHANGED", "DELETED"} {
			if !strings.Contains(lines[0], col) {
				t.Errorf("header lacks %s: %q", col, lines[0])
			}
		}
		if f := strings.Fields(lines[1]); len(f) < 11 || f[5] != "full" || f[8] != strconv.Itoa(total) {
			t.Errorf("first snapshot row %q: want full, %d added", lines[1], total)
		}
		if f := strings.Fields(lines[2]); len(f) < 11 || f[5] != "full" || f[8] != "0" {
			t.Errorf("--full snapshot row %q: want full, 0 added", lines[2])
		}
	})

	t.Run("html export", func(t *testing.T) {
		html := filepath.Join(dir, "html")
		code, out, errOut := chatvault(t, info, "export", "--archive", archive, "--format", "html", "--output", html)
		if code != 0 || !strings.Contains(out, "index.html") {
			t.Fatalf("export exit %d: %s %s", code, out, errOut)
		}
		pages, _ := filepath.Glob(filepath.Join(html, "CH*.html"))
		n := 0
		for _, p := range pages {
			b, _ := os.ReadFile(p)
			n += bytes.Count(b, []byte(`<article class="msg"`))
			if bytes.Contains(b, []byte("<script")) {
				t.Errorf("%s holds a script", p)
			}
		}
		if len(pages) != 4 || n != total {
			t.Errorf("%d pages holding %d messages, want 4 pages, %d messages", len(pages), n, total)
		}
		for _, args := range [][]string{{"--format", "html"}, {"--format", "pdf", "--output", html}} {
			if code, _, errOut := chatvault(t, info, append([]string{"export", "--archive", archive}, args...)...); code != exitUsage {
				t.Errorf("export %v: exit %d, want 2: %s", args, code, errOut)
			}
		}
	})

	t.Run("partial restore says why once", func(t *testing.T) {
		// Backed up without the media files, the media messages cannot be
		// restored into another service: they are skipped, and said so once.
		noMedia := filepath.Join(t.TempDir(), "no-media.vault")
		if code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", noMedia, "--no-media"); code != exitOK {
			t.Fatalf("backup --no-media exit %d: %s", code, errOut)
		}
		code, out, errOut := chatvault(t, info, "restore", "--archive", noMedia, "--service", dst, "--source", src, "--json")
		r := decodeJSON(t, out, "skipped", "messages_already_restored", "messages_skipped")
		if code != exitPartial || len(r["skipped"].([]any)) == 0 {
			t.Fatalf("restore exit %d: %s", code, out)
		}
		if strings.Count(errOut, "is partial:") != 1 || !strings.Contains(errOut, "media messages skipped") ||
			strings.Contains(errOut, "skipped: channel") || !strings.Contains(errOut, "next:") {
			t.Errorf("stderr is not one summary with next steps:\n%s", errOut)
		}
	})

	t.Run("unknown channel records no snapshot", func(t *testing.T) {
		code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive, "--channel", "genral-0")
		if code != exitFailure || !strings.Contains(errOut, "did you mean general-0") || !strings.Contains(errOut, "no snapshot was recorded") {
			t.Errorf("exit %d: %s", code, errOut)
		}
		_, out, _ := chatvault(t, info, "snapshots", "--archive", archive, "--json")
		if n := len(decodeJSON(t, out, "snapshots")["snapshots"].([]any)); n != 2 {
			t.Errorf("%d snapshots after a mistyped --channel, want 2", n)
		}
	})
}

// TestRetryWavesShown: a backup against a port nothing listens on prints
// a line per retry wave on stderr, saying the service does not answer
// (not that it is rate limited), and stops on SIGINT with exit 130.
func TestRetryWavesShown(t *testing.T) {
	cmd := exec.Command(binary, "backup", "--service", "IS0123456789abcdef0123456789abcdef",
		"--archive", filepath.Join(t.TempDir(), "never.vault"), "--base-url", "http://127.0.0.1:1",
		"--account-sid", "AC0123456789abcdef0123456789abcdef", "--auth-token", "secret-token-value")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	text := stderr.String()
	waves := strings.Count(text, "chatvault: retry ")
	if code != exitInterrupted || waves < 2 {
		t.Errorf("exit %d with %d retry lines, want 130 and at least 2:\n%s", code, waves, text)
	}
	if !strings.Contains(text, "no answer at --base-url") || strings.Contains(text, "rate limit") || strings.Contains(text, "secret-token-value") {
		t.Errorf("the retry lines do not fit a refused connection, or show the token:\n%s", text)
	}
}

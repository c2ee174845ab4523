package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	binenc "encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

// dmgPages describes a real archive's pages as bbolt sees them.
type dmgPages struct {
	size   int      // page size
	inUse  int      // pages below the high-water mark
	leaves []int    // leaf pages in use
	meta   [2]int64 // txid of meta page 0 and 1
}

func dmgLayout(t *testing.T, path string) dmgPages {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatalf("bbolt cannot open the pristine archive: %v", err)
	}
	defer db.Close()
	var l dmgPages
	err = db.View(func(tx *bolt.Tx) error {
		l.size = db.Info().PageSize
		l.inUse = int(tx.Size()) / l.size
		for id := 2; id < l.inUse; id++ {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p != nil && p.Type == "leaf" {
				l.leaves = append(l.leaves, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for m := range 2 {
		// Meta page: 16-byte page header, then magic, version, page size,
		// flags (4 bytes each), root, freelist, pgid, txid (8 bytes each).
		l.meta[m] = int64(binenc.NativeEndian.Uint64(img[m*l.size+16+48:]))
	}
	return l
}

// leafWith returns the offset of marker inside a leaf page in use.
func (l dmgPages) leafWith(t *testing.T, img []byte, marker string) int {
	t.Helper()
	for _, id := range l.leaves {
		page := img[id*l.size : (id+1)*l.size]
		if i := bytes.Index(page, []byte(marker)); i >= 0 {
			return id*l.size + i
		}
	}
	t.Fatalf("no leaf page in use holds %q", marker)
	return 0
}

// dmgRun is chatvault for commands on damaged files: a regression that
// makes the binary loop on a damaged page would otherwise hang the tests
// and take the machine's memory, so the child is killed when it runs
// longer than a minute or grows past 1 GiB.
func dmgRun(t *testing.T, info emulator.Info, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = emulatorEnv(info)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Minute)
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			if rss := dmgRSS(cmd.Process.Pid); rss > 1<<30 || time.Now().After(deadline) {
				cmd.Process.Kill()
				<-done
				t.Fatalf("chatvault %v ran away (resident %d MiB after %s): killed", args, rss>>20, time.Since(deadline.Add(-time.Minute)).Round(time.Millisecond))
			}
		}
	}
	return exitResult(t, info, args, err, stdout.String(), stderr.String())
}

// dmgRSS returns a process's resident memory in bytes, or 0 when /proc
// cannot tell.
func dmgRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// stackTrace matches what a panic or a fatal runtime error prints.
var stackTrace = regexp.MustCompile(`panic|goroutine \d|\.go:\d+|runtime\.|fatal error|SIGSEGV|SIGBUS`)

// checkFailureText holds a failing command's stderr to the contract: one
// line, "chatvault: " first, naming the archive, and no trace of a crash.
func checkFailureText(t *testing.T, what, stderr, archive string, wantIn string) {
	t.Helper()
	if stackTrace.MatchString(stderr) {
		t.Errorf("%s: stderr shows a crash:\n%s", what, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "chatvault: ") {
		t.Errorf("%s: stderr is not one line starting with \"chatvault: \":\n%s", what, stderr)
		return
	}
	if archive != "" && !strings.Contains(lines[0], archive) {
		t.Errorf("%s: message does not name the archive %s: %s", what, archive, lines[0])
	}
	if wantIn != "" && !strings.Contains(lines[0], wantIn) {
		t.Errorf("%s: message does not say %q: %s", what, wantIn, lines[0])
	}
}

func sha(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestDamagedArchiveCLI runs the built binary's reading commands on
// damaged copies of a real archive: bytes overwritten in a meta page, in a
// record, in a page header and at the end, the file cut short, emptied,
// replaced by something else or marked with a newer format. Every command
// exits with the contract's code and one clear line on stderr naming the
// file, never with a crash, and none of them changes a byte of the file.
func TestDamagedArchiveCLI(t *testing.T) {
	info := startEmulator(t, "--channels", "3", "--messages", "12", "--seed", "5")
	src, dst := info.Services[0], info.Services[1]
	pristinePath := filepath.Join(t.TempDir(), "pristine.vault")
	if code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", pristinePath, "--json"); code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	pristine, err := os.ReadFile(pristinePath)
	if err != nil {
		t.Fatal(err)
	}
	l := dmgLayout(t, pristinePath)
	newer := 0
	if l.meta[1] > l.meta[0] {
		newer = 1
	}
	// A message record as stored (compressed), to damage it in place.
	body := dmgSomeRecord(t, pristinePath, pristine)
	restoreArgs := func(path string) []string {
		return []string{"restore", "--archive", path, "--service", dst, "--source", src, "--dry-run", "--json"}
	}
	// Exit 0: every message, media included, can be restored.
	restoreIntact, _, errOut := chatvault(t, info, restoreArgs(pristinePath)...)
	if restoreIntact != 0 {
		t.Fatalf("restore --dry-run of the intact archive: exit %d: %s", restoreIntact, errOut)
	}

	// Exit codes per command; anyExit allows 0, or 1 with a clean message
	// (damage a command may or may not read, depending on what it reads).
	const anyExit = -1
	type want struct{ verify, snapshots, ls, export, restore int }
	intact := want{0, 0, 0, 0, restoreIntact}
	notArchive := want{exitArchive, exitArchive, exitArchive, exitArchive, exitArchive}
	tests := []struct {
		name   string
		damage func(img []byte) []byte
		want   want
		says   string // in every failure's message
	}{
		{"untouched", func(img []byte) []byte { return img }, intact, ""},
		{"older meta page overwritten", func(img []byte) []byte {
			copy(img[(1-newer)*l.size+16:], bytes.Repeat([]byte{0xee}, 64))
			return img
		}, intact, ""},
		{"both meta pages overwritten", func(img []byte) []byte {
			copy(img[16:], bytes.Repeat([]byte{0xee}, 64))
			copy(img[l.size+16:], bytes.Repeat([]byte{0xee}, 64))
			return img
		}, notArchive, "not a chatvault archive"},
		{"a message record overwritten", func(img []byte) []byte {
			copy(img[l.leafWith(t, img, body)+2:], "XXXX")
			return img
		}, want{exitDifferences, 0, anyExit, exitFailure, exitPartial}, "corrupt"}, // restore reports the channel failed
		{"a data page header overwritten", func(img []byte) []byte {
			off := l.leafWith(t, img, body)
			page := off - off%l.size
			copy(img[page+8:], []byte{0x30, 0x30, 0x30, 0x30})
			return img
		}, want{exitDifferences, 0, exitFailure, exitFailure, exitPartial}, "damaged"}, // Open walks no channel's pages: snapshots answers, restore fails that channel
		{"the last page of the file overwritten", func(img []byte) []byte {
			r := rand.New(rand.NewPCG(7, 7))
			for i := len(img) - l.size; i < len(img); i++ {
				img[i] = byte(r.Uint32())
			}
			return img
		}, want{anyExit, anyExit, anyExit, anyExit, anyExit}, ""},
		{"the last page in use overwritten", func(img []byte) []byte {
			r := rand.New(rand.NewPCG(8, 8))
			for i := (l.inUse - 1) * l.size; i < l.inUse*l.size; i++ {
				img[i] = byte(r.Uint32())
			}
			return img
		}, want{anyExit, anyExit, anyExit, anyExit, anyExit}, ""},
		{"truncated to half", func(img []byte) []byte { return img[:l.inUse*l.size/2] }, notArchive, "truncated"},
		{"truncated to one page", func(img []byte) []byte { return img[:l.size] }, notArchive, "not a chatvault archive"},
		{"zero length", func(img []byte) []byte { return img[:0] }, notArchive, "empty"},
		{"not an archive", func([]byte) []byte { return []byte("# notes\nthis is a text file\n") }, notArchive, "not a chatvault archive"},
		{"random bytes", func(img []byte) []byte {
			r := rand.New(rand.NewPCG(1, 2))
			out := make([]byte, len(img))
			for i := range out {
				out[i] = byte(r.Uint32())
			}
			return out
		}, notArchive, "not a chatvault archive"},
		{"newer format", nil, notArchive, "newer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.vault")
			if tc.damage != nil {
				if err := os.WriteFile(path, tc.damage(bytes.Clone(pristine)), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				dmgNewerFormat(t, pristine, path)
			}
			before := sha(t, path)
			runs := []struct {
				args []string
				want int
			}{
				{[]string{"verify", "--archive", path}, tc.want.verify},
				{[]string{"snapshots", "--archive", path}, tc.want.snapshots},
				{[]string{"ls", "--archive", path}, tc.want.ls},
				{[]string{"export", "--archive", path}, tc.want.export},
				{restoreArgs(path), tc.want.restore},
			}
			for _, r := range runs {
				code, out, errOut := dmgRun(t, info, r.args...)
				what := r.args[0]
				t.Logf("%s: exit %d: %s", what, code, strings.TrimSpace(errOut))
				switch {
				case r.want == anyExit && code != 0 && code != exitFailure && !(what == "verify" && code == exitDifferences) &&
					!(what == "restore" && code == exitPartial) && !(what == "restore" && code == exitArchive): // restore writes its journal: refused (exit 10) when damage is known
					t.Errorf("%s: exit %d, want 0 or a clean failure; stderr: %s", what, code, errOut)
				case r.want != anyExit && code != r.want:
					t.Errorf("%s: exit %d, want %d; stderr: %s", what, code, r.want, errOut)
				}
				switch {
				case code == 0:
					if stackTrace.MatchString(errOut) {
						t.Errorf("%s: stderr shows a crash:\n%s", what, errOut)
					}
				case what == "verify" && code == exitDifferences:
					checkFailureText(t, what, errOut, "", "")
					if !strings.Contains(out, "problem: ") {
						t.Errorf("verify exit 4 lists no problem:\n%s", out)
					}
				case what == "restore" && code == exitPartial:
					checkFailureText(t, what, errOut, "", "")
					decodeJSON(t, out, "status")
					if !strings.Contains(out, tc.says) {
						t.Errorf("restore exit 3: the result does not say %q: %s", tc.says, out)
					}
				default:
					checkFailureText(t, what, errOut, path, tc.says)
				}
				if sha(t, path) != before {
					t.Fatalf("%s changed the file", what)
				}
			}

			code, out, errOut := dmgRun(t, info, "verify", "--archive", path, "--json")
			if code != tc.want.verify && tc.want.verify != anyExit {
				t.Errorf("verify --json: exit %d, want %d", code, tc.want.verify)
			}
			v := decodeJSON(t, out, "ok", "problems")
			problems, _ := v["problems"].([]any)
			if ok := v["ok"] == true; ok != (code == 0) || ok != (len(problems) == 0) {
				t.Errorf("verify --json: exit %d, but ok=%v with %d problems: %s", code, v["ok"], len(problems), out)
			}
			for _, p := range problems {
				pm, _ := p.(map[string]any)
				if w, _ := pm["what"].(string); w == "" || stackTrace.MatchString(w) {
					t.Errorf("verify --json: problem %v says nothing clear", p)
				}
			}
			if code != 0 && code != exitDifferences {
				checkFailureText(t, "verify --json", errOut, path, tc.says)
			}
			if sha(t, path) != before {
				t.Fatal("verify --json changed the file")
			}
		})
	}
}

// dmgSomeRecord returns the first 32 bytes of a stored message record
// that occur once in the archive's bytes img: stored records are
// compressed, so a message's text cannot be searched for.
func dmgSomeRecord(t *testing.T, path string, img []byte) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var found string
	var visit func(b *bolt.Bucket, name []byte) error
	visit = func(b *bolt.Bucket, name []byte) error {
		return b.ForEach(func(k, v []byte) error {
			switch {
			case found != "":
			case v == nil:
				return visit(b.Bucket(k), k)
			case string(name) == "messages" && len(v) >= 32 && bytes.Count(img, v[:32]) == 1:
				found = string(v[:32])
			}
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return visit(tx.Bucket([]byte("svc")), nil)
	})
	if err != nil || found == "" {
		t.Fatalf("no distinctive message record in the archive (%v)", err)
	}
	return found
}

// dmgNewerFormat writes a copy of the archive whose meta bucket says a
// format newer than this build reads.
func dmgNewerFormat(t *testing.T, pristine []byte, path string) {
	t.Helper()
	if err := os.WriteFile(path, pristine, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), binenc.BigEndian.AppendUint32(nil, 99))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// fgChange changes the live history: a new message in one channel, an
// edited and a deleted message in another, and with drop every channel but
// those two deleted.
func fgChange(t *testing.T, cl *remote.Client, service string, round int, drop bool) {
	t.Helper()
	ctx := context.Background()
	var chans []*remote.Channel
	for ch, err := range cl.ListChannels(ctx, service) {
		if err != nil {
			t.Fatalf("list channels: %v", err)
		}
		chans = append(chans, ch)
	}
	if len(chans) < 2 {
		t.Fatalf("the emulator has %d channels, want 2 or more", len(chans))
	}
	slices.SortFunc(chans, func(a, b *remote.Channel) int { return strings.Compare(a.SID, b.SID) })
	from, body := "forget-tester", fmt.Sprintf("posted before backup %d", round+1)
	if _, err := cl.CreateMessage(ctx, service, chans[0].SID, remote.MessageParams{From: &from, Body: &body}); err != nil {
		t.Fatalf("post a message: %v", err)
	}
	var texts []*remote.Message
	for m, err := range cl.ListMessages(ctx, service, chans[1].SID, remote.ListOptions{}) {
		if err != nil {
			t.Fatalf("list messages: %v", err)
		}
		if m.Type != "media" {
			texts = append(texts, m)
		}
	}
	if len(texts) < 2 {
		t.Fatalf("channel %s has %d text messages, want 2 or more", chans[1].SID, len(texts))
	}
	edited := fmt.Sprintf("edited before backup %d", round+1)
	if _, err := cl.UpdateMessage(ctx, service, chans[1].SID, texts[0].SID, remote.MessageParams{Body: &edited}); err != nil {
		t.Fatalf("edit a message: %v", err)
	}
	if err := cl.DeleteMessage(ctx, service, chans[1].SID, texts[len(texts)-1].SID); err != nil {
		t.Fatalf("delete a message: %v", err)
	}
	for _, ch := range chans[2:] {
		if !drop {
			break
		}
		if err := cl.DeleteChannel(ctx, service, ch.SID); err != nil {
			t.Fatalf("delete channel %s: %v", ch.SID, err)
		}
	}
}

// TestForgetCLI: after four backups with changes between them (two of the
// four channels deleted before the third), forget --keep-last 2 removes
// the two oldest snapshots, a dry run first changes nothing, the kept
// snapshots read exactly as before, the archive verifies, and --compact
// shrinks the file, as the deleted channels' history is freed, and keeps
// its mode.
func TestForgetCLI(t *testing.T) {
	// Small media files: the snapshots kept share them, so they are not
	// freed, and large ones would hide the space compaction returns.
	info := startEmulator(t, "--channels", "4", "--messages", "150", "--seed", "9", "--media-max-size", "4KiB")
	src := info.Services[0]
	archive := filepath.Join(t.TempDir(), "forget.vault")
	cl := apiClient(t, info)
	for round := range 4 {
		if round > 0 {
			fgChange(t, cl, src, round, round == 2)
		}
		// --full so that edits and deletions of old messages are stored.
		if code, out, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive, "--full", "--json"); code != 0 {
			t.Fatalf("backup %d exit %d: %s %s", round+1, code, out, errOut)
		}
	}
	snapIDs := func() []float64 {
		t.Helper()
		code, out, errOut := chatvault(t, info, "snapshots", "--archive", archive, "--json")
		if code != 0 {
			t.Fatalf("snapshots exit %d: %s", code, errOut)
		}
		var ids []float64
		for _, s := range decodeJSON(t, out, "snapshots")["snapshots"].([]any) {
			ids = append(ids, s.(map[string]any)["id"].(float64))
		}
		return ids
	}
	if ids := snapIDs(); !slices.Equal(ids, []float64{1, 2, 3, 4}) {
		t.Fatalf("snapshots before forget: %v", ids)
	}
	view := func(snap string) string {
		t.Helper()
		var b strings.Builder
		for _, args := range [][]string{
			{"ls", "--archive", archive, "--snapshot", snap, "--json"},
			{"export", "--archive", archive, "--snapshot", snap},
		} {
			code, out, errOut := chatvault(t, info, args...)
			if code != 0 {
				t.Fatalf("%v exit %d: %s", args, code, errOut)
			}
			b.WriteString(out)
		}
		return b.String()
	}
	before := map[string]string{"3": view("3"), "4": view("4")}
	if before["3"] == before["4"] {
		t.Fatal("snapshots 3 and 4 read the same: the changes between backups were not stored")
	}

	t.Run("no rule", func(t *testing.T) {
		h := sha(t, archive)
		code, _, errOut := chatvault(t, info, "forget", "--archive", archive)
		if code != exitUsage || !strings.Contains(errOut, "at least one rule") {
			t.Errorf("forget without a rule: exit %d, want %d: %s", code, exitUsage, errOut)
		}
		if sha(t, archive) != h {
			t.Error("forget without a rule changed the file")
		}
	})

	t.Run("dry run", func(t *testing.T) {
		h := sha(t, archive)
		code, out, errOut := chatvault(t, info, "forget", "--archive", archive, "--keep-last", "2", "--dry-run", "--json")
		if code != 0 {
			t.Fatalf("forget --dry-run exit %d: %s", code, errOut)
		}
		r := decodeJSON(t, out, "keep", "remove", "dry_run")
		if r["dry_run"] != true || fmt.Sprint(r["remove"]) != "[1 2]" || fmt.Sprint(r["keep"]) != "[3 4]" {
			t.Errorf("forget --dry-run result: %s", out)
		}
		if sha(t, archive) != h {
			t.Error("forget --dry-run changed the file")
		}
		if ids := snapIDs(); len(ids) != 4 {
			t.Errorf("after a dry run the archive holds snapshots %v", ids)
		}
		code, out, _ = chatvault(t, info, "forget", "--archive", archive, "--keep-last", "2", "--dry-run")
		if code != 0 || !strings.Contains(out, "would keep snapshots [3 4] and remove [1 2]") || strings.Contains(out, "freed 0") {
			t.Errorf("forget --dry-run says %q", out)
		}
	})

	code, out, errOut := chatvault(t, info, "forget", "--archive", archive, "--keep-last", "2", "--json")
	if code != 0 {
		t.Fatalf("forget exit %d: %s %s", code, out, errOut)
	}
	r := decodeJSON(t, out, "keep", "remove", "freed_records", "problems")
	if fmt.Sprint(r["remove"]) != "[1 2]" || fmt.Sprint(r["keep"]) != "[3 4]" || r["problems"] != 0.0 || r["freed_records"].(float64) < 100 {
		t.Errorf("forget result: %s", out)
	}
	if ids := snapIDs(); !slices.Equal(ids, []float64{3, 4}) {
		t.Errorf("snapshots after forget: %v, want [3 4]", ids)
	}
	if code, out, errOut := chatvault(t, info, "verify", "--archive", archive); code != 0 {
		t.Errorf("verify after forget: exit %d: %s %s", code, out, errOut)
	}
	for snap, want := range before {
		if got := view(snap); got != want {
			t.Errorf("snapshot %s reads differently after forget:\n%s\nwas\n%s", snap, got, want)
		}
	}
	code, _, errOut = chatvault(t, info, "ls", "--archive", archive, "--snapshot", "1")
	if code == 0 {
		t.Error("ls of a forgotten snapshot succeeded")
	} else {
		checkFailureText(t, "ls --snapshot 1", errOut, archive, "no snapshot 1")
	}

	sizeBefore := dmgSize(t, archive)
	code, out, errOut = chatvault(t, info, "forget", "--archive", archive, "--keep-last", "2", "--compact", "--json")
	if code != 0 {
		t.Fatalf("forget --compact exit %d: %s %s", code, out, errOut)
	}
	c := decodeJSON(t, out, "compacted", "size_before", "size_after")
	sizeAfter := dmgSize(t, archive)
	t.Logf("forget freed %v records; compaction: %d -> %d bytes", r["freed_records"], sizeBefore, sizeAfter)
	if c["compacted"] != true || sizeAfter >= sizeBefore || c["size_after"] != float64(sizeAfter) || c["size_before"] != float64(sizeBefore) {
		t.Errorf("forget --compact: file %d -> %d bytes; result %s", sizeBefore, sizeAfter, out)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode after compaction = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if code, out, errOut := chatvault(t, info, "verify", "--archive", archive); code != 0 {
		t.Errorf("verify after compaction: exit %d: %s %s", code, out, errOut)
	}
	for snap, want := range before {
		if got := view(snap); got != want {
			t.Errorf("snapshot %s reads differently after compaction", snap)
		}
	}
	// A later backup still works on the compacted file, incrementally.
	code, out, errOut = chatvault(t, info, "backup", "--service", src, "--archive", archive, "--json")
	if b := decodeJSON(t, out, "snapshot", "added"); code != 0 || b["snapshot"] != 5.0 || b["added"] != 0.0 {
		t.Errorf("backup after compaction: exit %d: %s %s", code, out, errOut)
	}
}

func dmgSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

package main

// Tests that kill and interrupt the real binary while it backs up and
// restores, then check what cli.md promises of the next run: the archive
// opens and verifies, earlier snapshots are intact, the killed snapshot is
// marked interrupted, a rerun continues, and a restore creates nothing twice.
//
// Kill moments are random (seeded, logged; rerun with -kill-seed N) and the
// tests assert invariants that hold wherever a kill lands, never timings.
// Every child runs under a deadline, so a hang fails the test.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/restore"
	"github.com/chatvault/chatvault/store"
)

var killSeed = flag.Uint64("kill-seed", 0, "seed of the random kill moments in cli_kill_test.go; 0 draws a new one")

// childTimeout bounds every run of the binary in these tests.
const childTimeout = 60 * time.Second

// Emulator stats keys.
const statsMessagesList = "GET /v2/Services/{sid}/Channels/{sid}/Messages"

// killRand returns the generator of kill moments, its seed logged.
func killRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *killSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kill moments drawn with seed %d (reproduce with -kill-seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// childResult is how one run of the binary ended.
type childResult struct {
	code           int            // exit code; -1 when a signal ended the process
	signal         syscall.Signal // the signal that ended it, when code is -1
	stdout, stderr string
	elapsed        time.Duration
}

func (r childResult) killed() bool { return r.code == -1 }

// interrupter decides when to signal a running child: it returns once it
// has signalled p or once the child exited on its own.
type interrupter func(t *testing.T, p *os.Process, exited <-chan struct{})

// runChild runs the binary with the emulator's credentials, lets stop (if
// any) signal it, and waits for it, at most childTimeout.
func runChild(t *testing.T, info emulator.Info, stop interrupter, args ...string) childResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = emulatorEnv(info)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chatvault %v: %v", args, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	if stop != nil {
		stop(t, cmd.Process, exited)
	}
	<-exited
	res := childResult{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("chatvault %v did not end within %s (a hang); stderr:\n%s", args, childTimeout, res.stderr)
	}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.code, res.signal = -1, ws.Signal()
		}
	default:
		t.Fatalf("chatvault %v: %v", args, waitErr)
	}
	if strings.Contains(res.stdout+res.stderr, info.AuthToken) {
		t.Errorf("chatvault %v leaked the auth token", args)
	}
	return res
}

// sendSignal signals p; a process that is gone already is not an error.
func sendSignal(t *testing.T, p *os.Process, sig syscall.Signal) {
	t.Helper()
	if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("send %v to pid %d: %v", sig, p.Pid, err)
	}
}

// signalAfter sends sig d after the start, unless the child ended first.
func signalAfter(d time.Duration, sig syscall.Signal) interrupter {
	return func(t *testing.T, p *os.Process, exited <-chan struct{}) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-exited:
		case <-timer.C:
			sendSignal(t, p, sig)
		}
	}
}

// signalWhen sends sig as soon as the emulator's counters satisfy ready,
// so the signal lands at a known stage of the run whatever the machine's
// speed, unless the child ended first.
func signalWhen(info emulator.Info, ready func(emulator.Stats) bool, sig syscall.Signal) interrupter {
	return func(t *testing.T, p *os.Process, exited <-chan struct{}) {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-exited:
				return
			case <-tick.C:
			}
			if ready(emulatorStats(t, info)) {
				sendSignal(t, p, sig)
				return
			}
		}
	}
}

// emulatorStats reads the emulator's counters.
func emulatorStats(t *testing.T, info emulator.Info) emulator.Stats {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(info.BaseURL + "/emulator/stats")
	if err != nil {
		t.Fatalf("read emulator stats: %v", err)
	}
	defer resp.Body.Close()
	var st emulator.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("emulator stats: status %d, %v", resp.StatusCode, err)
	}
	return st
}

// apiClient is a client of the emulator, for changing and reading services
// behind the binary's back.
func apiClient(t *testing.T, info emulator.Info) *remote.Client {
	t.Helper()
	cl, err := remote.NewClient(remote.Credentials{AccountSID: info.AccountSID, AuthToken: info.AuthToken},
		remote.WithBaseURL(info.BaseURL), remote.WithMediaURL(info.MediaURL))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// snapRow is one snapshot of `snapshots --json`.
type snapRow struct {
	ID       uint64  `json:"id"`
	Service  string  `json:"service"`
	Started  string  `json:"started"`
	Finished *string `json:"finished"`
	Status   string  `json:"status"`
	Full     bool    `json:"full"`
	Channels int     `json:"channels"`
	Messages int     `json:"messages"`
}

// listSnapshots runs `snapshots --json`.
func listSnapshots(t *testing.T, info emulator.Info, archive string) []snapRow {
	t.Helper()
	r := runChild(t, info, nil, "snapshots", "--archive", archive, "--json")
	if r.code != exitOK {
		t.Fatalf("snapshots exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Snapshots []snapRow `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("snapshots --json: %v\n%s", err, r.stdout)
	}
	return out.Snapshots
}

// verifyIntact runs `verify --archive` and wants exit 0 and ok.
func verifyIntact(t *testing.T, info emulator.Info, archive, when string) {
	t.Helper()
	r := runChild(t, info, nil, "verify", "--archive", archive, "--json")
	if r.code != exitOK {
		t.Fatalf("%s: verify --archive exit %d, want 0 (intact):\n%s%s", when, r.code, r.stdout, r.stderr)
	}
	if v := decodeJSON(t, r.stdout, "ok", "problems"); v["ok"] != true {
		t.Fatalf("%s: verify --archive: %s", when, r.stdout)
	}
}

// checkSnapshotHistory compares the snapshots after a run (cur) with those
// before it (prev). Every snapshot that had ended is unchanged; one left
// running by a killed process may since be marked interrupted; only the
// newest can still be running (any later run marks it interrupted when it
// opens the archive). After a run that finished, its snapshot is new and
// complete and nothing is running; after a kill, a new snapshot is running
// or, if the kill came late, complete.
func checkSnapshotHistory(t *testing.T, when string, prev, cur []snapRow, finished bool) {
	t.Helper()
	byID := map[uint64]snapRow{}
	for i, s := range cur {
		if i > 0 && s.ID <= cur[i-1].ID {
			t.Errorf("%s: snapshot ids not increasing: %d after %d", when, s.ID, cur[i-1].ID)
		}
		if s.Status == string(store.StatusRunning) && i != len(cur)-1 {
			t.Errorf("%s: snapshot %d is still running though a later run opened the archive: %+v", when, s.ID, s)
		}
		byID[s.ID] = s
	}
	var maxPrev uint64
	for _, p := range prev {
		maxPrev = max(maxPrev, p.ID)
		c, ok := byID[p.ID]
		switch {
		case !ok:
			t.Errorf("%s: snapshot %d is gone", when, p.ID)
		case p.Status == string(store.StatusRunning):
			if c.Status != string(store.StatusRunning) && c.Status != string(store.StatusInterrupted) {
				t.Errorf("%s: snapshot %d left running by a killed run is now %q, want interrupted", when, p.ID, c.Status)
			}
		case !reflect.DeepEqual(p, c):
			t.Errorf("%s: ended snapshot %d changed:\nwas %+v\nnow %+v", when, p.ID, p, c)
		}
	}
	var newest *snapRow
	if len(cur) > 0 && cur[len(cur)-1].ID > maxPrev {
		newest = &cur[len(cur)-1]
	}
	switch {
	case finished && newest == nil:
		t.Errorf("%s: a run that exited 0 left no new snapshot: %+v", when, cur)
	case finished:
		if newest.Status != string(store.StatusComplete) {
			t.Errorf("%s: the finished run's snapshot %d is %q, want complete", when, newest.ID, newest.Status)
		}
		for _, s := range cur {
			if s.Status == string(store.StatusRunning) {
				t.Errorf("%s: snapshot %d still running after a run finished", when, s.ID)
			}
		}
	case newest != nil:
		if newest.Status != string(store.StatusRunning) && newest.Status != string(store.StatusComplete) {
			t.Errorf("%s: the killed run's snapshot %d is %q, want running (or complete if the kill came late)", when, newest.ID, newest.Status)
		}
	}
}

// addedPrefix begins the unique names of channels mutateLive adds.
const addedPrefix = "added-in-round-"

// mutateLive changes the live history of service through the API, as users
// do between and during backups: it edits an old message (only --full
// notices), deletes another, posts new ones, and in even rounds adds a
// channel.
func mutateLive(t *testing.T, cl *remote.Client, service string, rng *rand.Rand, round int) {
	t.Helper()
	ctx := t.Context()
	var chans []*remote.Channel
	for ch, err := range cl.ListChannels(ctx, service) {
		if err != nil {
			t.Fatalf("list channels of %s: %v", service, err)
		}
		if !strings.HasPrefix(ch.UniqueName, addedPrefix) {
			chans = append(chans, ch) // seeded, with many messages
		}
	}
	ch := chans[rng.IntN(len(chans))]
	var texts []*remote.Message
	for m, err := range cl.ListMessages(ctx, service, ch.SID, remote.ListOptions{}) {
		if err != nil {
			t.Fatalf("list messages of %s: %v", ch.SID, err)
		}
		if m.Type != "media" {
			texts = append(texts, m)
		}
	}
	if len(texts) < 4 {
		t.Fatalf("channel %s has only %d text messages", ch.SID, len(texts))
	}
	edited := texts[rng.IntN(len(texts)/2)]
	body := fmt.Sprintf("edited by the kill test, round %d", round)
	if _, err := cl.UpdateMessage(ctx, service, ch.SID, edited.SID, remote.MessageParams{Body: &body}); err != nil {
		t.Fatalf("edit message %s: %v", edited.SID, err)
	}
	deleted := texts[len(texts)/2+rng.IntN(len(texts)-len(texts)/2)]
	if err := cl.DeleteMessage(ctx, service, ch.SID, deleted.SID); err != nil {
		t.Fatalf("delete message %s: %v", deleted.SID, err)
	}
	target := chans[rng.IntN(len(chans))].SID
	if round%2 == 0 {
		name := fmt.Sprintf("%s%d", addedPrefix, round)
		nc, err := cl.CreateChannel(ctx, service, remote.ChannelParams{UniqueName: &name, FriendlyName: &name})
		if err != nil {
			t.Fatalf("create channel %s: %v", name, err)
		}
		target = nc.SID
	}
	from := "kill-tester"
	for i := range 3 {
		b := fmt.Sprintf("posted by the kill test, round %d, #%d", round, i)
		if _, err := cl.CreateMessage(ctx, service, target, remote.MessageParams{From: &from, Body: &b}); err != nil {
			t.Fatalf("post message in %s: %v", target, err)
		}
	}
	t.Logf("round %d: edited %s and deleted %s in %s, posted 3 messages in %s", round, edited.SID, deleted.SID, ch.SID, target)
}

// TestBackupKilledAndRerun kills backups with SIGKILL at random moments
// while the live service changes between and during runs. After every kill
// the archive verifies and no ended snapshot changed; a final --full backup
// completes and equals the live service.
func TestBackupKilledAndRerun(t *testing.T) {
	// With 30ms latency a backup of this history is about 30 requests deep
	// per channel, four channels at a time: about 1.3 s on any machine.
	info := startEmulator(t, "--channels", "6", "--messages", "120", "--latency", "30ms")
	src := info.Services[0]
	archive := filepath.Join(t.TempDir(), "killed.vault")
	cl := apiClient(t, info)
	rng := killRand(t)

	var prev []snapRow
	kills, killed, round := 4+rng.IntN(2), 0, 0
	for i := range kills {
		args := []string{"backup", "--service", src, "--archive", archive, "--page-size", "10", "--concurrency", "4", "--json"}
		// The first run is a whole initial backup and its kill lands inside
		// it; later runs are incremental (short) or --full (a whole walk
		// again, resuming what a killed --full left).
		full := i > 0 && rng.IntN(2) == 0
		span := 600 * time.Millisecond
		switch {
		case i == 0:
			span = 900 * time.Millisecond
		case full:
			span = 1000 * time.Millisecond
		}
		if full {
			args = append(args, "--full")
		}
		delay := time.Duration(rng.Int64N(int64(span)))
		when := fmt.Sprintf("run %d (full=%v, kill at %s)", i+1, full, delay.Round(time.Millisecond))
		stop := signalAfter(delay, syscall.SIGKILL)
		if i%2 == 1 {
			// Users keep writing while a backup runs: change the service
			// during this run, then kill it.
			round++
			when = fmt.Sprintf("run %d (full=%v, live changes, then kill %s later)", i+1, full, delay.Round(time.Millisecond))
			kill, r := stop, round
			stop = func(t *testing.T, p *os.Process, exited <-chan struct{}) {
				mutateLive(t, cl, src, rng, r)
				kill(t, p, exited)
			}
		}
		r := runChild(t, info, stop, args...)
		switch {
		case r.killed():
			killed++
			t.Logf("%s: ended by signal %d after %s", when, r.signal, r.elapsed.Round(time.Millisecond))
		case r.code == exitOK:
			t.Logf("%s: finished first, in %s", when, r.elapsed.Round(time.Millisecond))
			if b := decodeJSON(t, r.stdout, "status"); b["status"] != "complete" {
				t.Errorf("%s: result %s", when, r.stdout)
			}
		default:
			t.Fatalf("%s: exit %d before the kill: %s", when, r.code, r.stderr)
		}

		if _, err := os.Stat(archive); errors.Is(err, fs.ErrNotExist) {
			// Killed before the archive was linked into place.
			if len(prev) > 0 || r.code == exitOK {
				t.Fatalf("%s: the archive is gone", when)
			}
			t.Logf("%s: no archive yet", when)
		} else {
			verifyIntact(t, info, archive, when)
			cur := listSnapshots(t, info, archive)
			checkSnapshotHistory(t, when, prev, cur, r.code == exitOK)
			prev = cur
		}
		if i%2 == 0 {
			round++
			mutateLive(t, cl, src, rng, round)
		}
	}
	if killed == 0 {
		t.Errorf("none of the %d runs was killed while it ran: the kill moments miss the runs", kills)
	}

	// A plain run after the kills archives every media file: no kill lost
	// one, so the --full run after it downloads none.
	backupOnce(t, info, src, archive, "--page-size", "10", "--concurrency", "4")
	checkMediaArchived(t, archive, src)
	prev = listSnapshots(t, info, archive)
	r := runChild(t, info, nil, "backup", "--service", src, "--archive", archive, "--page-size", "10", "--concurrency", "4", "--full", "--json")
	if r.code != exitOK {
		t.Fatalf("final --full backup exit %d: %s", r.code, r.stderr)
	}
	if b := decodeJSON(t, r.stdout, "status", "media_files"); b["status"] != "complete" || b["media_files"] != 0.0 {
		t.Errorf("final --full backup: %s", r.stdout)
	}
	cur := listSnapshots(t, info, archive)
	checkSnapshotHistory(t, "final --full backup", prev, cur, true)
	interrupted := 0
	for _, s := range cur {
		if s.Status == string(store.StatusInterrupted) {
			interrupted++
		}
	}
	t.Logf("%d snapshots, %d of them interrupted", len(cur), interrupted)

	r = runChild(t, info, nil, "verify", "--archive", archive, "--service", src, "--json")
	if v := decodeJSON(t, r.stdout, "ok", "problems", "differences"); r.code != exitOK || v["ok"] != true {
		t.Errorf("verify --service after the final backup: exit %d: %.2000s", r.code, r.stdout)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(archive), "*")); len(leftovers) != 1 {
		t.Logf("files beside the archive after the kills: %v", leftovers)
	}
}

// latestView opens archive read-only and returns the view of src's latest
// snapshot; the caller closes the archive (it holds a shared lock).
func latestView(t *testing.T, archive, src string) (*store.Archive, *store.View) {
	t.Helper()
	a, err := store.Open(archive, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := a.ResolveSnapshot("latest", src)
	if err == nil {
		var v *store.View
		if v, err = a.View(snap.ID); err == nil {
			return a, v
		}
	}
	a.Close()
	t.Fatal(err)
	return nil, nil
}

// checkMediaArchived wants the file of every media message in the latest
// snapshot of src archived whole.
func checkMediaArchived(t *testing.T, archive, src string) {
	t.Helper()
	a, v := latestView(t, archive, src)
	defer a.Close()
	chans, err := v.Channels()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, ch := range chans {
		for mr, err := range v.Messages(ch.SID) {
			if err != nil {
				t.Fatal(err)
			}
			var m remote.Message
			if err := json.Unmarshal(mr.Raw, &m); err != nil || m.Media == nil {
				continue
			}
			files++
			rec, ok, err := v.Media(m.Media.SID)
			if err == nil && ok {
				ok, err = a.HasContent(rec.SHA256)
			}
			if err != nil || !ok {
				t.Errorf("snapshot %d: the file of media %s (message %s) is not archived: %v", v.Snapshot().ID, m.Media.SID, m.SID, err)
			}
		}
	}
	if files == 0 {
		t.Errorf("snapshot %d holds no media message: the check checked nothing", v.Snapshot().ID)
	}
}

// msgKey identifies a message's content for counting copies of it: a
// media message's file by its size, content type and filename (its SID
// differs in the target).
type msgKey struct {
	from, dateCreated, body, attributes string
	media                               string
}

func keyOf(m *remote.Message) msgKey {
	k := msgKey{from: m.From, dateCreated: m.DateCreated.UTC().Format(time.RFC3339), body: m.Body, attributes: m.Attributes}
	if m.Media != nil {
		k.media = fmt.Sprintf("%d %s %s", m.Media.Size, m.Media.ContentType, m.Media.Filename)
	}
	return k
}

// checkTarget compares the restore target with the latest snapshot of src
// in the archive, channel by unique name: no target channel holds any
// message more often than the archive does (so nothing was created twice).
// With complete, it also wants every archived message restored (counts and
// contents equal), every restored file, fetched from the target's Media
// service, to have the SHA-256 of the archived one, and
// restore.VerifyTarget to find no difference. It returns the archived
// media messages.
func checkTarget(t *testing.T, info emulator.Info, archive, src, dst string, complete bool) (media int) {
	t.Helper()
	ctx := t.Context()
	cl := apiClient(t, info)
	a, v := latestView(t, archive, src)
	defer a.Close()
	recs, err := v.Channels()
	if err != nil {
		t.Fatal(err)
	}

	targets := map[string]string{} // unique name → target channel SID
	for ch, err := range cl.ListChannels(ctx, dst) {
		if err != nil {
			t.Fatalf("list target channels: %v", err)
		}
		if other, dup := targets[ch.UniqueName]; dup {
			t.Errorf("target channels %s and %s share unique name %q", other, ch.SID, ch.UniqueName)
		}
		targets[ch.UniqueName] = ch.SID
	}
	if len(targets) > len(recs) || complete && len(targets) != len(recs) {
		t.Errorf("target holds %d channels, the snapshot %d", len(targets), len(recs))
	}

	for _, rec := range recs {
		want, n := map[msgKey]int{}, 0
		shas := map[msgKey]string{} // of the archived media files
		for mr, err := range v.Messages(rec.SID) {
			if err != nil {
				t.Fatal(err)
			}
			var m remote.Message
			if err := json.Unmarshal(mr.Raw, &m); err != nil {
				t.Fatalf("archived message %s: %v", mr.SID, err)
			}
			if m.Media != nil {
				media++
				mr, ok, err := v.Media(m.Media.SID)
				if err != nil || !ok {
					t.Fatalf("media %s is not archived: %v", m.Media.SID, err)
				}
				shas[keyOf(&m)] = mr.SHA256
			}
			want[keyOf(&m)]++
			n++
		}
		tgt, ok := targets[rec.UniqueName]
		if !ok {
			if complete {
				t.Errorf("channel %s (%s) was not restored", rec.SID, rec.UniqueName)
			}
			continue
		}
		got, total := map[msgKey]int{}, 0
		for m, err := range cl.ListMessages(ctx, dst, tgt, remote.ListOptions{}) {
			if err != nil {
				t.Fatalf("list messages of target channel %s: %v", tgt, err)
			}
			got[keyOf(m)]++
			total++
			if complete && m.Media != nil {
				if sha := mediaSHA(t, cl, dst, m.Media.SID); sha != shas[keyOf(m)] {
					t.Errorf("target media %s of message %s has SHA-256 %s, the archived file %s", m.Media.SID, m.SID, sha, shas[keyOf(m)])
				}
			}
		}
		for k, c := range got {
			if c > want[k] {
				t.Errorf("target channel %s (%s) holds %d copies of a message the archive holds %d times: %+v",
					tgt, rec.UniqueName, c, want[k], k)
			}
		}
		if complete && (total != n || !maps.Equal(got, want)) {
			t.Errorf("target channel %s (%s) holds %d messages, want the %d archived messages", tgt, rec.UniqueName, total, n)
		}
	}

	if complete {
		diffs, err := restore.VerifyTarget(ctx, cl, a, restore.Options{Target: dst, Source: src})
		if err != nil {
			t.Fatalf("VerifyTarget: %v", err)
		}
		for i, d := range diffs {
			if i == 10 {
				t.Errorf("… and %d more differences", len(diffs)-i)
				break
			}
			t.Errorf("restored target differs: %+v", d)
		}
	}
	return media
}

// mediaSHA downloads media sid of service and returns its SHA-256 (hex).
func mediaSHA(t *testing.T, cl *remote.Client, service, sid string) string {
	t.Helper()
	_, body, err := cl.OpenMedia(t.Context(), service, sid)
	if err != nil {
		t.Fatalf("open media %s of %s: %v", sid, service, err)
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		t.Fatalf("download media %s of %s: %v", sid, service, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkRestoreResult checks a finished restore's JSON result: complete,
// nothing skipped, failed or conflicted.
func checkRestoreResult(t *testing.T, when string, r childResult) map[string]any {
	t.Helper()
	res := decodeJSON(t, r.stdout, "status", "messages", "messages_skipped", "conflicts", "media_uploaded")
	if r.code != exitOK || res["status"] != "complete" {
		t.Errorf("%s: exit %d, status %v, want 0 and complete: %s", when, r.code, res["status"], r.stderr)
	}
	for _, k := range []string{"conflicts", "failed", "skipped"} {
		if c, _ := res[k].([]any); len(c) > 0 {
			t.Errorf("%s: %s %v", when, k, c)
		}
	}
	return res
}

// backupOnce backs src up into archive and wants exit 0.
func backupOnce(t *testing.T, info emulator.Info, src, archive string, extra ...string) {
	t.Helper()
	r := runChild(t, info, nil, append([]string{"backup", "--service", src, "--archive", archive, "--json"}, extra...)...)
	if r.code != exitOK {
		t.Fatalf("backup exit %d: %s", r.code, r.stderr)
	}
}

// TestRestoreKilledAndRerun kills restores with SIGKILL at random moments,
// then lets one finish: the target holds every archived message exactly
// once, and a further rerun writes nothing.
func TestRestoreKilledAndRerun(t *testing.T) {
	info := startEmulator(t, "--channels", "4", "--messages", "80", "--latency", "2ms")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "restore.vault")
	backupOnce(t, info, src, archive)
	rng := killRand(t)
	args := []string{"restore", "--archive", archive, "--service", dst, "--source", src, "--concurrency", "4", "--json"}

	// Writes are paced at 25 a second per channel: a whole restore takes
	// about 4 s, and the kills spread over its first part; each rerun
	// continues where the journal says.
	kills, killed := 4+rng.IntN(2), 0
	for i := range kills {
		delay := time.Duration(rng.Int64N(int64(1200 * time.Millisecond)))
		when := fmt.Sprintf("restore %d (kill at %s)", i+1, delay.Round(time.Millisecond))
		r := runChild(t, info, signalAfter(delay, syscall.SIGKILL), args...)
		switch {
		case r.killed():
			killed++
			t.Logf("%s: ended by signal %d after %s", when, r.signal, r.elapsed.Round(time.Millisecond))
		case r.code == exitOK:
			t.Logf("%s: finished first", when)
			checkRestoreResult(t, when, r)
		default:
			t.Fatalf("%s: exit %d before the kill: %s", when, r.code, r.stderr)
		}
		verifyIntact(t, info, archive, when)
		checkTarget(t, info, archive, src, dst, false)
		if t.Failed() {
			t.FailNow()
		}
	}
	if killed == 0 {
		t.Errorf("none of the %d restores was killed while it ran", kills)
	}

	checkRestoreResult(t, "final restore", runChild(t, info, nil, args...))
	before := emulatorStats(t, info)
	r := runChild(t, info, nil, args...)
	again := checkRestoreResult(t, "second rerun", r)
	if after := emulatorStats(t, info); after.Writes != before.Writes || after.MediaUploads != before.MediaUploads {
		t.Errorf("a rerun of a finished restore sent %d writes and %d uploads, want none",
			after.Writes-before.Writes, after.MediaUploads-before.MediaUploads)
	}
	if again["messages"] != 0.0 || again["channels_created"] != 0.0 || again["members"] != 0.0 || again["media_uploaded"] != 0.0 {
		t.Errorf("second rerun created something: %s", r.stdout)
	}
	media := checkTarget(t, info, archive, src, dst, true)
	// An upload is journaled before the message that uses it, so a kill
	// between the two reuses it; only an upload whose own answer a kill
	// cut off is sent again (at most --concurrency of them a kill).
	ups := emulatorStats(t, info).MediaUploads
	t.Logf("%d uploads for %d media files, %d kills", ups, media, killed)
	if ups < int64(media) || ups > int64(media+4*killed) {
		t.Errorf("%d uploads for %d media files after %d kills", ups, media, killed)
	}
}

// TestRestoreWithFaults backs up and restores against an emulator that
// answers 10% of requests with 5xx and drops 10% of write answers after
// carrying the write out: reruns settle, nothing is duplicated or missing,
// and no write asked for webhooks.
func TestRestoreWithFaults(t *testing.T) {
	info := startEmulator(t, "--channels", "3", "--messages", "60", "--fault-rate", "0.1", "--lost-response-rate", "0.1")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "faults.vault")

	for attempt := 1; ; attempt++ {
		r := runChild(t, info, nil, "backup", "--service", src, "--archive", archive, "--json")
		if r.code == exitOK {
			break
		}
		if r.code != exitPartial || attempt == 5 {
			t.Fatalf("backup %d exit %d: %s", attempt, r.code, r.stderr)
		}
		t.Logf("backup %d partial under faults, rerunning: %s", attempt, r.stderr)
	}

	args := []string{"restore", "--archive", archive, "--service", dst, "--source", src, "--concurrency", "4", "--json"}
	for attempt := 1; ; attempt++ {
		r := runChild(t, info, nil, args...)
		if r.code == exitOK {
			checkRestoreResult(t, fmt.Sprintf("restore %d", attempt), r)
			break
		}
		if r.code == exitPartial {
			if c, _ := decodeJSON(t, r.stdout, "conflicts")["conflicts"].([]any); len(c) > 0 {
				t.Fatalf("restore %d under faults reported conflicts (something created twice?): %v", attempt, c)
			}
		}
		if (r.code != exitPartial && r.code != exitFailure) || attempt == 5 {
			t.Fatalf("restore %d under faults: exit %d: %s %s", attempt, r.code, r.stdout, r.stderr)
		}
		t.Logf("restore %d exit %d under faults, rerunning: %s", attempt, r.code, r.stderr)
	}

	checkTarget(t, info, archive, src, dst, true)
	st := emulatorStats(t, info)
	if st.WebhooksEnabledWrites != 0 {
		t.Errorf("%d writes asked for webhooks", st.WebhooksEnabledWrites)
	}
	if st.LostResponses == 0 || st.Status["500"]+st.Status["503"] == 0 {
		t.Errorf("the emulator injected no faults (lost %d, 5xx %d): the test tested nothing",
			st.LostResponses, st.Status["500"]+st.Status["503"])
	}
	t.Logf("faults injected: %d lost responses, %d answers 500, %d answers 503, %d writes",
		st.LostResponses, st.Status["500"], st.Status["503"], st.Writes)
}

// TestInterruptedBySIGINT interrupts a backup and then a restore with
// SIGINT (and the restore once more with SIGTERM): each exits 130 saying a
// rerun continues, the backup's snapshot is marked interrupted, and the
// reruns complete.
func TestInterruptedBySIGINT(t *testing.T) {
	// One channel at a time, 5 messages a page, 20ms latency: the backup
	// takes over a second, the restore a few.
	info := startEmulator(t, "--channels", "4", "--messages", "60", "--latency", "20ms")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "sigint.vault")
	backupArgs := []string{"backup", "--service", src, "--archive", archive, "--page-size", "5", "--concurrency", "1", "--json"}

	// The signal is sent once the backup reads messages: its snapshot has
	// begun, and most of the walk is still ahead.
	reading := func(st emulator.Stats) bool { return st.Requests[statsMessagesList] > 0 }
	r := runChild(t, info, signalWhen(info, reading, syscall.SIGINT), backupArgs...)
	checkInterrupted(t, "backup", r)
	snaps := listSnapshots(t, info, archive)
	if len(snaps) != 1 || snaps[0].Status != string(store.StatusInterrupted) || snaps[0].Finished == nil {
		t.Errorf("after SIGINT, snapshots = %+v, want one interrupted snapshot with its finish time", snaps)
	}
	verifyIntact(t, info, archive, "after SIGINT")
	backupOnce(t, info, src, archive, "--page-size", "5", "--concurrency", "1")
	cur := listSnapshots(t, info, archive)
	checkSnapshotHistory(t, "rerun after SIGINT", snaps, cur, true)
	r = runChild(t, info, nil, "verify", "--archive", archive, "--service", src, "--json")
	if v := decodeJSON(t, r.stdout, "ok"); r.code != exitOK || v["ok"] != true {
		t.Errorf("verify --service after the rerun: exit %d: %.2000s", r.code, r.stdout)
	}

	restoreArgs := []string{"restore", "--archive", archive, "--service", dst, "--source", src, "--concurrency", "4", "--json"}
	base := emulatorStats(t, info).Writes
	writing := func(st emulator.Stats) bool { return st.Writes >= base+20 }
	r = runChild(t, info, signalWhen(info, writing, syscall.SIGINT), restoreArgs...)
	checkInterrupted(t, "restore", r)
	verifyIntact(t, info, archive, "after the restore's SIGINT")
	// SIGTERM is handled the same way (cli.md, exit 130).
	base = emulatorStats(t, info).Writes
	r = runChild(t, info, signalWhen(info, writing, syscall.SIGTERM), restoreArgs...)
	checkInterrupted(t, "restore", r)
	checkTarget(t, info, archive, src, dst, false)
	checkRestoreResult(t, "restore rerun after SIGINT", runChild(t, info, nil, restoreArgs...))
	checkTarget(t, info, archive, src, dst, true)
}

// checkInterrupted wants exit 130 and a message that says a rerun continues.
func checkInterrupted(t *testing.T, what string, r childResult) {
	t.Helper()
	if r.code != exitInterrupted {
		t.Fatalf("%s after the signal: exit %d (signal %v), want %d: %s", what, r.code, r.signal, exitInterrupted, r.stderr)
	}
	if !strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stderr, "rerun continues") {
		t.Errorf("%s after the signal: stderr does not say it was interrupted and a rerun continues:\n%s", what, r.stderr)
	}
}

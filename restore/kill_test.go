package restore

import (
	"bytes"
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

var killSeed = flag.Uint64("kill-seed", 0, "seed of the random kill moments of killHelpers; 0 draws a new one")

// Environment of the helper process.
const (
	envHelper   = "CHATVAULT_RESTORE_HELPER"
	envArchive  = "CHATVAULT_RESTORE_HELPER_ARCHIVE"
	envBaseURL  = "CHATVAULT_RESTORE_HELPER_BASE_URL"
	envMediaURL = "CHATVAULT_RESTORE_HELPER_MEDIA_URL"
	envAccount  = "CHATVAULT_RESTORE_HELPER_ACCOUNT"
	envToken    = "CHATVAULT_RESTORE_HELPER_TOKEN"
	envTarget   = "CHATVAULT_RESTORE_HELPER_TARGET"
	envSync     = "CHATVAULT_RESTORE_HELPER_SYNC" // "1": restore --sync
)

// TestHelperRestoreProcess is not a test: TestIntegrationKill runs the test
// binary again with -test.run=TestHelperRestoreProcess and the environment
// above, and this function then restores as `chatvault restore` would, until
// it is killed. Run directly, it does nothing.
func TestHelperRestoreProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		return
	}
	cl, err := remote.NewClient(remote.Credentials{AccountSID: os.Getenv(envAccount), AuthToken: os.Getenv(envToken)},
		remote.WithBaseURL(os.Getenv(envBaseURL)), remote.WithMediaURL(os.Getenv(envMediaURL)), remote.WithLimits(fastLimits))
	if err != nil {
		t.Fatalf("helper: client: %v", err)
	}
	a, err := store.Open(os.Getenv(envArchive), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("helper: open archive: %v", err)
	}
	defer a.Close()
	res, err := Run(context.Background(), cl, a, Options{Target: os.Getenv(envTarget), Concurrency: 4, Sync: os.Getenv(envSync) == "1"})
	if err != nil || len(res.Failed) > 0 || len(res.Conflicts) > 0 {
		t.Fatalf("helper: restore: %+v, %v", res, err)
	}
	printPeakRSS()
}

// TestIntegrationKill kills restoring processes with SIGKILL at random
// moments, then finishes the restore: nothing is duplicated or missing.
func TestIntegrationKill(t *testing.T) {
	e := newEnv(t, emulator.Config{Seed: 11, Channels: 4, Messages: 60, Latency: 3 * time.Millisecond})
	e.backup(t, false)
	src := capture(t, e.cl, e.src)
	nMsgs, nMedia := countMessages(src, nil)

	kills := killHelpers(t, e, 45)
	if kills < 3 {
		t.Errorf("only %d helpers were killed mid-restore", kills)
	}

	w := e.srv.Stats().Writes
	res, err := e.restore(t, e.cl, Options{})
	if err != nil || len(res.Failed) > 0 || len(res.Conflicts) > 0 {
		t.Fatalf("final restore: %+v, %v", res, err)
	}
	if res.Messages+res.MessagesSkipped != nMsgs || res.MessagesSkipped == 0 {
		t.Errorf("final restore created %d and found %d of %d messages", res.Messages, res.MessagesSkipped, nMsgs)
	}
	t.Logf("final restore: %d writes, %d messages created, %d found", e.srv.Stats().Writes-w, res.Messages, res.MessagesSkipped)
	compareLive(t, src, capture(t, e.cl, e.dst), nil, nil)
	// An upload is journaled before the message that uses it, so a kill
	// between the two reuses it; only an upload whose own answer the kill
	// cut off is sent again (at most the helper's 4 channels' each time).
	ups := e.srv.Stats().MediaUploads
	t.Logf("%d uploads for %d media files, %d kills", ups, nMedia, kills)
	if ups < int64(nMedia) || ups > int64(nMedia+4*kills) || res.MediaUploaded > nMedia {
		t.Errorf("%d uploads for %d media files after %d kills (the final run uploaded %d)", ups, nMedia, kills, res.MediaUploaded)
	}
}

// killHelpers runs helper processes restoring into e.dst (with env added
// to their environment) and kills each with SIGKILL after a random number
// of writes, 5 to 5+span, until four were killed or one finished. It
// returns how many it killed.
func killHelpers(t *testing.T, e *env, span int, env ...string) int {
	t.Helper()
	seed := *killSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kill moments drawn with seed %d (reproduce with -kill-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	kills := 0
	for attempt := 0; kills < 4 && attempt < 8; attempt++ {
		w0 := e.srv.Stats().Writes
		at := w0 + 5 + int64(rng.IntN(span)) // kill after this many writes
		var out bytes.Buffer
		cmd := helperCommand(e, env...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		killed := waitWrites(e.srv, at, done, func() {
			if err := cmd.Process.Kill(); err != nil {
				t.Errorf("kill helper: %v", err)
			}
		})
		err := <-done
		if killed {
			drain(t, e.srv)
			kills++
			t.Logf("helper %d killed after %d writes", attempt, e.srv.Stats().Writes-w0)
			continue
		}
		if err != nil {
			t.Fatalf("helper failed: %v\n%s", err, out.Bytes())
		}
		t.Logf("helper %d finished before write %d", attempt, at)
		break
	}
	return kills
}

// helperCommand is a helper process restoring e's archive into e.dst,
// with env added to its environment.
func helperCommand(e *env, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRestoreProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envHelper+"=1", envArchive+"="+e.path, envBaseURL+"="+e.info.BaseURL, envMediaURL+"="+e.info.MediaURL,
		envAccount+"="+e.info.AccountSID, envToken+"="+e.info.AuthToken, envTarget+"="+e.dst)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// waitWrites calls kill once the emulator has counted at writes, unless the
// process ends first (done). It reports whether it killed.
func waitWrites(srv *emulator.Server, at int64, done chan error, kill func()) bool {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			done <- err
			return false
		case <-tick.C:
			if srv.Stats().Writes >= at {
				kill()
				return true
			}
		}
	}
}

// drain waits until the emulator serves no request: a killed helper's
// requests may still be in the emulator (a write waiting out its latency
// runs after its client is gone), and restore relies on a write whose
// connection was lost having finished before the next run reads (doc.go,
// "What it relies on"). A process started seconds later would see that;
// the test's next run starts within milliseconds.
func drain(t *testing.T, srv *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().InFlight > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the emulator still serves %d requests of a killed helper after 5s", srv.Stats().InFlight)
		}
		time.Sleep(time.Millisecond)
	}
}

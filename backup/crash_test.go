package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// readyWriter collects a child's stdout and closes ready when the child
// says it has begun.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte(helperReady+"\n")) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// helperCommand prepares a child process that backs up e's service into
// the archive at path.
func helperCommand(e *emu, path string, pageSize, concurrency int, full bool) *exec.Cmd {
	return helperCommandVia(e, remote.APIChat, path, pageSize, concurrency, full)
}

// helperCommandVia is helperCommand reading through api.
func helperCommandVia(e *emu, api, path string, pageSize, concurrency int, full bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	f := "0"
	if full {
		f = "1"
	}
	cmd.Env = append(os.Environ(),
		helperEnv+"=backup",
		helperBaseURL+"="+e.info.BaseURL,
		helperMediaURL+"="+e.info.MediaURL,
		helperAccount+"="+e.info.AccountSID,
		helperToken+"="+e.info.AuthToken,
		helperService+"="+e.svc,
		helperArchive+"="+path,
		helperPageSize+"="+strconv.Itoa(pageSize),
		helperConcurrent+"="+strconv.Itoa(concurrency),
		helperFull+"="+f,
		helperAPI+"="+api,
	)
	return cmd
}

// checkArchiveFile opens the archive at path, checks it and closes it.
func checkArchiveFile(t *testing.T, path string) []store.Snapshot {
	t.Helper()
	a, err := store.Open(path, store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("opening the archive after a kill: %v", err)
	}
	defer a.Close()
	problems, err := a.Check()
	if err != nil {
		t.Fatalf("checking the archive after a kill: %v", err)
	}
	for _, p := range problems {
		t.Errorf("archive problem after a kill at %s: %s", p.Where, p.What)
	}
	snaps, err := a.Snapshots()
	if err != nil {
		t.Fatalf("listing snapshots after a kill: %v", err)
	}
	return snaps
}

func TestIntegrationCrashAndResume(t *testing.T) {
	testCrashAndResume(t, remote.APIChat, emulator.APIOn)
}

// TestIntegrationCrashAndResumeConversations kills backups read through
// Conversations, with Chat shut down.
func TestIntegrationCrashAndResumeConversations(t *testing.T) {
	testCrashAndResume(t, remote.APIConversations, emulator.APIOff)
}

// liveAPI is what the integration tests read and change the live service
// through: the Client (Chat) or its Conversations view.
type liveAPI interface {
	Source
	CreateMessage(ctx context.Context, service, channel string, p remote.MessageParams) (*remote.Message, error)
	UpdateMessage(ctx context.Context, service, channel, sid string, p remote.MessageParams) (*remote.Message, error)
	DeleteMessage(ctx context.Context, service, channel, sid string) error
	DeleteMember(ctx context.Context, service, channel, member string) error
}

// via is e's client speaking api.
func (e *emu) via(api string) liveAPI {
	if api == remote.APIConversations {
		return e.cl.Conversations()
	}
	return e.cl
}

func testCrashAndResume(t *testing.T, api string, chat emulator.APISwitch) {
	ctx := context.Background()
	e := startEmulator(t, emulator.Config{Seed: 5, Channels: 8, Messages: 150, Latency: 2 * time.Millisecond, ChatAPI: chat})
	cl := e.via(api)
	path := filepath.Join(t.TempDir(), "crash.vault")
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill times seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	sids := channelSIDs(t, cl, e.svc)

	killed, prev := 0, 0
	for round := range 5 {
		full := round == 2 || round == 4
		cmd := helperCommandVia(e, api, path, 5, 4, full)
		out := &readyWriter{ready: make(chan struct{})}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = out, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting the backup process: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		var err error
		delay := time.Duration(rng.Int64N(int64(150 * time.Millisecond)))
		select {
		case <-out.ready:
			select {
			case <-time.After(delay):
				if kerr := cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
					t.Fatalf("killing the backup process: %v", kerr)
				}
				err = <-done
			case err = <-done:
			}
		case err = <-done:
			t.Fatalf("round %d: backup process ended before it began: %v\nstdout: %s\nstderr: %s", round, err, out, &stderr)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("round %d: backup process did not begin within 30s", round)
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			killed++
			t.Logf("round %d (full %v): killed mid-run after %s", round, full, delay)
		case err != nil:
			t.Fatalf("round %d: backup process failed: %v\nstdout: %s\nstderr: %s", round, err, out, &stderr)
		default:
			t.Logf("round %d (full %v): finished before the kill: %s", round, full, bytes.TrimSpace([]byte(out.String())))
		}

		// A kill before the snapshot began leaves none; earlier snapshots
		// are all still there.
		snaps := checkArchiveFile(t, path)
		if len(snaps) < prev || len(snaps) > round+1 {
			t.Errorf("round %d: archive has %d snapshots, want %d to %d", round, len(snaps), prev, round+1)
		}
		if len(snaps) > prev {
			s := snaps[len(snaps)-1]
			t.Logf("round %d: snapshot %d %s, %d messages", round, s.ID, s.Status, s.Messages)
		}
		prev = len(snaps)

		// Change the service between runs: new messages in one channel, an
		// old message deleted in another.
		for i := range 2 {
			if _, err := cl.CreateMessage(ctx, e.svc, sids[round%len(sids)], remote.MessageParams{Body: ptr(fmt.Sprintf("round %d #%d", round, i))}); err != nil {
				t.Fatal(err)
			}
		}
		victim := messageAt(t, cl, e.svc, sids[(round+3)%len(sids)], 2)
		if err := cl.DeleteMessage(ctx, e.svc, sids[(round+3)%len(sids)], victim.SID); err != nil {
			t.Fatal(err)
		}
	}
	if killed == 0 {
		t.Errorf("no backup process was killed mid-run: every run finished within its random delay")
	}

	a := openArchive(t, path)
	// Old messages were deleted between the runs: a plain run through an
	// API without message counts finds those only with --full.
	res, err := Run(ctx, cl, a, Options{Service: e.svc, PageSize: 5, Full: !remote.CapabilitiesOf(api).MessageCounts})
	if err != nil {
		t.Fatalf("final Run: %v", err)
	}
	expect(t, "final status", res.Status, "complete")
	expect(t, "final API", res.API, api)
	capture(t, cl, e.svc).assertSame(t, a, res.Snapshot)
}

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "CHATVAULT_STORE_CRASH_ARCHIVE"

// TestHelperProcess is not a test: re-executed by TestCrashSafety with
// crashEnv set, it writes into the archive until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		return
	}
	a, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w, err := a.BeginSnapshot(testSvc, false, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	j, _ := a.Journal(testSvc, testSvc2)
	for iter := 0; ; iter++ {
		for c := range 4 {
			ch := chSID(c)
			_ = w.PutChannel(ch, fmt.Sprint("room", c), chanJSON(c, "2026-01-01T00:00:00Z"))
			ms := make([]MessageRecord, 100)
			for i := range ms {
				ms[i] = msg(i+(iter%5)*100, fmt.Sprintf("iter %d %s", iter, strings.Repeat("x", 300)))
			}
			_ = w.PutMessages(ch, ms)
			_ = w.DeleteMessages(ch, []int64{int64(iter % 50)})
			_ = j.Put(fmt.Sprint("k", iter, c), []byte("v"))
		}
		if err := w.Flush(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if iter == 0 {
			fmt.Println("ready")
		}
	}
}

func TestCrashSafety(t *testing.T) {
	path := tempPath(t)
	writeSample(t, path)
	a, err := Open(path, Options{})
	must(t, err)
	want := dump(t, a, 1)
	must(t, a.Close())

	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	const rounds = 4
	for round := range rounds {
		// Let it write for a random while, then kill it mid-flight.
		killHelper(t, "TestHelperProcess", crashEnv+"="+path, time.Duration(r.IntN(150))*time.Millisecond)

		a, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: archive does not open after kill: %v", round, err)
		}
		checkClean(t, a)
		snaps, err := a.Snapshots()
		must(t, err)
		if len(snaps) != round+2 {
			t.Fatalf("round %d: %d snapshots", round, len(snaps))
		}
		if snaps[0].Status != StatusComplete {
			t.Errorf("round %d: first snapshot %s", round, snaps[0].Status)
		}
		for _, s := range snaps[1:] {
			if s.Status != StatusInterrupted || s.Channels == 0 {
				t.Errorf("round %d: killed snapshot %+v", round, s)
			}
			_ = dump(t, a, s.ID) // every interrupted snapshot reads
		}
		if got := dump(t, a, 1); got != want {
			t.Errorf("round %d: the complete snapshot changed", round)
		}
		if round == rounds-1 {
			checkReuse(t, a, snaps[len(snaps)-1].ID)
		}
		must(t, a.Close())
	}
}

// killHelper runs the test binary's helper test run with env set, waits
// for it to print "ready", lets it run for wait and kills it.
func killHelper(t *testing.T, run, env string, wait time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$")
	cmd.Env = append(os.Environ(), env)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%s did not get ready (%q, %v): %s", run, line, err, stderr.String())
	}
	time.Sleep(wait)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// checkReuse rewrites the state an interrupted snapshot committed, byte for
// byte, in a new snapshot: nothing new is stored.
func checkReuse(t *testing.T, a *Archive, id uint64) {
	t.Helper()
	v, err := a.View(id)
	must(t, err)
	chs, err := v.Channels()
	must(t, err)
	keysBefore := map[string]int{}
	for _, c := range chs {
		keysBefore[c.SID] = countKeys(t, a, testSvc, c.SID, bktMessages)
	}
	w := begin(t, a, testSvc)
	for _, c := range chs {
		must(t, w.PutChannel(c.SID, c.UniqueName, c.Raw))
		var ms []MessageRecord
		for m, err := range v.Messages(c.SID) {
			must(t, err)
			ms = append(ms, m)
		}
		must(t, w.PutMessages(c.SID, ms))
	}
	s := finish(t, w)
	if s.Added != 0 || s.Changed != 0 || s.Deleted != 0 {
		t.Errorf("rewriting committed data counted changes: %+v", s)
	}
	for _, c := range chs {
		if n := countKeys(t, a, testSvc, c.SID, bktMessages); n != keysBefore[c.SID] {
			t.Errorf("channel %s: %d versions, was %d", c.SID, n, keysBefore[c.SID])
		}
	}
}

// TestDamagedFilesNeverCrash flips random bytes all over a real archive:
// whatever happens, the package reports errors and never panics.
func TestDamagedFilesNeverCrash(t *testing.T) {
	pristine := sampleBytes(t)
	seed := uint64(42)
	if s, err := strconv.ParseUint(os.Getenv("CHATVAULT_DAMAGE_SEED"), 10, 64); err == nil {
		seed = s // explore other damage by hand
	}
	r := rand.New(rand.NewPCG(seed, 43))
	opened, damaged := 0, 0
	const cases = 100
	for range cases {
		data := append([]byte(nil), pristine...)
		for range 1 + r.IntN(8) {
			data[r.IntN(len(data))] ^= byte(1 + r.IntN(255))
		}
		ok, problems := readDamaged(t, data)
		if ok {
			opened++
		}
		if problems {
			damaged++
		}
	}
	t.Logf("seed %d: %d of %d damaged copies opened, %d of those reported problems", seed, opened, cases, damaged)
}

// sampleBytes returns the bytes of a small archive written by writeSample.
func sampleBytes(t testing.TB) []byte { return imageOf(t, writeSample) }

// imageOf returns the bytes of the archive write writes.
func imageOf(t testing.TB, write func(testing.TB, string)) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "sample.vault")
	write(t, src)
	b, err := os.ReadFile(src)
	must(t, err)
	return b
}

// readDamaged opens an archive file with the given bytes read-only and
// reads everything it can. Errors must be the package's sentinels; a panic
// or fault would end the test binary.
func readDamaged(t testing.TB, data []byte) (opened, problems bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.vault")
	must(t, os.WriteFile(path, data, 0o600))
	a, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		if !errors.Is(err, ErrNotArchive) && !errors.Is(err, ErrNewerFormat) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open = %v", err)
		}
		return false, false
	}
	defer a.Close()
	ps, err := a.Check()
	if err != nil && !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check = %v", err)
	}
	if _, err := a.Snapshots(); err != nil && !errors.Is(err, ErrCorrupt) {
		t.Errorf("Snapshots = %v", err)
	}
	if v, err := a.View(1); err == nil {
		if _, err := v.Channels(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("Channels = %v", err)
		}
		for _, err := range v.Messages(chSID(1)) {
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
					t.Errorf("Messages = %v", err)
				}
				break
			}
		}
	}
	return true, len(ps) > 0
}

package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// The crash test and the RSS benchmark run backups in child processes: the
// test binary re-executed with helperEnv set. TestMain sends such a process
// straight to helperBackupProcess instead of running tests, so there is no
// test that skips itself outside the helper role.
const (
	helperEnv        = "CHATVAULT_BACKUP_HELPER" // "backup" = run one backup
	helperBaseURL    = "CHATVAULT_HELPER_BASE_URL"
	helperMediaURL   = "CHATVAULT_HELPER_MEDIA_URL"
	helperAccount    = "CHATVAULT_HELPER_ACCOUNT_SID"
	helperToken      = "CHATVAULT_HELPER_AUTH_TOKEN"
	helperService    = "CHATVAULT_HELPER_SERVICE"
	helperArchive    = "CHATVAULT_HELPER_ARCHIVE"
	helperPageSize   = "CHATVAULT_HELPER_PAGE_SIZE"
	helperConcurrent = "CHATVAULT_HELPER_CONCURRENCY"
	helperFull       = "CHATVAULT_HELPER_FULL"
	helperAPI        = "CHATVAULT_HELPER_API" // "conversations": read through Conversations (on the base URL)
	// helperMemProfile, set in the benchmark's own environment (the child
	// inherits it), names a file where the child writes its heap profile
	// when the backup ends: -sample_index=alloc_space shows what the run
	// allocated, by place (the garbage that drives the heap's peak). Every
	// child writes it, so select one benchmark with an anchored pattern
	// ('^BenchmarkBackupRSS$/messages=1M'): BackupRSS alone also runs the
	// 150 MiB one, whose child then overwrites the file.
	helperMemProfile = "CHATVAULT_HELPER_MEMPROFILE"
)

// helperReady is printed on stdout once the archive is open and the backup
// begins.
const helperReady = "ready"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "backup" {
		if os.Getenv(helperMemProfile) != "" {
			runtime.MemProfileRate = 64 << 10
		}
		os.Exit(helperBackupProcess())
	}
	os.Exit(m.Run())
}

// helperOutput is the last line a helper process prints.
type helperOutput struct {
	Result     Result   `json:"result"`
	GoSysBytes uint64   `json:"go_sys_bytes"` // memory the Go runtime obtained from the OS, at the end
	Mem        memPeaks `json:"mem"`
}

// memPeaks is what a helper process read of its own memory use. The peak
// resident size is the kernel's VmHWM of the process's own address space:
// the parent's getrusage Maxrss of a child is no use, since it also counts
// the parent's resident size at the fork (Go forks with CLONE_VM and the
// kernel carries the old address space's high-water mark across exec).
// The anonymous and file-backed parts are the largest values sampled.
type memPeaks struct {
	HWMKB    int64 `json:"hwm_kb"`     // VmHWM at the end: peak resident set
	AnonKB   int64 `json:"anon_kb"`    // largest RssAnon sampled
	FileKB   int64 `json:"file_kb"`    // largest RssFile sampled
	Samples  int   `json:"samples"`    // how many times /proc/self/status was read
	HeapInKB int64 `json:"heap_in_kb"` // largest Go HeapInuse sampled
}

// procStatus reads the named kB fields of /proc/self/status.
func procStatus(fields ...string) map[string]int64 {
	out := make(map[string]int64, len(fields))
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains(fields, name) {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}

// sampleMemory records the process's memory use every interval until stop
// is closed, then returns the peaks.
func sampleMemory(interval time.Duration, stop <-chan struct{}) memPeaks {
	var p memPeaks
	var ms runtime.MemStats
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st := procStatus("RssAnon", "RssFile")
		p.AnonKB = max(p.AnonKB, st["RssAnon"])
		p.FileKB = max(p.FileKB, st["RssFile"])
		p.Samples++
		if p.Samples%10 == 1 { // ReadMemStats stops the world: not every time
			runtime.ReadMemStats(&ms)
			p.HeapInKB = max(p.HeapInKB, int64(ms.HeapInuse>>10))
		}
		select {
		case <-stop:
			p.HWMKB = procStatus("VmHWM")["VmHWM"]
			return p
		case <-t.C:
		}
	}
}

// writeHeapProfile writes the heap profile to path, replacing it.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// helperBackupProcess runs one backup described by the environment and
// returns the exit status: 0 complete, 3 partial, 1 otherwise. A
// helperOutput is printed on stdout, errors on stderr.
func helperBackupProcess() int {
	env := func(k string) string { return os.Getenv(k) }
	atoi := func(k string, def int) int {
		if v, err := strconv.Atoi(env(k)); err == nil {
			return v
		}
		return def
	}
	cl, err := remote.NewClient(remote.Credentials{AccountSID: env(helperAccount), AuthToken: env(helperToken)},
		remote.WithBaseURL(env(helperBaseURL)), remote.WithConversationsURL(env(helperBaseURL)), remote.WithMediaURL(env(helperMediaURL)), remote.WithLimits(testLimits))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := store.Open(env(helperArchive), store.Options{Create: true, Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer a.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println(helperReady)
	stopSampling := make(chan struct{})
	peaks := make(chan memPeaks, 1)
	go func() { peaks <- sampleMemory(20*time.Millisecond, stopSampling) }()
	var src Source = cl
	if env(helperAPI) == remote.APIConversations {
		src = cl.Conversations()
	}
	res, err := Run(ctx, src, a, Options{
		Service:     env(helperService),
		PageSize:    atoi(helperPageSize, 0),
		Concurrency: atoi(helperConcurrent, 0),
		Full:        env(helperFull) == "1",
	})
	close(stopSampling)
	mem := <-peaks
	if path := env(helperMemProfile); path != "" {
		writeHeapProfile(path)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := json.Marshal(helperOutput{Result: res, GoSysBytes: ms.Sys, Mem: mem}); err == nil {
		fmt.Printf("%s\n", b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if res.Status != string(store.StatusComplete) {
		return 3
	}
	return 0
}

// runHelper runs a helper process to its end and returns the helperOutput
// it printed last and how long it ran.
func runHelper(b *testing.B, cmd *exec.Cmd) (helperOutput, time.Duration) {
	b.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("backup process: %v\nstderr: %s", err, &stderr)
	}
	took := time.Since(start)
	var out helperOutput
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &out); err != nil {
		b.Fatalf("reading the backup process's result %q: %v", stdout.String(), err)
	}
	return out, took
}

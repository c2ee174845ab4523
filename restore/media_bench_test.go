package restore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

// BenchmarkRestoreMediaLatency is BenchmarkRestoreLatency (see it for the
// metrics and the bound, where an upload counts as one write of its
// channel's chain) on a history richer in media: 16 channels of 150
// messages with files of up to 6 MiB (43 uploads, 14.7 MB in all),
// through Chat at --concurrency 16. The first run restores into
// services[1].
//
// Run with: go test -run '^$' -bench RestoreMediaLatency -benchtime 1x ./restore
func BenchmarkRestoreMediaLatency(b *testing.B) {
	benchRestoreOf(b, remote.APIChat, 16, emulator.Config{Seed: 31, Channels: 16, Messages: 150, WriteRate: 30, MediaMaxSize: 6 << 20})
}

// bigFileSize is the largest file Twilio's Media service takes.
const bigFileSize = 150 << 20

// BenchmarkRestoreRSS150MiB backs up a small history with one file of 150
// MiB, then restores it into services[1] in a child process, and reports
// the child's own peak resident set (its VmHWM, which a parent's getrusage
// of the child would not give: it counts the parent too) in MB, and the
// largest anonymous and file-backed parts the parent sampled. After
// timing, the target must equal the source, the big file's SHA-256
// included.
//
// Run with: go test -run '^$' -bench RestoreRSS150MiB -benchtime 1x ./restore
func BenchmarkRestoreRSS150MiB(b *testing.B) {
	if b.N > 1 {
		b.Fatal("a restore into services[1] runs once: use -benchtime 1x")
	}
	e := newEnv(b, emulator.Config{Seed: 32, Channels: 2, Messages: 20, MediaMaxSize: 64 << 10})
	postBigFile(b, e.cl, e.src, bigFileSize)
	e.backup(b, false)
	src := capture(b, e.cl, e.src)
	var out bytes.Buffer
	cmd := helperCommand(e)
	cmd.Stdout, cmd.Stderr = &out, &out
	b.ResetTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("restore process: %v", err)
	}
	stop := make(chan struct{})
	peaks := make(chan map[string]int64, 1)
	go func() { peaks <- sampleChild(cmd.Process.Pid, stop) }()
	err := cmd.Wait()
	elapsed := time.Since(start)
	close(stop)
	peak := <-peaks
	b.StopTimer()
	if err != nil {
		b.Fatalf("restore process: %v\n%s", err, &out)
	}
	mem := memOf(out.Bytes())
	if mem["VmHWM"] == 0 {
		b.Fatalf("the restore process did not report its peak RSS:\n%s", &out)
	}
	if up := e.srv.Stats().MediaUploadBytes; up < 2*bigFileSize {
		b.Fatalf("%d bytes uploaded in all, want the big file twice (to the source, then by the restore)", up)
	}
	compareLive(b, src, capture(b, e.cl, e.dst), nil, nil)
	b.ReportMetric(float64(mem["VmHWM"])/1024, "peak_rss_MB")
	b.ReportMetric(float64(peak["RssAnon"])/1024, "peak_anon_MB")
	b.ReportMetric(float64(peak["RssFile"])/1024, "peak_file_MB")
	b.ReportMetric(bigFileSize/1e6/elapsed.Seconds(), "MB/s")
}

// postBigFile uploads n pseudo-random bytes to the service and posts them
// as a message of its first channel. The bytes are drawn again each time
// the upload opens them, never held in memory.
func postBigFile(b *testing.B, cl *remote.Client, svc string, n int64) {
	b.Helper()
	ctx := context.Background()
	open := func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(rand.NewChaCha8([32]byte{'b', 'i', 'g'}), n)), nil
	}
	f, err := cl.UploadMedia(ctx, svc, remote.MediaUpload{ContentType: "video/mp4", Filename: "big.mp4", Size: n, Open: open})
	if err != nil {
		b.Fatalf("uploading a %d-byte file: %v", n, err)
	}
	for c, err := range cl.ListChannels(ctx, svc) {
		if err != nil {
			b.Fatal(err)
		}
		from := "bench"
		if _, err := cl.CreateMessage(ctx, svc, c.SID, remote.MessageParams{From: &from, MediaSID: &f.SID}); err != nil {
			b.Fatalf("posting the %d-byte file: %v", n, err)
		}
		return
	}
	b.Fatal("the service has no channel to post the file in")
}

// memFields are the lines of /proc/self/status printPeakRSS prints and
// memOf reads: the peak resident set, and its anonymous and file-backed
// (archive pages mapped by bbolt: page cache, reclaimable) parts.
var memFields = []string{"VmHWM", "RssAnon", "RssFile"}

// printPeakRSS prints the memFields lines of /proc/self/status
// ("VmHWM:   53124 kB"), for the parent to read.
func printPeakRSS() {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintf(os.Stderr, "reading the peak RSS: %v\n", err)
		return
	}
	for line := range strings.Lines(string(data)) {
		if name, _, ok := strings.Cut(line, ":"); ok && slices.Contains(memFields, name) {
			fmt.Print(line)
		}
	}
}

// sampleChild reads /proc/PID/status every 5ms until stop is closed and
// returns the largest RssAnon and RssFile seen, in kB.
func sampleChild(pid int, stop <-chan struct{}) map[string]int64 {
	peak := map[string]int64{}
	path := fmt.Sprintf("/proc/%d/status", pid)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue // not started yet, or gone
		}
		for k, v := range memOf(data) {
			peak[k] = max(peak[k], v)
		}
	}
}

// memOf reads the lines printPeakRSS printed in a helper's output: kB by
// field name.
func memOf(out []byte) map[string]int64 {
	kb := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !slices.Contains(memFields, name) {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
			kb[name] = n
		}
	}
	return kb
}

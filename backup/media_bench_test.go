package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
)

// mediaShape lists the service's media messages: how many files and their
// bytes in all.
func mediaShape(b *testing.B, cl *remote.Client, svc string) (files int, size int64) {
	b.Helper()
	ctx := context.Background()
	for c, err := range cl.ListChannels(ctx, svc) {
		if err != nil {
			b.Fatal(err)
		}
		for m, err := range cl.ListMessages(ctx, svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				b.Fatal(err)
			}
			if m.Media != nil {
				files++
				size += m.Media.Size
			}
		}
	}
	return files, size
}

// mediaRequests splits the requests the emulator has served into those of
// the Media service (under /mcs) and the others.
func mediaRequests(e *emu) (media, other int64) {
	for route, n := range e.srv.Stats().Requests {
		if strings.Contains(route, " /mcs/") {
			media += n
		} else {
			other += n
		}
	}
	return media, other
}

// BenchmarkBackupMediaLatency backs up a history with media (16 channels
// of 200 messages, 2% media, files of up to 6 MiB) from an emulator that
// answers after 50ms, and reports:
//
//	msgs/s    messages archived per second
//	MB/s      media bytes (10^6) downloaded and archived per second
//	%bound    100 × bound / elapsed, where bound = max(other requests ×
//	          latency / Concurrency, longest chain × latency, media
//	          requests × latency / MediaConcurrency): a file costs three
//	          media requests one after another (its metadata, …/Content
//	          and the temporary URL it redirects to), and at most
//	          MediaConcurrency files are downloaded at once; the transfer
//	          of the bytes over loopback is not counted
//	x_vs_sdk  requests × latency / elapsed: the speed-up over a script that
//	          sends the same requests one after another
//
// Run with: go test -run '^$' -bench BackupMediaLatency -benchtime 1x ./backup
func BenchmarkBackupMediaLatency(b *testing.B) {
	const latency = 50 * time.Millisecond
	e := startEmulator(b, emulator.Config{Seed: 31, Channels: 16, Messages: 200, MediaMaxSize: 6 << 20})
	o := Options{Service: e.svc, Concurrency: 16, MediaConcurrency: DefaultMediaConcurrency, PageSize: 100}
	want, chain := serviceShape(b, e.cl, e.svc, o.PageSize)
	files, size := mediaShape(b, e.cl, e.svc)
	if files == 0 {
		b.Fatal("the history has no media: nothing to measure")
	}
	e.srv.SetFaults(latency, 0, 0, 0, 0)
	cl := e.client(b, e.info.AuthToken, remote.Limits{MaxInFlight: 2 * (o.Concurrency + o.MediaConcurrency)})
	meter := &inFlightMeter{}
	e.mu.Lock()
	h := e.https[len(e.https)-1]
	e.mu.Unlock()
	meter.next, h.Transport = h.Transport, meter
	media0, other0 := mediaRequests(e)
	st0 := e.srv.Stats()
	b.ResetTimer()
	elapsed, msgs, _ := benchRun(b, cl, o, want)
	b.StopTimer()
	media1, other1 := mediaRequests(e)
	mediaReqs, otherReqs := media1-media0, other1-other0
	st1 := e.srv.Stats()
	if got := st1.MediaDownloads - st0.MediaDownloads; got != int64(files*b.N) {
		b.Fatalf("%d files downloaded, want %d (%d a run)", got, files*b.N, files)
	}
	if got := st1.MediaDownloadBytes - st0.MediaDownloadBytes; got != size*int64(b.N) {
		b.Fatalf("%d media bytes downloaded, want %d (%d a run)", got, size*int64(b.N), size)
	}
	if top := meter.top.Load(); top > int64(o.Concurrency+o.MediaConcurrency) {
		b.Fatalf("the backup had %d requests in flight at once, more than its concurrency %d and media concurrency %d: the bound below would not hold",
			top, o.Concurrency, o.MediaConcurrency)
	}
	bound := max(time.Duration(otherReqs)*latency/time.Duration(o.Concurrency),
		time.Duration(b.N*chain)*latency,
		time.Duration(mediaReqs)*latency/time.Duration(o.MediaConcurrency))
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(size)*float64(b.N)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(100*bound.Seconds()/elapsed.Seconds(), "%bound")
	b.ReportMetric((time.Duration(mediaReqs+otherReqs)*latency).Seconds()/elapsed.Seconds(), "x_vs_sdk")
	b.ReportMetric(float64(files), "files/op")
	b.ReportMetric(float64(mediaReqs)/float64(b.N), "media_requests/op")
}

// bigFileSize is the largest file Twilio's Media service takes.
const bigFileSize = 150 << 20

// addBigFile uploads a file of n pseudo-random bytes to the service and
// posts it as a message of the service's first channel. It returns the
// file's MediaSid and SHA-256. The bytes are drawn again each time the
// upload opens them, never held by the client.
func addBigFile(b *testing.B, cl *remote.Client, svc string, n int64) (sid, sum string) {
	b.Helper()
	ctx := context.Background()
	open := func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(rand.NewChaCha8([32]byte{'b', 'i', 'g'}), n)), nil
	}
	r, _ := open()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		b.Fatal(err)
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
		return f.SID, hex.EncodeToString(h.Sum(nil))
	}
	b.Fatal("the service has no channel to post the file in")
	return "", ""
}

// BenchmarkBackupRSS150MiB backs up, in a child process, a small history
// with one file of 150 MiB, and reports the child's own peak resident set
// (its VmHWM: see memPeaks) in MB. After timing, the archived file's bytes
// must have the source file's SHA-256.
//
// Run with: go test -run '^$' -bench BackupRSS150MiB -benchtime 1x ./backup
func BenchmarkBackupRSS150MiB(b *testing.B) {
	e := startEmulator(b, emulator.Config{Seed: 32, Channels: 2, Messages: 20, MediaMaxSize: 64 << 10})
	sid, sum := addBigFile(b, e.cl, e.svc, bigFileSize)
	want, _ := serviceShape(b, e.cl, e.svc, DefaultPageSize)
	dir := b.TempDir()
	var hwm int64
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, fmt.Sprintf("rss-%d.vault", i))
		out, took := runHelper(b, helperCommand(e, path, 100, 16, true))
		elapsed += took
		b.StopTimer()
		if out.Result.Messages != want || out.Mem.HWMKB == 0 {
			b.Fatalf("backed up %d messages (the service has %d), peak RSS %d kB", out.Result.Messages, want, out.Mem.HWMKB)
		}
		hwm = max(hwm, out.Mem.HWMKB)
		checkArchivedFile(b, path, e.svc, sid, sum)
		b.StartTimer()
	}
	b.ReportMetric(float64(hwm)/1024, "peak_rss_MB")
	b.ReportMetric(float64(bigFileSize)*float64(b.N)/1e6/elapsed.Seconds(), "MB/s")
}

// checkArchivedFile reads media sid back from the archive at path and
// fails unless its bytes have the SHA-256 sum.
func checkArchivedFile(b *testing.B, path, svc, sid, sum string) {
	b.Helper()
	a, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	m, found, err := a.CurrentMedia(svc, sid)
	if err != nil || !found {
		b.Fatalf("media %s in the archive: found %v, %v", sid, found, err)
	}
	r, err := a.OpenContent(m.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		b.Fatalf("reading media %s from the archive: %v", sid, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum || m.SHA256 != sum {
		b.Fatalf("media %s archived with SHA-256 %s (recorded %s), the source's is %s", sid, got, m.SHA256, sum)
	}
}

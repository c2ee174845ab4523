package store_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
	"github.com/chatvault/chatvault/store"
	"github.com/klauspost/compress/zstd"
)

var writeDict = flag.Bool("write-dict", false, "rebuild store/zstd.dict from emulator history (never change a shipped dictionary)")

// emulatorService starts an in-process emulator with generated history and
// returns a client of it and the service's SID.
func emulatorService(tb testing.TB, cfg emulator.Config) (*remote.Client, string) {
	tb.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		tb.Fatalf("emulator.New: %v", err)
	}
	info, err := srv.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("emulator Start: %v", err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	h := &http.Client{Transport: t}
	tb.Cleanup(func() {
		h.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	cl, err := remote.NewClient(remote.Credentials{AccountSID: info.AccountSID, AuthToken: info.AuthToken},
		remote.WithBaseURL(info.BaseURL), remote.WithConversationsURL(info.ConversationsURL),
		remote.WithMediaURL(info.MediaURL), remote.WithHTTPClient(h))
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	return cl, info.Services[0]
}

// backupEmulator backs up a generated history of channels × messages into
// a new archive at path and returns the messages backed up and the time
// the backup took.
func backupEmulator(tb testing.TB, path string, seed int64, channels, messages int, plain bool) (int, time.Duration) {
	tb.Helper()
	cl, svc := emulatorService(tb, emulator.Config{Seed: seed, Channels: channels, Messages: messages})
	a, err := store.Open(path, store.Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	if plain {
		store.PlainRecords(a)
	}
	start := time.Now()
	// Media files are content, not messages: bytes a message counts the
	// messages' records, so the files are left out.
	res, err := backup.Run(context.Background(), cl, a, backup.Options{Service: svc, NoMedia: true})
	took := time.Since(start)
	if err != nil || res.Status != "complete" {
		tb.Fatalf("backup: %+v %v", res, err)
	}
	if err := a.Close(); err != nil {
		tb.Fatal(err)
	}
	return res.Messages, took
}

// bytesPerMessage is the archive's whole file size over its messages.
func bytesPerMessage(tb testing.TB, path string, messages int) float64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return float64(fi.Size()) / float64(messages)
}

// TestEmulatorHistoryCompact backs up an emulator history of about 40,000
// messages (other seed than the dictionary's) and requires the archive to
// stay under 250 bytes a message, the target of doc.go's "Compression".
// (A quarter of that history measured 241-250: how pages fill depends on
// how the writer happened to batch its commits, and the file's fixed part
// weighs more; at this size it measures 221-227.)
func TestEmulatorHistoryCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "size.vault")
	n, _ := backupEmulator(t, path, 5, 40, 1000, false)
	bpm := bytesPerMessage(t, path, n)
	t.Logf("%d messages, %.0f bytes a message", n, bpm)
	if bpm > 250 {
		t.Errorf("archive holds %.0f bytes a message, want at most 250", bpm)
	}
}

// TestWriteDictionary rebuilds zstd.dict from emulator history when run
// with -write-dict; otherwise it checks that the dictionary builds and
// that the shipped one is a zstd dictionary.
func TestWriteDictionary(t *testing.T) {
	shipped, err := os.ReadFile("zstd.dict")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zstd.InspectDictionary(shipped); err != nil {
		t.Fatalf("zstd.dict is not a zstd dictionary: %v", err)
	}
	if !*writeDict {
		return
	}
	cl, svc := emulatorService(t, emulator.Config{Seed: 77, Channels: 40, Messages: 200})
	ctx := context.Background()
	var samples [][]byte
	for c, err := range cl.ListChannels(ctx, svc) {
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, c.Raw)
		for m, err := range cl.ListMembers(ctx, svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			samples = append(samples, m.Raw)
		}
		for m, err := range cl.ListMessages(ctx, svc, c.SID, remote.ListOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			samples = append(samples, m.Raw)
		}
	}
	// History: the newest samples last, as zstd prefers; 32 KiB of them.
	var hist []byte
	for i := len(samples) - 1; i >= 0 && len(hist) < 32<<10; i -= 7 {
		hist = append(append([]byte(nil), samples[i]...), hist...)
	}
	dict, err := zstd.BuildDict(zstd.BuildDictOptions{ID: 0x5c, Contents: samples, History: hist,
		Offsets: [3]int{1, 4, 8}, Level: zstd.SpeedFastest})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("zstd.dict", dict, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote zstd.dict: %d bytes from %d samples", len(dict), len(samples))
}

// BenchmarkArchiveSize backs up 100 channels × 1,000 messages of emulator
// history and reports the archive's bytes a message, with the resources
// stored raw as format 1 stored them (compress=off) and compressed.
//
//	go test ./store/ -run XXX -bench ArchiveSize -benchtime 1x
func BenchmarkArchiveSize(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "compress=off", true: "compress=on"}[on]
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				path := filepath.Join(b.TempDir(), "size.vault")
				n, took := backupEmulator(b, path, 11, 100, 1000, !on)
				b.ReportMetric(float64(n)/took.Seconds(), "msgs/s")
				b.ReportMetric(bytesPerMessage(b, path, n), "bytes/msg")
			}
		})
	}
}

package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkPutMessages measures the write path: batches of 100 raw
// messages of about 600 bytes, appended to a few channels and committed.
func BenchmarkPutMessages(b *testing.B) {
	a, err := Open(b.TempDir()+"/bench.vault", Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	w, err := a.BeginSnapshot(testSvc, false, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	const per, channels = 100, 8
	body := strings.Repeat("lorem ipsum ", 40)
	batch := make([]MessageRecord, per)
	raws := make([][]byte, per)
	for i := range raws {
		raws[i] = fmt.Appendf(nil, `{"sid":"IM%032d","index":%d,"body":%q,"attributes":"{}","date_created":"2026-01-01T00:00:00Z","from":"user"}`, i, i, body)
	}
	next := make([]int64, channels)
	b.ReportAllocs()
	b.SetBytes(int64(per * len(raws[0])))
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		c := n % channels
		for i := range batch {
			batch[i] = MessageRecord{SID: "IM", Index: next[c], Raw: raws[i]}
			next[c]++
		}
		if err := w.PutMessages(chSID(c), batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*per)/elapsed.Seconds(), "records/s")

	s, err := w.Finish(StatusComplete, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	if s.Added != b.N*per {
		b.Fatalf("added %d, want %d", s.Added, b.N*per)
	}
}

// emulatorLikeMessage is a message shaped like the emulator's (about 650
// bytes of JSON, SIDs, dates and a short body).
func emulatorLikeMessage(ch, i int) []byte {
	return fmt.Appendf(nil, `{"sid":"IM%032x","account_sid":"AC77247e0b662bd5c8a74e832442d7f5b8","attributes":"{}","service_sid":"%s","to":"%s","channel_sid":"%s","date_created":"2025-01-26T17:58:33Z","date_updated":"2025-01-26T17:58:33Z","last_updated_by":null,"was_edited":false,"from":"user%d","body":"message %d of channel %d, with a few words of text","index":%d,"type":"text","media":null,"url":"https://chat.twilio.com/v2/Services/%s/Channels/%s/Messages/IM%032x"}`,
		ch*1_000_000+i, testSvc, chSID(ch), chSID(ch), i%7, i, ch, i, testSvc, chSID(ch), ch*1_000_000+i)
}

// buildArchive writes one complete snapshot of channels × perChannel
// messages directly through the store (no HTTP), one goroutine per
// channel, plain (as format 1 stored them) or compressed.
func buildArchive(tb testing.TB, path string, channels, perChannel int, plain bool) {
	tb.Helper()
	a, err := Open(path, Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	a.plain = plain
	w, err := a.BeginSnapshot(testSvc, true, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, channels)
	for c := range channels {
		wg.Go(func() {
			if err := w.PutChannel(chSID(c), "", chanJSON(c, "2026-01-01T00:00:00Z")); err != nil {
				errs <- err
				return
			}
			batch := make([]MessageRecord, 0, 100)
			for i := range perChannel {
				batch = append(batch, MessageRecord{SID: fmt.Sprintf("IM%032x", c*1_000_000+i), Index: int64(i), Raw: emulatorLikeMessage(c, i)})
				if len(batch) == cap(batch) || i == perChannel-1 {
					if err := w.PutMessages(chSID(c), batch); err != nil {
						errs <- err
						return
					}
					batch = batch[:0]
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	if _, err := w.Finish(StatusComplete, 0, nil); err != nil {
		tb.Fatal(err)
	}
	if err := a.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkOpenList measures what `chatvault snapshots` does with the
// archive: a read-only Open, the snapshot list, Close, on archives of 0,
// 100k and 1M messages (1,000 a channel) written directly through the
// store, and on a 1M-message archive of format 1 (plain records, as the
// previous release wrote them; it is read as it is, never upgraded).
// ms/op should not grow with the size. walk_service_ms is what
// BeginSnapshot adds before a backup: the walk of every channel's pages.
//
//	go test ./store/ -run XXX -bench OpenList -benchtime 20x
func BenchmarkOpenList(b *testing.B) {
	for _, tc := range []struct {
		n       int
		format1 bool
	}{{0, false}, {100_000, false}, {1_000_000, false}, {1_000_000, true}} {
		name := fmt.Sprintf("messages=%d", tc.n)
		if tc.format1 {
			name += ",format=1"
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "open.vault")
			buildArchive(b, path, max(1, tc.n/1000), min(tc.n, 1000), tc.format1)
			if tc.format1 {
				setFormat(b, path, 1)
			}
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				a, err := Open(path, Options{ReadOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				snaps, err := a.Snapshots()
				if err != nil || len(snaps) != 1 || snaps[0].Messages != tc.n {
					b.Fatalf("Snapshots = %+v, %v", snaps, err)
				}
				if err := a.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(fi.Size())/1e6, "file_MB")
			a, err := Open(path, Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			start := time.Now()
			if err := a.vetService(testSvc); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "walk_service_ms")
		})
	}
}

// BenchmarkResourceRecord measures one message's compression into its
// record and its decoding (the CPU compression adds to a backup and a
// read), on emulator-like messages.
func BenchmarkResourceRecord(b *testing.B) {
	a := &Archive{}
	msgs := make([][]byte, 1000)
	for i := range msgs {
		msgs[i] = emulatorLikeMessage(i%10, i)
	}
	recs := make([][]byte, len(msgs))
	for i, m := range msgs {
		recs[i] = a.appendResource(nil, kindPut, imSID(i), m)
	}
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		i := 0
		for b.Loop() {
			buf = a.appendResource(buf[:0], kindPut, imSID(i), msgs[i%len(msgs)])
			i++
		}
	})
	b.Run("decode", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := decodeRecord(recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

package store

import (
	"fmt"
	"strings"
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

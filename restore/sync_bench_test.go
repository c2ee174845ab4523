package restore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

// BenchmarkSync: a bulk restore of 20 channels of about 500 messages, then
// 1% of the messages edited, deleted or added at the source (in turn,
// spread over the channels), a backup, and the timed sync, from an emulator
// that answers after 20ms, with the client's default pacing. It reports:
//
//	changes      messages changed at the source
//	writes       writes the sync sent (target: at most 1.1 × changes)
//	reads        other requests the sync sent (target: about one per channel)
//	writes/change
//	%bound       100 × bound / elapsed, where bound is the least time the
//	             writes take (the dry-run estimate: each channel's writes
//	             one after another at max(latency, 1/25 s), channels 8 at once)
//
// Run with: go test -run '^$' -bench Sync -benchtime 1x ./restore
func BenchmarkSync(b *testing.B) {
	const latency = 20 * time.Millisecond
	e := newEnv(b, emulator.Config{Seed: 9, Channels: 20, Messages: 500})
	e.backup(b, false)
	if _, err := e.restore(b, e.cl, Options{Concurrency: 8}); err != nil {
		b.Fatal(err)
	}
	src := capture(b, e.cl, e.src)
	total := 0
	for _, c := range src.channels {
		total += len(c.messages)
	}
	changes := sourceEdits(b, e.cl, e.src, src, total/100)
	e.backup(b, true)
	e.srv.SetFaults(latency, 0, 0, 0, 0)
	cl := e.client(b, remote.WithLimits(remote.DefaultLimits()))

	b.ResetTimer()
	var res Result
	for range b.N {
		w0, r0 := e.srv.Stats().Writes, cl.Requests()
		var err error
		res, err = e.restore(b, cl, Options{Sync: true, Concurrency: 8})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		writes, reqs := e.srv.Stats().Writes-w0, cl.Requests()-r0
		if float64(writes) > 1.1*float64(changes) {
			b.Errorf("the sync sent %d writes for %d changes", writes, changes)
		}
		if reads := reqs - writes; reads > int64(len(src.channels))+int64(len(src.channels))/2+3 {
			b.Errorf("the sync sent %d reads for %d channels", reads, len(src.channels))
		}
		perChannel := make([]chain, 0, len(src.channels))
		for range src.channels {
			perChannel = append(perChannel, chain{writes: int(writes) / len(src.channels)})
		}
		bound := estimate(int(writes), perChannel, 8, latency, remote.DefaultLimits().ChannelWriteRate, DefaultUploadRate)
		elapsed := res.DurationSeconds
		b.ReportMetric(float64(changes), "changes")
		b.ReportMetric(float64(writes), "writes")
		b.ReportMetric(float64(reqs-writes), "reads")
		b.ReportMetric(float64(writes)/float64(changes), "writes/change")
		b.ReportMetric(100*bound/elapsed, "%bound")
		b.ReportMetric(float64(total), "history_msgs")
		e.srv.SetFaults(0, 0, 0, 0, 0)
		b.StartTimer()
	}
	b.StopTimer()
	if res.Updated+res.Deleted+res.Messages == 0 {
		b.Fatal("the sync changed nothing")
	}
}

// sourceEdits makes n changes to the source's non-media messages, in turn an
// edit, a deletion and a new message, one channel after the other.
func sourceEdits(b testing.TB, cl *remote.Client, svc string, l live, n int) int {
	ctx := context.Background()
	var chans []*liveChannel
	for _, c := range l.channels {
		chans = append(chans, c)
	}
	next := make([]int, len(chans)) // per channel: next message to change
	done := 0
	for i := 0; done < n; i++ {
		c := chans[i%len(chans)]
		k := &next[i%len(chans)]
		for *k < len(c.messages) && c.messages[*k].Media != nil {
			*k++
		}
		if *k >= len(c.messages) {
			continue
		}
		m := c.messages[*k]
		*k++
		var err error
		switch done % 3 {
		case 0:
			body := "edited: " + m.Body
			_, err = cl.UpdateMessage(ctx, svc, c.ch.SID, m.SID, remote.MessageParams{Body: &body})
		case 1:
			err = cl.DeleteMessage(ctx, svc, c.ch.SID, m.SID)
		case 2:
			body := fmt.Sprintf("new %d", done)
			_, err = cl.CreateMessage(ctx, svc, c.ch.SID, remote.MessageParams{Body: &body})
		}
		if err != nil {
			b.Fatalf("change at the source: %v", err)
		}
		done++
	}
	return done
}

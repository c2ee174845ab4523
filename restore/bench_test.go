package restore

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

// BenchmarkRestoreLatency restores 16 channels of about 100 messages from an
// emulator that answers after 50ms and allows 30 writes/s per channel, with
// the client's default pacing (25 writes/s per channel), through Chat
// (api=chat) and through Conversations (api=conversations: the same writes,
// under Conversations' names). It reports:
//
//	msgs/s    messages created per second
//	%bound    100 × bound / elapsed, where bound = max(total writes × latency /
//	          concurrency, longest channel's chain of writes × max(latency, 1/rate))
//	          is the least time any client could take at that concurrency
//	x_vs_sdk  total writes × latency / elapsed: the speed-up over writing one
//	          request at a time, as a loop over an SDK would
//
// Run with: go test -run '^$' -bench RestoreLatency -benchtime 1x ./restore
func BenchmarkRestoreLatency(b *testing.B) {
	for _, api := range []string{remote.APIChat, remote.APIConversations} {
		for _, conc := range []int{8, 16} {
			b.Run(fmt.Sprintf("api=%s/concurrency=%d", api, conc), func(b *testing.B) { benchRestore(b, api, conc) })
		}
	}
}

func benchRestore(b *testing.B, api string, conc int) {
	const latency = 50 * time.Millisecond
	e := newEnv(b, emulator.Config{Seed: 7, Channels: 16, Messages: 100, WriteRate: 30})
	e.backup(b, false)
	src := capture(b, e.cl, e.src)
	// The chain of writes of each channel: the channel, its members,
	// its messages (a media message's file uploaded first), the read
	// positions.
	longest, total := 0, 0
	for _, c := range src.channels {
		n := 1 + len(c.members) + len(c.messages)
		for _, m := range c.messages {
			if m.Media != nil {
				n++
			}
		}
		for _, m := range c.members {
			if m.LastConsumedMessageIndex != nil {
				n++
			}
		}
		longest, total = max(longest, n), total+n
	}
	e.srv.SetFaults(latency, 0, 30, 0, 0)
	rate := remote.DefaultLimits().ChannelWriteRate
	var cl Target = e.client(b, remote.WithLimits(remote.Limits{}))
	if api == remote.APIConversations {
		cl = cl.(*remote.Client).Conversations()
	}
	var elapsed time.Duration
	var msgs int
	var writes int64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		target := e.newService(b, fmt.Sprintf("bench %d", i))
		w0 := e.srv.Stats().Writes
		b.StartTimer()
		start := time.Now()
		res, err := e.restore(b, cl, Options{Target: target, Concurrency: conc})
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil || len(res.Failed) > 0 || len(res.Conflicts) > 0 {
			b.Fatalf("restore: %+v, %v", res, err)
		}
		msgs += res.Messages
		writes += e.srv.Stats().Writes - w0
		b.StartTimer()
	}
	b.StopTimer()
	if writes != int64(total*b.N) {
		b.Errorf("%d writes reached the emulator, want %d (429s or a miscount)", writes, total*b.N)
	}
	per := elapsed.Seconds() / float64(b.N)
	step := max(latency.Seconds(), 1/rate)
	bound := max(float64(total)*latency.Seconds()/float64(conc), float64(longest)*step)
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(100*bound/per, "%bound")
	b.ReportMetric(float64(total)*latency.Seconds()/per, "x_vs_sdk")
	b.ReportMetric(per, "s/restore")
}

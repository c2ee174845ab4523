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
//	MB/s      media bytes (10^6) uploaded per second
//	%bound    100 × bound / elapsed, where bound = max(total writes × latency /
//	          concurrency, longest channel's chain of writes × max(latency, 1/rate))
//	          is the least time any client could take at that concurrency;
//	          a media message's upload counts as one more write of its
//	          channel's chain (one latency: the bytes cross loopback);
//	          the users created before the channels are not counted
//	x_vs_sdk  total writes × latency / elapsed: the speed-up over writing one
//	          request at a time, as a loop over an SDK would
//
// After timing, every target must equal the source: through Chat field for
// field and files byte for byte; through Conversations, as VerifyTarget
// compares it.
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
	benchRestoreOf(b, api, conc, emulator.Config{Seed: 7, Channels: 16, Messages: 100, WriteRate: 30})
}

// benchRestoreOf restores cfg's history, first into services[1], then
// into new services, and checks each target against the source after
// timing.
func benchRestoreOf(b *testing.B, api string, conc int, cfg emulator.Config) {
	const latency = 50 * time.Millisecond
	e := newEnv(b, cfg)
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
	var msgs, users int
	var writes, media int64
	var targets []string
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		target := e.dst
		if i > 0 {
			target = e.newService(b, fmt.Sprintf("bench %d", i))
		}
		targets = append(targets, target)
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
		media += res.MediaBytes
		users += res.Users
		writes += e.srv.Stats().Writes - w0
		b.StartTimer()
	}
	b.StopTimer()
	if writes != int64(total*b.N+users) {
		b.Errorf("%d writes reached the emulator, want %d (429s or a miscount)", writes, total*b.N+users)
	}
	e.srv.SetFaults(0, 0, 0, 0, 0)
	for _, t := range targets {
		if api == remote.APIChat {
			compareLive(b, src, capture(b, e.cl, t), nil, nil)
		} else if diffs := e.verifyVia(b, cl, t); len(diffs) > 0 {
			b.Errorf("target %s differs from the archive: %+v", t, diffs)
		}
	}
	per := elapsed.Seconds() / float64(b.N)
	step := max(latency.Seconds(), 1/rate)
	bound := max(float64(total)*latency.Seconds()/float64(conc), float64(longest)*step)
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(media)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(100*bound/per, "%bound")
	b.ReportMetric(float64(total)*latency.Seconds()/per, "x_vs_sdk")
	b.ReportMetric(per, "s/restore")
}

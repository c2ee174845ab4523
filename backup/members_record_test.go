package backup

import (
	"context"
	"iter"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// badRawListing lists channel bad with a record the archive refuses
// (PutChannel fails, an aborting store error).
type badRawListing struct {
	*fakeSource
	bad string
}

func (b badRawListing) ListChannels(ctx context.Context, service string, types ...string) iter.Seq2[*remote.Channel, error] {
	return func(yield func(*remote.Channel, error) bool) {
		for c, err := range b.fakeSource.ListChannels(ctx, service, types...) {
			if c != nil && c.SID == b.bad {
				cp := *c
				cp.Raw = []byte("{")
				c = &cp
			}
			if !yield(c, err) || err != nil {
				return
			}
		}
	}
}

// TestNoMembersWithoutChannelRecord: when the channel's record could
// not be queued, its members job must not list or store its members.
func TestNoMembersWithoutChannelRecord(t *testing.T) {
	var listed, stored int
	for i := range 20 {
		f := newFakeSource(1, 3)
		a := newArchive(t)
		bad := f.channel(0).sid
		var n atomic.Int64
		f.fail = func(kind, ch string) error {
			if kind == kMembers && ch == bad {
				n.Add(1)
			}
			return nil
		}
		res, err := Run(context.Background(), badRawListing{f, bad}, a, opts(f))
		if err == nil {
			t.Fatalf("run %d: no error", i)
		}
		if n.Load() > 0 {
			listed++
		}
		if res.Snapshot != 0 {
			v, err := a.View(res.Snapshot)
			if err == nil {
				if ms, _ := v.Members(bad); len(ms) > 0 {
					stored++
				}
			}
		}
	}
	if listed > 0 || stored > 0 {
		t.Errorf("of 20 runs whose channel record was refused, %d listed the channel's members and %d stored them", listed, stored)
	}
}

package backup

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/remote/emulator"
)

// TestIntegrationCompareAcrossAPIs: a snapshot read through one API
// compares with the live service read through the other under the mapping:
// an unchanged service has no difference but its public channels, which
// Conversations does not show (named not_visible, never missing_live); a user's friendly name
// or a message's body changed is a difference through either API.
func TestIntegrationCompareAcrossAPIs(t *testing.T) {
	ctx := context.Background()
	e := startEmulator(t, emulator.Config{Seed: 11, Channels: 6, Messages: 25, Now: func() time.Time { return emulatorNow }})
	a := newArchive(t)
	conv := e.cl.Conversations()
	viaChat, err := Run(ctx, e.cl, a, Options{Service: e.svc})
	if err != nil || viaChat.Status != "complete" || viaChat.Users == 0 {
		t.Fatalf("backup through Chat: %+v %v", viaChat, err)
	}
	viaConv, err := Run(ctx, conv, a, Options{Service: e.svc})
	if err != nil || viaConv.Status != "complete" || viaConv.API != remote.APIConversations {
		t.Fatalf("backup through Conversations: %+v %v", viaConv, err)
	}
	var public []Difference
	for c, err := range e.cl.ListChannels(ctx, e.svc, "public") {
		if err != nil {
			t.Fatal(err)
		}
		public = append(public, chDiff(c.SID, DiffNotVisible))
	}
	slices.SortFunc(public, func(x, y Difference) int { return strings.Compare(x.Channel, y.Channel) })
	if len(public) == 0 {
		t.Fatal("the seeded service has no public channel; pick another seed")
	}
	compare := func(id uint64, src Source) []Difference {
		t.Helper()
		v, err := a.View(id)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Compare(ctx, src, v)
		if err != nil {
			t.Fatalf("Compare snapshot %d through %s: %v", id, src.API(), err)
		}
		return d
	}
	assertDiffs(t, compare(viaChat.Snapshot, conv), public)
	assertDiffs(t, compare(viaConv.Snapshot, e.cl), nil)

	var user *remote.User
	for u, err := range e.cl.ListUsers(ctx, e.svc) {
		if err != nil {
			t.Fatal(err)
		}
		user = u
	}
	if _, err := conv.UpdateUser(ctx, e.svc, user.SID, remote.UserParams{FriendlyName: ptr("renamed by the test")}); err != nil {
		t.Fatal(err)
	}
	want := []Difference{{User: user.SID, Kind: DiffChanged, Fields: []string{"friendly_name"}}}
	assertDiffs(t, compare(viaChat.Snapshot, conv), append(slices.Clone(want), public...))
	assertDiffs(t, compare(viaConv.Snapshot, e.cl), want)
	// The snapshot through Conversations keeps the public channels the
	// one through Chat read.
	assertDiffs(t, compare(viaConv.Snapshot, conv), append(want, public...))
}

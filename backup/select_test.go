package backup

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUnknownChannelRecordsNoSnapshot: a backup whose --channel names
// match no channel of the service fails before a snapshot is begun, and
// says which channels the user may have meant.
func TestUnknownChannelRecordsNoSnapshot(t *testing.T) {
	f := newFakeSource(4, 3)
	tests := []struct {
		name     string
		channels []string
		want     string // in the error
	}{
		{"misspelled name", []string{"rom-2"}, "did you mean room-2?"},
		{"case and prefix", []string{"ROOM"}, "did you mean room-1, room-2, room-3, room-4?"},
		{"nothing near", []string{"payroll-archive-2019"}, "its channels are room-1, room-2, room-3, room-4"},
		{"missing SID", []string{hexSID("CH", 999)}, `no channel "` + hexSID("CH", 999) + `"`},
		{"two missing names", []string{"room-9", "rooom-1"}, `no channel "room-9", "rooom-1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArchive(t)
			o := opts(f)
			o.Channels = tc.channels
			res, err := Run(context.Background(), f, a, o)
			if !errors.Is(err, ErrUnknownChannel) {
				t.Fatalf("Run: %v; want ErrUnknownChannel", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "no snapshot was recorded") {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			snaps, serr := a.Snapshots()
			if serr != nil || len(snaps) != 0 || res.Snapshot != 0 {
				t.Errorf("a snapshot was recorded: %v (result %d), %v", snaps, res.Snapshot, serr)
			}
		})
	}
}

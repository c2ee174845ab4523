package backup

import (
	"context"
	"math"
	"runtime/debug"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// limitSpy is a fakeSource that records the Go runtime's memory limit
// when Run fetches the service.
type limitSpy struct {
	*fakeSource
	during int64
}

func (s *limitSpy) FetchService(ctx context.Context, sid string) (*remote.Service, error) {
	s.during = debug.SetMemoryLimit(-1)
	return s.fakeSource.FetchService(ctx, sid)
}

// Not parallel: the memory limit is the whole process's.
func TestRunLimitsMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	tests := []struct {
		name   string
		before int64 // the process's limit when Run starts
		during int64
	}{
		{"no limit: Run sets its own", math.MaxInt64, memoryLimit},
		{"GOMEMLIMIT set: kept", 512 << 20, 512 << 20},
		{"a limit below Run's: kept", 32 << 20, 32 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.before)
			s := &limitSpy{fakeSource: newFakeSource(2, 5)}
			res, err := Run(context.Background(), s, newArchive(t), opts(s.fakeSource))
			if err != nil || res.Messages != 10 {
				t.Fatalf("Run: %d messages, %v; want 10, nil", res.Messages, err)
			}
			if s.during != tt.during {
				t.Errorf("memory limit during Run = %d, want %d", s.during, tt.during)
			}
			if after := debug.SetMemoryLimit(-1); after != tt.before {
				t.Errorf("memory limit after Run = %d, want %d as before", after, tt.before)
			}
		})
	}
}

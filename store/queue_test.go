package store

import (
	"testing"
	"time"
)

func TestQueueBudget(t *testing.T) {
	tests := []struct {
		name    string
		queued  int  // bytes counted before the acquire
		n       int  // bytes asked for
		closed  bool // the writer goroutine has stopped
		waits   bool // acquire blocks until a release
		granted bool
	}{
		{"empty queue", 0, 100, false, false, true},
		{"fits", maxQueuedBytes - 100, 100, false, false, true},
		{"nothing asked on a full queue", maxQueuedBytes, 0, false, false, true},
		{"one byte too many", maxQueuedBytes - 100, 101, false, true, true},
		{"full queue", maxQueuedBytes, 1, false, true, true},
		{"larger than the bound, empty queue", 0, 3 * maxQueuedBytes, false, false, true},
		{"larger than the bound, queue in use", 1, 3 * maxQueuedBytes, false, true, true},
		{"closed", 0, 1, true, false, false},
		{"closed while full", maxQueuedBytes, 1, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q queueBudget
			q.queued = tt.queued
			if tt.closed {
				q.close()
			}
			got := make(chan bool, 1)
			go func() { got <- q.acquire(tt.n) }()
			if tt.waits {
				select {
				case <-got:
					t.Fatal("acquire did not wait for room in the queue")
				case <-time.After(20 * time.Millisecond):
				}
				q.release(tt.queued)
			}
			if g := <-got; g != tt.granted {
				t.Fatalf("acquire = %v, want %v", g, tt.granted)
			}
			want := tt.queued // refused: nothing counted
			switch {
			case tt.granted && tt.waits: // the bytes before were released
				want = tt.n
			case tt.granted:
				want += tt.n
			}
			if q.queued != want {
				t.Errorf("queued = %d, want %d", q.queued, want)
			}
		})
	}
}

func TestQueueBudgetCloseWakesWaiters(t *testing.T) {
	var q queueBudget
	q.queued = maxQueuedBytes
	got := make(chan bool, 3)
	for range 3 {
		go func() { got <- q.acquire(10) }()
	}
	q.close()
	for range 3 {
		if <-got {
			t.Fatal("acquire granted room after close")
		}
	}
}

func TestWritersWaitForRoomInTheQueue(t *testing.T) {
	// Pages far larger than the queue's bound still get through, in order,
	// and nothing is lost.
	t.Parallel()
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	big := make([]byte, maxQueuedBytes/2+1)
	for i := range big {
		big[i] = 'x'
	}
	const pages = 3
	for p := range pages {
		raw := append(append([]byte(`{"body":"`), big...), `"}`...)
		if err := w.PutMessages(chSID(1), []MessageRecord{{SID: imSID(p), Index: int64(p), Raw: raw}}); err != nil {
			t.Fatal(err)
		}
	}
	s := finish(t, w)
	if s.Added != pages {
		t.Errorf("added %d messages, want %d", s.Added, pages)
	}
	if a.queue.queued != 0 {
		t.Errorf("%d bytes still counted in the queue after Finish", a.queue.queued)
	}
}

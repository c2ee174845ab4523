package backup

import (
	"container/heap"
	"context"
	"sync"
)

// jobQueue holds the channels listed and not yet started. The listing
// pushes them as each page arrives; the dispatcher takes the one with the
// most messages among those waiting, so long channels start early and do
// not finish alone at the end of the run.
type jobQueue struct {
	mu     sync.Mutex
	h      jobHeap
	n      int // jobs pushed
	closed bool
	ready  chan struct{} // holds a token after a push or close
}

func newJobQueue() *jobQueue { return &jobQueue{ready: make(chan struct{}, 1)} }

// push adds j to the queue.
func (q *jobQueue) push(j job) {
	q.mu.Lock()
	heap.Push(&q.h, queuedJob{job: j, seq: q.n})
	q.n++
	q.mu.Unlock()
	q.signal()
}

// close says no more jobs will be pushed, and returns how many were.
func (q *jobQueue) close() int {
	q.mu.Lock()
	q.closed = true
	n := q.n
	q.mu.Unlock()
	q.signal()
	return n
}

func (q *jobQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// wait blocks until a job is waiting (true), or the queue is closed and
// empty or ctx is done (false). Only one goroutine may wait and pop.
func (q *jobQueue) wait(ctx context.Context) bool {
	for {
		q.mu.Lock()
		waiting, closed := len(q.h) > 0, q.closed
		q.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return false
		case waiting:
			return true
		case closed:
			return false
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return false
		}
	}
}

// pop takes the waiting job with the most messages (by size) (the first listed among
// equals). wait must have returned true.
func (q *jobQueue) pop() job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return heap.Pop(&q.h).(queuedJob).job
}

type queuedJob struct {
	job
	seq int
}

// jobHeap orders messages jobs before members jobs (see chanJobs), then
// by size, most first, then by seq.
type jobHeap []queuedJob

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if h[i].members != h[j].members {
		return !h[i].members
	}
	if h[i].size != h[j].size {
		return h[i].size > h[j].size
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(queuedJob)) }
func (h *jobHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = queuedJob{}
	*h = old[:len(old)-1]
	return x
}

// startGate passes progress events on, holding back ChannelDone until
// Start: channels are backed up while they are still being listed, but a
// Progress is promised Start (with the number of channels) first.
type startGate struct {
	Progress
	mu      sync.Mutex
	started bool
	held    int
}

func (g *startGate) Start(channels int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.Progress.Start(channels)
	g.started = true
	for ; g.held > 0; g.held-- {
		g.Progress.ChannelDone()
	}
}

func (g *startGate) ChannelDone() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.started {
		g.held++
		return
	}
	g.Progress.ChannelDone()
}

// slot waits for one of the Options.Concurrency places for a request in
// flight. Everything that sends requests holds one while it does (the
// service fetch, the channel listing, the roles, each channel), so the run
// never has more requests in flight than Options.Concurrency.
func (r *run) slot(ctx context.Context) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *run) unslot() { <-r.slots }

// withSlot runs fn holding a slot.
func (r *run) withSlot(ctx context.Context, fn func() error) error {
	if err := r.slot(ctx); err != nil {
		return err
	}
	defer r.unslot()
	return fn()
}

package backup

import (
	"container/heap"
	"context"
	"errors"
	"math"
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

// places bounds the requests in flight to Options.Concurrency: that many
// sender goroutines run the requests of the whole run, taking the waiting
// request of highest priority (the one asked first among equals) as soon
// as they are done with one. The service fetch, the listings and a
// channel's members are one task each, over their few requests and what
// they store in between.
//
// A place serves one request at a time rather than one channel because a
// channel's walk is a chain of requests one after another. Were a walk
// to hold a place from its first page to its last, the run would go in
// waves of Options.Concurrency channels, and the last wave, with fewer
// channels than places, would leave the others idle for a whole walk:
// 100 channels of 1,000 messages at concurrency 32 ended with 4 walks
// alone for 10 rounds of 36 (82 % of the bound, against 89 % for 96
// channels). More walks than places run at once (activeJobs), and a
// free sender takes the request of the walk with the most pages left, so
// that they all end together. The sender that has just read an answer
// sends the next request itself: handing the place to a waiting
// goroutine instead would make every request wait for that goroutine to
// get a CPU, while the pages that answered together are being stored.
type places struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled on push and close
	waiting waitHeap
	seq     uint64
	closed  bool
	senders sync.WaitGroup
}

// newPlaces starts n senders; close stops them.
func newPlaces(n int) *places {
	p := &places{}
	p.cond.L = &p.mu
	p.senders.Add(n)
	for range n {
		go p.send()
	}
	return p
}

// Priorities of tasks other than a walk's request, whose priority is the
// number of pages the walk has left (at least 1).
const (
	prioListing = math.MaxInt // the service, roles, users, channels: every job waits on them
	prioMembers = 0           // a members listing: most often one request, it fills the end
)

// task is a request waiting for a sender; idx is its position in the
// heap, -1 once a sender took it.
type task struct {
	prio int
	seq  uint64
	idx  int
	fn   func()
	done chan struct{}
}

func (p *places) send() {
	defer p.senders.Done()
	for {
		p.mu.Lock()
		for len(p.waiting) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.waiting) == 0 {
			p.mu.Unlock()
			return
		}
		t := heap.Pop(&p.waiting).(*task)
		p.mu.Unlock()
		t.fn()
		close(t.done)
	}
}

// close stops the senders once the tasks waiting are done, and waits
// for them.
func (p *places) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.senders.Wait()
}

// do runs fn on a sender at priority prio and returns its error; when
// ctx ends first, a task not yet taken is withdrawn, and one taken is
// waited for (fn must end with ctx).
func (p *places) do(ctx context.Context, prio int, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	t := &task{prio: prio, fn: func() { err = fn() }, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("backup: request after the run ended")
	}
	t.seq = p.seq
	p.seq++
	heap.Push(&p.waiting, t)
	p.cond.Signal()
	p.mu.Unlock()
	select {
	case <-t.done:
		return err
	case <-ctx.Done():
	}
	p.mu.Lock()
	taken := t.idx < 0
	if !taken {
		heap.Remove(&p.waiting, t.idx)
	}
	p.mu.Unlock()
	if !taken {
		return ctx.Err()
	}
	<-t.done
	return err
}

// waitHeap orders tasks by priority, highest first, then first come.
type waitHeap []*task

func (h waitHeap) Len() int { return len(h) }
func (h waitHeap) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].seq < h[j].seq
}
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *waitHeap) Push(x any) {
	t := x.(*task)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *waitHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

// request runs fn, which sends a request or a few, on one of the run's
// places at priority prio.
func (r *run) request(ctx context.Context, prio int, fn func() error) error {
	return r.places.do(ctx, prio, fn)
}

// activeJobs is how many jobs run at once: four times the places, so
// that walks wait for every place that comes free until the last
// channels, and those started last can catch up with the others (see
// places). A walk waiting for a place holds no page.
func activeJobs(concurrency int) int { return 4 * concurrency }

// startJob waits until fewer than activeJobs jobs run.
func (r *run) startJob(ctx context.Context) error {
	select {
	case r.jobs <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *run) endJob() { <-r.jobs }

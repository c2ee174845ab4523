package store

import "sync"

// maxQueuedBytes bounds the resource bytes waiting in the writer
// goroutine's queue. Writers block (backpressure) while the queue holds
// more: callers cannot read from the service faster than the disk takes
// it, and memory stays bounded even when every record is large. One
// operation larger than the bound is let in when the queue is empty.
const maxQueuedBytes = 4 << 20

// queueBudget counts the bytes of the queued operations (see
// maxQueuedBytes). Its zero value is ready to use.
type queueBudget struct {
	mu     sync.Mutex
	cond   sync.Cond
	queued int
	closed bool
}

// acquire waits until n more bytes may be queued and counts them. It
// returns false, without counting, once the writer goroutine has stopped.
func (q *queueBudget) acquire(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cond.L == nil {
		q.cond.L = &q.mu
	}
	for !q.closed && q.queued > 0 && q.queued+n > maxQueuedBytes {
		q.cond.Wait()
	}
	if q.closed {
		return false
	}
	q.queued += n
	return true
}

// release uncounts n bytes taken off the queue.
func (q *queueBudget) release(n int) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	q.queued -= n
	q.mu.Unlock()
	q.cond.Broadcast()
}

// close wakes every waiter for good: the writer goroutine has stopped.
func (q *queueBudget) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

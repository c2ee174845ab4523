package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// journalChunk is how many committed entries Scan reads per transaction.
const journalChunk = 512

// Journal is restore's durable map for one (source service, target service)
// pair: string keys to small values, written through the same writer
// goroutine in batches. Get sees queued values too (read-your-writes).
type Journal struct {
	a    *Archive
	name string

	mu      sync.Mutex
	seq     uint64
	pending map[string]pendingValue // queued, not yet committed
}

type pendingValue struct {
	seq   uint64
	value []byte
}

// Journal returns the journal of the pair. The same pair always yields the
// same *Journal within an Archive, so every user shares one overlay of
// queued values.
func (a *Archive) Journal(source, target string) (*Journal, error) {
	for _, s := range []struct{ what, v string }{{"source service", source}, {"target service", target}} {
		if err := validEntity(s.what, s.v); err != nil {
			return nil, fmt.Errorf("archive %s: journal: %v", a.path, err)
		}
		if strings.Contains(s.v, ">") {
			return nil, fmt.Errorf("archive %s: journal: %s %q contains '>'", a.path, s.what, s.v)
		}
	}
	name := source + ">" + target
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if a.journals == nil {
		a.journals = map[string]*Journal{}
	}
	j := a.journals[name]
	if j == nil {
		j = &Journal{a: a, name: name, pending: map[string]pendingValue{}}
		a.journals[name] = j
	}
	return j, nil
}

func (j *Journal) where(key string) string { return fmt.Sprintf("journal/%s/%q", j.name, key) }

// Get returns the value of key: the newest queued value, else the
// committed one.
func (j *Journal) Get(key string) ([]byte, bool, error) {
	if !j.a.ro {
		if err := j.a.stickyErr(); err != nil {
			return nil, false, err
		}
	}
	j.mu.Lock()
	p, ok := j.pending[key]
	j.mu.Unlock()
	if ok {
		return slices.Clone(p.value), true, nil
	}
	var out []byte
	var found bool
	err := j.a.read(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktJournal).Bucket([]byte(j.name))
		if err := j.a.vetJournal(b, j.name); err != nil {
			return err
		}
		if b == nil || key == "" {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		r, err := decodeRecord(v)
		if err == nil && !r.live() {
			err = errTombstoneInJournal
		}
		if err != nil {
			return j.a.errCorrupt(j.where(key), err)
		}
		out, found = bytes.Clone(r.payload), true
		if out == nil {
			out = []byte{}
		}
		return nil
	})
	return out, found, err
}

// Put queues key=value. Later Gets and Scans see it at once; it is durable
// after the next Flush.
func (j *Journal) Put(key string, value []byte) error {
	if key == "" || len(key) > bolt.MaxKeySize {
		return fmt.Errorf("archive %s: journal %s: key must be 1 to %d bytes, got %d", j.a.path, j.name, bolt.MaxKeySize, len(key))
	}
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	j.mu.Lock()
	j.seq++
	seq := j.seq
	j.pending[key] = pendingValue{seq: seq, value: v}
	j.mu.Unlock()
	if err := j.a.send(&op{kind: opJournalPut, j: j, sid: key, raw: v, jseq: seq}); err != nil {
		j.committed(key, seq) // never queued: forget it
		return err
	}
	return nil
}

// committed drops key from the overlay unless a newer Put replaced it.
func (j *Journal) committed(key string, seq uint64) {
	j.mu.Lock()
	if p, ok := j.pending[key]; ok && p.seq == seq {
		delete(j.pending, key)
	}
	j.mu.Unlock()
}

// Scan calls fn for every key with the prefix, in key order, with queued
// values taking precedence over committed ones. Committed entries are read
// in chunks, and fn runs outside any transaction.
func (j *Journal) Scan(prefix string, fn func(key string, value []byte) error) error {
	type kv struct {
		k string
		v []byte
	}
	j.mu.Lock()
	var pend []kv
	for k, p := range j.pending {
		if strings.HasPrefix(k, prefix) {
			pend = append(pend, kv{k, p.value})
		}
	}
	j.mu.Unlock()
	slices.SortFunc(pend, func(x, y kv) int { return strings.Compare(x.k, y.k) })

	emitPending := func(upTo string, all bool) error {
		for len(pend) > 0 && (all || pend[0].k < upTo) {
			if err := fn(pend[0].k, bytes.Clone(pend[0].v)); err != nil {
				return err
			}
			pend = pend[1:]
		}
		return nil
	}
	resume := []byte(prefix)
	for resume != nil {
		var chunk []kv
		var next []byte
		err := j.a.read(func(tx *bolt.Tx) error {
			b := tx.Bucket(bktJournal).Bucket([]byte(j.name))
			if err := j.a.vetJournal(b, j.name); b == nil || err != nil {
				return err
			}
			c := b.Cursor()
			for k, v := c.Seek(resume); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
				if len(chunk) == journalChunk {
					next = bytes.Clone(k)
					break
				}
				r, err := decodeRecord(v)
				if err == nil && !r.live() {
					err = errTombstoneInJournal
				}
				if err != nil {
					return j.a.errCorrupt(j.where(string(k)), err)
				}
				chunk = append(chunk, kv{string(k), bytes.Clone(r.payload)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := emitPending(e.k, false); err != nil {
				return err
			}
			if len(pend) > 0 && pend[0].k == e.k {
				continue // the queued value wins; emitted below
			}
			if e.v == nil {
				e.v = []byte{}
			}
			if err := fn(e.k, e.v); err != nil {
				return err
			}
		}
		resume = next
	}
	return emitPending("", true)
}

// Flush waits until every queued write of the archive is committed.
func (j *Journal) Flush(ctx context.Context) error {
	_, err := j.a.call(ctx, &op{kind: opBarrier})
	return err
}

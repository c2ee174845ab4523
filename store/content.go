package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The content store (see doc.go): file bytes kept once per SHA-256, in
// chunks written by the writer goroutine.
const (
	// contentChunk is the number of file bytes a chunk holds (the last
	// chunk of a content holds the rest).
	contentChunk = 1 << 20
	// maxBatchChunks bounds the chunks one transaction takes, so the
	// memory a batch pins (the queued chunks, then bbolt's copies of them)
	// stays a few MiB whatever the file's size.
	maxBatchChunks = 4
	// releaseChunks is how many chunks a content reader reads between two
	// releaseMapped calls: without them, reading a large file left every
	// page of it (and the kernel's fault-around neighbours) mapped, and a
	// 150 MiB file added 150 MiB to the reader's resident size.
	releaseChunks = 4

	// encRaw is the encoding byte of a chunk stored as is, encZstd of one
	// stored as a zstd frame (no dictionary); readers refuse an encoding
	// they do not know.
	encRaw  byte = 0
	encZstd byte = 1
	// chunkHeaderLen is the bytes before a chunk's data: the record header,
	// the uvarint length (0) of the empty label and the encoding byte.
	chunkHeaderLen = recordHeaderLen + 2
)

// contentDoc is the payload of a content record: the content is whole, its
// chunks are extent|0 … extent|chunks-1.
type contentDoc struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Chunks uint32 `json:"chunks"`
	Extent uint64 `json:"extent"`
}

// uploadDoc is the payload of an uploads entry: a put that has written
// chunks but not yet its content record.
type uploadDoc struct {
	Started time.Time `json:"started"`
}

// upload is one PutContent in progress. extent is set by the writer
// goroutine when it applies the first chunk; the caller fills the rest
// before queueing the final op.
type upload struct {
	extent uint64
	doc    contentDoc
}

// ErrContentMismatch: PutContent read content whose length or SHA-256 is
// not the one the caller expected; nothing of it was kept.
var ErrContentMismatch = errors.New("content does not match what was expected")

func chunkKey(extent uint64, index uint32) []byte {
	return binary.BigEndian.AppendUint32(be64(extent), index)
}

// keyChunkData is the one key of a chunk's bucket.
var keyChunkData = []byte("d")

// chunkValue returns the stored record of chunk index of extent, or nil.
// Each chunk lives in a bucket of its own (see doc.go): the chunks bucket's
// leaves then hold small bucket headers, not the chunks' data, so adding a
// chunk never rewrites the chunks before it.
func chunkValue(chunks *bolt.Bucket, extent uint64, index uint32) []byte {
	if chunks == nil {
		return nil
	}
	b := chunks.Bucket(chunkKey(extent, index))
	if b == nil {
		return nil
	}
	return b.Get(keyChunkData)
}

// parseSHA turns a lower-case hex SHA-256 into its 32 bytes.
func parseSHA(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != s {
		return nil, fmt.Errorf("content id %q is not a SHA-256 (64 lower-case hex digits)", s)
	}
	return b, nil
}

func (a *Archive) contentWhere(sha string) string { return "content/" + sha }

// newChunk returns a buffer for one chunk: header then room for
// contentChunk bytes of data, or, when fewer bytes than that are expected
// (left > 0), for those and one more, so that a longer body still shows.
// Most media files are far smaller than a chunk: a backup of 2,000 files
// of about 70 KB allocated 1 MiB for each whenever the pool had been
// emptied by a collection, 0.9 GB in all, and collected the more often
// for it.
func (a *Archive) newChunk(left int64) []byte {
	if left > 0 && left < contentChunk {
		return make([]byte, chunkHeaderLen+left+1)
	}
	if p, ok := a.chunkBufs.Get().(*[]byte); ok {
		return (*p)[:chunkHeaderLen+contentChunk]
	}
	return make([]byte, chunkHeaderLen+contentChunk)
}

// recycleChunk keeps a whole chunk's buffer for reuse; smaller ones are
// left to the collector.
func (a *Archive) recycleChunk(b []byte) {
	if cap(b) < chunkHeaderLen+contentChunk {
		return
	}
	b = b[:cap(b)]
	a.chunkBufs.Put(&b)
}

// sealChunk makes b (header + data) a put record with an empty label and
// the data compressed in place when that pays (see compressChunk), else
// the raw encoding byte.
func (a *Archive) sealChunk(b []byte) []byte {
	enc := encRaw
	if !a.plain {
		scratch := a.chunkScratch.Get().(*[]byte)
		if z, ok := compressChunk((*scratch)[:0], b[chunkHeaderLen:]); ok {
			b = b[:chunkHeaderLen+copy(b[chunkHeaderLen:], z)]
			enc = encZstd
			*scratch = z
		}
		a.chunkScratch.Put(scratch)
	}
	b[0], b[recordHeaderLen], b[recordHeaderLen+1] = kindPut, 0, enc
	sealRecord(b)
	return b
}

// PutContent streams r into the archive's content store in checksummed
// chunks (never one value or one transaction for a large file) and returns
// the content's SHA-256 (hex) and length. When want > 0 and the length
// differs, or wantSHA is set and differs, nothing is kept and the error
// (ErrContentMismatch) says so. Content already archived is not stored
// twice. The chunks pass through the writer goroutine's queue, so memory
// stays bounded whatever the size; the content is visible (HasContent)
// only once its last chunk and its content record are committed.
func (a *Archive) PutContent(ctx context.Context, r io.Reader, want int64, wantSHA string) (sha string, size int64, err error) {
	if a.ro {
		return "", 0, a.errReadOnly("store content")
	}
	if wantSHA != "" {
		if _, err := parseSHA(wantSHA); err != nil {
			return "", 0, fmt.Errorf("archive %s: store content: %v", a.path, err)
		}
		doc, found, err := a.content(wantSHA)
		if err != nil {
			return "", 0, err
		}
		if found && (want <= 0 || want == doc.Size) {
			a.pin(wantSHA)
			return wantSHA, doc.Size, nil
		}
	}
	up := &upload{}
	h := sha256.New()
	size, err = a.streamChunks(ctx, r, want, up, h)
	if err == nil {
		sha = hex.EncodeToString(h.Sum(nil))
		switch {
		case want > 0 && size != want:
			err = explain(ErrContentMismatch, "archive %s: the content read is %d bytes, but %d were expected; nothing was kept", a.path, size, want)
		case wantSHA != "" && sha != wantSHA:
			err = explain(ErrContentMismatch, "archive %s: the content read has SHA-256 %s, but %s was expected; nothing was kept", a.path, sha, wantSHA)
		}
	}
	if err != nil {
		// Free what was queued; if even that cannot be queued, the
		// uploads entry stays and the next read-write Open frees it.
		if up.doc.Chunks > 0 {
			_, _ = a.call(context.Background(), &op{kind: opContentDiscard, up: up})
		}
		return "", 0, err
	}
	up.doc.SHA256, up.doc.Size = sha, size
	if _, err := a.call(ctx, &op{kind: opContentDone, up: up}); err != nil {
		return "", 0, err
	}
	a.pin(sha)
	return sha, size, nil
}

// streamChunks reads r to its end, queueing one chunk op per contentChunk
// bytes, and returns the length read. It stops early when the length
// passes want (> 0).
func (a *Archive) streamChunks(ctx context.Context, r io.Reader, want int64, up *upload, h hash.Hash) (int64, error) {
	var size int64
	for index := uint32(0); ; index++ {
		if err := ctx.Err(); err != nil {
			return size, fmt.Errorf("archive %s: storing content: %w", a.path, err)
		}
		left := int64(0) // unknown
		if want > 0 {
			left = want - size
		}
		buf := a.newChunk(left)
		n, err := io.ReadFull(r, buf[chunkHeaderLen:])
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			a.recycleChunk(buf)
			return size, fmt.Errorf("archive %s: reading the content to store: %w", a.path, err)
		}
		if n == 0 {
			a.recycleChunk(buf)
			return size, nil
		}
		size += int64(n)
		if want > 0 && size > want {
			a.recycleChunk(buf)
			return size, explain(ErrContentMismatch, "archive %s: the content read is more than the %d bytes expected; nothing was kept", a.path, want)
		}
		data := buf[chunkHeaderLen : chunkHeaderLen+n]
		h.Write(data)
		up.doc.Chunks = index + 1
		if err := a.send(&op{kind: opContentChunk, up: up, chunk: index, raw: a.sealChunk(buf[:chunkHeaderLen+n])}); err != nil {
			a.recycleChunk(buf)
			return size, err
		}
		if eof {
			return size, nil
		}
	}
}

// pin keeps content this Archive stored or found from its own Forget: the
// caller is about to record media that refer to it.
func (a *Archive) pin(sha string) {
	a.cmu.Lock()
	defer a.cmu.Unlock()
	if a.pinned == nil {
		a.pinned = map[string]bool{}
	}
	a.pinned[sha] = true
}

func (a *Archive) isPinned(sha string) bool {
	a.cmu.Lock()
	defer a.cmu.Unlock()
	return a.pinned[sha]
}

// content reads the content record of sha.
func (a *Archive) content(sha string) (doc contentDoc, found bool, err error) {
	key, err := parseSHA(sha)
	if err != nil {
		return contentDoc{}, false, fmt.Errorf("archive %s: %v", a.path, err)
	}
	err = a.read(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktContent)
		if b == nil {
			return nil
		}
		v := b.Get(key)
		if v == nil {
			return nil
		}
		if doc, err = decodeContent(key, v); err != nil {
			return a.errCorrupt(a.contentWhere(sha), err)
		}
		found = true
		return nil
	})
	return doc, found, err
}

func decodeContent(key, v []byte) (contentDoc, error) {
	r, err := decodeRecord(v)
	if err != nil {
		return contentDoc{}, err
	}
	if !r.live() {
		return contentDoc{}, errors.New("content record is a tombstone")
	}
	var doc contentDoc
	if err := json.Unmarshal(r.payload, &doc); err != nil {
		return contentDoc{}, fmt.Errorf("content record: %v", err)
	}
	switch {
	case doc.SHA256 != hex.EncodeToString(key):
		return contentDoc{}, fmt.Errorf("content record names SHA-256 %s", doc.SHA256)
	case doc.Size < 0 || uint64(doc.Size) > uint64(doc.Chunks)*contentChunk || (doc.Chunks > 0 && uint64(doc.Size) <= uint64(doc.Chunks-1)*contentChunk):
		return contentDoc{}, fmt.Errorf("content record says %d bytes in %d chunks", doc.Size, doc.Chunks)
	case doc.Chunks > 0 && doc.Extent == 0:
		return contentDoc{}, errors.New("content record has chunks but no extent")
	}
	return doc, nil
}

// HasContent reports whether content with that SHA-256 is archived whole.
func (a *Archive) HasContent(sha string) (bool, error) {
	_, found, err := a.content(sha)
	return found, err
}

// OpenContent streams archived content, checking every chunk's checksum
// and, at EOF, the SHA-256 (a mismatch is ErrCorrupt naming the content).
// ErrNotFound when the archive does not hold it. Each chunk is read in a
// short read transaction of its own.
func (a *Archive) OpenContent(sha string) (io.ReadCloser, error) {
	doc, found, err := a.content(sha)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("archive %s holds no content %s: %w", a.path, sha, ErrNotFound)
	}
	return &contentReader{a: a, doc: doc, h: sha256.New()}, nil
}

// contentReader reads a content chunk by chunk.
type contentReader struct {
	a    *Archive
	doc  contentDoc
	next uint32 // next chunk to read
	buf  []byte // unread data of the current chunk (backed by data)
	data []byte
	read int64
	h    hash.Hash
	err  error // sticky
}

func (c *contentReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for len(c.buf) == 0 {
		if c.next == c.doc.Chunks {
			c.err = c.finish()
			return 0, c.err
		}
		if c.err = c.load(); c.err != nil {
			return 0, c.err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// load reads chunk c.next into c.data.
func (c *contentReader) load() error {
	i := c.next
	where := fmt.Sprintf("%s chunk %d of %d", c.a.contentWhere(c.doc.SHA256), i, c.doc.Chunks)
	var problem error
	err := c.a.read(func(tx *bolt.Tx) error {
		b, err := c.a.chunkBucket(tx.Bucket(bktChunks), c.doc.Extent, i)
		if err != nil {
			return err
		}
		var v []byte
		if b != nil {
			v = b.Get(keyChunkData)
		}
		data, err := chunkData(v, i+1 == c.doc.Chunks)
		if err != nil {
			problem = err
			return nil
		}
		c.data = append(c.data[:0], data...)
		return nil
	})
	if err != nil {
		return err
	}
	if problem != nil {
		return c.a.errCorrupt(where, problem)
	}
	c.h.Write(c.data)
	c.read += int64(len(c.data))
	c.buf = c.data
	c.next++
	if c.next%releaseChunks == 0 {
		c.a.releaseMapped()
	}
	return nil
}

// chunkData verifies a stored chunk and returns its data (aliasing v).
// Every chunk but the last holds contentChunk bytes.
func chunkData(v []byte, last bool) ([]byte, error) {
	if v == nil {
		return nil, errors.New("the chunk is missing")
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, err
	}
	var data []byte
	switch {
	case !r.live() || len(r.label) != 0 || len(r.payload) == 0:
		return nil, errors.New("not a chunk record")
	case r.payload[0] == encZstd:
		if data, err = inflateChunk(r.payload[1:]); err != nil {
			return nil, err
		}
	case r.payload[0] != encRaw:
		return nil, fmt.Errorf("unknown chunk encoding %d (written by a newer chatvault?)", r.payload[0])
	default:
		data = r.payload[1:]
	}
	if len(data) == 0 || len(data) > contentChunk || (!last && len(data) != contentChunk) {
		return nil, fmt.Errorf("chunk holds %d bytes", len(data))
	}
	return data, nil
}

// finish checks the length and SHA-256 of what was read.
func (c *contentReader) finish() error {
	where := c.a.contentWhere(c.doc.SHA256)
	if c.read != c.doc.Size {
		return c.a.errCorrupt(where, fmt.Errorf("its chunks hold %d bytes, its record says %d", c.read, c.doc.Size))
	}
	if got := hex.EncodeToString(c.h.Sum(nil)); got != c.doc.SHA256 {
		return c.a.errCorrupt(where, fmt.Errorf("its bytes have SHA-256 %s", got))
	}
	return io.EOF
}

func (c *contentReader) Close() error {
	if c.err == nil {
		c.err = fmt.Errorf("archive %s: content %s: read after Close", c.a.path, c.doc.SHA256)
	}
	c.buf, c.data = nil, nil
	return nil
}

// contentBuckets returns the content, chunks and uploads buckets, creating
// them (and moving the file to format 2) when needed.
func (ap *applier) contentBuckets() (content, chunks, uploads *bolt.Bucket, err error) {
	if err := ap.needFormat2(); err != nil {
		return nil, nil, nil, err
	}
	for _, c := range []struct {
		dst  **bolt.Bucket
		name []byte
	}{{&content, bktContent}, {&chunks, bktChunks}, {&uploads, bktUploads}} {
		if *c.dst, err = ap.tx.CreateBucketIfNotExists(c.name); err != nil {
			return nil, nil, nil, err
		}
	}
	chunks.FillPercent = appendFill
	return content, chunks, uploads, nil
}

// putChunk stores one chunk, allocating the upload's extent (and its
// uploads entry) with the first.
func (ap *applier) putChunk(o *op) error {
	_, chunks, uploads, err := ap.contentBuckets()
	if err != nil {
		return err
	}
	up := o.up
	if up.extent == 0 {
		if up.extent, err = chunks.NextSequence(); err != nil {
			return err
		}
		js, err := json.Marshal(uploadDoc{Started: time.Now().UTC()})
		if err != nil {
			return err
		}
		if err := uploads.Put(be64(up.extent), ap.encode(kindPut, "", js)); err != nil {
			return err
		}
	}
	cb, err := chunks.CreateBucket(ap.bytes(chunkKey(up.extent, o.chunk)))
	if err != nil {
		return err
	}
	return cb.Put(keyChunkData, o.raw)
}

// contentDone commits the content record of a finished upload, or, when
// that content is already archived, frees the upload's chunks instead.
func (ap *applier) contentDone(o *op) error {
	content, chunks, uploads, err := ap.contentBuckets()
	if err != nil {
		return err
	}
	up := o.up
	key, err := parseSHA(up.doc.SHA256)
	if err != nil {
		return err
	}
	if content.Get(key) != nil {
		_, err := ap.a.discardExtent(chunks, uploads, up.extent)
		return err
	}
	up.doc.Extent = up.extent
	js, err := json.Marshal(up.doc)
	if err != nil {
		return err
	}
	if err := content.Put(ap.bytes(key), ap.encode(kindPut, "", js)); err != nil {
		return err
	}
	if up.extent == 0 {
		return nil
	}
	return uploads.Delete(be64(up.extent))
}

// discardUpload frees the chunks of an upload that failed.
func (ap *applier) discardUpload(o *op) error {
	if o.up.extent == 0 {
		return nil // no chunk was written
	}
	_, chunks, uploads, err := ap.contentBuckets()
	if err != nil {
		return err
	}
	_, err = ap.a.discardExtent(chunks, uploads, o.up.extent)
	return err
}

// discardExtent deletes every chunk of extent and its uploads entry, and
// returns the number of bytes freed (as stored: compressed chunks count
// their compressed size). Each chunk's pages are walked
// first (bbolt reads them all to free them).
func (a *Archive) discardExtent(chunks, uploads *bolt.Bucket, extent uint64) (int64, error) {
	if extent == 0 {
		return 0, nil
	}
	var keys [][]byte
	var freed int64
	prefix := be64(extent)
	if chunks != nil {
		c := chunks.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
			b := chunks.Bucket(k)
			if err := a.vetBucket(b, string(bktChunks), fmt.Sprintf("%x", k)); err != nil {
				return 0, err
			}
			if b != nil {
				freed += int64(max(len(b.Get(keyChunkData))-chunkHeaderLen, 0))
			}
		}
		for _, k := range keys {
			err := chunks.DeleteBucket(k)
			if errors.Is(err, berrors.ErrIncompatibleValue) {
				err = chunks.Delete(k) // not a bucket: damage; free it all the same
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if uploads != nil {
		if err := uploads.Delete(prefix); err != nil {
			return 0, err
		}
	}
	return freed, nil
}

// sweepUploads frees the chunks of puts that a process which died left
// unfinished (their uploads entries), one transaction per put. Read-write
// Open calls it while it holds the file's exclusive lock, so no put of
// another process can be in progress.
func (a *Archive) sweepUploads() error {
	var pending []uint64
	err := a.read(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUploads)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			if len(k) != 8 {
				return a.errCorrupt(fmt.Sprintf("uploads/%x", k), errShape)
			}
			pending = append(pending, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	for _, extent := range pending {
		if err != nil {
			break
		}
		var freed int64
		err = a.update(func(tx *bolt.Tx) error {
			var err error
			freed, err = a.discardExtent(tx.Bucket(bktChunks), tx.Bucket(bktUploads), extent)
			return err
		})
		if err == nil {
			a.log.Info("freed the chunks of content a stopped process did not finish storing", "archive", a.path, "extent", extent, "bytes", freed)
		}
	}
	if err != nil {
		return fmt.Errorf("archive %s: freeing unfinished content: %w", a.path, err)
	}
	return nil
}

package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func meSID(i int) string { return fmt.Sprintf("ME%032d", i) }

// genReader yields n deterministic pseudo-random bytes (seed picks them).
func genReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

func shaOf(t testing.TB, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil)), n
}

func putContent(t testing.TB, a *Archive, data []byte) string {
	t.Helper()
	sha, size, err := a.PutContent(context.Background(), bytes.NewReader(data), int64(len(data)), "")
	must(t, err)
	if size != int64(len(data)) {
		t.Fatalf("PutContent size %d, want %d", size, len(data))
	}
	return sha
}

// readContent reads a content back whole.
func readContent(a *Archive, sha string) ([]byte, error) {
	rc, err := a.OpenContent(sha)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// storeCounts counts the keys of the content store's buckets.
func storeCounts(t testing.TB, a *Archive) (contents, chunks, uploads int) {
	t.Helper()
	must(t, a.read(func(tx *bolt.Tx) error {
		contents, chunks, uploads = bucketLen(tx, bktContent), bucketLen(tx, bktChunks), bucketLen(tx, bktUploads)
		return nil
	}))
	return contents, chunks, uploads
}

func bucketLen(tx *bolt.Tx, name []byte) int {
	b := tx.Bucket(name)
	if b == nil {
		return 0
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

func TestContentRoundTrip(t *testing.T) {
	a := openTest(t, tempPath(t))
	for _, tc := range []struct {
		name   string
		size   int64
		chunks int
	}{
		{"empty", 0, 0},
		{"small", 1000, 1},
		{"exactly one chunk", contentChunk, 1},
		{"one byte more", contentChunk + 1, 2},
		{"large", 40 << 20, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(tc.size)
			wantSHA, _ := shaOf(t, genReader(seed, tc.size))
			_, chunksBefore, _ := storeCounts(t, a)
			sha, size, err := a.PutContent(context.Background(), genReader(seed, tc.size), tc.size, "")
			must(t, err)
			if sha != wantSHA || size != tc.size {
				t.Fatalf("PutContent = %s, %d; want %s, %d", sha, size, wantSHA, tc.size)
			}
			if ok, err := a.HasContent(sha); err != nil || !ok {
				t.Fatalf("HasContent = %v, %v", ok, err)
			}
			if _, chunks, uploads := storeCounts(t, a); chunks-chunksBefore != tc.chunks || uploads != 0 {
				t.Errorf("stored %d chunks (%d unfinished puts), want %d", chunks-chunksBefore, uploads, tc.chunks)
			}
			rc, err := a.OpenContent(sha)
			must(t, err)
			got, n := shaOf(t, rc)
			must(t, rc.Close())
			if got != sha || n != tc.size {
				t.Errorf("read back %d bytes with SHA-256 %s", n, got)
			}
			// Stored again, with and without the SHA known: nothing new.
			if _, _, err := a.PutContent(context.Background(), genReader(seed, tc.size), 0, ""); err != nil {
				t.Fatal(err)
			}
			if s2, _, err := a.PutContent(context.Background(), failingReader{}, tc.size, sha); err != nil || s2 != sha {
				t.Fatalf("PutContent of archived content with its SHA-256 = %s, %v (it must not read)", s2, err)
			}
			if _, chunks, _ := storeCounts(t, a); chunks-chunksBefore != tc.chunks {
				t.Errorf("storing the same content again left %d chunks, want %d", chunks-chunksBefore, tc.chunks)
			}
		})
	}
	if _, err := a.OpenContent(strings.Repeat("ab", 32)); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenContent of unknown content: %v", err)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("AB", 32), strings.Repeat("ab", 31)} {
		if _, err := a.HasContent(bad); err == nil || !strings.Contains(err.Error(), "SHA-256") {
			t.Errorf("HasContent(%q) = %v, want an error about the SHA-256", bad, err)
		}
	}
}

func TestChunkBufferSizedToContent(t *testing.T) {
	a := openTest(t, tempPath(t))
	for _, tc := range []struct {
		left int64
		want int
	}{
		{0, chunkHeaderLen + contentChunk}, // size unknown
		{1000, chunkHeaderLen + 1001},      // room for one byte more, to notice a longer body
		{contentChunk - 1, chunkHeaderLen + contentChunk},
		{contentChunk, chunkHeaderLen + contentChunk},
		{5 * contentChunk, chunkHeaderLen + contentChunk},
	} {
		if b := a.newChunk(tc.left); len(b) != tc.want {
			t.Errorf("newChunk(%d) has %d bytes, want %d", tc.left, len(b), tc.want)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("the network went away") }

// TestContentMismatchKeepsNothing: a put that does not match what the
// caller expected, or whose reader fails, leaves no chunk and no content.
func TestContentMismatchKeepsNothing(t *testing.T) {
	path := tempPath(t)
	a := openTest(t, path)
	const size = 3*contentChunk + 5
	realSHA, _ := shaOf(t, genReader(1, size))
	for _, tc := range []struct {
		name    string
		r       io.Reader
		want    int64
		wantSHA string
		err     error
		text    string
	}{
		{"shorter than expected", genReader(1, size), size + 1, "", ErrContentMismatch, "expected"},
		{"longer than expected", genReader(1, size), size - 1, "", ErrContentMismatch, "more than"},
		{"small, shorter than expected", genReader(1, 1000), 1001, "", ErrContentMismatch, "expected"},
		{"small, longer than expected", genReader(1, 1000), 999, "", ErrContentMismatch, "more than"},
		{"last chunk longer than expected", genReader(1, contentChunk+10), contentChunk + 9, "", ErrContentMismatch, "more than"},
		{"another SHA-256", genReader(1, size), size, strings.Repeat("0", 64), ErrContentMismatch, realSHA},
		{"reader fails", io.MultiReader(genReader(1, 2*contentChunk), failingReader{}), 0, "", nil, "network went away"},
		{"bad SHA-256", genReader(1, size), 0, "nope", nil, "64 lower-case hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := a.PutContent(context.Background(), tc.r, tc.want, tc.wantSHA)
			if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("PutContent = %v; want %v saying %q", err, tc.err, tc.text)
			}
			if ok, err := a.HasContent(realSHA); err != nil || ok {
				t.Errorf("HasContent = %v, %v after a refused put", ok, err)
			}
			if c, ch, up := storeCounts(t, a); c+ch+up != 0 {
				t.Errorf("a refused put left %d contents, %d chunks, %d unfinished puts", c, ch, up)
			}
		})
	}
	// A put refused before any chunk was queued commits nothing at all.
	before := fileHash(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := a.PutContent(ctx, genReader(1, size), 0, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("PutContent with a cancelled context: %v", err)
	}
	if _, _, err := a.PutContent(context.Background(), failingReader{}, 0, ""); err == nil {
		t.Error("PutContent from a failing reader succeeded")
	}
	if fileHash(t, path) != before {
		t.Error("puts refused before their first chunk changed the file")
	}
}

// TestContentSharedAcrossServicesAndPuts: one copy of a content, whoever
// stores it and however many at once.
func TestContentSharedAcrossServicesAndPuts(t *testing.T) {
	a := openTest(t, tempPath(t))
	data := make([]byte, 3*contentChunk-7)
	_, _ = rand.NewChaCha8([32]byte{9}).Read(data)

	var wg sync.WaitGroup
	shas := make([]string, 6)
	errs := make([]error, 6)
	for i := range shas {
		wg.Go(func() {
			shas[i], _, errs[i] = a.PutContent(context.Background(), bytes.NewReader(data), int64(len(data)), "")
		})
	}
	wg.Wait()
	for i := range shas {
		if errs[i] != nil || shas[i] != shas[0] {
			t.Fatalf("concurrent put %d = %s, %v", i, shas[i], errs[i])
		}
	}
	for i, svc := range []string{testSvc, testSvc2} {
		w := begin(t, a, svc)
		must(t, w.PutMedia(MediaRecord{SID: meSID(i), SHA256: shas[0], ContentType: "image/png", Filename: "a.png"}))
		finish(t, w)
	}
	if c, ch, up := storeCounts(t, a); c != 1 || ch != 3 || up != 0 {
		t.Errorf("store holds %d contents, %d chunks, %d unfinished puts; want 1, 3, 0", c, ch, up)
	}
	for i, svc := range []string{testSvc, testSvc2} {
		m, ok, err := a.CurrentMedia(svc, meSID(i))
		if err != nil || !ok || m.SHA256 != shas[0] || m.Size != int64(len(data)) {
			t.Fatalf("CurrentMedia(%s) = %+v, %v, %v", svc, m, ok, err)
		}
		got, err := readContent(a, m.SHA256)
		must(t, err)
		if !bytes.Equal(got, data) {
			t.Errorf("content of %s reads back different", svc)
		}
	}
}

// TestPutContentMemoryBounded: a large put does not hold the file in
// memory (a sanity bound on the heap, sampled as the file is read).
func TestPutContentMemoryBounded(t *testing.T) {
	a := openTest(t, tempPath(t))
	const size = 64 << 20
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r := &heapSampler{r: genReader(5, size), base: ms.HeapInuse}
	if _, _, err := a.PutContent(context.Background(), r, size, ""); err != nil {
		t.Fatal(err)
	}
	if r.peak > size/2 {
		t.Errorf("the heap grew by %d MiB while a %d MiB file was stored", r.peak>>20, size>>20)
	}
	t.Logf("heap growth peaked at %d MiB for a %d MiB file", r.peak>>20, size>>20)
}

// heapSampler samples the heap in use above base once every 4 MiB read,
// after a collection: what the put holds on to, not the garbage it left.
type heapSampler struct {
	r          io.Reader
	base, peak uint64
	read, next int
}

func (h *heapSampler) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.read += n
	if h.read >= h.next {
		h.next += 4 << 20
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > h.base {
			h.peak = max(h.peak, ms.HeapInuse-h.base)
		}
	}
	return n, err
}

// blockingReader yields n bytes, then signals reached and blocks until
// release is closed, then fails.
type blockingReader struct {
	r                io.Reader
	n                int64
	reached, release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.n == 0 {
		close(b.reached)
		<-b.release
		return 0, errors.New("released")
	}
	p = p[:min(int64(len(p)), b.n)]
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// TestCloseMidPutLeavesNoContent: an Archive closed while a file is being
// stored keeps its chunks only as an unfinished put, which no reader sees
// and the next read-write Open frees.
func TestCloseMidPutLeavesNoContent(t *testing.T) {
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	br := &blockingReader{r: genReader(3, 1<<30), n: 12 << 20, reached: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, _, err := a.PutContent(context.Background(), br, 0, "")
		done <- err
	}()
	<-br.reached
	must(t, a.Close())
	close(br.release)
	if err := <-done; err == nil {
		t.Fatal("PutContent succeeded across Close")
	}
	assertUnfinishedPutFreed(t, path)
}

// assertUnfinishedPutFreed checks that path holds chunks of an unfinished
// put that read-only opens ignore, and that a read-write Open frees.
func assertUnfinishedPutFreed(t *testing.T, path string) {
	t.Helper()
	ro, err := Open(path, Options{ReadOnly: true})
	must(t, err)
	c, ch, up := storeCounts(t, ro)
	if c != 0 || ch == 0 || up != 1 {
		t.Fatalf("after the interrupted put: %d contents, %d chunks, %d unfinished puts; want 0, some, 1", c, ch, up)
	}
	checkClean(t, ro) // harmless: not a problem
	must(t, ro.Close())

	a := openTest(t, path)
	if c, ch, up := storeCounts(t, a); c+ch+up != 0 {
		t.Errorf("after a read-write Open: %d contents, %d chunks, %d unfinished puts; want none", c, ch, up)
	}
}

const crashMediaEnv = "CHATVAULT_STORE_CRASH_MEDIA"

// TestHelperProcessMedia is not a test: re-executed by
// TestKillMidPutLeavesNoContent with crashMediaEnv set, it stores an
// endless file until it is killed.
func TestHelperProcessMedia(t *testing.T) {
	path := os.Getenv(crashMediaEnv)
	if path == "" {
		return
	}
	a, err := Open(path, Options{Create: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Once 16 MiB are read, at least 7 are committed: the queue holds 4
	// MiB, a transaction 4 chunks, and one chunk is being read.
	br := &blockingReader{r: genReader(4, 1<<30), n: 16 << 20, reached: make(chan struct{}), release: make(chan struct{})}
	go func() {
		<-br.reached
		fmt.Println("ready")
	}()
	_, _, err = a.PutContent(context.Background(), br, 0, "")
	fmt.Fprintln(os.Stderr, "PutContent returned", err)
	os.Exit(2)
}

func TestKillMidPutLeavesNoContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "killed.vault")
	killHelper(t, "TestHelperProcessMedia", crashMediaEnv+"="+path, 0)
	assertUnfinishedPutFreed(t, path)
}

// TestDamagedContent: a damaged chunk fails reads of that content with
// ErrCorrupt naming it, and Check names every media SID (and service)
// that refers to it.
func TestDamagedContent(t *testing.T) {
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	data := bytes.Repeat([]byte("all work and no play "), (2*contentChunk)/21)
	copy(data[contentChunk+100:], "damage-marker")
	sha := putContent(t, a, data)
	good := putContent(t, a, []byte("an intact file"))
	for i, svc := range []string{testSvc, testSvc2} {
		w := begin(t, a, svc)
		must(t, w.PutMedia(MediaRecord{SID: meSID(i), SHA256: sha}))
		must(t, w.PutMedia(MediaRecord{SID: meSID(10 + i), SHA256: good}))
		finish(t, w)
	}
	must(t, a.Close())
	flipEvery(t, path, []byte("damage-marker"))

	for _, readOnly := range []bool{true, false} {
		a, err := Open(path, Options{ReadOnly: readOnly})
		must(t, err)
		_, err = readContent(a, sha)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), sha) || !strings.Contains(err.Error(), path) {
			t.Errorf("reading damaged content: %v; want ErrCorrupt naming %s and the file", err, sha)
		}
		if got, err := readContent(a, good); err != nil || string(got) != "an intact file" {
			t.Errorf("reading intact content: %q, %v", got, err)
		}
		ps, err := a.Check()
		must(t, err)
		text := fmt.Sprint(ps)
		for i, svc := range []string{testSvc, testSvc2} {
			if !strings.Contains(text, "media "+meSID(i)+" of service "+svc) {
				t.Errorf("Check does not name media %s of %s: %s", meSID(i), svc, text)
			}
			if strings.Contains(text, meSID(10+i)) {
				t.Errorf("Check names media %s, whose content is intact: %s", meSID(10+i), text)
			}
		}
		if !strings.Contains(text, "content/"+sha) || !strings.Contains(text, "checksum") {
			t.Errorf("Check does not report the damaged chunk of %s: %s", sha, text)
		}
		must(t, a.Close())
	}
}

func TestMediaVersionsAndValidation(t *testing.T) {
	a := openTest(t, tempPath(t))
	one, two := putContent(t, a, []byte("version one")), putContent(t, a, []byte("version two!"))
	raw := []byte(`{"sid": "` + meSID(1) + `", "filename": "caf\u00e9 <1>.png",  "size": 11}`)

	w := begin(t, a, testSvc)
	must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: one, ContentType: "image/png", Filename: "café.png", Raw: raw}))
	must(t, w.PutMedia(MediaRecord{SID: meSID(2), SHA256: one, Size: 11}))
	s1 := finish(t, w)
	w = begin(t, a, testSvc)
	must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: two, ContentType: "image/png"}))
	must(t, w.DeleteMedia([]string{meSID(2)}))
	s2 := finish(t, w)

	v1, err := a.View(s1.ID)
	must(t, err)
	m, ok, err := v1.Media(meSID(1))
	if err != nil || !ok || m.SHA256 != one || m.Size != 11 || m.Filename != "café.png" || !bytes.Equal(m.Raw, raw) {
		t.Errorf("snapshot 1 sees %+v (raw %s), %v, %v", m, m.Raw, ok, err)
	}
	v2, err := a.View(s2.ID)
	must(t, err)
	if m, ok, err := v2.Media(meSID(1)); err != nil || !ok || m.SHA256 != two || m.Raw != nil {
		t.Errorf("snapshot 2 sees %+v, %v, %v", m, ok, err)
	}
	if _, ok, err := v2.Media(meSID(2)); err != nil || ok {
		t.Errorf("snapshot 2 sees deleted media: %v, %v", ok, err)
	}
	if _, ok, err := v1.Media(meSID(2)); err != nil || !ok {
		t.Errorf("snapshot 1 no longer sees media 2: %v, %v", ok, err)
	}
	if m, ok, err := a.CurrentMedia(testSvc, meSID(1)); err != nil || !ok || m.SHA256 != two {
		t.Errorf("CurrentMedia = %+v, %v, %v", m, ok, err)
	}
	if live, err := a.LiveMedia(testSvc); err != nil || fmt.Sprint(live) != fmt.Sprint([]string{meSID(1)}) {
		t.Errorf("LiveMedia = %v, %v", live, err)
	}

	w = begin(t, a, testSvc)
	for _, tc := range []struct {
		name string
		m    MediaRecord
		text string
	}{
		{"no SID", MediaRecord{SHA256: one}, "media SID is empty"},
		{"bad SHA-256", MediaRecord{SID: meSID(3), SHA256: "abc"}, "not a SHA-256"},
		{"content not archived", MediaRecord{SID: meSID(3), SHA256: strings.Repeat("cd", 32)}, "store it with PutContent"},
		{"wrong size", MediaRecord{SID: meSID(3), SHA256: one, Size: 12}, "holds 11"},
		{"resource not JSON", MediaRecord{SID: meSID(3), SHA256: one, Raw: []byte("{")}, "not valid JSON"},
	} {
		if err := w.PutMedia(tc.m); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: PutMedia = %v, want an error saying %q", tc.name, err, tc.text)
		}
	}
	finish(t, w)
}

func TestSnapshotAPI(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	for _, bad := range []string{"", "Chat", "v2"} {
		if err := w.SetAPI(bad); err == nil || !strings.Contains(err.Error(), "unknown API") {
			t.Errorf("SetAPI(%q) = %v", bad, err)
		}
	}
	must(t, w.SetAPI(APIConversations))
	if s := finish(t, w); s.API != APIConversations {
		t.Errorf("Finish returned API %q", s.API)
	}
	w = begin(t, a, testSvc)
	must(t, w.SetAPI(APIChat))
	flush(t, w)
	// Recorded at once: a run that dies still says which API it used.
	snaps, err := a.Snapshots()
	must(t, err)
	if snaps[0].API != APIConversations || snaps[1].API != APIChat {
		t.Errorf("snapshots record APIs %q, %q", snaps[0].API, snaps[1].API)
	}
	finish(t, w)
}

// TestForgetFreesUnreferencedContent: forget frees the content that no
// remaining media version refers to, in any service, and keeps the rest;
// kept snapshots read as before; compact returns the space.
func TestForgetFreesUnreferencedContent(t *testing.T) {
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	big := func(seed uint64) []byte {
		b, err := io.ReadAll(genReader(seed, 2*contentChunk))
		must(t, err)
		return b
	}
	old, cur, shared, loose := putContent(t, a, big(1)), putContent(t, a, big(2)), putContent(t, a, big(3)), putContent(t, a, big(4))
	w := begin(t, a, testSvc)
	must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: old}))
	must(t, w.PutMedia(MediaRecord{SID: meSID(2), SHA256: shared}))
	finish(t, w)
	w = begin(t, a, testSvc)
	must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: cur}))
	must(t, w.DeleteMedia([]string{meSID(2)}))
	finish(t, w)
	w = begin(t, a, testSvc2) // the other service still refers to shared
	must(t, w.PutMedia(MediaRecord{SID: meSID(9), SHA256: shared}))
	finish(t, w)
	// The handle that stored the content keeps it: its caller may be
	// about to record media for it.
	if res, err := a.Forget(Policy{Last: 1}, true); err != nil || res.FreedContent != 0 {
		t.Errorf("Forget on the storing handle would free %d contents (%v); want none", res.FreedContent, err)
	}
	must(t, a.Close())

	a = openTest(t, path) // a new handle: nothing pinned
	before := dump(t, a, 2) + mediaDump(t, a, 2)
	dry, err := a.Forget(Policy{Last: 1}, true)
	must(t, err)
	res, err := a.Forget(Policy{Last: 1}, false)
	must(t, err)
	if res.FreedContent != 2 || res.FreedBytes != 4*contentChunk || dry.FreedContent != res.FreedContent {
		t.Errorf("Forget freed %d contents (%d bytes), dry run said %d; want 2 (%d bytes)", res.FreedContent, res.FreedBytes, dry.FreedContent, 4*contentChunk)
	}
	for sha, want := range map[string]bool{old: false, loose: false, cur: true, shared: true} {
		if ok, err := a.HasContent(sha); err != nil || ok != want {
			t.Errorf("HasContent(%s) = %v, %v; want %v", sha, ok, err, want)
		}
	}
	if c, ch, _ := storeCounts(t, a); c != 2 || ch != 4 {
		t.Errorf("after forget: %d contents, %d chunks; want 2, 4", c, ch)
	}
	if after := dump(t, a, 2) + mediaDump(t, a, 2); after != before {
		t.Errorf("kept snapshot changed:\n%s\nwant\n%s", after, before)
	}
	fi, err := os.Stat(path)
	must(t, err)
	must(t, a.Compact())
	fi2, err := os.Stat(path)
	must(t, err)
	if fi.Size()-fi2.Size() < 3*contentChunk {
		t.Errorf("compact went from %d to %d bytes; want the freed content's space back", fi.Size(), fi2.Size())
	}
	if got, err := readContent(a, cur); err != nil || !bytes.Equal(got, big(2)) {
		t.Errorf("kept content after compact: %v", err)
	}
}

// mediaDump renders the media records a snapshot sees, by SID 1..9.
func mediaDump(t testing.TB, a *Archive, id uint64) string {
	t.Helper()
	v, err := a.View(id)
	must(t, err)
	var b strings.Builder
	for i := 1; i <= 9; i++ {
		m, ok, err := v.Media(meSID(i))
		must(t, err)
		if ok {
			got, err := readContent(a, m.SHA256)
			must(t, err)
			fmt.Fprintf(&b, "media %s %s %d %x\n", m.SID, m.SHA256, m.Size, sha256.Sum256(got))
		}
	}
	return b.String()
}

// TestDamagedMediaRecords: a damaged content, media or user record is
// reported by Check where it lies, and reading it fails with ErrCorrupt
// naming it.
func TestDamagedMediaRecords(t *testing.T) {
	for _, tc := range []struct {
		name, marker string
		problem      string // in Check's list
		read         func(a *Archive, sha string) error
		readText     string
	}{
		{"content record", `"extent":`, "refers to content", func(a *Archive, sha string) error {
			_, err := a.HasContent(sha)
			return err
		}, "content/"},
		{"media record", "marker/type", "svc/" + testSvc + "/media", func(a *Archive, _ string) error {
			_, _, err := a.CurrentMedia(testSvc, meSID(1))
			return err
		}, meSID(1)},
		{"user record", "marker-user", "svc/" + testSvc + "/users", func(a *Archive, _ string) error {
			v, err := a.View(1)
			if err == nil {
				_, err = v.Users()
			}
			return err
		}, "users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, sha := writeMediaArchive(t, testSvc, func(w *Writer) {
				must(t, w.PutUsers([]UserRecord{{SID: usSID(1), Identity: "marker-user", Raw: []byte(`{}`)}}))
			})
			flipEvery(t, path, []byte(tc.marker))

			a, err := Open(path, Options{ReadOnly: true})
			must(t, err)
			defer a.Close()
			ps, err := a.Check()
			must(t, err)
			if text := fmt.Sprint(ps); !strings.Contains(text, tc.problem) {
				t.Errorf("Check = %s; want a problem mentioning %q", text, tc.problem)
			}
			if err := tc.read(a, sha); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.readText) {
				t.Errorf("reading = %v; want ErrCorrupt naming %q", err, tc.readText)
			}
		})
	}
}

// flipEvery damages every copy of marker in the file: bbolt copies pages
// on write, so older copies of a record may lie in free pages.
func flipEvery(t testing.TB, path string, marker []byte) {
	t.Helper()
	img, err := os.ReadFile(path)
	must(t, err)
	for range bytes.Count(img, marker) {
		flipInFile(t, path, marker)
	}
}

// TestCheckMediaWithoutContent: media whose content is gone, and chunks
// that belong to no content, are problems Check names.
func TestCheckMediaWithoutContent(t *testing.T) {
	path, sha := writeMediaArchive(t, testSvc2, nil)
	key, err := parseSHA(sha)
	must(t, err)
	boltFile(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bktContent).Delete(key) })

	a, err := Open(path, Options{ReadOnly: true})
	must(t, err)
	defer a.Close()
	ps, err := a.Check()
	must(t, err)
	text := fmt.Sprint(ps)
	for _, want := range []string{
		"media " + meSID(1) + " of service " + testSvc2 + " refers to content " + sha + ", which the archive does not hold",
		"belongs to no content and to no unfinished put",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Check = %s; want %q", text, want)
		}
	}
	if _, err := a.OpenContent(sha); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenContent of missing content: %v", err)
	}
}

// writeMediaArchive writes an archive holding one content ("some file")
// and a snapshot of svc that records it as media ME…1 (content type
// marker/type), plus what more does; it returns the closed file's path.
func writeMediaArchive(t testing.TB, svc string, more func(w *Writer)) (path, sha string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "media.vault")
	a, err := Open(path, Options{Create: true})
	must(t, err)
	a.plain = true // markers are found in the file's bytes
	sha = putContent(t, a, []byte("some file"))
	w := begin(t, a, svc)
	must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: sha, ContentType: "marker/type"}))
	if more != nil {
		more(w)
	}
	finish(t, w)
	must(t, a.Close())
	return path, sha
}

// TestContentWrittenOnce: storing a file writes its bytes about once, not
// again with every later chunk (bbolt's page allocations, not timing).
func TestContentWrittenOnce(t *testing.T) {
	a := openTest(t, tempPath(t))
	for _, tc := range []struct {
		name        string
		files, size int64
	}{
		{"one large file", 1, 24 << 20},
		{"many small files", 40, 100 << 10},
	} {
		pagesAlloc := func() int64 {
			st := a.db.Stats()
			return st.TxStats.GetPageAlloc()
		}
		before := pagesAlloc()
		for i := range tc.files {
			if _, _, err := a.PutContent(context.Background(), genReader(uint64(1000*tc.files+i), tc.size), 0, ""); err != nil {
				t.Fatal(err)
			}
		}
		written := pagesAlloc() - before
		if total := tc.files * tc.size; written > total*3/2 {
			t.Errorf("%s: %d KiB of pages written for %d KiB of files", tc.name, written>>10, total>>10)
		}
	}
}

// writeMediaSample writes a small archive of format-2 data for the damage
// tests: contents of 0 bytes, 3 KiB (a chunk inline in the chunks bucket)
// and 20 KiB (a chunk on pages of its own), media of two services sharing
// one of them, a media deleted in a second snapshot, and users. A Flush
// after every step keeps its page layout the same on every run.
func writeMediaSample(tb testing.TB, path string) {
	tb.Helper()
	a, err := Open(path, Options{Create: true})
	must(tb, err)
	ctx := context.Background()
	var shas []string
	for i, size := range []int64{0, 3 << 10, 20 << 10} {
		sha, _, err := a.PutContent(ctx, genReader(uint64(i), size), size, "")
		must(tb, err)
		shas = append(shas, sha)
	}
	w, err := a.BeginSnapshot(testSvc, true, sampleStart)
	must(tb, err)
	must(tb, w.SetAPI(APIConversations))
	for i, sha := range shas {
		must(tb, w.PutMedia(MediaRecord{SID: meSID(i), SHA256: sha, ContentType: "image/png", Filename: fmt.Sprint(i, ".png"),
			Raw: fmt.Appendf(nil, `{"sid":%q,"size":%d}`, meSID(i), i)}))
	}
	must(tb, w.PutUsers([]UserRecord{user(1, "Alice"), user(2, "Bob")}))
	must(tb, w.Flush(ctx))
	_, err = w.Finish(StatusComplete, 5, nil)
	must(tb, err)

	w, err = a.BeginSnapshot(testSvc, false, sampleStart.Add(time.Hour))
	must(tb, err)
	must(tb, w.DeleteMedia([]string{meSID(0)}))
	must(tb, w.PutUsers([]UserRecord{user(1, "Alice B.")}))
	must(tb, w.DeleteUsers([]string{usSID(2)}))
	must(tb, w.Flush(ctx))
	_, err = w.Finish(StatusComplete, 2, nil)
	must(tb, err)

	w, err = a.BeginSnapshot(testSvc2, false, sampleStart.Add(2*time.Hour))
	must(tb, err)
	must(tb, w.PutMedia(MediaRecord{SID: meSID(9), SHA256: shas[2]}))
	must(tb, w.Flush(ctx))
	_, err = w.Finish(StatusComplete, 1, nil)
	must(tb, err)
	must(tb, a.Close())
}

func mediaSampleBytes(tb testing.TB) []byte { return imageOf(tb, writeMediaSample) }

// TestLastLiveMedia finds a media's newest live record behind the versions
// that record it deleted, and nothing for a media never archived.
func TestLastLiveMedia(t *testing.T) {
	a, err := Open(tempPath(t), Options{Create: true})
	must(t, err)
	defer a.Close()
	sha, _, err := a.PutContent(context.Background(), strings.NewReader("file"), 4, "")
	must(t, err)
	steps := []func(w *Writer){
		func(w *Writer) { must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: sha, Filename: "first.png"})) },
		func(w *Writer) { must(t, w.DeleteMedia([]string{meSID(1)})) },
		func(w *Writer) { must(t, w.PutMedia(MediaRecord{SID: meSID(1), SHA256: sha, Filename: "second.png"})) },
		func(w *Writer) { must(t, w.DeleteMedia([]string{meSID(1)})) },
		func(w *Writer) {},
	}
	for _, step := range steps {
		w := begin(t, a, testSvc)
		step(w)
		finish(t, w)
	}
	if _, live, err := a.CurrentMedia(testSvc, meSID(1)); err != nil || live {
		t.Fatalf("CurrentMedia = %v, %v; want it deleted", live, err)
	}
	m, ok, err := a.LastLiveMedia(testSvc, meSID(1))
	if err != nil || !ok || m.Filename != "second.png" || m.SHA256 != sha {
		t.Errorf("LastLiveMedia = %+v, %v, %v; want the second record", m, ok, err)
	}
	if _, ok, err := a.LastLiveMedia(testSvc, meSID(2)); err != nil || ok {
		t.Errorf("LastLiveMedia of a media never archived = %v, %v", ok, err)
	}
	if _, ok, err := a.LastLiveMedia(testSvc2, meSID(1)); err != nil || ok {
		t.Errorf("LastLiveMedia in another service = %v, %v", ok, err)
	}
}

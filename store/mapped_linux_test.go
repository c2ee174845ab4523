//go:build linux

package store

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"os"
	"strconv"
	"testing"
)

// rssFileKB reads this process's RssFile from /proc/self/status.
func rssFileKB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("RssFile:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(bytes.TrimSuffix(v, []byte("kB")))))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// fillBody is the body of fillArchive's messages.
var fillBody = string(bytes.Repeat([]byte("m"), 1000))

// fillArchive writes channels × perChannel messages of about 1 KiB.
func fillArchive(t *testing.T, a *Archive, channels, perChannel int) {
	t.Helper()
	a.plain = true // the page counts below assume records of this size
	w := begin(t, a, testSvc)
	for c := range channels {
		if err := w.PutChannel(chSID(c), "", chanJSON(c, "2026-01-01T00:00:00Z")); err != nil {
			t.Fatal(err)
		}
		var page []MessageRecord
		for i := range perChannel {
			page = append(page, msg(i, fillBody))
		}
		if err := w.PutMessages(chSID(c), page); err != nil {
			t.Fatal(err)
		}
	}
	finish(t, w)
}

func TestReleaseMappedDropsPagesAndKeepsData(t *testing.T) {
	t.Parallel()
	a := openTest(t, tempPath(t))
	fillArchive(t, a, 4, 1000) // about 4 MiB
	read := func() {
		for c := range 4 {
			idx, err := a.LiveMessageIndexes(testSvc, chSID(c))
			if err != nil || len(idx) != 1000 {
				t.Fatalf("channel %d: %d live messages, %v", c, len(idx), err)
			}
		}
		v, err := a.View(1)
		if err != nil {
			t.Fatal(err)
		}
		want := msg(999, fillBody).Raw
		for m, err := range v.Messages(chSID(3)) {
			if err != nil {
				t.Fatal(err)
			}
			if m.Index == 999 && !bytes.Equal(m.Raw, want) {
				t.Fatalf("message 999 reads %q after the release, want %q", m.Raw, want)
			}
		}
	}
	read() // maps the pages
	before := rssFileKB(t)
	a.releaseMapped()
	after := rssFileKB(t)
	if a.mapped.len == 0 {
		t.Fatal("the archive's mapping was not recognised")
	}
	if before-after < 2<<10 {
		t.Errorf("RssFile %d kB before, %d kB after releasing the mapping: want at least 2 MiB less", before, after)
	}
	read() // the pages come back from the page cache, unchanged
}

func TestMappingLen(t *testing.T) {
	a := openTest(t, tempPath(t))
	fillArchive(t, a, 1, 100)
	base := a.db.Info().Data
	other := tempPath(t)
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(a.path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		base uintptr
		path string
		ok   bool
	}{
		{"the archive's mapping", base, a.path, true},
		{"an address inside it", base + 4096, a.path, false},
		{"another file", base, other, false},
		{"a missing file", base, other + ".gone", false},
		{"an address mapping nothing", 4096, a.path, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := mappingLen(tt.base, tt.path)
			if got := n > 0; got != tt.ok {
				t.Fatalf("mappingLen = %d, want a mapping: %v", n, tt.ok)
			}
			if tt.ok && int64(n) < fi.Size() {
				t.Errorf("mapping of %d bytes, shorter than the file's %d", n, fi.Size())
			}
		})
	}
}

// rssSampler is an io.Writer that records the largest RssFile growth
// (over base) seen after each write.
type rssSampler struct {
	t        *testing.T
	base     int
	peak     int
	n, every int64
}

func (s *rssSampler) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.n >= s.every {
		s.n = 0
		s.peak = max(s.peak, rssFileKB(s.t)-s.base)
	}
	return len(p), nil
}

// Not parallel: RssFile is the whole process's, so no other test may map
// files meanwhile.
func TestContentReaderReleasesMapping(t *testing.T) {
	a := openTest(t, tempPath(t))
	const size = 48 << 20
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data) // incompressible: stored raw
	sha := putContent(t, a, data)
	a.releaseMapped()
	rc, err := a.OpenContent(sha)
	must(t, err)
	defer rc.Close()
	s := &rssSampler{t: t, base: rssFileKB(t), every: 256 << 10}
	if n, err := io.Copy(s, rc); err != nil || n != size {
		t.Fatalf("read %d bytes of %d: %v", n, size, err)
	}
	if a.mapped.len == 0 {
		t.Fatal("the archive's mapping was not recognised")
	}
	// releaseChunks MiB between releases, plus fault-around and slack; a
	// reader that never released grew by the whole 48 MiB.
	if limit := 16 << 10; s.peak > limit {
		t.Errorf("RssFile grew by %d kB while reading %d MiB of content: want at most %d kB", s.peak, size>>20, limit)
	}
}

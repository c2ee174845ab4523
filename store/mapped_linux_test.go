//go:build linux

package store

import (
	"bufio"
	"bytes"
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

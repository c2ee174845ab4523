package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	fuzzSampleOnce sync.Once
	fuzzSampleImg  []byte
	fuzzSampleErr  error
)

// fuzzSampleBytes returns the bytes of writeFuzzSample's archive, written
// once per test binary (every case damages its own copy).
func fuzzSampleBytes(t testing.TB) []byte {
	t.Helper()
	fuzzSampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chatvault-sample-")
		if err != nil {
			fuzzSampleErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "sample.vault")
		writeFuzzSample(t, path)
		fuzzSampleImg, fuzzSampleErr = os.ReadFile(path)
	})
	must(t, fuzzSampleErr)
	if len(fuzzSampleImg) == 0 {
		t.Fatal("the sample archive could not be written; see the first test that failed")
	}
	return bytes.Clone(fuzzSampleImg)
}

// layout is where things are in an archive image, found by asking bbolt
// for the active root and walking the pages from there.
type layout struct {
	pageSize  int
	hwm       uint64 // pages in use
	reachable map[uint64]bool
	types     map[uint64]string // bbolt's page types: branch, leaf, freelist, free
	newerMeta int               // 0 or 1: the meta page bbolt uses
}

func layoutOf(t *testing.T, img []byte) layout {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layout.vault")
	must(t, os.WriteFile(path, img, 0o600))
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	must(t, err)
	defer db.Close()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	var l layout
	must(t, db.View(func(tx *bolt.Tx) error {
		l.pageSize = db.Info().PageSize
		l.hwm = uint64(tx.Size()) / uint64(l.pageSize)
		pw := &pageWalker{f: f, pageSize: uint64(l.pageSize), hwm: l.hwm, seen: map[uint64]bool{},
			add: func(where, what string) { t.Fatalf("pristine sample: %s: %s", where, what) }}
		pw.walk(uint64(tx.Cursor().Bucket().Root()))
		l.reachable = pw.seen
		l.types = map[uint64]string{}
		for id := uint64(2); id < l.hwm; id++ {
			p, err := tx.Page(int(id))
			if err != nil {
				return err
			}
			l.types[id] = p.Type
		}
		return nil
	}))
	txid := func(m int) uint64 { return binary.NativeEndian.Uint64(img[m*l.pageSize+metaTxidOff:]) }
	if txid(1) > txid(0) {
		l.newerMeta = 1
	}
	return l
}

func (l layout) page(img []byte, id uint64) []byte {
	return img[int(id)*l.pageSize : int(id+1)*l.pageSize]
}

func (l layout) flags(img []byte, id uint64) uint16 {
	return binary.NativeEndian.Uint16(l.page(img, id)[8:10])
}

// find returns the reachable page of type flags that holds marker (any
// such page when marker is empty).
func (l layout) find(t *testing.T, img []byte, flags uint16, marker string) uint64 {
	t.Helper()
	for id := uint64(2); id < l.hwm; id++ {
		if l.reachable[id] && l.flags(img, id) == flags && bytes.Contains(l.page(img, id), []byte(marker)) {
			return id
		}
	}
	t.Fatalf("no reachable page of type %#x holds %q", flags, marker)
	return 0
}

// at returns the offset of marker inside the reachable page of type flags
// that holds it.
func (l layout) at(t *testing.T, img []byte, flags uint16, marker string) int {
	t.Helper()
	id := l.find(t, img, flags, marker)
	return int(id)*l.pageSize + bytes.Index(l.page(img, id), []byte(marker))
}

// TestDamagedArchives damages one structure of a real archive at a time
// and holds the package to its promises: the exact class of error from
// Open (read-only and read-write) and from reads, a Check that names the
// damage, no panic and no hang, and a file that is byte for byte unchanged
// afterwards, whatever was opened and read.
func TestDamagedArchives(t *testing.T) {
	const (
		leaf   = leafPageFlag
		branch = branchPageFlag
	)
	ne := binary.NativeEndian
	tests := []struct {
		name     string
		damage   func(t *testing.T, img []byte, l layout) []byte
		openRO   error  // from a read-only Open; nil: it opens
		openRW   error  // from a read-write Open, or BeginSnapshot right after it
		problem  string // in some problem Check lists; "": no problem
		readErr  error  // the class of every error reading everything; nil: reads succeed
		readText string // in the first read error
	}{
		{"untouched", func(t *testing.T, img []byte, l layout) []byte { return img },
			nil, nil, "", nil, ""},
		{"newer meta page damaged: the previous commit is used", func(t *testing.T, img []byte, l layout) []byte {
			img[l.newerMeta*l.pageSize+metaTxidOff] ^= 0xff
			return img
		}, nil, nil, "", nil, ""},
		{"older meta page damaged", func(t *testing.T, img []byte, l layout) []byte {
			img[(1-l.newerMeta)*l.pageSize+pageHeaderLen] ^= 0xff
			return img
		}, nil, nil, "", nil, ""},
		{"branch page points at itself", func(t *testing.T, img []byte, l layout) []byte {
			id := l.find(t, img, branch, "")
			ne.PutUint64(l.page(img, id)[pageHeaderLen+8:], id)
			return img
		}, nil, ErrCorrupt, "reached twice", ErrCorrupt, "reached twice"},
		{"branch page points past the end of the file", func(t *testing.T, img []byte, l layout) []byte {
			id := l.find(t, img, branch, "")
			ne.PutUint64(l.page(img, id)[pageHeaderLen+pageElemLen+8:], 1<<40)
			return img
		}, nil, ErrCorrupt, "outside the file", ErrCorrupt, "outside the file"},
		{"branch page type overwritten", func(t *testing.T, img []byte, l layout) []byte {
			id := l.find(t, img, branch, "")
			ne.PutUint16(l.page(img, id)[8:], 0x30)
			return img
		}, nil, ErrCorrupt, "type 0x30", ErrCorrupt, "type 0x30"},
		{"leaf page of messages zeroed", func(t *testing.T, img []byte, l layout) []byte {
			clear(l.page(img, l.find(t, img, leaf, "message 30 of channel 1")))
			return img
		}, nil, ErrCorrupt, "type 0", ErrCorrupt, "type 0"},
		{"leaf page element count too large", func(t *testing.T, img []byte, l layout) []byte {
			ne.PutUint16(l.page(img, l.find(t, img, leaf, "message 30 of channel 1"))[10:], 0xffff)
			return img
		}, nil, ErrCorrupt, "do not fit", ErrCorrupt, "do not fit"},
		{"leaf element points outside its page", func(t *testing.T, img []byte, l layout) []byte {
			p := l.page(img, l.find(t, img, leaf, "message 30 of channel 1"))
			ne.PutUint32(p[pageHeaderLen+4:], 0x7fff0000)
			return img
		}, nil, ErrCorrupt, "outside the page", ErrCorrupt, "outside the page"},
		{"inline bucket page type overwritten", func(t *testing.T, img []byte, l layout) []byte {
			// A channel's members bucket is small enough to live inline in
			// its parent's leaf: key "members", then the bucket header
			// (root 0, sequence 0), then the page, a leaf.
			inline := "members" + strings.Repeat("\x00", bucketHeaderLen+8) + "\x02\x00"
			ne.PutUint16(img[l.at(t, img, leaf, inline)+len("members")+bucketHeaderLen+8:], 0x30)
			return img
		}, nil, ErrCorrupt, "type 0x30", ErrCorrupt, "type 0x30"},
		{"message record damaged", func(t *testing.T, img []byte, l layout) []byte {
			img[l.at(t, img, leaf, "message 30 of channel 1")+3] ^= 0x20
			return img
		}, nil, nil, "index 30", ErrCorrupt, "index 30"},
		{"snapshot record damaged", func(t *testing.T, img []byte, l layout) []byte {
			img[l.at(t, img, leaf, `"id":2,`)+5] = '7'
			return img
		}, nil, ErrCorrupt, "snapshots/2", ErrCorrupt, "snapshots/"},
		{"journal entry damaged", func(t *testing.T, img []byte, l layout) []byte {
			img[l.at(t, img, leaf, fmt.Sprintf("IM%032d", 102))+4] ^= 1
			return img
		}, nil, nil, "journal/", ErrCorrupt, "journal/"},
		{"meta record damaged", func(t *testing.T, img []byte, l layout) []byte {
			img[l.at(t, img, leaf, "chatvault")] = 'k'
			return img
		}, ErrNotArchive, ErrNotArchive, "", nil, ""},
		{"pages past the high-water mark overwritten", func(t *testing.T, img []byte, l layout) []byte {
			for i := int(l.hwm) * l.pageSize; i < len(img); i++ {
				img[i] = 0xa5
			}
			return img
		}, nil, nil, "", nil, ""},
		{"bytes appended", func(t *testing.T, img []byte, l layout) []byte {
			return append(img, bytes.Repeat([]byte("junk"), 3000)...)
		}, nil, nil, "", nil, ""},
		{"last byte missing: only unused pages lost", func(t *testing.T, img []byte, l layout) []byte {
			if len(img) <= int(l.hwm)*l.pageSize {
				// Close trims an archive to its pages in use; bbolt
				// grows one ahead of them while it is written.
				img = append(img, make([]byte, 2*l.pageSize)...)
			}
			return img[:len(img)-1]
		}, nil, nil, "", nil, ""},
		{"last page in use cut short", func(t *testing.T, img []byte, l layout) []byte {
			return img[:int(l.hwm)*l.pageSize-1]
		}, ErrNotArchive, ErrNotArchive, "", nil, ""},
		{"cut in half", func(t *testing.T, img []byte, l layout) []byte {
			return img[:int(l.hwm)*l.pageSize/2]
		}, ErrNotArchive, ErrNotArchive, "", nil, ""},
		{"cut after the meta pages", func(t *testing.T, img []byte, l layout) []byte {
			return img[:2*l.pageSize]
		}, ErrNotArchive, ErrNotArchive, "", nil, ""},
		{"cut inside the first meta page", func(t *testing.T, img []byte, l layout) []byte {
			return img[:100]
		}, ErrNotArchive, ErrNotArchive, "", nil, ""},
		{"empty", func(t *testing.T, img []byte, l layout) []byte { return img[:0] },
			ErrNotArchive, ErrNotArchive, "", nil, ""},
	}
	pristine := fuzzSampleBytes(t)
	l := layoutOf(t, pristine)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.damage(t, bytes.Clone(pristine), l)
			path := filepath.Join(t.TempDir(), "damaged.vault")
			must(t, os.WriteFile(path, img, 0o600))
			before := fileHash(t, path)

			for _, readOnly := range []bool{true, false} {
				res := readAllWithin(t, path, readOnly, 20*time.Second)
				if after := fileHash(t, path); after != before {
					t.Fatalf("read-only=%v: opening, checking and reading changed the file", readOnly)
				}
				want := tc.openRO
				if !readOnly {
					want = tc.openRW
				}
				openErr := res.openErr
				if !readOnly && openErr == nil {
					// Damage inside a channel is found by the reads
					// that touch it, and by BeginSnapshot.
					openErr = beginSnapshotErr(t, path)
				}
				if !errors.Is(openErr, want) || (want == nil) != (openErr == nil) {
					t.Fatalf("read-only=%v: Open (and BeginSnapshot) = %v, want %v", readOnly, openErr, want)
				}
				if res.openErr != nil {
					continue
				}
				checkProblems(t, readOnly, res.problems, tc.problem)
				checkReadErrors(t, readOnly, res.readErrs, tc.readErr, tc.readText)
			}
		})
	}
}

// beginSnapshotErr returns the first error of a read-write Open and a
// BeginSnapshot of each service the sample holds, each in its own copy of
// path; a copy whose BeginSnapshot was refused must be unchanged.
func beginSnapshotErr(t *testing.T, path string) error {
	t.Helper()
	img, err := os.ReadFile(path)
	must(t, err)
	for i, svc := range []string{testSvc, testSvc2} {
		cp := fmt.Sprintf("%s.%d", path, i)
		must(t, os.WriteFile(cp, img, 0o600))
		a, err := Open(cp, Options{Timeout: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		_, err = a.BeginSnapshot(svc, false, sampleStart)
		_ = a.Close()
		if err != nil {
			if errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrDamaged) {
				t.Errorf("BeginSnapshot of %s refused with %v, which is not ErrDamaged", svc, err)
			}
			if got, _ := os.ReadFile(cp); !bytes.Equal(got, img) {
				t.Errorf("BeginSnapshot of %s refused but changed the file", svc)
			}
			return err
		}
	}
	return nil
}

// TestEveryPageDamaged damages each page of the samples (writeFuzzSample's
// and writeMediaSample's) in turn (its type, its element count, or all of
// it): a page in use (a branch, a leaf or the
// free-page list) is always reported by Check, a free page never matters,
// and in every case nothing panics or hangs, every error belongs to a
// sentinel class, and the file is left as it was.
func TestEveryPageDamaged(t *testing.T) {
	for _, sample := range []struct {
		name  string
		bytes func(testing.TB) []byte
	}{{"sample", fuzzSampleBytes}, {"media sample", mediaSampleBytes}} {
		t.Run(sample.name, func(t *testing.T) { everyPageDamaged(t, sample.bytes(t)) })
	}
}

func everyPageDamaged(t *testing.T, pristine []byte) {
	l := layoutOf(t, pristine)
	damages := []struct {
		name string
		do   func(page []byte)
	}{
		{"type", func(p []byte) { binary.NativeEndian.PutUint16(p[8:], 0x3030) }},
		{"count", func(p []byte) { binary.NativeEndian.PutUint16(p[10:], 0xffff) }},
		{"zeroed", func(p []byte) { clear(p) }},
	}
	for id := uint64(2); id < l.hwm; id++ {
		for _, d := range damages {
			t.Run(fmt.Sprintf("page %d %s %s", id, l.types[id], d.name), func(t *testing.T) {
				img := bytes.Clone(pristine)
				d.do(l.page(img, id))
				path := filepath.Join(t.TempDir(), "damaged.vault")
				must(t, os.WriteFile(path, img, 0o600))
				before := fileHash(t, path)
				inUse := l.types[id] != "free"
				for _, readOnly := range []bool{true, false} {
					res := readAllWithin(t, path, readOnly, 20*time.Second)
					if fileHash(t, path) != before {
						t.Fatalf("read-only=%v: the file changed", readOnly)
					}
					if res.openErr != nil {
						if readOnly || !inUse {
							t.Errorf("read-only=%v: Open = %v", readOnly, res.openErr)
						}
						continue
					}
					if inUse && len(res.problems) == 0 {
						t.Errorf("read-only=%v: Check found no problem", readOnly)
					}
					if !inUse {
						checkProblems(t, readOnly, res.problems, "")
						checkReadErrors(t, readOnly, res.readErrs, nil, "")
					}
				}
			})
		}
	}
}

func checkProblems(t *testing.T, readOnly bool, ps []Problem, want string) {
	t.Helper()
	if want == "" {
		for _, p := range ps {
			t.Errorf("read-only=%v: Check problem on an intact archive: %s: %s", readOnly, p.Where, p.What)
		}
		return
	}
	for _, p := range ps {
		if strings.Contains(p.Where+": "+p.What, want) {
			return
		}
	}
	t.Errorf("read-only=%v: Check did not report %q: %+v", readOnly, want, ps)
}

func checkReadErrors(t *testing.T, readOnly bool, errs []error, want error, text string) {
	t.Helper()
	if want == nil {
		for _, err := range errs {
			t.Errorf("read-only=%v: read failed: %v", readOnly, err)
		}
		return
	}
	if len(errs) == 0 {
		t.Errorf("read-only=%v: every read succeeded, want %v", readOnly, want)
		return
	}
	for _, err := range errs {
		if !errors.Is(err, want) {
			t.Errorf("read-only=%v: read error %v, want %v", readOnly, err, want)
		}
	}
	if !strings.Contains(errs[0].Error(), text) {
		t.Errorf("read-only=%v: first read error %q does not mention %q", readOnly, errs[0], text)
	}
}

// TestReadWriteOpenWithoutWritesKeepsBytes: opening an archive read-write,
// reading, checking, a dry-run Forget and closing write nothing, so the
// file stays byte for byte the same (forget --dry-run promises to change
// nothing, and a backup tool should not see a changed file).
func TestReadWriteOpenWithoutWritesKeepsBytes(t *testing.T) {
	tests := []struct {
		name string
		use  func(t *testing.T, a *Archive)
	}{
		{"open and close", func(t *testing.T, a *Archive) {}},
		{"read everything", func(t *testing.T, a *Archive) {
			for _, id := range []uint64{1, 2, 3} {
				dump(t, a, id)
			}
		}},
		{"check", func(t *testing.T, a *Archive) {
			ps, err := a.Check()
			must(t, err)
			if len(ps) > 0 {
				t.Errorf("Check: %+v", ps)
			}
		}},
		{"dry-run forget", func(t *testing.T, a *Archive) {
			res, err := a.Forget(Policy{Last: 1}, true)
			must(t, err)
			if len(res.Remove) == 0 {
				t.Errorf("dry run would remove nothing: %+v", res)
			}
		}},
		{"journal read and flush", func(t *testing.T, a *Archive) {
			j, err := a.Journal(testSvc, testSvc2)
			must(t, err)
			if _, ok, err := j.Get("msg/" + imSID(1)); !ok || err != nil {
				t.Errorf("journal Get = %v, %v", ok, err)
			}
			must(t, j.Flush(t.Context()))
		}},
	}
	pristine := fuzzSampleBytes(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.vault")
			must(t, os.WriteFile(path, pristine, 0o600))
			a, err := Open(path, Options{})
			must(t, err)
			tc.use(t, a)
			must(t, a.Close())
			got, err := os.ReadFile(path)
			must(t, err)
			if !bytes.Equal(got, pristine) {
				t.Error("the file changed although nothing was written")
			}
		})
	}
	t.Run("a write still changes it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.vault")
		must(t, os.WriteFile(path, pristine, 0o600))
		a, err := Open(path, Options{})
		must(t, err)
		j, err := a.Journal(testSvc, testSvc2)
		must(t, err)
		must(t, j.Put("k", []byte("v")))
		must(t, a.Close())
		if got, _ := os.ReadFile(path); bytes.Equal(got, pristine) {
			t.Error("a journal write left the file unchanged")
		}
	})
}

// TestCheckGoesOnPastDamagedChannel: with a page of one channel damaged,
// Check still checks the rest: it names the channel passed over and finds
// a record damaged in another channel, which it missed when it stopped at
// the first damaged page.
func TestCheckGoesOnPastDamagedChannel(t *testing.T) {
	img := fuzzSampleBytes(t)
	l := layoutOf(t, img)
	clear(l.page(img, l.find(t, img, leafPageFlag, "message 30 of channel 1")))
	i := bytes.Index(img, []byte("message 2 of channel 3"))
	if i < 0 {
		t.Fatal("no message 2 of channel 3 in the sample")
	}
	img[i] ^= 0x20
	path := filepath.Join(t.TempDir(), "damaged.vault")
	must(t, os.WriteFile(path, img, 0o600))
	a, err := Open(path, Options{ReadOnly: true})
	must(t, err)
	defer a.Close()
	probs, err := a.Check()
	must(t, err)
	var page, passed, record bool
	for _, p := range probs {
		page = page || strings.HasPrefix(p.Where, "page ")
		passed = passed || strings.Contains(p.Where, "/ch/"+chSID(1)) && strings.Contains(p.What, "pages are damaged")
		record = record || strings.Contains(p.Where, chSID(3)) && strings.Contains(p.What, "corrupt")
	}
	if !page || !passed || !record {
		t.Errorf("problems %+v: want the damaged page, channel %s passed over and the corrupt record of channel %s", probs, chSID(1), chSID(3))
	}
	for _, p := range probs {
		if strings.Contains(p.Where, "counts") && strings.Contains(p.Where, chSID(1)) {
			t.Errorf("a channel passed over shows as a count mismatch: %+v", p)
		}
	}
}

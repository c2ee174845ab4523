package store

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeSample creates an archive with one finished snapshot holding some
// data, and returns its path.
func writeSample(t testing.TB, path string) {
	t.Helper()
	a, err := Open(path, Options{Create: true})
	must(t, err)
	a.plain = true // markers are found in the file's bytes
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "room", chanJSON(1, "2026-01-01T00:00:00Z")))
	var ms []MessageRecord
	for i := range 300 {
		ms = append(ms, msg(i, strings.Repeat("payload ", 20)))
	}
	must(t, w.PutMessages(chSID(1), ms))
	must(t, w.PutMessages(chSID(1), []MessageRecord{msg(1000, "marker-message")}))
	finish(t, w)
	must(t, a.Close())
}

// boltFile makes a bbolt file and lets fn fill it.
func boltFile(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	must(t, err)
	must(t, db.Update(fn))
	must(t, db.Close())
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		opts    Options
		wantErr error
	}{
		{"missing without create", func(*testing.T, string) {}, Options{}, ErrMissing},
		{"missing read-only", func(*testing.T, string) {}, Options{ReadOnly: true}, ErrMissing},
		{"empty file", func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o600)) }, Options{Create: true}, ErrNotArchive},
		{"empty file read-only", func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o600)) }, Options{ReadOnly: true}, ErrNotArchive},
		{"short text file", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("hello\n"), 0o600)) }, Options{}, ErrNotArchive},
		{"random bytes", func(t *testing.T, p string) {
			b := make([]byte, 64<<10)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			must(t, os.WriteFile(p, b, 0o600))
		}, Options{}, ErrNotArchive},
		{"directory", func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o700)) }, Options{Create: true}, ErrNotArchive},
		{"bbolt without meta", func(t *testing.T, p string) {
			boltFile(t, p, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
		}, Options{}, ErrNotArchive},
		{"empty bbolt", func(t *testing.T, p string) {
			boltFile(t, p, func(tx *bolt.Tx) error { return nil })
		}, Options{}, ErrNotArchive},
		{"wrong magic", func(t *testing.T, p string) {
			boltFile(t, p, func(tx *bolt.Tx) error {
				b, _ := tx.CreateBucket(bktMeta)
				must(t, b.Put(keyMagic, []byte("somethingelse")))
				return b.Put(keyFormat, binary.BigEndian.AppendUint32(nil, 1))
			})
		}, Options{}, ErrNotArchive},
		{"format zero", func(t *testing.T, p string) {
			writeSample(t, p)
			setFormat(t, p, 0)
		}, Options{}, ErrNotArchive},
		{"newer format", func(t *testing.T, p string) {
			writeSample(t, p)
			setFormat(t, p, FormatVersion+1)
		}, Options{}, ErrNewerFormat},
		{"newer format read-only", func(t *testing.T, p string) {
			writeSample(t, p)
			setFormat(t, p, FormatVersion+7)
		}, Options{ReadOnly: true}, ErrNewerFormat},
		{"truncated", func(t *testing.T, p string) {
			writeSample(t, p)
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, fi.Size()/2))
		}, Options{}, ErrNotArchive},
		{"truncated to one page", func(t *testing.T, p string) {
			writeSample(t, p)
			must(t, os.Truncate(p, 4096))
		}, Options{}, ErrNotArchive},
		{"both meta pages damaged", func(t *testing.T, p string) {
			writeSample(t, p)
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, err)
			_, err = f.WriteAt(make([]byte, 64), 16)
			must(t, err)
			_, err = f.WriteAt(make([]byte, 64), 4096+16)
			must(t, err)
			must(t, f.Close())
		}, Options{}, ErrNotArchive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.vault")
			tc.setup(t, path)
			var before [32]byte
			fi, statErr := os.Stat(path)
			if statErr == nil && fi.Mode().IsRegular() {
				before = fileHash(t, path)
			}
			a, err := Open(path, tc.opts)
			if err == nil {
				a.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			if statErr == nil && fi.Mode().IsRegular() && fileHash(t, path) != before {
				t.Error("Open modified the file")
			}
			if statErr != nil {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Open created the file: %v", err)
				}
			}
		})
	}
}

func setFormat(t testing.TB, path string, v uint32) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMeta).Put(keyFormat, binary.BigEndian.AppendUint32(nil, v))
	}))
	must(t, db.Close())
}

func TestCreateMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.vault")
	a := openTest(t, path)
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	if len(entries) != 1 {
		t.Errorf("left temporary files behind: %v", entries)
	}
	if a.Path() != path {
		t.Errorf("Path = %q", a.Path())
	}
	snaps, err := a.Snapshots()
	if err != nil || len(snaps) != 0 {
		t.Errorf("new archive snapshots %v %v", snaps, err)
	}
}

func TestLocking(t *testing.T) {
	path := tempPath(t)
	a := openTest(t, path)
	_ = a
	tests := []struct {
		name string
		opts Options
	}{
		{"second writer", Options{Timeout: 200 * time.Millisecond}},
		{"second writer with create", Options{Create: true, Timeout: 200 * time.Millisecond}},
		{"reader while writer holds it", Options{ReadOnly: true, Timeout: 200 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			b, err := Open(path, tc.opts)
			if err == nil {
				b.Close()
				t.Fatal("second Open succeeded")
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("err = %v, want ErrLocked", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "wait") {
				t.Errorf("message does not say what to do: %v", err)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	path := tempPath(t)
	writeSample(t, path)
	before := fileHash(t, path)
	r1, err := Open(path, Options{ReadOnly: true})
	must(t, err)
	r2, err := Open(path, Options{ReadOnly: true}) // readers share
	must(t, err)
	defer r2.Close()

	if _, err := Open(path, Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("writer while readers hold it: %v", err)
	}
	checkClean(t, r1)
	v, err := r1.View(1)
	must(t, err)
	if got := messagesOf(t, v, chSID(1)); len(got) != 301 {
		t.Errorf("%d messages", len(got))
	}
	j, err := r1.Journal(testSvc, testSvc2)
	must(t, err)
	writes := map[string]func() error{
		"begin":   func() error { _, err := r1.BeginSnapshot(testSvc, false, time.Now()); return err },
		"journal": func() error { return j.Put("k", []byte("v")) },
		"forget":  func() error { _, err := r1.Forget(Policy{Last: 1}, false); return err },
		"compact": r1.Compact,
	}
	for name, fn := range writes {
		if err := fn(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on read-only archive: %v", name, err)
		}
	}
	if _, err := r1.Forget(Policy{Last: 1}, true); err != nil {
		t.Errorf("dry-run forget on read-only archive: %v", err)
	}
	must(t, r1.Close())
	must(t, r2.Close())
	if fileHash(t, path) != before {
		t.Error("read-only use changed the file")
	}
}

func TestResolveSnapshot(t *testing.T) {
	a := openTest(t, tempPath(t))
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	mk := func(svc string, status Status) Snapshot {
		w := begin(t, a, svc)
		s, err := w.Finish(status, 0, nil)
		must(t, err)
		return s
	}
	s1 := mk(testSvc, StatusComplete)
	s2 := mk(testSvc2, StatusComplete)
	s3 := mk(testSvc, StatusPartial)
	_ = base

	tests := []struct {
		name, sel, svc string
		wantID         uint64
		wantErr        error
	}{
		{"latest of service", "latest", testSvc, s3.ID, nil},
		{"empty selector", "", testSvc2, s2.ID, nil},
		{"by id", "1", "", s1.ID, nil},
		{"by id with matching service", "2", testSvc2, s2.ID, nil},
		{"ambiguous service", "latest", "", 0, ErrAmbiguousService},
		{"id of other service", "2", testSvc, 0, ErrNoSnapshot},
		{"unknown id", "99", "", 0, ErrNoSnapshot},
		{"zero id", "0", "", 0, ErrNoSnapshot},
		{"not a number", "abc", "", 0, ErrNoSnapshot},
		{"negative", "-1", "", 0, ErrNoSnapshot},
		{"unknown service", "latest", "IS99999999999999999999999999999999", 0, ErrNoSnapshot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.ResolveSnapshot(tc.sel, tc.svc)
			if !errors.Is(err, tc.wantErr) || s.ID != tc.wantID {
				t.Errorf("ResolveSnapshot(%q, %q) = %d, %v; want %d, %v", tc.sel, tc.svc, s.ID, err, tc.wantID, tc.wantErr)
			}
		})
	}
	svcs, err := a.Services()
	must(t, err)
	if len(svcs) != 2 || svcs[0] != testSvc || svcs[1] != testSvc2 {
		t.Errorf("Services = %v", svcs)
	}
	if _, err := a.View(42); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("View(42) = %v", err)
	}
}

func TestResolveSingleServiceAndAsOf(t *testing.T) {
	a := openTest(t, tempPath(t))
	if _, err := a.ResolveSnapshot("latest", ""); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("empty archive: %v", err)
	}
	var snaps []Snapshot
	for _, st := range []Status{StatusComplete, StatusComplete, StatusPartial} {
		w := begin(t, a, testSvc)
		s, err := w.Finish(st, 0, nil)
		must(t, err)
		snaps = append(snaps, s)
	}
	if s, err := a.ResolveSnapshot("", ""); err != nil || s.ID != snaps[2].ID {
		t.Errorf("single service latest = %d, %v", s.ID, err)
	}
	tests := []struct {
		name    string
		svc     string
		at      time.Time
		wantID  uint64
		wantErr error
	}{
		{"now: newest complete, skipping partial", testSvc, time.Now().Add(time.Hour), snaps[1].ID, nil},
		{"at first finish", "", snaps[0].Finished, snaps[0].ID, nil},
		{"before everything", testSvc, snaps[0].Finished.Add(-time.Hour), 0, ErrNoSnapshot},
		{"unknown service", testSvc2, time.Now(), 0, ErrNoSnapshot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.SnapshotAsOf(tc.svc, tc.at)
			if !errors.Is(err, tc.wantErr) || s.ID != tc.wantID {
				t.Errorf("SnapshotAsOf = %d, %v; want %d, %v", s.ID, err, tc.wantID, tc.wantErr)
			}
		})
	}
}

func TestChecksumDetected(t *testing.T) {
	path := tempPath(t)
	writeSample(t, path)
	flipInFile(t, path, []byte("marker-message"))

	a, err := Open(path, Options{})
	must(t, err)
	defer a.Close()
	v, err := a.View(1)
	must(t, err)
	var readErr error
	n := 0
	for _, err := range v.Messages(chSID(1)) {
		if err != nil {
			readErr = err
			break
		}
		n++
	}
	if !errors.Is(readErr, ErrCorrupt) {
		t.Fatalf("reading damaged message: %v (after %d good)", readErr, n)
	}
	if !strings.Contains(readErr.Error(), "index 1000") || !strings.Contains(readErr.Error(), path) {
		t.Errorf("error does not name the record and file: %v", readErr)
	}
	if _, err := a.LiveMessageIndexes(testSvc, chSID(1)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LiveMessageIndexes: %v", err)
	}
	ps, err := a.Check()
	must(t, err)
	found := false
	for _, p := range ps {
		if strings.Contains(p.Where, "index 1000") && strings.Contains(p.What, "checksum") {
			found = true
		}
	}
	if !found {
		t.Errorf("Check did not report the damaged record: %+v", ps)
	}
	if _, err := a.Forget(Policy{Last: 1}, true); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Forget over damaged data: %v", err)
	}
}

func TestCheckReportsStructure(t *testing.T) {
	tests := []struct {
		name  string
		write func(tx *bolt.Tx) error
		want  string
	}{
		{"unknown top bucket", func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("extra")); return err }, "unexpected top-level bucket"},
		{"version of unknown snapshot", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSvc).Bucket([]byte(testSvc)).Bucket(bktRoles)
			return b.Put(versionKey(nil, []byte(rlSID(1)), 99), encodeRecord(kindPut, "x", []byte(`{}`)))
		}, "never created"},
		{"short key", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSvc).Bucket([]byte(testSvc)).Bucket(bktRoles)
			return b.Put([]byte("abc"), encodeRecord(kindPut, "x", []byte(`{}`)))
		}, "shorter than a snapshot id"},
		{"not JSON", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSvc).Bucket([]byte(testSvc)).Bucket(bktRoles)
			return b.Put(versionKey(nil, []byte(rlSID(1)), 1), encodeRecord(kindPut, "x", []byte(`{`)))
		}, "not valid JSON"},
		{"unknown kind", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSvc).Bucket([]byte(testSvc)).Bucket(bktRoles)
			v := encodeRecord(kindPut, "x", []byte(`{}`))
			v[0] = 9
			return b.Put(versionKey(nil, []byte(rlSID(1)), 1), v)
		}, "checksum"},
		{"count mismatch", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSvc).Bucket([]byte(testSvc)).Bucket(bktCounts)
			return b.Put(versionKey(nil, []byte(chSID(1)), 1), encodeRecord(kindPut, "", be64(5)))
		}, "live messages"},
		{"bad snapshot record", func(tx *bolt.Tx) error {
			return tx.Bucket(bktSnapshots).Put(be64(1), encodeRecord(kindPut, "", []byte(`{"id":2}`)))
		}, "corrupt"},
		{"bad sync", func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSvc).Bucket([]byte(testSvc)).Bucket(bktSync)
			return b.Put([]byte(chSID(1)), encodeRecord(kindPut, "", []byte(`[]`)))
		}, "does not decode"},
		{"bad journal entry", func(tx *bolt.Tx) error {
			b, err := tx.Bucket(bktJournal).CreateBucket([]byte("a>b"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte{1, 2})
		}, "corrupt"},
		{"bad meta", func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(keyCreated, []byte("yesterday")) }, "RFC 3339"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			writeSample(t, path)
			db, err := bolt.Open(path, 0o600, nil)
			must(t, err)
			must(t, db.Update(tc.write))
			must(t, db.Close())
			a, err := Open(path, Options{ReadOnly: true})
			must(t, err)
			defer a.Close()
			ps, err := a.Check()
			must(t, err)
			for _, p := range ps {
				if strings.Contains(p.What, tc.want) || strings.Contains(p.Where, tc.want) {
					return
				}
			}
			t.Errorf("Check did not report %q: %+v", tc.want, ps)
		})
	}
}

// TestLiveMessageIndexesIn reads a range of live indexes, deletions and
// later snapshots' versions included, and nothing outside it.
func TestLiveMessageIndexesIn(t *testing.T) {
	a, err := Open(tempPath(t), Options{Create: true})
	must(t, err)
	defer a.Close()
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(0), "", chanJSON(0, "2026-01-01T00:00:00Z")))
	var ms []MessageRecord
	for i := range 300 {
		ms = append(ms, msg(i, "hello"))
	}
	must(t, w.PutMessages(chSID(0), ms))
	finish(t, w)
	w = begin(t, a, testSvc)
	must(t, w.DeleteMessages(chSID(0), []int64{5, 6, 150}))
	must(t, w.PutMessages(chSID(0), []MessageRecord{msg(7, "edited")}))
	finish(t, w)
	all, err := a.LiveMessageIndexes(testSvc, chSID(0))
	must(t, err)
	for _, r := range [][2]int64{{4, 8}, {0, 0}, {149, 151}, {290, 1 << 40}, {-5, 2}, {math.MinInt64, math.MaxInt64}, {9, 3}, {400, 500}} {
		got, err := a.LiveMessageIndexesIn(testSvc, chSID(0), r[0], r[1])
		must(t, err)
		var want []int64
		for _, i := range all {
			if i >= r[0] && i <= r[1] {
				want = append(want, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("LiveMessageIndexesIn(%d, %d) = %v, want %v", r[0], r[1], got, want)
		}
	}
}

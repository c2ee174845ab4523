package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	testSvc  = "IS00000000000000000000000000000001"
	testSvc2 = "IS00000000000000000000000000000002"
)

func chSID(i int) string           { return fmt.Sprintf("CH%032d", i) }
func mbSID(i int) string           { return fmt.Sprintf("MB%032d", i) }
func imSID(i int) string           { return fmt.Sprintf("IM%032d", i) }
func rlSID(i int) string           { return fmt.Sprintf("RL%032d", i) }
func tempPath(t *testing.T) string { return filepath.Join(t.TempDir(), "test.vault") }

// openTest opens (creating) an archive and registers a cleanup that closes
// it and fails the test if Check finds problems.
func openTest(t testing.TB, path string) *Archive {
	t.Helper()
	a, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		checkClean(t, a)
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

func checkClean(t testing.TB, a *Archive) {
	t.Helper()
	ps, err := a.Check()
	if err != nil {
		t.Errorf("Check: %v", err)
	}
	for _, p := range ps {
		t.Errorf("Check problem: %s: %s", p.Where, p.What)
	}
}

func msgJSON(index int, body string) []byte {
	return fmt.Appendf(nil, `{"sid":%q,"index":%d,"body":%q,"date_created":"2026-01-01T00:00:00Z"}`, imSID(index), index, body)
}

func msg(index int, body string) MessageRecord {
	return MessageRecord{SID: imSID(index), Index: int64(index), Raw: msgJSON(index, body)}
}

func chanJSON(i int, created string) []byte {
	return fmt.Appendf(nil, `{"sid":%q,"unique_name":"room-%d","date_created":%q}`, chSID(i), i, created)
}

func memberJSON(i int, note string) []byte {
	return fmt.Appendf(nil, `{"sid":%q,"identity":"user-%d","note":%q}`, mbSID(i), i, note)
}

func begin(t testing.TB, a *Archive, svc string) *Writer {
	t.Helper()
	w, err := a.BeginSnapshot(svc, false, time.Now())
	if err != nil {
		t.Fatalf("BeginSnapshot: %v", err)
	}
	return w
}

func finish(t testing.TB, w *Writer) Snapshot {
	t.Helper()
	s, err := w.Finish(StatusComplete, 1, nil)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flush(t testing.TB, w *Writer) {
	t.Helper()
	must(t, w.Flush(context.Background()))
}

// messagesOf reads every message of a channel in a view.
func messagesOf(t testing.TB, v *View, ch string) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	var last int64 = -1
	for m, err := range v.Messages(ch) {
		if err != nil {
			t.Fatalf("Messages(%s): %v", ch, err)
		}
		if m.Index <= last {
			t.Fatalf("Messages(%s): index %d after %d", ch, m.Index, last)
		}
		last = m.Index
		out[m.Index] = string(m.Raw)
	}
	return out
}

// dump renders a snapshot's whole visible state, for before/after comparisons.
func dump(t testing.TB, a *Archive, id uint64) string {
	t.Helper()
	v, err := a.View(id)
	must(t, err)
	var b strings.Builder
	if raw, err := v.Service(); err == nil {
		fmt.Fprintf(&b, "service %s\n", raw)
	}
	roles, err := v.Roles()
	must(t, err)
	for _, r := range roles {
		fmt.Fprintf(&b, "role %s %s %s\n", r.SID, r.FriendlyName, r.Raw)
	}
	chs, err := v.Channels()
	must(t, err)
	for _, c := range chs {
		fmt.Fprintf(&b, "channel %s %s %s\n", c.SID, c.UniqueName, c.Raw)
		ms, err := v.Members(c.SID)
		must(t, err)
		for _, m := range ms {
			fmt.Fprintf(&b, " member %s %s %s\n", m.SID, m.Identity, m.Raw)
		}
		n, err := v.MessageCount(c.SID)
		must(t, err)
		fmt.Fprintf(&b, " count %d\n", n)
		for m, err := range v.Messages(c.SID) {
			must(t, err)
			fmt.Fprintf(&b, " message %d %s %s\n", m.Index, m.SID, m.Raw)
		}
	}
	return b.String()
}

func fileHash(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return sha256.Sum256(b)
}

// format1Snapshots renders snapshots 1..3 (those of testdata/v1) as
// testdata/v1/sample.dump holds them.
func format1Snapshots(t testing.TB, a *Archive) string {
	t.Helper()
	snaps, err := a.Snapshots()
	must(t, err)
	var b strings.Builder
	for _, s := range snaps {
		if s.ID > 3 {
			continue
		}
		if s.API != "" {
			t.Errorf("old snapshot %d reads API %q", s.ID, s.API)
		}
		fmt.Fprintf(&b, "== snapshot %d %s %s %s ch=%d msg=%d +%d ~%d -%d req=%d failed=%v\n", s.ID, s.Service, s.Status,
			s.Started.Format("2006-01-02T15:04:05Z"), s.Channels, s.Messages, s.Added, s.Changed, s.Deleted, s.Requests, s.Failed)
		b.WriteString(dump(t, a, s.ID))
	}
	return b.String()
}

// fileFormat reads meta/format of the archive at path.
func fileFormat(t testing.TB, path string) uint32 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	must(t, err)
	defer db.Close()
	var v uint32
	must(t, db.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket(bktMeta).Get(keyFormat))
		return nil
	}))
	return v
}

// v1Copy copies testdata/v1/sample.vault (format 1) into a temporary file
// and returns its path, its bytes and testdata/v1/sample.dump.
func v1Copy(t testing.TB) (path string, img, golden []byte) {
	t.Helper()
	img, err := os.ReadFile("testdata/v1/sample.vault")
	must(t, err)
	golden, err = os.ReadFile("testdata/v1/sample.dump")
	must(t, err)
	path = filepath.Join(t.TempDir(), "v1.vault")
	must(t, os.WriteFile(path, img, 0o600))
	return path, img, golden
}

package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return sha256.Sum256(b)
}

// repairTwoSnapshots writes two snapshots (plain records): the second
// changes message 5 to carry marker. It returns the path.
func repairTwoSnapshots(t *testing.T, marker string) string {
	t.Helper()
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	a.plain = true
	for round := range 2 {
		w := begin(t, a, testSvc)
		for c := range 2 {
			must(t, w.PutChannel(chSID(c), "", chanJSON(c, "2026-01-01T00:00:00Z")))
			var ms []MessageRecord
			for i := range 40 {
				body := strings.Repeat("text ", 10)
				if round == 1 && c == 1 && i == 5 {
					body = marker
				}
				ms = append(ms, msg(i, body))
			}
			must(t, w.PutMessages(chSID(c), ms))
		}
		finish(t, w)
	}
	must(t, a.Close())
	return path
}

// repairOf repairs path into a new file and checks what every repair
// must hold: the source unchanged, the output passing Check.
func repairOf(t *testing.T, path string) (RepairResult, *Archive) {
	t.Helper()
	before := fileSum(t, path)
	out := filepath.Join(t.TempDir(), "repaired.vault")
	res, err := Repair(path, out)
	must(t, err)
	if fileSum(t, path) != before {
		t.Fatal("repair changed the source archive")
	}
	a, err := Open(out, Options{ReadOnly: true})
	must(t, err)
	t.Cleanup(func() { _ = a.Close() })
	checkClean(t, a)
	return res, a
}

func TestRepairIntactArchiveCopiesEverything(t *testing.T) {
	path := repairTwoSnapshots(t, "unchanged-marker")
	res, out := repairOf(t, path)
	if !res.Intact || res.LostCount != 0 || res.Damaged != 0 || len(res.Snapshots) != 2 {
		t.Fatalf("result %+v, want everything intact", res)
	}
	src, err := Open(path, Options{ReadOnly: true})
	must(t, err)
	defer src.Close()
	for _, s := range res.Snapshots {
		if s.Status != StatusComplete || s.Was != StatusComplete {
			t.Errorf("snapshot %d: status %s (was %s), want complete", s.ID, s.Status, s.Was)
		}
		if dump(t, out, s.ID) != dump(t, src, s.ID) {
			t.Errorf("snapshot %d reads differently after repair", s.ID)
		}
	}
}

func TestRepairDamagedRecordMarksOnlySnapshotsThatSawIt(t *testing.T) {
	path := repairTwoSnapshots(t, "damaged-marker-body")
	flipInFile(t, path, []byte("damaged-marker-body"))
	res, out := repairOf(t, path)
	if res.Intact || res.LostCount != 1 || !strings.Contains(res.Lost[0].Where, "index 5@snapshot 2") {
		t.Fatalf("lost %d %+v, want message 5 of snapshot 2", res.LostCount, res.Lost)
	}
	want := map[uint64]Status{1: StatusComplete, 2: StatusDamaged}
	for _, s := range res.Snapshots {
		if s.Status != want[s.ID] || s.Was != StatusComplete {
			t.Errorf("snapshot %d: %s (was %s), want %s", s.ID, s.Status, s.Was, want[s.ID])
		}
	}
	snaps, err := out.Snapshots()
	must(t, err)
	if len(snaps) != 2 || snaps[1].Status != StatusDamaged {
		t.Errorf("the new archive lists %+v", snaps)
	}
	// Snapshot 1 never saw the damaged version: it reads as before.
	v, err := out.View(1)
	must(t, err)
	n := 0
	for m, err := range v.Messages(chSID(1)) {
		must(t, err)
		if m.Index == 5 && !strings.Contains(string(m.Raw), "text") {
			t.Errorf("snapshot 1 message 5 = %s", m.Raw)
		}
		n++
	}
	if n != 40 {
		t.Errorf("snapshot 1 channel 1 holds %d messages, want 40", n)
	}
}

func TestRepairDamagedChannelPages(t *testing.T) {
	img := fuzzSampleBytes(t)
	l := layoutOf(t, img)
	clear(l.page(img, l.find(t, img, leafPageFlag, "message 30 of channel 1")))
	path := filepath.Join(t.TempDir(), "damaged.vault")
	must(t, os.WriteFile(path, img, 0o600))
	res, out := repairOf(t, path)
	if res.Intact || res.LostCount == 0 || !strings.Contains(res.Lost[0].What, "pages are damaged") {
		t.Fatalf("lost %+v, want the damaged channel's pages", res.Lost)
	}
	damaged := 0
	for _, s := range res.Snapshots {
		if s.Status == StatusDamaged {
			damaged++
		}
	}
	if damaged == 0 || damaged != res.Damaged {
		t.Errorf("snapshots after repair: %+v (%d damaged)", res.Snapshots, res.Damaged)
	}
	// The new archive takes a backup again.
	must(t, out.Close())
	a, err := Open(res.Output, Options{})
	must(t, err)
	w := begin(t, a, testSvc)
	finish(t, w)
	must(t, a.Close())
}

func TestRepairRefuses(t *testing.T) {
	path := repairTwoSnapshots(t, "x-marker")
	exists := filepath.Join(t.TempDir(), "exists.vault")
	must(t, os.WriteFile(exists, []byte("keep me"), 0o600))
	for _, tc := range []struct {
		name, src, dst, says string
		is                   error
	}{
		{"output exists", path, exists, "already exists", nil},
		{"source missing", filepath.Join(t.TempDir(), "none.vault"), filepath.Join(t.TempDir(), "new.vault"), "does not exist", ErrMissing},
		{"source not an archive", exists, filepath.Join(t.TempDir(), "new2.vault"), "not a chatvault archive", ErrNotArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Repair(tc.src, tc.dst)
			if err == nil || !strings.Contains(err.Error(), tc.says) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Repair = %v, want an error saying %q", err, tc.says)
			}
			if tc.dst != exists {
				if _, err := os.Stat(tc.dst); err == nil {
					t.Error("a refused repair left an output file")
				}
			}
		})
	}
	if b, _ := os.ReadFile(exists); string(b) != "keep me" {
		t.Error("repair overwrote an existing file")
	}
}

func TestRepairFormat1Archive(t *testing.T) {
	path, _, golden := v1Copy(t)
	res, out := repairOf(t, path)
	if !res.Intact {
		t.Fatalf("lost %+v", res.Lost)
	}
	if format1Snapshots(t, out) != string(golden) {
		t.Error("the repaired format-1 archive reads differently")
	}
}

// TestRepairDropsMediaWhoseContentIsDamaged: a chunk that fails its
// checksum loses its content, the media version that refers to it is not
// copied, and the snapshot that saw it is damaged; the rest is copied and
// the new archive passes Check.
func TestRepairDropsMediaWhoseContentIsDamaged(t *testing.T) {
	path, sha := writeMediaArchive(t, testSvc, func(w *Writer) {
		must(t, w.PutUsers([]UserRecord{user(1, "Alice")}))
	})
	flipEvery(t, path, []byte("some file"))
	res, out := repairOf(t, path)
	text := fmt.Sprint(res.Lost)
	if res.LostCount != 2 || !strings.Contains(text, "content/"+sha) || !strings.Contains(text, "svc/"+testSvc+"/media") {
		t.Fatalf("lost %s, want the content and its media version", text)
	}
	if len(res.Snapshots) != 1 || res.Snapshots[0].Status != StatusDamaged {
		t.Errorf("snapshots %+v, want the one snapshot damaged", res.Snapshots)
	}
	if ok, err := out.HasContent(sha); ok || err != nil {
		t.Errorf("HasContent = %v, %v; want the damaged content left out", ok, err)
	}
	v, err := out.View(1)
	must(t, err)
	if users, err := v.Users(); err != nil || len(users) != 1 {
		t.Errorf("users = %v, %v; want Alice copied", users, err)
	}
}

// TestRepairTruncatedArchive: an archive that lost its tail (a copy cut
// short, a full disk) is refused by Open, but repair salvages what its
// remaining pages hold: the missing pages read as empty, and what they
// held is reported lost.
func TestRepairTruncatedArchive(t *testing.T) {
	img := fuzzSampleBytes(t)
	path := filepath.Join(t.TempDir(), "cut.vault")
	cut := len(img) - 2*4096
	must(t, os.WriteFile(path, img[:cut], 0o600))
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrNotArchive) || !strings.Contains(err.Error(), "chatvault repair") {
		t.Fatalf("Open of a truncated archive = %v, want it refused, naming repair", err)
	}
	res, out := repairOf(t, path)
	if res.Intact || res.LostCount == 0 || !strings.Contains(res.Lost[0].What, "truncated") {
		t.Fatalf("lost %+v, want the truncation first", res.Lost)
	}
	if res.Records == 0 || len(res.Snapshots) == 0 {
		t.Errorf("repair of a truncated archive copied %d records, %d snapshots", res.Records, len(res.Snapshots))
	}
	snaps, err := out.Snapshots()
	must(t, err)
	if len(snaps) != len(res.Snapshots) {
		t.Errorf("the repaired archive holds %d snapshots, the result says %d", len(snaps), len(res.Snapshots))
	}
	for _, l := range res.Lost {
		if strings.Contains(l.What, ".padded-") {
			t.Errorf("a loss names the padded copy rather than the archive: %+v", l)
		}
	}
	if n, _ := os.ReadDir(filepath.Dir(res.Output)); len(n) != 1 {
		t.Errorf("repair left files beside its output: %v", n)
	}
}

// TestRepairTruncatedToNothing: an archive cut so short that its page tree
// is gone fails to repair with an error naming the archive, not the
// padded copy, and saying it is truncated; nothing is left behind.
func TestRepairTruncatedToNothing(t *testing.T) {
	img := fuzzSampleBytes(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "cut.vault")
	must(t, os.WriteFile(path, img[:3*4096], 0o600))
	out := filepath.Join(t.TempDir(), "out.vault")
	_, err := Repair(path, out)
	if err == nil || strings.Contains(err.Error(), ".padded-") || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Repair = %v; want an error naming %s and its truncation", err, path)
	}
	if n, _ := os.ReadDir(filepath.Dir(out)); len(n) != 0 {
		t.Errorf("a failed repair left %v", n)
	}
}

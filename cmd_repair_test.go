package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepairCLI damages a real backup's channel pages: backup into it
// stops with exit 10 naming verify and repair and records nothing;
// export fails without leaving a file; repair writes a new archive that
// verify passes and that takes backups, and never touches the damaged
// file or an existing output.
func TestRepairCLI(t *testing.T) {
	info := startEmulator(t, "--channels", "3", "--messages", "12", "--seed", "9")
	src := info.Services[0]
	dir := t.TempDir()
	pristine := filepath.Join(dir, "pristine.vault")
	if code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", pristine, "--json"); code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	img, err := os.ReadFile(pristine)
	if err != nil {
		t.Fatal(err)
	}
	l := dmgLayout(t, pristine)
	off := l.leafWith(t, img, dmgSomeRecord(t, pristine, img))
	page := off - off%l.size
	copy(img[page+8:], []byte{0x30, 0x30, 0x30, 0x30})
	damaged := filepath.Join(dir, "damaged.vault")
	if err := os.WriteFile(damaged, img, 0o600); err != nil {
		t.Fatal(err)
	}
	before := sha(t, damaged)

	code, _, errOut := dmgRun(t, info, "backup", "--service", src, "--archive", damaged)
	if code != exitArchive {
		t.Errorf("backup into the damaged archive: exit %d, want %d; stderr: %s", code, exitArchive, errOut)
	}
	checkFailureText(t, "backup", errOut, damaged, "chatvault verify")
	if !strings.Contains(errOut, "chatvault repair") {
		t.Errorf("backup's message does not name repair: %s", errOut)
	}
	if sha(t, damaged) != before {
		t.Fatal("a refused backup changed the archive")
	}

	exported := filepath.Join(dir, "out", "export.jsonl")
	if err := os.Mkdir(filepath.Dir(exported), 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := dmgRun(t, info, "export", "--archive", damaged, "--output", exported); code != exitFailure {
		t.Errorf("export of the damaged archive: exit %d; stderr: %s", code, errOut)
	}
	if left, _ := os.ReadDir(filepath.Dir(exported)); len(left) != 0 {
		t.Errorf("a failed export left %v behind", left)
	}
	if code, _, errOut := dmgRun(t, info, "export", "--archive", pristine, "--output", exported); code != 0 {
		t.Errorf("export: exit %d: %s", code, errOut)
	}
	if left, _ := os.ReadDir(filepath.Dir(exported)); len(left) != 1 || left[0].Name() != "export.jsonl" {
		t.Errorf("export left %v, want export.jsonl alone", left)
	}

	exists := filepath.Join(dir, "exists.vault")
	if err := os.WriteFile(exists, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"output exists", []string{"repair", "--archive", damaged, "--output", exists}, exitUsage},
		{"no output", []string{"repair", "--archive", damaged}, exitUsage},
		{"output is the archive", []string{"repair", "--archive", damaged, "--output", damaged}, exitUsage},
		{"not an archive", []string{"repair", "--archive", exists, "--output", filepath.Join(dir, "x.vault")}, exitArchive},
	} {
		if code, _, errOut := dmgRun(t, info, tc.args...); code != tc.want {
			t.Errorf("%s: exit %d, want %d; stderr: %s", tc.name, code, tc.want, errOut)
		} else {
			checkFailureText(t, tc.name, errOut, "", "")
		}
	}
	if b, _ := os.ReadFile(exists); !bytes.Equal(b, []byte("keep")) {
		t.Error("repair overwrote an existing file")
	}

	repaired := filepath.Join(dir, "repaired.vault")
	code, out, errOut := dmgRun(t, info, "repair", "--archive", damaged, "--output", repaired, "--json")
	if code != exitPartial {
		t.Fatalf("repair of the damaged archive: exit %d, want %d; stderr: %s", code, exitPartial, errOut)
	}
	v := decodeJSON(t, out, "records_copied", "lost", "snapshots", "intact")
	if lost, _ := v["lost"].([]any); len(lost) == 0 || v["intact"] != false {
		t.Errorf("repair reports nothing lost: %s", out)
	}
	if snaps, _ := v["snapshots"].([]any); len(snaps) != 1 || !strings.Contains(out, `"status":"damaged"`) {
		t.Errorf("repair's snapshots: %s", out)
	}
	if sha(t, damaged) != before {
		t.Fatal("repair changed the damaged archive")
	}
	for _, args := range [][]string{
		{"verify", "--archive", repaired},
		{"backup", "--service", src, "--archive", repaired},
		{"verify", "--archive", repaired},
	} {
		if code, _, errOut := dmgRun(t, info, args...); code != 0 {
			t.Errorf("%v on the repaired archive: exit %d: %s", args, code, errOut)
		}
	}

	intact := filepath.Join(dir, "intact-copy.vault")
	if code, out, errOut := dmgRun(t, info, "repair", "--archive", pristine, "--output", intact); code != 0 || !strings.Contains(out, "0 marked damaged") {
		t.Errorf("repair of an intact archive: exit %d: %s %s", code, out, errOut)
	}
}

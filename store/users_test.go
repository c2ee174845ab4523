package store

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

func usSID(i int) string { return fmt.Sprintf("US%032d", i) }

func user(i int, name string) UserRecord {
	return UserRecord{SID: usSID(i), Identity: fmt.Sprint("user-", i), Raw: fmt.Appendf(nil, `{"sid":%q, "friendly_name":%q}`, usSID(i), name)}
}

func usersOf(t testing.TB, a *Archive, id uint64) string {
	t.Helper()
	v, err := a.View(id)
	must(t, err)
	us, err := v.Users()
	must(t, err)
	var b strings.Builder
	for _, u := range us {
		fmt.Fprintf(&b, "%s %s %s\n", u.SID, u.Identity, u.Raw)
	}
	return b.String()
}

// TestUsersVersioned: users are versioned like roles: each snapshot sees
// the users of its time, ordered by SID; forget keeps what kept snapshots
// see.
func TestUsersVersioned(t *testing.T) {
	a := openTest(t, tempPath(t))
	w := begin(t, a, testSvc)
	must(t, w.PutUsers([]UserRecord{user(2, "Bob"), user(1, "Alice")}))
	s1 := finish(t, w)
	w = begin(t, a, testSvc)
	must(t, w.PutUsers([]UserRecord{user(1, "Alice B."), user(2, "Bob"), user(3, "Carol")}))
	must(t, w.DeleteUsers([]string{usSID(2)}))
	s2 := finish(t, w)
	w = begin(t, a, testSvc2)
	must(t, w.PutUsers([]UserRecord{user(9, "Other")}))
	finish(t, w)

	want1 := fmt.Sprintf("%s user-1 %s\n%s user-2 %s\n", usSID(1), user(1, "Alice").Raw, usSID(2), user(2, "Bob").Raw)
	want2 := fmt.Sprintf("%s user-1 %s\n%s user-3 %s\n", usSID(1), user(1, "Alice B.").Raw, usSID(3), user(3, "Carol").Raw)
	if got := usersOf(t, a, s1.ID); got != want1 {
		t.Errorf("snapshot 1 users:\n%s\nwant\n%s", got, want1)
	}
	if got := usersOf(t, a, s2.ID); got != want2 {
		t.Errorf("snapshot 2 users:\n%s\nwant\n%s", got, want2)
	}
	if live, err := a.LiveUsers(testSvc); err != nil || fmt.Sprint(live) != fmt.Sprint([]string{usSID(1), usSID(3)}) {
		t.Errorf("LiveUsers = %v, %v", live, err)
	}
	res, err := a.Forget(Policy{Last: 1}, false)
	must(t, err)
	if res.FreedRecords < 2 {
		t.Errorf("forget freed %d records; want the old versions of users 1 and 2", res.FreedRecords)
	}
	if got := usersOf(t, a, s2.ID); got != want2 {
		t.Errorf("after forget, snapshot 2 users:\n%s\nwant\n%s", got, want2)
	}

	w = begin(t, a, testSvc)
	for _, tc := range []struct {
		name string
		us   []UserRecord
		text string
	}{
		{"no SID", []UserRecord{{Identity: "x", Raw: []byte(`{}`)}}, "user SID is empty"},
		{"not JSON", []UserRecord{{SID: usSID(5), Raw: []byte(`{"a":`)}}, "not valid JSON"},
		{"NUL in SID", []UserRecord{{SID: "US\x00", Raw: []byte(`{}`)}}, "NUL"},
	} {
		if err := w.PutUsers(tc.us); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: PutUsers = %v, want an error saying %q", tc.name, err, tc.text)
		}
	}
	if err := w.DeleteUsers([]string{""}); err == nil || !strings.Contains(err.Error(), "user SID is empty") {
		t.Errorf("DeleteUsers(\"\") = %v", err)
	}
	finish(t, w)
}

// TestFormat1ArchiveReadsAsBefore opens the archive the previous release
// wrote (testdata/v1, format 1): it reads exactly as that release read it,
// opening read-write without writing leaves it byte for byte, writing
// plain snapshots keeps format 1, and the first media, user or API moves
// it to format 2 with every old snapshot intact.
func TestFormat1ArchiveReadsAsBefore(t *testing.T) {
	path, img, golden := v1Copy(t)

	for _, readOnly := range []bool{true, false} {
		a, err := Open(path, Options{ReadOnly: readOnly})
		must(t, err)
		checkClean(t, a)
		if got := format1Snapshots(t, a); got != string(golden) {
			t.Errorf("read-only=%v: the format-1 archive reads differently from the previous release", readOnly)
		}
		must(t, a.Close())
		if got, _ := os.ReadFile(path); !bytes.Equal(got, img) {
			t.Fatalf("read-only=%v: opening and reading changed the file", readOnly)
		}
	}

	a, err := Open(path, Options{})
	must(t, err)
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "room-1", chanJSON(1, "2026-01-01T00:00:00Z")))
	finish(t, w)
	must(t, a.Close())
	if v := fileFormat(t, path); v != 1 {
		t.Errorf("a plain snapshot moved the file to format %d", v)
	}

	a, err = Open(path, Options{})
	must(t, err)
	w = begin(t, a, testSvc)
	must(t, w.PutUsers([]UserRecord{user(1, "Alice")}))
	must(t, w.SetAPI(APIChat))
	finish(t, w)
	must(t, a.Close())
	if v := fileFormat(t, path); v != FormatVersion {
		t.Errorf("after users were written the file is at format %d, want %d", v, FormatVersion)
	}
	a, err = Open(path, Options{ReadOnly: true})
	must(t, err)
	defer a.Close()
	if got := format1Snapshots(t, a); got != string(golden) {
		t.Error("after the upgrade, the old snapshots read differently")
	}
	checkClean(t, a)
}

// TestCheckFormat1WithFormat2Data: a file that says format 1 but holds
// format-2 buckets would be misread by the previous release: Check says so.
func TestCheckFormat1WithFormat2Data(t *testing.T) {
	path, _ := writeMediaArchive(t, testSvc, func(w *Writer) {
		must(t, w.PutUsers([]UserRecord{user(1, "A")}))
	})
	setFormat(t, path, 1)
	a, err := Open(path, Options{ReadOnly: true})
	must(t, err)
	defer a.Close()
	ps, err := a.Check()
	must(t, err)
	text := fmt.Sprint(ps)
	for _, where := range []string{"content", "chunks", "svc/" + testSvc + "/media", "svc/" + testSvc + "/users"} {
		if !strings.Contains(text, "{"+where+" is part of format 2") {
			t.Errorf("Check does not flag %s in a format-1 file: %s", where, text)
		}
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// TestBinarySync drives the migration runbook through the built binary:
// a sync before any restore is refused (exit 2); restore; at the source an
// edit, a user changed, one deleted and one added; backup; a dry run of the
// sync lists the writes; the sync makes them;
// verify --source finds the target faithful (exit 0), and an edit made in
// the target by hand a difference (exit 4).
func TestBinarySync(t *testing.T) {
	info := startEmulator(t, "--channels", "3", "--messages", "20", "--seed", "11")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "sync.vault")
	ctx := context.Background()
	cl := apiClient(t, info)

	if code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive); code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	code, _, errOut := chatvault(t, info, "restore", "--service", dst, "--source", src, "--archive", archive, "--sync")
	if code != exitUsage || !strings.Contains(errOut, "run a plain restore") {
		t.Fatalf("sync before any restore: exit %d, %s; want %d saying to run a plain restore first", code, errOut, exitUsage)
	}
	if code, _, errOut := chatvault(t, info, "restore", "--service", dst, "--source", src, "--archive", archive); code != exitOK && code != exitPartial {
		t.Fatalf("restore exit %d: %s", code, errOut)
	}
	if code, out, _ := chatvault(t, info, "verify", "--service", dst, "--source", src, "--archive", archive, "--json"); code != exitOK {
		t.Fatalf("verify --source after the restore: exit %d: %s", code, out)
	}
	if code, _, errOut := chatvault(t, info, "verify", "--service", dst, "--archive", archive); code == exitOK || !strings.Contains(errOut, "--source IS_SOURCE") {
		t.Errorf("verify --service TARGET without --source: exit %d: %s; want a failure pointing at --source", code, errOut)
	}

	// An edit at the source.
	var ch *remote.Channel
	for c, err := range cl.ListChannels(ctx, src) {
		if err != nil {
			t.Fatal(err)
		}
		ch = c
		break
	}
	var msg *remote.Message
	for m, err := range cl.ListMessages(ctx, src, ch.SID, remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Media == nil {
			msg = m
			break
		}
	}
	body := "edited at the source"
	if _, err := cl.UpdateMessage(ctx, src, ch.SID, msg.SID, remote.MessageParams{Body: &body}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for u, err := range cl.ListUsers(ctx, src) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.Identity)
	}
	slices.Sort(ids)
	gone := ids[len(ids)-1]
	if _, err := cl.UpdateUser(ctx, src, ids[0], remote.UserParams{FriendlyName: new("Renamed"), Attributes: new(`{"renamed":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteUser(ctx, src, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateUser(ctx, src, remote.UserParams{Identity: "newcomer"}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive, "--full"); code != 0 {
		t.Fatalf("second backup exit %d: %s", code, errOut)
	}
	if code, out, _ := chatvault(t, info, "verify", "--service", dst, "--source", src, "--archive", archive); code != exitDifferences || !strings.Contains(out, "body") {
		t.Errorf("verify --source before the sync: exit %d: %s; want %d naming the body", code, out, exitDifferences)
	}

	code, out, _ := chatvault(t, info, "restore", "--service", dst, "--source", src, "--archive", archive, "--sync", "--dry-run", "--json")
	dry := decodeJSON(t, out, "plan", "updated", "deleted")
	plan := dry["plan"].(map[string]any)
	acts, _ := plan["actions"].([]any)
	var planned []string
	for _, a := range acts {
		a := a.(map[string]any)
		planned = append(planned, fmt.Sprint(a["op"], " ", a["kind"], " ", a["source"]))
	}
	slices.Sort(planned)
	want := []string{"create user newcomer", "delete user " + gone, fmt.Sprint("update message ", msg.Index), "update user " + ids[0]}
	slices.Sort(want)
	if (code != exitOK && code != exitPartial) || plan["updates"] != 2.0 || plan["deletes"] != 1.0 || !slices.Equal(planned, want) {
		t.Errorf("dry run of the sync: exit %d, planned %q, want %q: %s", code, planned, want, out)
	}
	code, out, _ = chatvault(t, info, "restore", "--service", dst, "--source", src, "--archive", archive, "--sync", "--dry-run")
	if wantLine := fmt.Sprintf("upload %v media files", plan["media_uploads"]); !strings.Contains(out, wantLine) || !strings.Contains(out, "update 2 and delete 1") {
		t.Errorf("dry run of the sync says %q; want %q and its updates and deletes", out, wantLine)
	}
	code, out, _ = chatvault(t, info, "restore", "--service", dst, "--source", src, "--archive", archive, "--sync", "--json")
	if r := decodeJSON(t, out, "updated", "deleted"); (code != exitOK && code != exitPartial) || r["updated"] != 2.0 || r["deleted"] != 1.0 {
		t.Errorf("sync: exit %d: %s", code, out)
	}
	if _, err := cl.FetchUser(ctx, dst, gone); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("user %q, deleted at the source, after the sync: %v; want not found", gone, err)
	}
	code, out, _ = chatvault(t, info, "verify", "--service", dst, "--source", src, "--archive", archive)
	if code != exitOK || !strings.Contains(out, "faithfully") {
		t.Errorf("verify --source after the sync: exit %d: %s", code, out)
	}

	// By hand, in the target: a difference.
	var tch *remote.Channel
	for c, err := range cl.ListChannels(ctx, dst) {
		if err != nil {
			t.Fatal(err)
		}
		if c.UniqueName == ch.UniqueName {
			tch = c
		}
	}
	for m, err := range cl.ListMessages(ctx, dst, tch.SID, remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		other := "changed in the target"
		if _, err := cl.UpdateMessage(ctx, dst, tch.SID, m.SID, remote.MessageParams{Body: &other}); err != nil {
			t.Fatal(err)
		}
		break
	}
	code, out, _ = chatvault(t, info, "verify", "--service", dst, "--source", src, "--archive", archive, "--json")
	v := decodeJSON(t, out, "ok", "snapshot", "source", "target", "problems", "differences")
	if code != exitDifferences || v["ok"] != false || len(v["differences"].([]any)) != 1 {
		t.Errorf("verify --source after a change in the target: exit %d: %s", code, out)
	}
	if code, _, errOut := chatvault(t, info, "verify", "--source", src, "--archive", archive); code != exitUsage || !strings.Contains(errOut, "--service") {
		t.Errorf("verify --source without --service: exit %d: %s", code, errOut)
	}
}

// TestBinaryVerifyChannel: after restore --channel, verify --source
// --channel compares that channel alone (exit 0) where the whole snapshot
// differs (exit 4); --channel without --source is a usage error.
func TestBinaryVerifyChannel(t *testing.T) {
	info := startEmulator(t, "--channels", "3", "--messages", "10", "--seed", "12")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "verify.vault")
	if code, _, errOut := chatvault(t, info, "backup", "--service", src, "--archive", archive); code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	if code, _, errOut := chatvault(t, info, "restore", "--service", dst, "--source", src, "--archive", archive, "--channel", "general-0"); code != exitOK && code != exitPartial {
		t.Fatalf("restore --channel exit %d: %s", code, errOut)
	}
	verify := []string{"verify", "--service", dst, "--source", src, "--archive", archive}
	if code, out, _ := chatvault(t, info, verify...); code != exitDifferences {
		t.Errorf("verify of the whole snapshot after restoring one channel: exit %d: %s", code, out)
	}
	if code, out, errOut := chatvault(t, info, append(verify, "--channel", "general-0")...); code != exitOK {
		t.Errorf("verify --channel general-0: exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := chatvault(t, info, "verify", "--archive", archive, "--channel", "general-0"); code != exitUsage || !strings.Contains(errOut, "--source") {
		t.Errorf("verify --channel without --source: exit %d: %s", code, errOut)
	}
}

// TestBinaryBackupCountsEveryRequest: the requests a backup reports (and
// its snapshot keeps) are all it sent, those that chose the API included:
// with Chat shut down, a 404 from Chat and the service read through
// Conversations.
func TestBinaryBackupCountsEveryRequest(t *testing.T) {
	info := startEmulator(t, "--channels", "3", "--messages", "10", "--seed", "13", "--chat-api", "off")
	archive := filepath.Join(t.TempDir(), "count.vault")
	sum := func() int64 {
		var n int64
		for _, v := range emulatorStats(t, info).Requests {
			n += v
		}
		return n
	}
	before := sum()
	code, out, errOut := chatvault(t, info, "backup", "--service", info.Services[0], "--archive", archive, "--no-media", "--json")
	if code != exitOK {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	r := decodeJSON(t, out, "requests", "api")
	if got, served := int64(r["requests"].(float64)), sum()-before; got != served || r["api"] != remote.APIConversations {
		t.Errorf("backup reports %d requests through %v; the emulator served %d", got, r["api"], served)
	}
}

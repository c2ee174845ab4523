package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryMoveToConversations follows the README's runbook "Moving from
// Programmable Chat to Conversations" end to end: a backup through Chat, a
// dry run and a restore with --api conversations into the second service,
// a verify of the source through Conversations (its public channels named,
// not reported missing) and of the archive; then, with Chat shut down, a
// backup that chooses Conversations by itself (it sees the private
// channels only), restored and verified through Conversations by default.
func TestBinaryMoveToConversations(t *testing.T) {
	info := startEmulator(t, "--channels", "4", "--messages", "20", "--seed", "9")
	src, dst := info.Services[0], info.Services[1]
	archive := filepath.Join(t.TempDir(), "move.vault")
	conv := []string{"--conversations-url", info.ConversationsURL}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return chatvault(t, info, append(args, conv...)...)
	}

	if code, _, errOut := run("backup", "--service", src, "--archive", archive, "--api", "chat", "--json"); code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut)
	}
	code, out, _ := run("restore", "--archive", archive, "--service", dst, "--api", "conversations", "--dry-run", "--json")
	dry := decodeJSON(t, out, "plan", "losses", "api", "warnings")
	// Media files are uploaded through Conversations too: nothing is skipped, exit 0.
	if plan, _ := dry["plan"].(map[string]any); code != 0 || dry["api"] != "conversations" || len(dry["losses"].([]any)) == 0 ||
		plan == nil || plan["media_uploads"].(float64) == 0 {
		t.Fatalf("restore --dry-run --api conversations exit %d: %.600s", code, out)
	}
	code, out, errOut := run("restore", "--archive", archive, "--service", dst, "--api", "conversations", "--json")
	r := decodeJSON(t, out, "status", "api", "users", "losses", "messages", "media_uploaded", "skipped")
	if code != 0 || r["api"] != "conversations" || r["messages"].(float64) == 0 || r["users"].(float64) == 0 ||
		r["media_uploaded"].(float64) == 0 || len(r["skipped"].([]any)) != 0 {
		t.Fatalf("restore --api conversations exit %d: %.600s %s", code, out, errOut)
	}
	code, out, _ = run("verify", "--archive", archive, "--service", src, "--api", "conversations", "--json")
	v := decodeJSON(t, out, "ok", "differences", "api")
	if code != 0 || v["ok"] != true || v["api"] != "conversations" || len(v["not_visible"].([]any)) == 0 || len(v["not_compared"].([]any)) == 0 {
		t.Errorf("verify --service --api conversations exit %d: %.600s", code, out)
	}
	code, out, _ = run("restore", "--archive", archive, "--service", dst, "--api", "conversations", "--json")
	again := decodeJSON(t, out, "messages", "users", "channels_created", "media_uploaded")
	if code != 0 || again["messages"] != 0.0 || again["users"] != 0.0 || again["channels_created"] != 0.0 || again["media_uploaded"] != 0.0 {
		t.Errorf("rerun exit %d: %.600s", code, out)
	}

	off := startEmulator(t, "--channels", "8", "--messages", "15", "--seed", "4", "--chat-api", "off")
	offArchive := filepath.Join(t.TempDir(), "off.vault")
	offRun := func(args ...string) (int, string, string) {
		t.Helper()
		return chatvault(t, off, append(args, "--conversations-url", off.ConversationsURL)...)
	}
	code, out, errOut = offRun("backup", "--service", off.Services[0], "--archive", offArchive, "--json")
	if b := decodeJSON(t, out, "api", "status", "channels"); code != 0 || b["api"] != "conversations" || b["channels"] == 0.0 {
		t.Fatalf("backup with Chat off exit %d: %s %s", code, out, errOut)
	}
	code, _, errOut = offRun("restore", "--archive", offArchive, "--service", off.Services[1], "--api", "chat")
	if code != 1 || !strings.Contains(errOut, "use --api conversations") {
		t.Errorf("restore --api chat with Chat off: exit %d, %s", code, errOut)
	}
	code, out, errOut = offRun("restore", "--archive", offArchive, "--service", off.Services[1], "--json")
	if r := decodeJSON(t, out, "api", "status", "messages"); code != exitOK || r["api"] != "conversations" || r["messages"].(float64) == 0 {
		t.Fatalf("restore with Chat off exit %d: %s %s", code, out, errOut)
	}
	code, out, _ = offRun("verify", "--archive", offArchive, "--service", off.Services[0], "--json")
	if v := decodeJSON(t, out, "ok", "api"); code != 0 || v["api"] != "conversations" {
		t.Errorf("verify with Chat off exit %d: %.600s", code, out)
	}
}

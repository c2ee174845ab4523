package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIConversations backs up through the built binary an emulator whose
// Chat API is shut down.
func TestCLIConversations(t *testing.T) {
	info := startEmulator(t, "--chat-api", "off", "--channels", "12", "--messages", "20")
	src := info.Services[0]
	archive := filepath.Join(t.TempDir(), "conv.vault")

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr []string // substrings of stderr
	}{
		{"unknown API", []string{"--api", "chatv2"}, 2, []string{`"chatv2" is not known`}},
		{"chat API gone", []string{"--api", "chat"}, 1, []string{"use --api conversations"}},
		{"neither API", []string{"--service", "IS" + strings.Repeat("0", 32)}, 1,
			[]string{"neither API", "Chat v2 at " + info.BaseURL, "Conversations v1 at " + info.ConversationsURL}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"backup", "--service", src, "--archive", archive}, tt.args...)
			code, _, stderr := chatvault(t, info, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q: %s", s, stderr)
				}
			}
		})
	}

	code, out, stderr := chatvault(t, info, "backup", "--service", src, "--archive", archive, "--json")
	if code != 0 {
		t.Fatalf("backup exit %d: %s", code, stderr)
	}
	res := decodeJSON(t, out, "api", "users", "messages")
	if res["api"] != "conversations" || res["users"].(float64) == 0 || res["messages"].(float64) == 0 {
		t.Errorf("backup result %v: want api conversations, users and messages", res)
	}

	code, out, _ = chatvault(t, info, "snapshots", "--archive", archive, "--json")
	var snaps struct {
		Snapshots []struct {
			API string `json:"api"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(out), &snaps); code != 0 || err != nil || len(snaps.Snapshots) != 1 || snaps.Snapshots[0].API != "conversations" {
		t.Errorf("snapshots --json exit %d: %s", code, out)
	}

	code, out, _ = chatvault(t, info, "ls", "--archive", archive, "--users")
	if code != 0 || !strings.HasPrefix(out, "snapshot 1 of "+src+", read through conversations\n") ||
		!strings.Contains(out, "IDENTITY") || strings.Count(out, "\nUS") != int(res["users"].(float64)) {
		t.Errorf("ls --users exit %d:\n%s", code, out)
	}
	code, out, _ = chatvault(t, info, "ls", "--archive", archive, "--json")
	var ls struct {
		API      string `json:"api"`
		Channels []struct {
			SID  string `json:"sid"`
			Type string `json:"type"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(out), &ls); code != 0 || err != nil || ls.API != "conversations" || len(ls.Channels) == 0 || ls.Channels[0].Type != "private" {
		t.Fatalf("ls --json exit %d: %s", code, out)
	}
	code, out, _ = chatvault(t, info, "ls", "--archive", archive, "--channel", ls.Channels[0].SID)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) == 0 || !strings.Contains(lines[0], `"`) {
		t.Errorf("ls --channel exit %d:\n%s", code, out)
	}

	code, out, _ = chatvault(t, info, "export", "--archive", archive)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	users := int(res["users"].(float64))
	if code != 0 || len(lines) <= users {
		t.Fatalf("export exit %d, %d lines", code, len(lines))
	}
	for i, l := range lines[:users] {
		if !strings.HasPrefix(l, `{"user":{"sid":"US`) || !strings.Contains(l, `"chat_service_sid"`) {
			t.Errorf("export line %d is not a user as Conversations returned it: %s", i, l)
		}
	}
	if !strings.HasPrefix(lines[users], `{"channel":`) {
		t.Errorf("export line %d is not the first channel: %s", users, lines[users])
	}
}

package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/restore"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		msg  string
		want cause
	}{
		{"GET /v2/Services/IS1: dial tcp 127.0.0.1:1: connect: connection refused", causeUnreachable},
		{"dial tcp: lookup chat.example: no such host", causeUnreachable},
		{"GET /v2/x: HTTP 429: Too Many Requests (code 20429)", causeRateLimited},
		{"GET /v2/x: context deadline exceeded", causeTimeout},
		{"net/http: request canceled (Client.Timeout exceeded)", causeTimeout},
		{`channel "x" does not exist in service IS1`, causeNotFound},
		{"POST /v2/x: the outcome is unknown", causeUnknownOutcome},
		{"record svc/IS1/ch/CH1/messages/index 7@snapshot 1 is corrupt (checksum mismatch)", causeArchive},
		{"GET /v2/x: HTTP 503 Service Unavailable", causeServer},
		{"something else", causeOther},
		{"", causeOther},
	}
	for _, tt := range tests {
		if got := classify(tt.msg); got != tt.want {
			t.Errorf("classify(%q) = %q, want %q", tt.msg, got.what, tt.want.what)
		}
	}
	is := "IS" + strings.Repeat("ab", 16)
	for msg, flag := range map[string]string{
		"GET /mcs/v1/Services/" + is + "/Media/ME1: dial tcp 127.0.0.1:1: connect: connection refused":                 "--media-url",
		"POST /v1/Services/" + is + "/Media: dial tcp 127.0.0.1:1: connect: connection refused":                        "--media-url",
		"dial tcp: lookup mcs.us1.twilio.com: no such host":                                                            "--media-url",
		"GET /v1/Services/" + is + "/Conversations: dial tcp 127.0.0.1:1: connect: connection refused":                 "--conversations-url",
		"GET /v1/Services/" + is + ": dial tcp 127.0.0.1:1: connect: connection refused":                               "--conversations-url",
		"GET /v2/Services/" + is + "/Channels: dial tcp 127.0.0.1:1: connect: connection refused":                      "--base-url",
		`fetching channel "media-team": GET /v2/Services/` + is + "/Channels/media-team: dial tcp: connection refused": "--base-url",
		`fetching channel "x": GET /v2/Services/` + is + "/Channels/conversations.old: dial tcp: connection refused":   "--base-url",
	} {
		if c := classify(msg); !strings.Contains(c.waiting, flag) || !strings.Contains(c.next, flag) || c.what != causeUnreachable.what {
			t.Errorf("classify(%q) = %+v, want it to name %s", msg, c, flag)
		}
	}
	if causeUnreachable.waiting == causeRateLimited.waiting {
		t.Error("a refused connection reads like a rate limit")
	}
}

func TestRestoreSummary(t *testing.T) {
	res := restore.Result{
		Skipped: []restore.Skipped{
			{Channel: "CH1", Kind: restore.SkipMedia}, {Channel: "CH1", Kind: restore.SkipMedia}, {Channel: "CH2", Kind: restore.SkipMedia},
			{Channel: "CH3", Kind: restore.SkipBehind}, {Channel: "CH8", Member: "MB1", Kind: restore.SkipParticipant},
		},
		Conflicts: []restore.Conflict{{Channel: "CH4", UniqueName: "general-4", Reason: "holds messages this restore did not create"}},
		Failed: []restore.Failure{
			{Channel: "CH5", UniqueName: "a", Error: "POST x: HTTP 429 Too Many Requests"},
			{Channel: "CH6", Error: "dial tcp: connection refused"},
			{Channel: "CH7", UniqueName: "b", Error: "HTTP 429"},
		},
	}
	err := partialError("restore of snapshot 2 into IS9", restoreReasons(res))
	if !errors.Is(err, errPartial) || exitCode(t.Context(), err) != exitPartial {
		t.Fatalf("summary %v does not exit partial", err)
	}
	text := err.Error()
	for _, want := range []string{
		"restore of snapshot 2 into IS9 is partial:",
		"3 media messages skipped: their files are not in the archive, nor their media in the target service (CH1, CH2); next: back the source up again with --full",
		"1 participant skipped: no identity (an SMS or WhatsApp address)",
		"1 message skipped: older than",
		"1 channel in conflict (general-4: holds messages this restore did not create); next:",
		"2 channels failed: rate limited by the service (a, b); next: rerun later, or with a lower --concurrency",
		"1 channel failed: the service could not be reached",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\n") {
		t.Errorf("summary is not one line:\n%s", text)
	}
	if n := strings.Count(text, ") "); n < 6 || !strings.Contains(text, " (6) ") || strings.Contains(text, " (7) ") {
		t.Errorf("summary has %d reasons, want 6 (one per cause):\n%s", n, text)
	}
	if strings.Count(text, "next:") != 6 {
		t.Errorf("every reason needs one next step:\n%s", text)
	}
}

func TestBackupSummary(t *testing.T) {
	tests := []struct {
		name     string
		failures []backup.ChannelFailure
		want     []string
	}{
		{"none", nil, []string{errPartial.Error()}},
		{"listing and channels", []backup.ChannelFailure{
			{Channel: "", Error: "listing the channels: HTTP 503"},
			{Channel: "CH1", Error: "context deadline exceeded"},
			{Channel: "CH2", Error: "Client.Timeout exceeded"},
		}, []string{"1 channel failed: the service failed (5xx) (the service's listings)", "2 channels failed: the service did not answer in time (CH1, CH2); next: rerun; raise --timeout"}},
		{"many channels listed briefly", []backup.ChannelFailure{
			{Channel: "CH1", Error: "x"}, {Channel: "CH2", Error: "x"}, {Channel: "CH3", Error: "x"}, {Channel: "CH4", Error: "x"}, {Channel: "CH5", Error: "x"}, {Channel: "CH6", Error: "x"},
		}, []string{"6 channels failed: other errors (CH1, CH2, CH3, CH4 and 2 more)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := partialError("backup", backupReasons(backup.Result{Failures: tt.failures}))
			if !errors.Is(err, errPartial) {
				t.Fatalf("%v is not partial", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("summary lacks %q:\n%s", want, err)
				}
			}
		})
	}
}

// TestReportsCountInWords: a count of one reads in the singular in the
// text results.
func TestReportsCountInWords(t *testing.T) {
	var out, errOut bytes.Buffer
	res := backup.Result{Snapshot: 2, Service: "IS1", API: "chat", Status: "complete", Channels: 1, Messages: 1, Users: 1, MediaFiles: 1, Requests: 1}
	if err := reportBackup(&out, &errOut, backupOptions{}, res, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "also") {
		t.Errorf("backup without other changes says %q", out.String())
	}
	out.Reset()
	res.MembersChanged, res.UsersChanged = 2, 1
	if err := reportBackup(&out, &errOut, backupOptions{}, res, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 channel, 1 message (", "1 user, 1 media file downloaded", "1 request in", "; also added, changed or deleted: 2 members, 1 user"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("backup says %q, want %q", out.String(), want)
		}
	}
	out.Reset()
	rres := restore.Result{Snapshot: 2, Target: "IS2", API: "chat", Status: "complete", Users: 2, ChannelsCreated: 1, Members: 1, Messages: 1, MediaUploaded: 1, Requests: 1}
	if err := reportRestore(&out, &errOut, restoreOptions{}, rres, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 users, 1 channel created", "1 member, 1 message (", "1 media file uploaded", "1 request in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("restore says %q, want %q", out.String(), want)
		}
	}
}

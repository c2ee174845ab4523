package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote/emulator"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"8MiB", 8 << 20, true},
		{"512KiB", 512 << 10, true},
		{"1GiB", 1 << 30, true},
		{"2MB", 2_000_000, true},
		{"3KB", 3000, true},
		{"1024B", 1024, true},
		{" 4 MiB ", 4 << 20, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"8 lots", 0, false},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"9999999999999GiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "8MiB") {
				t.Errorf("error %q does not say what a size looks like", err)
			}
		})
	}
}

// TestEmulateReadyLineHasMediaURL: the ready line names the Media service,
// and files can be uploaded there with the printed credentials.
func TestEmulateReadyLineHasMediaURL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	cfg := emulator.DefaultConfig()
	cfg.Channels, cfg.Messages = 1, 1
	go func() {
		err := runEmulate(ctx, emulateOptions{Listen: "127.0.0.1:0", Config: cfg}, pw)
		pw.CloseWithError(err) // a failure to start ends the wait for the ready line
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runEmulate: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	if !strings.Contains(string(line), `"media_url":`) {
		t.Errorf("ready line %s has no media_url", line)
	}
	var info emulator.Info
	if err := json.Unmarshal(line, &info); err != nil || info.MediaURL != info.BaseURL+"/mcs" || info.BaseURL == "" {
		t.Fatalf("ready line %s: %v", line, err)
	}
	req, _ := http.NewRequest("POST", info.MediaURL+"/v1/Services/"+info.Services[1]+"/Media", strings.NewReader("hello"))
	req.Header.Set("Content-Type", "text/plain")
	req.SetBasicAuth(info.AccountSID, info.AuthToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("upload at media_url: %d, want 201", res.StatusCode)
	}
}

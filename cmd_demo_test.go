package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the demo on a small history: it backs up media files,
// restores them, and its last step finds every restored file byte for byte
// the source's, with no exception line.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(t.Context(), demoOptions{Dir: t.TempDir(), Channels: 3, Messages: 40}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	files := regexp.MustCompile(`(?m)^2\. .* (\d+) media files`).FindStringSubmatch(text)
	if files == nil || files[1] == "0" {
		t.Fatalf("the demo's backup archived no media file:\n%s", text)
	}
	for _, want := range []string{
		"\n7. media: " + files[1] + " restored files",
		files[1] + " of them with the SHA-256 of the source's file",
		"matches the source, field for field and byte for byte",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "   ") {
			t.Errorf("demo output has an exception line: %q", line)
		}
	}
}

package transcript

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds Debian's chromium. The test that needs it fails, never
// skips, when it is missing: .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: the transcript browser test needs it; run `apt-get install -y chromium` (as .ci/run does)")
	return ""
}

// headless runs chromium headless on url with extra arguments and returns
// its stdout. It reaches nothing on the network: every background service
// is off, and the page's own policy forbids any load.
func headless(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestBrowserRendersTranscript renders a channel page in headless Chromium:
// the screenshot is not blank, and the DOM Chromium built holds every
// message in order, the injection bodies as text, and no script.
func TestBrowserRendersTranscript(t *testing.T) {
	bin := chromium(t)
	sample := sampleMessages()
	v := fixture(t, sample)
	dir := t.TempDir()
	if _, err := Write(context.Background(), v, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	writeTestImage(t, filepath.Join(dir, "media", MediaFileName(sidOf("ME", 1), "image/png")))
	url := "file://" + filepath.Join(dir, pageFile(testChannel, 1))

	shot := filepath.Join(t.TempDir(), "page.png")
	headless(t, bin, url, "--screenshot="+shot, "--window-size=1000,1400")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if n := distinctColors(img, 50); n < 50 {
		t.Errorf("screenshot shows %d distinct colours: the page rendered blank", n)
	}

	dom := headless(t, bin, url, "--dump-dom")
	domFile := filepath.Join(t.TempDir(), "dom.html")
	if err := os.WriteFile(domFile, dom, 0o600); err != nil {
		t.Fatal(err)
	}
	p := parsePage(t, domFile)
	if len(p.Messages) != len(sample) {
		t.Fatalf("the browser's DOM holds %d messages, want %d", len(p.Messages), len(sample))
	}
	for i, m := range p.Messages {
		if m.Index != int64(i) {
			t.Errorf("DOM message %d has index %d: out of order", i, m.Index)
		}
		if sample[i].Body != "" && m.Body != sample[i].Body {
			t.Errorf("DOM message %d body %q, want %q as text", i, m.Body, sample[i].Body)
		}
	}
	if p.Scripts != 0 || len(p.Handlers) != 0 {
		t.Errorf("the browser's DOM holds %d scripts and handlers %v", p.Scripts, p.Handlers)
	}
}

// distinctColors counts the distinct colours of img, stopping at limit.
func distinctColors(img image.Image, limit int) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// writeTestImage writes a small gradient PNG at path, as the media export would.
func writeTestImage(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for x := range 80 {
		for y := range 60 {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 4), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

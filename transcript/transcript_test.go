package transcript

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parsedMessage is one <article class="msg"> of a page, as read back.
type parsedMessage struct {
	Index  int64
	Author string
	Body   string // text of the body div, entities decoded
	Edited string
	Media  []string // href/src values under the media div
}

// parsedPage is what a test reads back from a page.
type parsedPage struct {
	Messages []parsedMessage
	Next     string
	Links    []string // every href and src
	Scripts  int      // <script> elements
	Handlers []string // on… attributes
	CSP      string
	Style    string
	Text     string // all text
}

// parsePage reads a generated page as HTML (a lenient XML tokenizer with
// HTML's entities and void elements), so a test sees the document a
// browser sees rather than searching its bytes.
func parsePage(t *testing.T, path string) parsedPage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var (
		p     parsedPage
		cur   *parsedMessage
		stack []string // class of each open element
		text  strings.Builder
	)
	in := func(class string) bool {
		for _, c := range stack {
			if slices.Contains(strings.Fields(c), class) {
				return true
			}
		}
		return false
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s does not parse: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					p.Handlers = append(p.Handlers, a.Name.Local)
				}
			}
			name := strings.ToLower(tok.Name.Local)
			switch name {
			case "script":
				p.Scripts++
			case "meta":
				if attr["http-equiv"] == "Content-Security-Policy" {
					p.CSP = attr["content"]
				}
			case "article":
				if attr["class"] == "msg" {
					p.Messages = append(p.Messages, parsedMessage{})
					cur = &p.Messages[len(p.Messages)-1]
					cur.Index, _ = strconv.ParseInt(attr["data-index"], 10, 64)
				}
			case "a":
				if attr["rel"] == "next" {
					p.Next = attr["href"]
				}
			}
			for _, k := range []string{"href", "src"} {
				if v, ok := attr[k]; ok {
					p.Links = append(p.Links, v)
					if cur != nil && in("media") {
						cur.Media = append(cur.Media, v)
					}
				}
			}
			// AutoClose ends void elements (<img>, <br>) with an
			// EndElement of their own, so every start is pushed.
			stack = append(stack, attr["class"])
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if strings.ToLower(tok.Name.Local) == "article" {
				cur = nil
			}
		case xml.CharData:
			s := string(tok)
			text.WriteString(s)
			switch {
			case cur == nil:
				if len(stack) > 0 && p.Style == "" && strings.Contains(s, "{") && strings.Contains(s, "}") && !in("msg") {
					p.Style = s
				}
			case in("author"):
				cur.Author += s
			case in("body"):
				cur.Body += s
			case in("edited"):
				cur.Edited += s
			}
		}
	}
	p.Text = text.String()
	return p
}

// readChannel follows a channel's pages from its first through the next
// links and returns every message in page order.
func readChannel(t *testing.T, dir, first string) ([]parsedMessage, []parsedPage) {
	t.Helper()
	var msgs []parsedMessage
	var pages []parsedPage
	for file := first; file != ""; {
		p := parsePage(t, filepath.Join(dir, file))
		pages = append(pages, p)
		msgs = append(msgs, p.Messages...)
		file = p.Next
		if len(pages) > 1000 {
			t.Fatal("next links loop")
		}
	}
	return msgs, pages
}

func TestWritePages(t *testing.T) {
	sample := sampleMessages()
	v := fixture(t, sample)
	dir := filepath.Join(t.TempDir(), "html")
	res, err := Write(context.Background(), v, dir, Options{PageSize: 3, Location: time.FixedZone("CET", 3600)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Channels != 1 || res.Messages != len(sample) || res.Pages != 3 {
		t.Errorf("result %+v, want 1 channel, %d messages, 3 pages", res, len(sample))
	}
	msgs, pages := readChannel(t, dir, pageFile(testChannel, 1))
	if len(pages) != 3 {
		t.Fatalf("followed %d pages, want 3", len(pages))
	}
	if len(msgs) != len(sample) {
		t.Fatalf("pages hold %d messages, want %d", len(msgs), len(sample))
	}
	for i, m := range msgs {
		want := sample[i]
		if m.Index != int64(i) {
			t.Errorf("message %d has index %d: out of order", i, m.Index)
		}
		if m.Author != want.From {
			t.Errorf("message %d author %q, want %q", i, m.Author, want.From)
		}
		wantBody := want.Body
		if want.Body == "" && want.Media == nil {
			wantBody = "(empty message)"
		}
		if m.Body != wantBody {
			t.Errorf("message %d body %q, want %q (shown as text)", i, m.Body, wantBody)
		}
		if want.Edited != (m.Edited != "") || (want.Edited && !strings.Contains(m.Edited, "moderator")) {
			t.Errorf("message %d edited mark %q, want edited=%v by moderator", i, m.Edited, want.Edited)
		}
	}
	if got := msgs[5].Media; len(got) != 3 || got[1] != "media/"+MediaFileName(sidOf("ME", 1), "image/png") {
		t.Errorf("image message media links %v: want a link, an <img> and a link to media/ME….png", got)
	}
	if got := msgs[6].Media; len(got) != 1 || got[0] != "media/"+sidOf("ME", 2)+".pdf" {
		t.Errorf("file message media links %v: want one link to media/ME….pdf", got)
	}
	for i, p := range pages {
		if p.Scripts != 0 || len(p.Handlers) != 0 {
			t.Errorf("page %d has %d scripts and handlers %v: archive text ran as markup", i+1, p.Scripts, p.Handlers)
		}
		if !strings.Contains(p.CSP, "default-src 'none'") || !strings.Contains(p.CSP, "'sha256-"+cssHash(p.Style)+"'") {
			t.Errorf("page %d CSP %q does not forbid everything but its own style (hash of %d bytes of CSS)", i+1, p.CSP, len(p.Style))
		}
		for _, l := range p.Links {
			if strings.Contains(l, ":") {
				t.Errorf("page %d links to %q: pages must load nothing from elsewhere", i+1, l)
			}
		}
	}
	first := pages[0].Text
	for _, want := range []string{"alice", "<bob>", "message #1", "General & <b>friends</b>", "read up to here: alice", "</pre><script>x()</script>", "Friday, 20 November 2026", "Saturday, 21 November 2026", "23:58:00", "22:58:00 UTC"} {
		if !strings.Contains(first, want) {
			t.Errorf("first page lacks %q", want)
		}
	}
	if strings.Contains(pages[1].Text, "Members (") || !strings.Contains(pages[1].Text, "listed on the first page") {
		t.Errorf("page 2 repeats the members or does not point to them")
	}
	idx := parsePage(t, filepath.Join(dir, "index.html"))
	for _, want := range []string{"Support <desk>", testService, "general-1", "snapshot 1", "2026-11-20 23:58:00 CET", "2026-11-21 00:04:00 CET"} {
		if !strings.Contains(idx.Text, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if !strings.Contains(strings.Join(idx.Links, " "), pageFile(testChannel, 3)) {
		t.Errorf("index.html does not link the channel's pages: %v", idx.Links)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, pageFile(testChannel, 1)))
	if regexp.MustCompile(`(?i)<script|<img src=x|https?://`).Match(raw) {
		t.Errorf("page bytes hold live markup or a network URL")
	}
}

func TestWriteErrors(t *testing.T) {
	v := fixture(t, sampleMessages())
	file := filepath.Join(t.TempDir(), "plain-file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name string
		dir  string
		o    Options
		want string
	}{
		{"output is a file", file, Options{}, "transcript folder"},
		{"negative page size", t.TempDir(), Options{PageSize: -1}, "negative"},
		{"output under a file", filepath.Join(file, "sub"), Options{}, "transcript folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Write(context.Background(), v, tt.dir, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Write(ctx, v, t.TempDir(), Options{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Write with a cancelled context: %v", err)
		}
	})
}

func TestWriteEmptyChannel(t *testing.T) {
	v := fixture(t, nil)
	dir := t.TempDir()
	res, err := Write(context.Background(), v, dir, Options{})
	if err != nil || res.Pages != 1 || res.Messages != 0 {
		t.Fatalf("Write = %+v, %v; want one page, no messages", res, err)
	}
	p := parsePage(t, filepath.Join(dir, pageFile(testChannel, 1)))
	if len(p.Messages) != 0 || !strings.Contains(p.Text, "no messages") || p.Next != "" {
		t.Errorf("empty channel page: %d messages, next %q", len(p.Messages), p.Next)
	}
}

func TestMediaFileName(t *testing.T) {
	tests := []struct{ sid, ct, want string }{
		{"ME0123", "image/jpeg", "ME0123.jpg"},
		{"ME0123", "IMAGE/PNG; charset=binary", "ME0123.png"},
		{"ME0123", "application/pdf", "ME0123.pdf"},
		{"ME0123", "application/x-unknown", "ME0123.bin"},
		{"ME0123", "", "ME0123.bin"},
		{"ME0123", "not a type", "ME0123.bin"},
		{"../../etc/passwd", "text/plain", "etcpasswd.txt"},
		{"", "image/gif", "media.gif"},
		{"ME/../x", "image/svg+xml", "MEx.svg"},
	}
	for _, tt := range tests {
		if got := MediaFileName(tt.sid, tt.ct); got != tt.want {
			t.Errorf("MediaFileName(%q, %q) = %q, want %q", tt.sid, tt.ct, got, tt.want)
		}
	}
	if isImage("image/svg+xml") || !isImage("image/jpeg") || isImage("application/pdf") {
		t.Error("isImage: svg must not be inline, jpeg must, pdf must not")
	}
}

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {8 << 20, "8.0 MiB"}, {3 << 30, "3.0 GiB"}}
	for _, tt := range tests {
		if got := HumanSize(tt.n); got != tt.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestMediaExtension(t *testing.T) {
	tests := []struct {
		contentType, want string
	}{
		{"image/png", "png"},
		{"image/jpeg", "jpg"},
		{"text/plain; charset=utf-8", "txt"},
		{"application/pdf", "pdf"},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
		{"application/vnd.ms-excel", "xls"},
		{"IMAGE/PNG", "png"},
		{"application/x-chatvault-unknown", "bin"},
		{"not a type;;", "bin"},
		{"", "bin"},
	}
	for _, tt := range tests {
		if got := MediaExtension(tt.contentType); got != tt.want {
			t.Errorf("MediaExtension(%q) = %q, want %q", tt.contentType, got, tt.want)
		}
	}
}

// TestRewriteRemovesStalePages: exporting again into the same folder
// leaves one transcript. Pages of an exported channel beyond its new last
// page go; pages of channels the snapshot no longer has go when every
// channel is exported and stay when only some are; other files stay.
func TestRewriteRemovesStalePages(t *testing.T) {
	v := fixture(t, sampleMessages())
	chs, err := v.Channels()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gone := sidOf("CH", 99)
	keep := []string{"notes.html", "CH-2.html", "CHANGELOG.html", "CHAPTER-2.html", "CHECKLIST.html", "CHABCDEF0123456789ABCDEF0123456789.html",
		gone + "-x.html", gone + "-02.html", gone + "-1.html", "index.html.bak", filepath.Join("media", gone+".png")}
	for _, tt := range []struct {
		name     string
		o        Options
		goneGoes bool
	}{
		{"every channel (nil)", Options{}, true},
		{"every channel (listed)", Options{Channels: chs, AllChannels: true}, true},
		{"some channels", Options{Channels: chs}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "html")
			if _, err := Write(ctx, v, dir, Options{PageSize: 2}); err != nil {
				t.Fatal(err)
			}
			many, err := filepath.Glob(filepath.Join(dir, testChannel+"*.html"))
			if err != nil || len(many) < 3 {
				t.Fatalf("first export wrote pages %v (%v), want at least 3", many, err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "media"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range append([]string{gone + ".html", gone + "-2.html"}, keep...) {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			o := tt.o
			o.PageSize = 1000
			res, err := Write(ctx, v, dir, o)
			if err != nil {
				t.Fatal(err)
			}
			pages, err := filepath.Glob(filepath.Join(dir, testChannel+"*.html"))
			if err != nil || len(pages) != 1 || filepath.Base(pages[0]) != pageFile(testChannel, 1) {
				t.Errorf("after the second export the channel has pages %v (%v), want only %s", pages, err, pageFile(testChannel, 1))
			}
			for _, f := range []string{gone + ".html", gone + "-2.html"} {
				_, err := os.Stat(filepath.Join(dir, f))
				if tt.goneGoes != os.IsNotExist(err) {
					t.Errorf("page %s of a channel not exported: stat %v, want removed=%v", f, err, tt.goneGoes)
				}
			}
			for _, f := range keep {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s is not a page of an earlier export but was touched: %v", f, err)
				}
			}
			want := len(many) - 1
			if tt.goneGoes {
				want += 2
			}
			if res.Removed != want {
				t.Errorf("Removed = %d, want %d", res.Removed, want)
			}
		})
	}
}

// TestFirstExportRemovesNothing: pages are pruned only in a folder that
// holds an earlier export's index.html, so a first export into a folder of
// other files, even one named like a channel page, removes nothing.
func TestFirstExportRemovesNothing(t *testing.T) {
	v := fixture(t, sampleMessages())
	dir := t.TempDir()
	mine := []string{sidOf("CH", 7) + ".html", sidOf("CH", 7) + "-2.html", "CHANGELOG.html"}
	for _, f := range mine {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// An index.html that is not an export's does not count either.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<html><title>my site</title></html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Write(context.Background(), v, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 0 {
		t.Errorf("Removed = %d in a folder without an earlier export", res.Removed)
	}
	for _, f := range mine {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "mine" {
			t.Errorf("%s was touched by a first export: %q, %v", f, b, err)
		}
	}
	// The export's own index now marks the folder: a second export prunes.
	if !earlierExport(dir) {
		t.Errorf("the index.html an export writes is not recognised as an export's")
	}
	res, err = Write(context.Background(), v, dir, Options{})
	if err != nil || res.Removed != 2 {
		t.Errorf("second export: Removed = %d, %v; want the 2 pages of a channel the snapshot lacks", res.Removed, err)
	}
}

// TestMessageEdit: was_edited decides in Chat's shape; without it
// (Conversations, where date_updated is null until an edit) a later
// date_updated does.
func TestMessageEdit(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		edited bool
		by, at string
	}{
		{`{"was_edited":true,"last_updated_by":"ann","date_created":"2026-01-01T00:00:00Z","date_updated":"2026-01-01T00:01:00Z"}`, true, "ann", "2026-01-01T00:01:00Z"},
		{`{"was_edited":false,"date_created":"2026-01-01T00:00:00Z","date_updated":"2026-01-01T00:01:00Z"}`, false, "", ""},
		{`{"was_edited":false,"last_updated_by":"bob","date_created":"2026-01-01T00:00:00Z","date_updated":"2026-01-01T00:01:00Z"}`, true, "bob", "2026-01-01T00:01:00Z"},
		{`{"date_created":"2026-01-01T00:00:00Z","date_updated":"2026-01-01T00:01:00Z"}`, true, "", "2026-01-01T00:01:00Z"},
		{`{"date_created":"2026-01-01T00:00:00Z","date_updated":null}`, false, "", ""},
		{`{"date_created":"2026-01-01T00:00:00Z","date_updated":"2026-01-01T00:00:00Z"}`, false, "", ""},
		{`not json`, false, "", ""},
	} {
		edited, by, at := MessageEdit([]byte(tc.raw))
		if edited != tc.edited || by != tc.by || at != tc.at {
			t.Errorf("MessageEdit(%s) = %v, %q, %q; want %v, %q, %q", tc.raw, edited, by, at, tc.edited, tc.by, tc.at)
		}
	}
}

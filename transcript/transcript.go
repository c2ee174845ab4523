package transcript

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chatvault/chatvault/store"
)

// DefaultPageSize is the number of messages per page when Options.PageSize is 0.
const DefaultPageSize = 1000

// Options shape Write.
type Options struct {
	// Channels to render, in this order; nil renders every channel of the
	// snapshot.
	Channels []store.ChannelRecord
	// AllChannels says Channels holds every channel of the snapshot: then,
	// as with nil Channels, the pages of other channels that an earlier
	// export left in the folder are removed too.
	AllChannels bool
	// PageSize is the number of messages per page; 0 = DefaultPageSize.
	PageSize int
	// Location is the time zone of the local times shown beside UTC;
	// nil = time.Local.
	Location *time.Location
}

// Result reports what Write wrote.
type Result struct {
	Dir      string `json:"output"`
	Channels int    `json:"channels"`
	Messages int    `json:"messages"`
	Pages    int    `json:"pages"` // channel pages, index.html not counted
	// Removed counts the pages of an earlier export into the same folder
	// that this one no longer has (see Write).
	Removed int `json:"removed_pages"`
	// Warnings are problems that did not stop the export, such as a page
	// of an earlier export that could not be removed.
	Warnings []string `json:"warnings,omitempty"`
}

//go:embed templates
var templateFS embed.FS

var (
	css = mustRead("templates/style.css")
	// csp allows no script, no network and no plugin; the one inline style
	// sheet is allowed by its hash, images come from beside the page.
	csp = template.HTML(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; ` +
		`style-src 'sha256-` + cssHash(css) + `'; img-src 'self'; ` +
		`base-uri 'none'; form-action 'none'; frame-ancestors 'none'">`)
	pages = template.Must(template.New("").Funcs(template.FuncMap{
		"inc": func(i int) int { return i + 1 },
	}).ParseFS(templateFS, "templates/*.tmpl"))
)

func mustRead(name string) string {
	b, err := fs.ReadFile(templateFS, name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cssHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pageHead is what every page's <head> needs.
type pageHead struct {
	Title string
	CSP   template.HTML
	CSS   template.CSS
}

func newHead(title string) pageHead {
	return pageHead{Title: title, CSP: csp, CSS: template.CSS(css)}
}

// Write renders snapshot v into dir (created if missing): index.html and
// the pages of each channel. Each file is written under a temporary name
// and renamed when complete. Pages an earlier export left in dir that this
// one did not write are then removed (see prune; only when the folder held
// an earlier export's index.html), so the folder holds one transcript,
// not a mix. Write stops early when ctx is done.
func Write(ctx context.Context, v *store.View, dir string, o Options) (Result, error) {
	res := Result{Dir: dir}
	if o.PageSize < 0 {
		return res, fmt.Errorf("transcript page size %d is negative", o.PageSize)
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	chs := o.Channels
	if chs == nil {
		var err error
		if chs, err = v.Channels(); err != nil {
			return res, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("cannot create the transcript folder: %w", err)
	}
	earlier := earlierExport(dir)
	w := &writer{v: v, dir: dir, o: o}
	idx := indexData{Snapshot: v.Snapshot(), Service: v.Snapshot().Service, Zone: zoneName(o.Location)}
	idx.ServiceName = idx.Service
	if raw, err := v.Service(); err == nil {
		var s struct {
			FriendlyName string `json:"friendly_name"`
		}
		if json.Unmarshal(raw, &s) == nil && s.FriendlyName != "" {
			idx.ServiceName = s.FriendlyName
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	idx.Started = w.localFull(idx.Snapshot.Started)
	if !idx.Snapshot.Finished.IsZero() {
		idx.Finished = w.localFull(idx.Snapshot.Finished)
	}
	for _, ch := range chs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sum, err := w.channel(ch)
		if err != nil {
			return res, fmt.Errorf("transcript of channel %s: %w", ch.SID, err)
		}
		idx.Channels = append(idx.Channels, sum)
		res.Channels++
		res.Messages += sum.Messages
		res.Pages += len(sum.Pages)
	}
	idx.Page = newHead(idx.ServiceName + " — chatvault snapshot " + fmt.Sprint(idx.Snapshot.ID))
	if err := w.render("index.html", "index.html.tmpl", idx); err != nil {
		return res, err
	}
	written := make(map[string]bool, res.Pages)
	exported := make(map[string]bool, len(idx.Channels))
	for _, c := range idx.Channels {
		exported[strings.TrimSuffix(c.File, ".html")] = true
		for _, p := range c.Pages {
			written[p] = true
		}
	}
	if earlier {
		var err error
		if res.Removed, err = prune(dir, written, exported, o.Channels == nil || o.AllChannels); err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
	}
	return res, nil
}

// earlierExport reports whether dir holds the index.html of an earlier
// export: pages are pruned only then, so a first export into a folder of
// other files removes nothing. Exports before the generator mark had the
// index's title to tell them by.
func earlierExport(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "index.html"))
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	return bytes.Contains(head, []byte(`<meta name="generator" content="chatvault">`)) ||
		bytes.Contains(head, []byte(" — chatvault snapshot "))
}

// prune removes the channel pages an earlier export left in dir that this
// one did not write: pages of an exported channel beyond its new last page
// and, when every channel was exported (all), the pages of channels the
// snapshot no longer has. Only names a channel SID gives (see pageFile:
// CH and 32 hex digits, .html or -N.html) are touched; media files and
// anything else stay.
func prune(dir string, written, exported map[string]bool, all bool) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("listing the transcript folder for pages of an earlier export: %w", err)
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		base, ok := channelPageBase(name)
		if !ok || written[name] || !e.Type().IsRegular() || !(all || exported[base]) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return removed, fmt.Errorf("removing %s, a page of an earlier export: %w", name, err)
		}
		removed++
	}
	return removed, nil
}

// channelPageName matches the file names pageFile gives a channel's pages.
var channelPageName = regexp.MustCompile(`^(CH[0-9a-f]{32})(?:-(?:[2-9]|[1-9][0-9]+))?\.html$`)

// channelPageBase returns the channel part of a page's file name (see
// pageFile): "CHx" for CHx.html and CHx-3.html.
func channelPageBase(name string) (string, bool) {
	m := channelPageName.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

type indexData struct {
	Page        pageHead
	Service     string
	ServiceName string
	Snapshot    store.Snapshot
	Started     string
	Finished    string
	Zone        string
	Channels    []channelSummary
}

// channelSummary is a channel's row in index.html.
type channelSummary struct {
	channelInfo
	File        string
	Pages       []string
	Messages    int
	Members     int
	First, Last string
}

type channelInfo struct {
	SID, UniqueName, Title, Type, CreatedBy, Created, Attributes string
}

type memberView struct {
	Identity   string
	HasRead    bool
	ReadIndex  int64
	ReadAt     string
	Joined     string
	Attributes string
}

type mediaView struct {
	Path, Name, Type, Size string
	Image                  bool
}

type messageView struct {
	Index              int64
	Day                string // set on the first message of a day
	Author             string
	ISO, Local, UTC    string
	LocalFull          string
	Body               string
	Media              *mediaView
	Edited             bool
	EditedBy, EditedAt string
	Attributes         string
	ReadBy             []string
}

type channelPage struct {
	Page        pageHead
	Channel     channelInfo
	Snapshot    uint64
	Zone        string
	PageNo      int
	PageCount   int
	Prev, Next  string
	Members     []memberView
	MembersPage string
	Messages    []messageView
}

type writer struct {
	v   *store.View
	dir string
	o   Options
}

// pageFile is the file name of page n (1-based) of a channel.
func pageFile(sid string, n int) string {
	base := strings.TrimSuffix(MediaFileName(sid, ""), ".bin")
	if n == 1 {
		return base + ".html"
	}
	return fmt.Sprintf("%s-%d.html", base, n)
}

// channel writes the pages of one channel and returns its summary.
func (w *writer) channel(ch store.ChannelRecord) (channelSummary, error) {
	info, err := decodeChannel(ch, w)
	if err != nil {
		return channelSummary{}, err
	}
	sum := channelSummary{channelInfo: info, File: pageFile(ch.SID, 1)}
	members, readBy, err := w.members(ch.SID)
	if err != nil {
		return sum, err
	}
	sum.Members = len(members)
	count, err := w.v.MessageCount(ch.SID)
	if err != nil {
		return sum, err
	}
	pageCount := max(1, (count+w.o.PageSize-1)/w.o.PageSize)

	page := channelPage{Channel: info, Snapshot: w.v.Snapshot().ID, Zone: zoneName(w.o.Location), PageNo: 1, Members: members}
	flush := func(more bool) error {
		page.PageCount = max(pageCount, page.PageNo)
		page.Page = newHead(fmt.Sprintf("%s — page %d — chatvault", info.Title, page.PageNo))
		if page.PageNo > 1 {
			page.Prev = pageFile(ch.SID, page.PageNo-1)
			page.MembersPage = sum.File
		}
		page.Next = ""
		if more {
			page.Next = pageFile(ch.SID, page.PageNo+1)
		}
		file := pageFile(ch.SID, page.PageNo)
		sum.Pages = append(sum.Pages, file)
		return w.render(file, "channel.html.tmpl", page)
	}
	lastDay := ""
	for m, err := range w.v.Messages(ch.SID) {
		if err != nil {
			return sum, err
		}
		if len(page.Messages) == w.o.PageSize {
			if err := flush(true); err != nil {
				return sum, err
			}
			page.PageNo++
			page.Messages = page.Messages[:0]
			page.Members = nil
			lastDay = "" // each page starts with its day
		}
		mv, created, err := w.message(m)
		if err != nil {
			return sum, err
		}
		if day := w.day(created); day != lastDay {
			mv.Day, lastDay = day, day
		}
		mv.ReadBy = readBy[m.Index]
		if sum.First == "" {
			sum.First = mv.LocalFull
		}
		sum.Last = mv.LocalFull
		sum.Messages++
		page.Messages = append(page.Messages, mv)
	}
	return sum, flush(false)
}

// render executes template name with data into dir/file, through a
// temporary file renamed on success.
func (w *writer) render(file, name string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("rendering %s: %w", file, err)
	}
	f, err := os.CreateTemp(w.dir, "."+file+".*")
	if err != nil {
		return fmt.Errorf("cannot write the transcript: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(w.dir, file))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", filepath.Join(w.dir, file), err)
	}
	return nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatvault/chatvault/store"
)

// mediaExporter writes the archived files of exported media messages into
// a folder, each once, named by its media SID with an extension from its
// content type.
type mediaExporter struct {
	a       *store.Archive
	v       *store.View
	dir     string
	written int
	missing []string // media SIDs whose file is not archived
}

func newMediaExporter(a *store.Archive, v *store.View, dir string) (*mediaExporter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create --media-dir %s: %w", dir, err)
	}
	return &mediaExporter{a: a, v: v, dir: dir}, nil
}

// file writes the file of the media message raw, if it is one, and returns
// the file's name ("" for a text message or a file not archived).
func (e *mediaExporter) file(raw []byte) (string, error) {
	var m struct {
		Media *struct {
			SID         string `json:"sid"`
			ContentType string `json:"content_type"`
		} `json:"media"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Media == nil || m.Media.SID == "" {
		return "", nil
	}
	sid := m.Media.SID
	if strings.ContainsAny(sid, `/\`) || sid == "." || sid == ".." {
		return "", fmt.Errorf("media SID %q in the archive is not a file name", sid)
	}
	rec, ok, err := e.v.Media(sid)
	if err == nil && ok {
		ok, err = e.a.HasContent(rec.SHA256)
	}
	if err != nil {
		return "", fmt.Errorf("looking up the file of media %s: %w", sid, err)
	}
	if !ok {
		e.missing = append(e.missing, sid)
		return "", nil
	}
	name := sid + mediaExt(rec.ContentType, m.Media.ContentType)
	path := filepath.Join(e.dir, name)
	if st, err := os.Stat(path); err == nil && st.Size() == rec.Size {
		return name, nil // written before, by this export or an earlier one
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := e.write(path, rec); err != nil {
		return "", err
	}
	e.written++
	return name, nil
}

// write copies the archived content of rec to path, through a temporary
// file renamed at the end: a failed export leaves no partial file.
func (e *mediaExporter) write(path string, rec store.MediaRecord) (err error) {
	r, err := e.a.OpenContent(rec.SHA256)
	if err != nil {
		return fmt.Errorf("reading the archived file of media %s: %w", rec.SID, err)
	}
	defer r.Close()
	f, err := os.CreateTemp(e.dir, ".export-*")
	if err != nil {
		return fmt.Errorf("writing the file of media %s: %w", rec.SID, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("writing the file of media %s to %s: %w", rec.SID, e.dir, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the file of media %s to %s: %w", rec.SID, e.dir, err)
	}
	return os.Rename(f.Name(), path)
}

// mediaExts are the extensions of the content types media messages carry.
// A table of our own rather than mime's, which reads the system's
// mime.types: the same archive exports the same file names everywhere.
var mediaExts = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic",
	"image/bmp": ".bmp", "image/tiff": ".tiff", "image/svg+xml": ".svg",
	"application/pdf": ".pdf", "application/json": ".json", "application/zip": ".zip", "application/msword": ".doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
	"application/vnd.ms-excel": ".xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.ms-powerpoint":                                             ".ppt",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"text/plain": ".txt", "text/csv": ".csv", "text/html": ".html", "text/calendar": ".ics", "text/vcard": ".vcf",
	"audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/mp4": ".m4a", "audio/amr": ".amr",
	"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/3gpp": ".3gp",
}

// mediaExt is the file extension of the first content type the table
// knows, ".bin" when it knows none.
func mediaExt(types ...string) string {
	for _, t := range types {
		mt, _, err := mime.ParseMediaType(t)
		if err != nil {
			continue
		}
		if ext, ok := mediaExts[mt]; ok {
			return ext
		}
	}
	return ".bin"
}

package main

import (
	"errors"
	"fmt"
	"github.com/chatvault/chatvault/transcript"
	"io"
	"io/fs"
	"os"
	"path/filepath"

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
	md, ok := transcript.MessageMedia(raw)
	if !ok || md.SID == "" {
		return "", nil
	}
	sid := md.SID
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
	contentType := md.ContentType
	if contentType == "" {
		contentType = rec.ContentType
	}
	// The name the transcript pages link to.
	name := transcript.MediaFileName(sid, contentType)
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

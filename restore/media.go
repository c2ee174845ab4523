package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
)

// archivedMedia returns the archived record of media me of the snapshot
// and whether its file is archived whole.
func archivedMedia(v snapshotView, a archive, me string) (store.MediaRecord, bool, error) {
	rec, ok, err := v.Media(me)
	if err == nil && ok {
		ok, err = a.HasContent(rec.SHA256)
	}
	if err != nil {
		return rec, false, &storeErr{fmt.Errorf("restore: look up the archived file of media %s: %w", me, err)}
	}
	return rec, ok, nil
}

// restorableMedia returns the archived record of m's media, whether its file is
// archived whole, and why m cannot be restored ("" when it can). sameSvc:
// the target is the source service.
func restorableMedia(v snapshotView, a archive, m *srcMessage, sameSvc bool) (rec store.MediaRecord, archived bool, why string, err error) {
	if me := m.media(); me != "" {
		if rec, archived, err = archivedMedia(v, a, me); err != nil {
			return rec, false, "", err
		}
	}
	return rec, archived, unrestorable(m, sameSvc, archived), nil
}

// unrestorable says why m cannot be restored, "" when it can. sameSvc: the
// target is the source service; archived: m's media file is in the archive.
func unrestorable(m *srcMessage, sameSvc, archived bool) string {
	if me := m.media(); me != "" && !sameSvc && !archived {
		return fmt.Sprintf("media message: the file of its media %s is not in the archive (the backup ran with --no-media, or before "+
			"chatvault archived media files), and media cannot be attached across services; back the source up again with --full, "+
			"without --no-media, to archive it", me)
	}
	return ""
}

// targetMedia returns the media SID the target message of m is created
// with ("" for a text message), or why m is skipped. Into another service
// the archived file is uploaded, once: the upload is journaled before the
// message that uses it is created, so a kill or a lost answer in between
// reuses it. Into the source service the media is reused while the service
// still has it, and uploaded again from the archive otherwise. A dry run
// counts the uploads instead.
func (c *chanRun) targetMedia(ctx context.Context, m *srcMessage, rec store.MediaRecord, archived bool) (sid, skip string, err error) {
	r := c.r
	me := m.media()
	if me == "" {
		return "", "", nil
	}
	key := c.st.mediaKey(c.rec.SID, me)
	v, ok, err := r.j.Get(key)
	if err != nil {
		return "", "", journalErr("read", key, err)
	}
	if ok {
		return string(v), "", nil
	}
	if r.sameSvc {
		_, err := r.dst.FetchMedia(ctx, r.o.Target, me)
		switch {
		case err == nil:
			return me, "", nil
		case !errors.Is(err, remote.ErrNotFound):
			return "", "", fmt.Errorf("look up media %s in service %s: %w", me, r.o.Target, err)
		case !archived:
			return "", fmt.Sprintf("media message: its media %s no longer exists in the service, and its file is not in the archive "+
				"(the backup ran with --no-media, or before chatvault archived media files)", me), nil
		}
		r.log.Info("media no longer in the service: uploading the archived file again", "channel", c.rec.SID, "media", me)
	}
	if r.o.DryRun {
		c.uploads++
		c.uploadBytes += rec.Size
		c.writes++
		return me, "", nil
	}
	sid, err = c.upload(ctx, me, rec)
	if err != nil {
		return "", "", err
	}
	if err := r.j.Put(key, []byte(sid)); err != nil {
		return "", "", journalErr("write", key, err)
	}
	// Saved before the message is created: a rerun after a kill finds it.
	return sid, "", journalErr("flush", key, r.j.Flush(ctx))
}

// upload sends the archived file of media me to the target's Media
// service and returns the new media SID. An upload whose answer was lost
// is sent again: the Media service cannot be searched for it, and a stray
// copy is never attached to a message.
func (c *chanRun) upload(ctx context.Context, me string, rec store.MediaRecord) (string, error) {
	r := c.r
	var readErr archiveErr // the archive failing to read the file
	u := remote.MediaUpload{ContentType: rec.ContentType, Filename: rec.Filename, Size: rec.Size,
		Open: func() (io.ReadCloser, error) {
			rc, err := r.a.OpenContent(rec.SHA256)
			if err != nil {
				readErr.set(err)
				return nil, err
			}
			return &archivedFile{rc: rc, err: &readErr, prog: r.o.Progress}, nil
		}}
	for range maxAttempts {
		f, err := r.dst.UploadMedia(ctx, r.o.Target, u)
		if err := readErr.get(); err != nil {
			return "", fmt.Errorf("the archived file of media %s (sha256 %s) cannot be read: %w; run `chatvault verify`", me, rec.SHA256, err)
		}
		if err == nil {
			c.uploaded++
			c.uploadedBytes += rec.Size
			return f.SID, nil
		}
		if ctx.Err() != nil || !errors.Is(err, remote.ErrUnknownOutcome) {
			return "", fmt.Errorf("upload media %s (%d bytes) to service %s: %w", me, rec.Size, r.o.Target, err)
		}
		r.log.Debug("media upload outcome unknown; uploading again", "channel", c.rec.SID, "media", me, "err", err)
	}
	return "", fmt.Errorf("upload media %s to service %s: no answer after %d attempts; rerun the restore", me, r.o.Target, maxAttempts)
}

// archiveErr holds the first error the archive gave while a file was read
// for an upload. The HTTP transport may read the body on a goroutine of
// its own, hence the lock.
type archiveErr struct {
	mu  sync.Mutex
	err error
}

func (e *archiveErr) set(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func (e *archiveErr) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// archivedFile reads an archived file for an upload, keeping the archive's
// error apart from the upload's and reporting the bytes as progress.
type archivedFile struct {
	rc   io.ReadCloser
	err  *archiveErr
	prog Progress
}

func (f *archivedFile) Read(p []byte) (int, error) {
	n, err := f.rc.Read(p)
	if n > 0 {
		f.prog.MediaBytes(int64(n))
	}
	if err != nil && err != io.EOF {
		f.err.set(err)
	}
	return n, err
}

func (f *archivedFile) Close() error { return f.rc.Close() }

// mediaDiffers reports whether target media t is not a copy of archived
// media s: the same file (size, content type, filename). Its SID differs
// from one service to another.
func mediaDiffers(s *srcMedia, t *remote.Media) bool {
	if s == nil || s.SID == "" {
		return t != nil
	}
	return t == nil || t.Size != s.Size || t.ContentType != s.ContentType || t.Filename != s.Filename
}

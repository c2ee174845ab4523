package emulator

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// mediaPrefix is where the Media service lives below the emulator's root.
const mediaPrefix = "/mcs"

// multipartSlack is how much larger than the upload limit a multipart body
// may say it is (its boundaries, headers and FileName) before it is refused
// without being read.
const multipartSlack = 64 << 10

// matchMediaRoute maps a path below /mcs/ onto a route.
func matchMediaRoute(p string) route {
	rest := p[len(mediaPrefix)+1:]
	if tok, ok := strings.CutPrefix(rest, "temp/"); ok {
		if tok == "" || strings.Contains(tok, "/") {
			return route{}
		}
		return route{kind: routeMediaTemp, leaf: tok}
	}
	segs, ok := pathSegments(rest)
	if !ok || len(segs) < 4 || segs[0] != "v1" || segs[1] != "Services" || segs[3] != "Media" {
		return route{}
	}
	switch {
	case len(segs) == 4:
		return route{kind: routeMediaUpload, svc: segs[2]}
	case len(segs) == 5:
		return route{kind: routeMedia, svc: segs[2], leaf: segs[4]}
	case len(segs) == 6 && segs[5] == "Content":
		return route{kind: routeMediaContent, svc: segs[2], leaf: segs[4]}
	}
	return route{}
}

func (u urls) media(b []byte, svc, id sid) []byte {
	b = append(b, u.base...)
	b = append(b, mediaPrefix+"/v1/Services/"...)
	b = appendSID(b, "IS", svc)
	b = append(b, "/Media/"...)
	return appendSID(b, "ME", id)
}

// appendTempURL appends a temporary URL of svc's file id that is valid for
// tempURLLifetime from now.
func (s *Server) appendTempURL(b []byte, u urls, svc, id sid) []byte {
	b = append(b, u.base...)
	b = append(b, tempPath...)
	return s.mcs.appendToken(b, svc, id, s.now().Add(tempURLLifetime))
}

// appendMediaJSON renders a Media resource. The caller holds svc.mu.
func (s *Server) appendMediaJSON(b []byte, u urls, svc *service, md *media) []byte {
	self := func(b []byte) []byte { return u.media(b, svc.sid, md.sid) }
	b = append(b, '{')
	b = sidField(b, "sid", "ME", md.sid)
	b = sidField(b, "account_sid", "AC", s.account)
	b = sidField(b, "service_sid", "IS", svc.sid)
	b = appendDate(key(b, "date_created"), md.created)
	b = appendDate(key(b, "date_updated"), md.updated)
	if md.linked {
		b = sidField(b, "channel_sid", "CH", md.channel)
		b = sidField(b, "message_sid", "IM", md.message)
	} else {
		b = rawField(b, "channel_sid", "null")
		b = rawField(b, "message_sid", "null")
	}
	b = strconv.AppendInt(key(b, "size"), md.size, 10)
	b = appendString(key(b, "content_type"), md.contentType)
	b = appendNullString(key(b, "filename"), nonEmpty(md.filename))
	b = appendNullString(key(b, "author"), nonEmpty(md.author))
	b = urlField(b, "url", self, "")
	b = append(key(b, "links"), '{')
	b = urlField(b, "content", self, "/Content")
	b = urlField(b, "content_direct_temporary", func(b []byte) []byte { return s.appendTempURL(b, u, svc.sid, md.sid) }, "")
	return append(b, '}', '}')
}

func mediaNotFound(ref string, svc *service) *apiError {
	return notFound(codeNotFound, "Media "+strconv.Quote(ref)+" was not found in service "+svc.sid.format("IS")+"; check the ME SID and that the file was uploaded to this service")
}

// inMedia finds the service and file c's path names and runs f on them
// with the service's read lock held.
func (s *Server) inMedia(c *call, f func(svc *service, md *media) answer) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.RLock()
	defer svc.mu.RUnlock()
	var md *media
	if id, ok := parseSID("ME", c.rt.leaf); ok {
		md = svc.media[id]
	}
	if md == nil {
		return errAnswer(mediaNotFound(c.rt.leaf, svc))
	}
	return f(svc, md)
}

func (s *Server) fetchMedia(c *call) answer {
	return s.inMedia(c, func(svc *service, md *media) answer {
		return answer{status: http.StatusOK, body: s.appendMediaJSON(nil, c.u, svc, md)}
	})
}

// mediaContent redirects to a fresh temporary URL of the file.
func (s *Server) mediaContent(c *call) answer {
	return s.inMedia(c, func(svc *service, md *media) answer {
		loc := string(s.appendTempURL(nil, c.u, svc.sid, md.sid))
		return answer{status: http.StatusTemporaryRedirect, send: func(w http.ResponseWriter) {
			w.Header().Set("Location", loc)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}}
	})
}

// serveTemporary serves a file's bytes at its temporary URL, which needs no
// credentials: the token is signed and carries its expiry.
func (s *Server) serveTemporary(c *call) answer {
	svcID, id, expires, ok := s.mcs.parseToken(c.rt.leaf)
	if !ok {
		return errAnswer(newAPIError(http.StatusForbidden, codeForbidden,
			"This is not a temporary media URL the emulator issued; fetch …/Media/{ME}/Content for one"))
	}
	if s.now().UnixMilli() >= expires {
		return errAnswer(newAPIError(http.StatusForbidden, codeForbidden,
			"This temporary media URL has expired (it lives "+strconv.Itoa(int(tempURLLifetime.Seconds()))+" s); fetch …/Media/{ME}/Content again for a new one"))
	}
	svc := s.world.service(svcID)
	if svc == nil {
		return errAnswer(notFound(codeNotFound, "The service of this temporary media URL no longer exists"))
	}
	svc.mu.RLock()
	md := svc.media[id]
	svc.mu.RUnlock()
	if md == nil {
		return errAnswer(mediaNotFound(id.format("ME"), svc))
	}
	// A file's bytes never change once stored, so they are sent without the lock.
	return answer{status: http.StatusOK, send: func(w http.ResponseWriter) {
		h := w.Header()
		h.Set("Content-Type", md.contentType)
		h.Set("Content-Length", strconv.FormatInt(md.size, 10))
		if d := mime.FormatMediaType("attachment", map[string]string{"filename": md.filename}); md.filename != "" && d != "" {
			h.Set("Content-Disposition", d)
		}
		w.WriteHeader(http.StatusOK)
		n, _ := io.Copy(w, md.open()) // a client that goes away gets the rest of nothing
		s.mcs.downloads.Add(1)
		s.mcs.downloadBytes.Add(n)
	}}
}

// upload is a file read from an upload request.
type upload struct {
	data        []byte
	contentType string
	filename    string
}

func (s *Server) uploadMedia(c *call) answer {
	svc, e := s.serviceOf(c.rt.svc)
	if e != nil {
		return errAnswer(e)
	}
	up, e := readUpload(c.r, s.cfg.uploadLimit())
	if e != nil {
		return errAnswer(e)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	now := s.nowUnix()
	md := &media{
		sid: freshSID(s, svc.media), size: int64(len(up.data)), contentType: up.contentType,
		filename: up.filename, created: now, updated: now, data: up.data,
	}
	svc.addMedia(md)
	s.mcs.uploads.Add(1)
	s.mcs.uploadBytes.Add(md.size)
	return answer{status: http.StatusCreated, body: s.appendMediaJSON(nil, c.u, svc, md)}
}

func tooLarge(limit int64) *apiError {
	return newAPIError(http.StatusRequestEntityTooLarge, codeMediaTooLarge,
		"The file is larger than "+strconv.FormatInt(limit, 10)+" bytes, the most the Media service takes; send a smaller file")
}

// readUpload reads the file of an upload: the raw body with its
// Content-Type (and a file name from Content-Disposition), or a
// multipart/form-data body with the parts Media and FileName. A body that
// says it is too large is refused before any of it is read; one that turns
// out too large is refused as soon as it passes the limit.
func readUpload(r *http.Request, limit int64) (upload, *apiError) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "multipart/form-data" {
		if r.ContentLength > limit+multipartSlack {
			return upload{}, tooLarge(limit)
		}
		return readMultipartUpload(r, limit)
	}
	if r.ContentLength > limit {
		return upload{}, tooLarge(limit)
	}
	declared := int64(-1)
	if v := r.Header.Get("Content-Size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return upload{}, badRequest(codeInvalidParameter, "Content-Size "+strconv.Quote(v)+" is not a number of bytes; send the file's size or leave the header out")
		}
		if n > limit {
			return upload{}, tooLarge(limit)
		}
		declared = n
	}
	data, e := readFile(r.Body, r.ContentLength, limit)
	if e != nil {
		return upload{}, e
	}
	if declared >= 0 && declared != int64(len(data)) {
		return upload{}, badRequest(codeInvalidParameter, "Content-Size says "+strconv.FormatInt(declared, 10)+" bytes but the body holds "+strconv.Itoa(len(data))+"; send the whole file")
	}
	up := upload{data: data, contentType: ct}
	if up.contentType == "" {
		up.contentType = "application/octet-stream"
	}
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
		up.filename = params["filename"]
	}
	return up, nil
}

// readMultipartUpload reads the parts Media (the file, with its
// Content-Type and maybe a file name) and FileName; other parts are skipped.
func readMultipartUpload(r *http.Request, limit int64) (upload, *apiError) {
	bad := func(what string) *apiError {
		return badRequest(codeInvalidParameter, "The multipart upload "+what+"; send multipart/form-data with the file in a part named Media and its name in FileName")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return upload{}, bad("cannot be read (" + err.Error() + ")")
	}
	var up upload
	var haveMedia bool
	var fileName string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return upload{}, bad("is malformed (" + err.Error() + ")")
		}
		switch part.FormName() {
		case "Media":
			if haveMedia {
				return upload{}, bad("has two Media parts")
			}
			data, e := readFile(part, -1, limit)
			if e != nil {
				return upload{}, e
			}
			haveMedia = true
			up.data, up.filename = data, part.FileName()
			up.contentType = part.Header.Get("Content-Type")
			if up.contentType == "" {
				up.contentType = "application/octet-stream"
			}
		case "FileName":
			b, err := io.ReadAll(io.LimitReader(part, maxFileNameLen+1))
			if err != nil {
				return upload{}, bad("was cut short")
			}
			if len(b) > maxFileNameLen {
				return upload{}, bad("has a FileName longer than " + strconv.Itoa(maxFileNameLen) + " bytes")
			}
			fileName = string(b)
		}
	}
	if !haveMedia {
		return upload{}, bad("has no Media part")
	}
	if fileName != "" {
		up.filename = fileName
	}
	return up, nil
}

// readFile reads a file of size bytes (-1: unknown) from r, refusing it
// once it passes limit. The bytes are read into the one slice that keeps
// them.
func readFile(r io.Reader, size, limit int64) ([]byte, *apiError) {
	cut := badRequest(codeInvalidParameter, "The upload ended before the whole file arrived; send it again")
	if size >= 0 {
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, cut
		}
		return data, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, cut
	}
	if n > limit {
		return nil, tooLarge(limit)
	}
	return buf.Bytes(), nil
}

package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// mediaPath is the path of a service's Media collection.
func mediaPath(svc string) string { return mediaPrefix + "/v1/Services/" + svc + "/Media" }

// sendRaw sends body as it is (no form encoding); path may be absolute.
// A size of -1 sends the body chunked, without Content-Length.
func (c *client) sendRaw(method, path string, body io.Reader, size int64, header ...string) (resp, error) {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.info.BaseURL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return resp{}, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	return c.roundTrip(req, header...)
}

// upload stores data in service svc with a raw upload and returns the Media resource.
func (c *client) upload(svc, contentType, filename string, data []byte) map[string]any {
	c.t.Helper()
	h := []string{"Content-Type", contentType}
	if filename != "" {
		h = append(h, "Content-Disposition", `attachment; filename="`+filename+`"`)
	}
	r, err := c.sendRaw("POST", mediaPath(svc), bytes.NewReader(data), int64(len(data)), h...)
	if err != nil || r.status != 201 {
		c.t.Fatalf("upload %d bytes to %s: %v %d %s", len(data), svc, err, r.status, r.body)
	}
	return r.json(c.t)
}

// noRedirects is a client that shows redirects instead of following them.
func noRedirects(c *client) *client {
	cc := *c
	cc.hc = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return &cc
}

// anonymous is c without credentials.
func anonymous(c *client) *client {
	cc := *noRedirects(c)
	cc.user, cc.pass = "", ""
	return &cc
}

// content follows a Media resource's links.content to its temporary URL
// and fetches the bytes there without credentials.
func (c *client) content(file map[string]any) resp {
	c.t.Helper()
	links, _ := file["links"].(map[string]any)
	r := noRedirects(c).do("GET", str(links, "content"), nil)
	if r.status != http.StatusTemporaryRedirect {
		c.t.Fatalf("GET content: %d, want 307: %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, c.info.MediaURL+"/temp/") {
		c.t.Fatalf("content redirects to %q, want a temporary URL under %s/temp/", loc, c.info.MediaURL)
	}
	return anonymous(c).do("GET", loc, nil)
}

func TestMediaURLInInfo(t *testing.T) {
	_, c := setup(t, testConfig())
	if c.info.MediaURL != c.info.BaseURL+"/mcs" {
		t.Errorf("media_url %q, want %q", c.info.MediaURL, c.info.BaseURL+"/mcs")
	}
}

func TestMediaUploadRaw(t *testing.T) {
	s, c := setup(t, fixedConfig())
	svc := c.info.Services[1]
	data := bytes.Repeat([]byte("chatvault\x00\xff"), 1000)
	up := c.upload(svc, "application/octet-stream", "dump.bin", data)
	me := str(up, "sid")
	self := c.info.MediaURL + "/v1/Services/" + svc + "/Media/" + me
	expect(t, "uploaded media", up, map[string]any{
		"account_sid": c.info.AccountSID, "service_sid": svc, "size": len(data),
		"content_type": "application/octet-stream", "filename": "dump.bin", "author": nil,
		"channel_sid": nil, "message_sid": nil, "url": self,
		"date_created": fixedNow, "date_updated": fixedNow,
	})
	if _, ok := parseSID("ME", me); !ok {
		t.Errorf("sid %q is not an ME SID", me)
	}
	links, _ := up["links"].(map[string]any)
	if str(links, "content") != self+"/Content" || !strings.HasPrefix(str(links, "content_direct_temporary"), c.info.MediaURL+"/temp/") {
		t.Errorf("links %v", links)
	}

	fetched := c.mustJSON(200, "GET", self, nil)
	delete(fetched, "links") // a fresh temporary URL each time
	delete(up, "links")
	if fmt.Sprint(fetched) != fmt.Sprint(up) {
		t.Errorf("fetched %v\nuploaded %v", fetched, up)
	}

	got := c.content(c.mustJSON(200, "GET", self, nil))
	if got.status != 200 || !bytes.Equal(got.body, data) {
		t.Fatalf("content: %d, %d bytes, want 200 and the %d uploaded", got.status, len(got.body), len(data))
	}
	if got.header.Get("Content-Type") != "application/octet-stream" || got.header.Get("Content-Length") != fmt.Sprint(len(data)) ||
		got.header.Get("Content-Disposition") != `attachment; filename=dump.bin` {
		t.Errorf("content headers %v", got.header)
	}
	// The temporary URL of the resource serves the bytes too.
	direct := anonymous(c).do("GET", str(c.mustJSON(200, "GET", self, nil)["links"].(map[string]any), "content_direct_temporary"), nil)
	if direct.status != 200 || !bytes.Equal(direct.body, data) {
		t.Errorf("content_direct_temporary: %d, %d bytes", direct.status, len(direct.body))
	}

	// Without a Content-Type or a file name: octet-stream and a null filename;
	// a chunked body is read to its end; an empty file is a file.
	r, err := c.sendRaw("POST", mediaPath(svc), io.MultiReader(strings.NewReader("ab"), strings.NewReader("c")), -1)
	if err != nil || r.status != 201 {
		t.Fatalf("chunked upload: %v %d %s", err, r.status, r.body)
	}
	expect(t, "chunked upload", r.json(t), map[string]any{"size": 3, "content_type": "application/octet-stream", "filename": nil})
	r, err = c.sendRaw("POST", mediaPath(svc), strings.NewReader("x"), 1, "Content-Type", "text/plain",
		"Content-Disposition", "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")
	if err != nil || r.status != 201 {
		t.Fatalf("upload with an encoded file name: %v %d %s", err, r.status, r.body)
	}
	expect(t, "encoded file name", r.json(t), map[string]any{"filename": "résumé.txt"})
	empty := c.upload(svc, "text/plain", "", nil)
	expect(t, "empty upload", empty, map[string]any{"size": 0, "content_type": "text/plain"})
	if got := c.content(empty); got.status != 200 || len(got.body) != 0 {
		t.Errorf("empty content: %d %q", got.status, got.body)
	}
	if st := s.Stats(); st.MediaUploads != 4 || st.MediaUploadBytes != int64(len(data))+4 {
		t.Errorf("stats: %d uploads of %d bytes, want 4 of %d", st.MediaUploads, st.MediaUploadBytes, len(data)+4)
	}
}

// multipartBody builds a multipart/form-data body from parts of the form
// {name, filename, content type, content}.
func multipartBody(t *testing.T, parts [][4]string) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := map[string][]string{}
		disp := `form-data; name="` + p[0] + `"`
		if p[1] != "" {
			disp += `; filename="` + p[1] + `"`
		}
		h["Content-Disposition"] = []string{disp}
		if p[2] != "" {
			h["Content-Type"] = []string{p[2]}
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(p[3]))
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func TestMediaUploadMultipart(t *testing.T) {
	_, c := setup(t, Config{Seed: 2, MediaUploadLimit: 1000})
	svc := c.info.Services[1]
	long := strings.Repeat("n", maxFileNameLen+1)
	cases := []struct {
		name      string
		parts     [][4]string
		status    int
		code      int
		want      map[string]any
		wantBytes string
		chunked   bool
	}{
		{"FileName names the file", [][4]string{{"FileName", "", "", "named.jpg"}, {"Media", "part.jpg", "image/jpeg", "JPEG!"}},
			201, 0, map[string]any{"filename": "named.jpg", "content_type": "image/jpeg", "size": 5}, "JPEG!", false},
		{"part file name without FileName", [][4]string{{"Media", "part.jpg", "image/jpeg", "xy"}, {"Other", "", "", "ignored"}},
			201, 0, map[string]any{"filename": "part.jpg", "content_type": "image/jpeg", "size": 2}, "xy", false},
		{"non-ASCII FileName", [][4]string{{"Media", "", "application/pdf", "%PDF-"}, {"FileName", "", "", "résumé 📎.pdf"}},
			201, 0, map[string]any{"filename": "résumé 📎.pdf", "content_type": "application/pdf", "size": 5}, "%PDF-", false},
		{"no name, no type", [][4]string{{"Media", "", "", "z"}},
			201, 0, map[string]any{"filename": nil, "content_type": "application/octet-stream", "size": 1}, "z", true},
		{"no Media part", [][4]string{{"FileName", "", "", "a.png"}}, 400, codeInvalidParameter, nil, "", false},
		{"two Media parts", [][4]string{{"Media", "", "", "a"}, {"Media", "", "", "b"}}, 400, codeInvalidParameter, nil, "", false},
		{"FileName too long", [][4]string{{"FileName", "", "", long}, {"Media", "", "", "a"}}, 400, codeInvalidParameter, nil, "", false},
		{"file over the limit", [][4]string{{"Media", "big", "", strings.Repeat("x", 1001)}}, 413, codeMediaTooLarge, nil, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := multipartBody(t, tc.parts)
			size := int64(len(body))
			if tc.chunked {
				size = -1
			}
			r, err := c.sendRaw("POST", mediaPath(svc), bytes.NewReader(body), size, "Content-Type", ct)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != 0 {
				if code, _ := r.apiErr(t); code != tc.code {
					t.Errorf("code %d, want %d: %s", code, tc.code, r.body)
				}
				return
			}
			m := r.json(t)
			expect(t, tc.name, m, tc.want)
			if got := c.content(m); string(got.body) != tc.wantBytes {
				t.Errorf("content %q, want %q", got.body, tc.wantBytes)
			}
		})
	}
	malformed, err := c.sendRaw("POST", mediaPath(svc), strings.NewReader("--x\r\nnot a part"), -1, "Content-Type", "multipart/form-data; boundary=x")
	if err != nil || malformed.status != 400 {
		t.Errorf("malformed multipart: %v %d %s", err, malformed.status, malformed.body)
	}
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestMediaErrors(t *testing.T) {
	const limit = 4096
	_, c := setup(t, Config{Seed: 2, Channels: 1, Messages: 1, MediaUploadLimit: limit})
	svc0, svc1 := c.info.Services[0], c.info.Services[1]
	file := c.upload(svc1, "text/plain", "a.txt", []byte("hello"))
	me := str(file, "sid")
	const unknownME = "ME0123456789abcdef0123456789abcdef"
	cases := []struct {
		name, method, path string
		body               string
		size               int64 // -1: chunked
		header             []string
		status, code       int
	}{
		{"unknown media", "GET", mediaPath(svc1) + "/" + unknownME, "", 0, nil, 404, codeNotFound},
		{"unknown media content", "GET", mediaPath(svc1) + "/" + unknownME + "/Content", "", 0, nil, 404, codeNotFound},
		{"malformed media SID", "GET", mediaPath(svc1) + "/MEnope", "", 0, nil, 404, codeNotFound},
		{"media of another service", "GET", mediaPath(svc0) + "/" + me, "", 0, nil, 404, codeNotFound},
		{"upload to unknown service", "POST", mediaPath("IS0123456789abcdef0123456789abcdef"), "x", 1, nil, 404, codeServiceNotFound},
		{"upload over the limit by Content-Length", "POST", mediaPath(svc1), strings.Repeat("x", limit+1), limit + 1, nil, 413, codeMediaTooLarge},
		{"upload over the limit, chunked", "POST", mediaPath(svc1), strings.Repeat("x", limit+1), -1, nil, 413, codeMediaTooLarge},
		{"upload over the limit by Content-Size", "POST", mediaPath(svc1), "x", -1, []string{"Content-Size", fmt.Sprint(limit + 1)}, 413, codeMediaTooLarge},
		{"Content-Size not a number", "POST", mediaPath(svc1), "x", 1, []string{"Content-Size", "one"}, 400, codeInvalidParameter},
		{"Content-Size disagrees", "POST", mediaPath(svc1), "xy", 2, []string{"Content-Size", "3"}, 400, codeInvalidParameter},
		{"list media", "GET", mediaPath(svc1), "", 0, nil, 405, codeMethodNotAllowed},
		{"delete media", "DELETE", mediaPath(svc1) + "/" + me, "", 0, nil, 405, codeMethodNotAllowed},
		{"unknown media path", "GET", mediaPrefix + "/v1/Services/" + svc1 + "/Other", "", 0, nil, 404, codeNotFound},
		{"forged temporary URL", "GET", tempPath + strings.Repeat("ab", tokenLen), "", 0, nil, 403, codeForbidden},
		{"garbage temporary URL", "GET", tempPath + "zz", "", 0, nil, 403, codeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.sendRaw(tc.method, tc.path, strings.NewReader(tc.body), tc.size, tc.header...)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := r.apiErr(t)
			if r.status != tc.status || code != tc.code {
				t.Errorf("%d code %d, want %d code %d: %s", r.status, code, tc.status, tc.code, r.body)
			}
		})
	}

	t.Run("credentials required", func(t *testing.T) {
		anon := anonymous(c)
		links := file["links"].(map[string]any)
		for _, p := range []string{str(file, "url"), str(links, "content")} {
			if r := anon.do("GET", p, nil); r.status != 401 {
				t.Errorf("GET %s without credentials: %d", p, r.status)
			}
		}
		if r, err := anon.sendRaw("POST", mediaPath(svc1), strings.NewReader("x"), 1); err != nil || r.status != 401 {
			t.Errorf("upload without credentials: %v %d", err, r.status)
		}
	})

	t.Run("too large is refused unread", func(t *testing.T) {
		const size = 64 << 20
		body := &countingReader{r: io.LimitReader(zeros{}, size)}
		r, err := c.sendRaw("POST", mediaPath(svc1), body, size, "Content-Type", "video/mp4")
		if err == nil && r.status != 413 {
			t.Errorf("status %d, want 413", r.status)
		}
		if n := body.n.Load(); n >= size {
			t.Errorf("the client sent all %d bytes; the emulator should refuse before reading them", n)
		}
	})
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestMediaTemporaryURLExpires(t *testing.T) {
	var now atomic.Int64
	now.Store(fixedClock.UnixMilli())
	cfg := testConfig()
	cfg.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	_, c := setup(t, cfg)
	file := c.upload(c.info.Services[1], "text/plain", "t.txt", []byte("soon gone"))
	r := noRedirects(c).do("GET", str(file["links"].(map[string]any), "content"), nil)
	loc := r.header.Get("Location")
	anon := anonymous(c)
	for _, tc := range []struct {
		after  time.Duration
		status int
	}{
		{0, 200}, {299*time.Second + 999*time.Millisecond, 200}, {300 * time.Second, 403}, {time.Hour, 403},
	} {
		now.Store(fixedClock.Add(tc.after).UnixMilli())
		got := anon.do("GET", loc, nil)
		if got.status != tc.status {
			t.Errorf("after %v: %d, want %d: %s", tc.after, got.status, tc.status, got.body)
		}
		if tc.status == 403 {
			if code, _ := got.apiErr(t); code != codeForbidden {
				t.Errorf("after %v: code %d, want %d", tc.after, code, codeForbidden)
			}
		}
	}
	// A new redirect gives a new URL that lives 300 s from now.
	fresh := c.content(file)
	if fresh.status != 200 || string(fresh.body) != "soon gone" {
		t.Errorf("fresh temporary URL: %d %q", fresh.status, fresh.body)
	}
}

func TestMediaBelongsToItsService(t *testing.T) {
	s, c := setup(t, Config{Seed: 11, Channels: 2, Messages: 200, Now: func() time.Time { return fixedClock }})
	svc0, svc1 := c.info.Services[0], c.info.Services[1]
	ch0 := str(c.channels(c.svc0())[0], "url")
	ch1 := str(c.mustJSON(201, "POST", c.svc1()+"/Channels", url.Values{}), "url")
	other := c.upload(svc1, "image/png", "p.png", []byte("png"))
	mine := c.upload(svc0, "image/png", "q.png", []byte("png!"))
	var seeded string
	for _, m := range c.listAll(ch0 + "/Messages?PageSize=100") {
		if md, ok := m["media"].(map[string]any); ok {
			seeded = str(md, "sid")
			break
		}
	}
	if seeded == "" {
		t.Fatal("no seeded media message in the first channel")
	}
	cases := []struct {
		name, ch, me string
		status, code int
	}{
		{"uploaded to another service", ch0, str(other, "sid"), 400, codeMediaSIDInvalid},
		{"seeded in another service", ch1, seeded, 400, codeMediaSIDInvalid},
		{"never uploaded", ch0, "ME0123456789abcdef0123456789abcdef", 400, codeMediaSIDInvalid},
		{"uploaded here", ch0, str(mine, "sid"), 201, 0},
		{"uploaded to the other one, used there", ch1, str(other, "sid"), 201, 0},
		{"seeded here, used again", ch0, seeded, 201, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats().MediaUploads
			r := c.do("POST", tc.ch+"/Messages", url.Values{"MediaSid": {tc.me}, "From": {"zoe"}})
			if r.status != tc.status {
				t.Fatalf("%d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != 0 {
				if code, _ := r.apiErr(t); code != tc.code {
					t.Errorf("code %d, want %d", code, tc.code)
				}
				return
			}
			msg := r.json(t)
			md := msg["media"].(map[string]any)
			if str(md, "sid") != tc.me || msg["type"] != "media" {
				t.Errorf("message media %v", msg)
			}
			// The file now names the message that uses it.
			svc := str(msg, "service_sid")
			file := c.mustJSON(200, "GET", mediaPath(svc)+"/"+tc.me, nil)
			expect(t, "linked media", file, map[string]any{
				"channel_sid": str(msg, "channel_sid"), "message_sid": str(msg, "sid"),
				"size": md["size"], "content_type": str(md, "content_type"), "date_updated": fixedNow,
			})
			if s.Stats().MediaUploads != before {
				t.Error("using a file uploaded it again")
			}
		})
	}
}

// TestSeededMedia: every seeded media message's file can be fetched, its
// bytes match the message's media object and its own type, and the same
// seed gives the same bytes.
func TestSeededMedia(t *testing.T) {
	cfg := Config{Seed: 9, Channels: 4, Messages: 150, MediaMaxSize: 2 << 20}
	files := func(cfg Config) map[string][32]byte {
		s, c := setup(t, cfg)
		out := map[string][32]byte{}
		var served int64
		var videos int
		for _, ch := range c.channels(c.svc0()) {
			for _, m := range c.listAll(str(ch, "url") + "/Messages?PageSize=100") {
				md, ok := m["media"].(map[string]any)
				if !ok {
					continue
				}
				me := str(md, "sid")
				file := c.mustJSON(200, "GET", mediaPath(c.info.Services[0])+"/"+me, nil)
				expect(t, "seeded media "+me, file, map[string]any{
					"size": md["size"], "content_type": str(md, "content_type"), "filename": str(md, "filename"),
					"channel_sid": str(m, "channel_sid"), "message_sid": str(m, "sid"), "author": str(m, "from"),
					"date_created": str(m, "date_created"),
				})
				got := c.content(file)
				if got.status != 200 || int64(len(got.body)) != num(md, "size") || got.header.Get("Content-Type") != str(md, "content_type") {
					t.Fatalf("%s: %d, %d bytes of type %q; the message says %v", me, got.status, len(got.body), got.header.Get("Content-Type"), md)
				}
				if n := len(got.body); n < minMediaSize || n > int(cfg.MediaMaxSize) {
					t.Errorf("%s: %d bytes, outside %d..%d", me, n, minMediaSize, cfg.MediaMaxSize)
				}
				checkFileType(t, me, str(md, "content_type"), got.body)
				if str(md, "content_type") == "video/mp4" {
					videos++
				}
				out[me] = sha256.Sum256(got.body)
				served += int64(len(got.body))
			}
		}
		if videos == 0 || videos > len(out)/2 {
			t.Errorf("%d of %d seeded files are large videos; want a few", videos, len(out))
		}
		if st := s.Stats(); st.MediaDownloads != int64(len(out)) || st.MediaDownloadBytes != served {
			t.Errorf("stats: %d downloads of %d bytes, want %d of %d", st.MediaDownloads, st.MediaDownloadBytes, len(out), served)
		}
		return out
	}
	a := files(cfg)
	if len(a) < 5 {
		t.Fatalf("only %d seeded media files; the test needs a few", len(a))
	}
	b := files(cfg)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed gave different media files")
	}
	cfg.Seed++
	for me, sum := range files(cfg) {
		if a[me] == sum {
			t.Errorf("seeds %d and %d share the file %s", cfg.Seed-1, cfg.Seed, me)
		}
	}
}

// checkFileType checks that data is a well-formed file of its content type.
func checkFileType(t *testing.T, me, contentType string, data []byte) {
	t.Helper()
	switch contentType {
	case "image/png":
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil || img.Bounds().Dx() != 1 {
			t.Errorf("%s: not a 1×1 PNG: %v", me, err)
		}
	case "application/pdf":
		if !bytes.HasPrefix(data, []byte("%PDF-")) || !bytes.HasSuffix(data, []byte("%%EOF\n")) {
			t.Errorf("%s: not a PDF: %q…%q", me, data[:16], data[len(data)-16:])
		}
	case "video/mp4":
		if string(data[4:8]) != "ftyp" || string(data[24:28]) != "mdat" {
			t.Errorf("%s: not an MP4: %q", me, data[:32])
		}
	default:
		t.Errorf("%s: unexpected content type %q", me, contentType)
	}
}

// TestGeneratedMedia draws many files: small ones are images and PDFs
// within their bounds, large ones videos, and each file's bytes are its own
// size and type, the same at every read.
func TestGeneratedMedia(t *testing.T) {
	for _, maxSize := range []int64{minMediaSize, 600 << 10, 8 << 20} {
		t.Run(fmt.Sprint(maxSize), func(t *testing.T) {
			var kinds [4]int
			for i := range 2000 {
				var id sid
				copy(id[:], fmt.Sprintf("%016d", i*7919))
				large := i%100 == 0
				md := generatedMedia(id, maxSize, large)
				kinds[md.gen]++
				limit := min(maxSize, 256<<10)
				if large {
					limit = maxSize
				}
				if md.size < minMediaSize || md.size > limit {
					t.Fatalf("%v: size %d outside %d..%d", md.gen, md.size, minMediaSize, limit)
				}
				if large != (md.gen == genMP4) {
					t.Fatalf("large %v gave a %v", large, md.gen)
				}
				if i%50 == 0 {
					data, err := io.ReadAll(md.open())
					if err != nil || int64(len(data)) != md.size {
						t.Fatalf("%v: read %d bytes (%v), want %d", md.gen, len(data), err, md.size)
					}
					checkFileType(t, md.filename, md.contentType, data)
					again, _ := io.ReadAll(md.open())
					if !bytes.Equal(data, again) {
						t.Fatalf("%s: two reads differ", md.filename)
					}
				}
			}
			if kinds[genPNG] < 1000 || kinds[genPDF] < 600 || kinds[genMP4] != 20 {
				t.Errorf("kinds png %d pdf %d mp4 %d", kinds[genPNG], kinds[genPDF], kinds[genMP4])
			}
		})
	}
}

func TestLargeFiles(t *testing.T) {
	var got []int
	for n := range 100 {
		if largeFile(n) {
			got = append(got, n)
		}
	}
	if fmt.Sprint(got) != "[2 5 11 23 47 95]" {
		t.Errorf("large files at %v, want the 3rd, 6th, 12th, … ([2 5 11 23 47 95])", got)
	}
}

func TestMediaStatsAndFaults(t *testing.T) {
	s, c := setup(t, testConfig())
	svc := c.info.Services[1]
	file := c.upload(svc, "text/plain", "a.txt", []byte("12345"))
	c.upload(svc, "text/plain", "b.txt", []byte("123"))
	if got := c.content(file); got.status != 200 {
		t.Fatalf("content: %d", got.status)
	}
	st := s.Stats()
	if st.MediaUploads != 2 || st.MediaUploadBytes != 8 || st.MediaDownloads != 1 || st.MediaDownloadBytes != 5 {
		t.Errorf("media stats %+v", st)
	}
	served := c.mustJSON(200, "GET", statsPath, nil)
	for k, want := range map[string]float64{"media_uploads": 2, "media_upload_bytes": 8, "media_downloads": 1, "media_download_bytes": 5} {
		if served[k] != want {
			t.Errorf("%s %s = %v, want %v", statsPath, k, served[k], want)
		}
	}
	for _, k := range []string{"POST /mcs/v1/Services/{sid}/Media", "GET /mcs/v1/Services/{sid}/Media/{sid}/Content", "GET /mcs/temp/{token}"} {
		if st.Requests[k] == 0 {
			t.Errorf("requests[%q] not counted: %v", k, st.Requests)
		}
	}

	t.Run("fault rate", func(t *testing.T) {
		s.SetFaults(0, 0, 0, 1, 0)
		defer s.SetFaults(0, 0, 0, 0, 0)
		before := s.Stats()
		for _, p := range []string{mediaPath(svc), str(file, "url"), str(file["links"].(map[string]any), "content_direct_temporary")} {
			method := "GET"
			if p == mediaPath(svc) {
				method = "POST"
			}
			r, err := c.sendRaw(method, p, strings.NewReader("x"), 1)
			if err != nil || (r.status != 500 && r.status != 503) {
				t.Errorf("%s %s at fault rate 1: %v %d", method, p, err, r.status)
			}
		}
		if after := s.Stats(); after.MediaUploads != before.MediaUploads || after.MediaDownloads != before.MediaDownloads {
			t.Errorf("a faulted request was carried out: %+v", after)
		}
	})

	t.Run("lost response", func(t *testing.T) {
		s.SetFaults(0, 0, 0, 0, 1)
		defer s.SetFaults(0, 0, 0, 0, 0)
		before := s.Stats()
		if _, err := c.sendRaw("POST", mediaPath(svc), strings.NewReader("lost"), 4); err == nil {
			t.Error("upload at lost-response rate 1 got an answer")
		}
		if r := c.do("GET", str(file, "url"), nil); r.status != 200 {
			t.Errorf("read at lost-response rate 1: %d", r.status)
		}
		after := s.Stats()
		if after.MediaUploads != before.MediaUploads+1 || after.LostResponses != before.LostResponses+1 {
			t.Errorf("the upload whose answer was lost: %d uploads, %d lost, want %d and %d",
				after.MediaUploads, after.LostResponses, before.MediaUploads+1, before.LostResponses+1)
		}
	})

	t.Run("max concurrency and latency", func(t *testing.T) {
		// The handler of the lost response may still be returning after
		// its client saw the connection close.
		for deadline := time.Now().Add(10 * time.Second); s.Stats().InFlight != 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests still in flight", s.Stats().InFlight)
			}
		}
		entered := inLatency(t, s)
		s.SetFaults(time.Hour, 1, 0, 0, 0)
		ctx, cancel := context.WithCancel(context.Background())
		blocked := make(chan error, 1)
		go func() {
			r, err := c.try(ctx, "GET", str(file, "url"), nil)
			if err == nil {
				err = fmt.Errorf("answered %d: %s", r.status, r.body)
			}
			blocked <- err
		}()
		select {
		case <-entered: // the media fetch waits out the latency
		case err := <-blocked:
			t.Fatalf("the media request did not wait out the latency: %v; in flight %d", err, s.Stats().InFlight)
		case <-time.After(10 * time.Second):
			t.Fatal("the media request never reached its latency sleep")
		}
		r, err := c.sendRaw("POST", mediaPath(svc), strings.NewReader("x"), 1)
		if err != nil || r.status != 429 {
			t.Errorf("upload beyond max concurrency: %v %d", err, r.status)
		}
		cancel()
		if err := <-blocked; !errors.Is(err, context.Canceled) {
			t.Errorf("blocked request ended with %v", err)
		}
		s.SetFaults(0, 0, 0, 0, 0)
	})
}

func TestMediaConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"smallest max size", Config{MediaMaxSize: minMediaSize}, true},
		{"max size at the upload limit", Config{MediaMaxSize: 1 << 20, MediaUploadLimit: 1 << 20}, true},
		{"max size under 1 KiB", Config{MediaMaxSize: 1000}, false},
		{"max size negative", Config{MediaMaxSize: -1}, false},
		{"max size over the upload limit", Config{MediaMaxSize: 2 << 20, MediaUploadLimit: 1 << 20}, false},
		{"max size over 150 MiB", Config{MediaMaxSize: 151 << 20}, false},
		{"upload limit negative", Config{MediaUploadLimit: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
	if d := DefaultConfig(); d.MediaMaxSize != 8<<20 {
		t.Errorf("default media max size %d, want 8 MiB", d.MediaMaxSize)
	}
}

package transcript

import (
	"mime"
	"strings"
)

// extensions maps a media content type to the extension its exported file
// carries. A fixed table, not the system's MIME database, so the same
// archive exports the same names on every machine.
var extensions = map[string]string{
	"image/jpeg":         "jpg",
	"image/jpg":          "jpg",
	"image/png":          "png",
	"image/gif":          "gif",
	"image/webp":         "webp",
	"image/bmp":          "bmp",
	"image/svg+xml":      "svg",
	"image/heic":         "heic",
	"video/mp4":          "mp4",
	"video/quicktime":    "mov",
	"video/webm":         "webm",
	"audio/mpeg":         "mp3",
	"audio/mp4":          "m4a",
	"audio/ogg":          "ogg",
	"audio/wav":          "wav",
	"application/pdf":    "pdf",
	"application/zip":    "zip",
	"application/json":   "json",
	"text/plain":         "txt",
	"text/csv":           "csv",
	"application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       "xlsx",
	"application/vnd.ms-excel":      "xls",
	"application/vnd.ms-powerpoint": "ppt",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
	"image/tiff":    "tiff",
	"text/html":     "html",
	"text/calendar": "ics",
	"text/vcard":    "vcf",
	"audio/amr":     "amr",
	"video/3gpp":    "3gp",
}

// MediaExtension returns the file extension (without the dot) for a media
// content type: "jpg" for image/jpeg, "bin" for a type it does not know.
// Parameters (";charset=…") and case are ignored.
func MediaExtension(contentType string) string {
	t, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		t = strings.ToLower(strings.TrimSpace(contentType))
	}
	if ext, ok := extensions[t]; ok {
		return ext
	}
	return "bin"
}

// MediaFileName is the name of an exported media file: the media SID
// followed by the extension of its content type ("ME….jpg"). Characters
// other than ASCII letters and digits are dropped from the SID, so a name
// read from the archive cannot climb out of the media folder.
func MediaFileName(sid, contentType string) string {
	clean := strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, sid)
	if clean == "" {
		clean = "media"
	}
	return clean + "." + MediaExtension(contentType)
}

// isImage reports whether a browser shows the content type inline in <img>.
// SVG is left out: it is a document that may carry script.
func isImage(contentType string) bool {
	switch MediaExtension(contentType) {
	case "jpg", "png", "gif", "webp", "bmp":
		return true
	}
	return false
}

// Package transcript renders a snapshot of the archive as static HTML pages
// that a person reads in a browser: an index.html listing the service's
// channels, and for each channel its transcript, split into pages of
// Options.PageSize messages (CH….html, CH…-2.html, …).
//
// # What a page shows
//
// Authors, times (local to Options.Location, with UTC beside), bodies with
// their line breaks, edit marks (who and when), attributes behind a
// <details> element, a separator between days, the channel's members with
// their read positions (and, in the transcript, where each stopped
// reading), and media: an <img> for image types and a link for other files,
// both pointing at media/<MediaFileName> relative to the page. The media
// files themselves are written by whoever exports the media (export
// --media-dir); MediaFileName is the one naming rule both sides use.
//
// # Safety
//
// Everything read from the archive goes through html/template, so a body
// such as <script>…</script> is shown as text. The pages carry a strict
// Content-Security-Policy (no script at all; the one inline style allowed
// by its hash; images from the same place only) and load nothing from the
// network: there is no external URL in them.
//
// # Size
//
// A page holds at most Options.PageSize messages (default 1000), so a
// channel of 100,000 messages is 100 small files linked by previous/next
// links rather than one page a browser takes seconds to lay out. Messages
// are streamed from the archive one page at a time: memory is bounded by
// the page size, not the channel.
//
// Measured 2026-12-07 on the shared 2-core development machine, headless
// Chromium 156 taking a 1200×900 screenshot of a channel of 100,000
// two-line messages: a 1,000-message page in 1.4–1.7 s, of which 1.24 s is
// Chromium starting (about:blank); the same channel as one page took
// 34–38 s. Writing the 100 pages took 1.7 s (35 MB).
//
// The package imports store only; it prints nothing.
package transcript

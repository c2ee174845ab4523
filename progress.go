package main

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/schollz/progressbar/v3"
)

// progressBar draws channels done of total, with the messages so far, on
// stderr. It serves both backup and restore (whose Start differ, see the
// adapters below). A nil *progressBar is not used: callers pick NopProgress
// when no bar should be drawn.
type progressBar struct {
	bar      *progressbar.ProgressBar
	verb     string
	messages atomic.Int64
	total    atomic.Int64 // messages expected, 0 when unknown
	media    atomic.Int64 // bytes of media files moved so far
}

func newProgressBar(w io.Writer, verb string) *progressBar {
	return &progressBar{verb: verb, bar: progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(verb),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("channels"),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (p *progressBar) start(channels, messages int) {
	p.total.Store(int64(messages))
	p.bar.ChangeMax(channels)
	p.describe()
}

func (p *progressBar) ChannelDone() { p.bar.Add(1) }

func (p *progressBar) Messages(n int) {
	p.messages.Add(int64(n))
	p.describe()
}

// MediaBytes counts n more bytes of media files downloaded or uploaded.
func (p *progressBar) MediaBytes(n int64) {
	p.media.Add(n)
	p.describe()
}

func (p *progressBar) describe() {
	d := fmt.Sprintf("%s %d messages", p.verb, p.messages.Load())
	if t := p.total.Load(); t > 0 {
		d = fmt.Sprintf("%s %d/%d messages", p.verb, p.messages.Load(), t)
	}
	if b := p.media.Load(); b > 0 {
		d += ", " + megabytes(b) + " of media"
	}
	p.bar.Describe(d)
}

func (p *progressBar) finish() { p.bar.Finish() }

// megabytes writes n bytes for people.
func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// backupProgress adapts progressBar to backup.Progress.
type backupProgress struct{ *progressBar }

func (p backupProgress) Start(channels int) { p.start(channels, 0) }

// restoreProgress adapts progressBar to restore.Progress.
type restoreProgress struct{ *progressBar }

func (p restoreProgress) Start(channels, messages int) { p.start(channels, messages) }

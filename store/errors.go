package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package that belongs to one of
// these classes wraps the sentinel, so callers test with errors.Is; the
// wrapping message names the archive file and says what to do.
var (
	// ErrNotArchive: the file exists but is not a chatvault archive (or is damaged beyond opening).
	ErrNotArchive = errors.New("not a chatvault archive")
	// ErrNewerFormat: the archive was written by a newer chatvault.
	ErrNewerFormat = errors.New("archive written by a newer chatvault")
	// ErrMissing: the archive does not exist and Options.Create was not set.
	ErrMissing = errors.New("archive does not exist")
	// ErrLocked: another process holds the archive open for writing.
	ErrLocked = errors.New("archive is locked by another chatvault process")
	// ErrCorrupt: a record failed its checksum or could not be decoded.
	ErrCorrupt = errors.New("archive record is corrupt")
	// ErrDamaged: the archive is known to be damaged, so it is not written
	// (a read-write Open or BeginSnapshot refused it; nothing was
	// recorded). Such errors wrap ErrCorrupt too.
	ErrDamaged = errors.New("archive is damaged; nothing was written")
	// ErrNoSnapshot: no snapshot matches the selection.
	ErrNoSnapshot = errors.New("no such snapshot")
	// ErrNotFound: no record with that key (e.g. a channel not in the snapshot).
	ErrNotFound = errors.New("not found in archive")
	// ErrAmbiguousService: a snapshot was selected without naming a service
	// while the archive holds snapshots of several services.
	ErrAmbiguousService = errors.New("archive holds several services")
	// ErrClosed: the Archive was closed.
	ErrClosed = errors.New("archive is closed")
	// ErrReadOnly: a write was attempted through an Archive opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("archive is open read-only")
)

// panicError carries a panic recovered around bbolt calls. bbolt trusts the
// pages it maps, so a damaged file can make it panic (or fault); guard turns
// that into an error the caller maps to ErrNotArchive or ErrCorrupt.
type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprintf("internal failure: %v", p.v) }

func (a *Archive) errClosed() error {
	return fmt.Errorf("archive %s: %w; open it again to continue", a.path, ErrClosed)
}

func (a *Archive) errReadOnly(what string) error {
	return fmt.Errorf("archive %s: cannot %s: %w; open it without read-only mode", a.path, what, ErrReadOnly)
}

// damageAdvice is what every damage error tells the user to do.
const damageAdvice = "run `chatvault verify` to list the damage and `chatvault repair` to copy what is intact into a new archive"

// errRefused marks a damage error as a refusal to write (ErrDamaged).
func errRefused(err error) error {
	if err == nil || errors.Is(err, ErrDamaged) || !errors.Is(err, ErrCorrupt) {
		return err
	}
	return &refused{err}
}

type refused struct{ err error }

func (r *refused) Error() string   { return r.err.Error() }
func (r *refused) Unwrap() []error { return []error{r.err, ErrDamaged} }

// errCorrupt describes a record that failed to decode.
func (a *Archive) errCorrupt(where string, detail error) error {
	return fmt.Errorf("archive %s: record %s is corrupt (%v); %s: %w",
		a.path, where, detail, damageAdvice, ErrCorrupt)
}

// errDamaged describes a panic recovered while reading pages.
func (a *Archive) errDamaged(what string, err error) error {
	var pe *panicError
	if errors.As(err, &pe) {
		return fmt.Errorf("archive %s: %s hit a damaged page (%v); %s: %w",
			a.path, what, pe.v, damageAdvice, ErrCorrupt)
	}
	return err
}

// explained is an error whose message says everything the user needs,
// matching kind with errors.Is without repeating kind's own text.
type explained struct {
	msg  string
	kind error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.kind }

// explain formats a complete message for an error of kind.
func explain(kind error, format string, args ...any) error {
	return &explained{msg: fmt.Sprintf(format, args...), kind: kind}
}

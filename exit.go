package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/restore"
	"github.com/chatvault/chatvault/store"
)

// Exit codes of ../shared/docs/cli.md, mapped from errors in one place.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPartial     = 3
	exitDifferences = 4
	exitArchive     = 10
	exitLocked      = 11
	exitAuth        = 12
	exitInterrupted = 130
)

// usageError marks a mistake on the command line: unknown flag, missing
// argument, malformed SID or time.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errPartial reports a run that finished but left some channels or
// messages failed, conflicted or skipped; the JSON result says which.
var errPartial = errors.New("finished with some channels or messages failed, conflicted or skipped")

// errDifferences reports that verify found problems or differences.
var errDifferences = errors.New("verify found problems or differences")

// exitCode turns the error a command returned into the process's exit code.
func exitCode(ctx context.Context, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue),
		errors.Is(err, store.ErrAmbiguousService),
		errors.Is(err, restore.ErrSourceRequired),
		errors.Is(err, restore.ErrInvalidOptions),
		errors.Is(err, backup.ErrInvalidOptions):
		return exitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil,
		errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, remote.ErrAuthentication):
		return exitAuth
	case errors.Is(err, store.ErrLocked):
		return exitLocked
	case errors.Is(err, store.ErrMissing),
		errors.Is(err, store.ErrNotArchive),
		errors.Is(err, store.ErrNewerFormat),
		errors.Is(err, store.ErrDamaged):
		return exitArchive
	case errors.Is(err, errDifferences):
		return exitDifferences
	case errors.Is(err, errPartial):
		return exitPartial
	default:
		return exitFailure
	}
}

// errInterrupted is returned when a signal stopped a command that saved its
// work; a rerun continues.
var errInterrupted = errors.New("interrupted; what was done is saved and a rerun continues")

// errorText is what the user reads on stderr for err.
func errorText(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return errInterrupted.Error()
	case errors.Is(err, remote.ErrAuthentication) && !strings.Contains(err.Error(), "check"):
		return err.Error() + " (check --account-sid and --auth-token, or --api-key and --api-secret)"
	}
	return err.Error()
}

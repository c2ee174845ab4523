package remote

import (
	"encoding/json"
	"errors"
)

// CONTRACT STUB: agreed error API of package remote.

var (
	// ErrNotFound matches an *APIError with HTTP status 404.
	ErrNotFound = errors.New("not found")
	// ErrAuthentication matches an *APIError with HTTP status 401 or 403 (code 20003 and friends).
	ErrAuthentication = errors.New("authentication failed")
	// ErrRateLimited matches an *APIError with HTTP status 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnknownOutcome matches an *UnknownOutcomeError: a write that may or
	// may not have been carried out. The caller must check before resending.
	ErrUnknownOutcome = errors.New("outcome of write unknown")
	// ErrConflict matches an *APIError whose Twilio code says the resource
	// already exists (50201 user, 50404 member, 50307 channel unique name).
	ErrConflict = errors.New("already exists")
)

// APIError is a non-2xx answer from the service.
type APIError struct {
	Method   string // e.g. "POST"
	Path     string // URL path, never the query or credentials
	Status   int
	Code     int
	Message  string
	MoreInfo string
	Details  json.RawMessage
}

func (e *APIError) Error() string { panic("unimplemented") }

// UnknownOutcomeError reports a write whose request may have reached the
// service but whose answer did not come back (lost connection, timeout, 5xx).
type UnknownOutcomeError struct {
	Method string
	Path   string
	Err    error
}

func (e *UnknownOutcomeError) Error() string { panic("unimplemented") }
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

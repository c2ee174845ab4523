package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// ErrNotFound matches an *APIError with HTTP status 404.
	ErrNotFound = errors.New("not found")
	// ErrAuthentication matches an *APIError with HTTP status 401, or 403
	// with a code outside Chat's own 50000–50999 range (Chat answers 403 with
	// its own codes when a counter limit such as members per channel is hit;
	// that is not a credentials problem).
	ErrAuthentication = errors.New("authentication failed")
	// ErrRateLimited matches an *APIError with HTTP status 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnknownOutcome matches an *UnknownOutcomeError: a write that may or
	// may not have been carried out. The caller must check before resending.
	ErrUnknownOutcome = errors.New("outcome of write unknown")
	// ErrConflict matches an *APIError whose Twilio code says the resource
	// already exists: Chat's 50201 user, 50404 member, 50307 channel unique
	// name; Conversations' 50353 conversation unique name, 50433 and 50437
	// participant (and 50201 user, shared with Chat).
	ErrConflict = errors.New("already exists")
)

// Twilio error codes that say the resource to create already exists. The
// Conversations codes are taken from Twilio's error dictionary
// (twilio.com/docs/api/errors/N), not from the OpenAPI spec (which names
// no codes): 50353 "Conversation with provided unique name already
// exists", 50433 "Participant already exists" (a Chat participant of that
// identity is in the conversation), 50437 "Group Participant already
// exists" (one with the same identity and project address; its page says
// the participant is already present). That Conversations answers a taken
// user identity with Chat's 50201 is an assumption: users are the same
// resource under both APIs.
const (
	codeUserExists             = 50201
	codeMemberExists           = 50404
	codeUniqueNameExists       = 50307
	codeConversationNameExists = 50353
	codeParticipantExists      = 50433
	codeGroupParticipantExists = 50437
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

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

// Error names the request and what the service said, e.g.
// `GET /v2/Services/IS…/Channels/CH…: HTTP 404 Not Found, code 50300: Channel not found (more info: https://…)`.
func (e *APIError) Error() string {
	return e.Method + " " + e.Path + ": " + e.describe()
}

// describe is Error without the method and path.
func (e *APIError) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + printable(e.Message))
	}
	if e.MoreInfo != "" {
		b.WriteString(" (more info: " + printable(e.MoreInfo) + ")")
	}
	return b.String()
}

// maxEchoed bounds how much of the service's message, and of its
// more_info, an error text repeats.
const maxEchoed = 1000

// printable readies text from an answer for an error message: a character
// that is not printable (a newline would break the one-line error, an
// escape sequence would drive the user's terminal) is written as a Go
// escape, and the text is cut after maxEchoed bytes. The APIError fields
// keep the text as sent.
func printable(s string) string {
	clean := len(s) <= maxEchoed
	for _, r := range s {
		if !clean {
			break
		}
		clean = unicode.IsPrint(r) && r != utf8.RuneError
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxEchoed {
			b.WriteString("…")
			break
		}
		if unicode.IsPrint(r) && r != utf8.RuneError {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// Is lets errors.Is match the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAuthentication:
		return e.Status == http.StatusUnauthorized ||
			e.Status == http.StatusForbidden && (e.Code < 50000 || e.Code > 50999)
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrConflict:
		switch e.Code {
		case codeUserExists, codeMemberExists, codeUniqueNameExists, codeConversationNameExists, codeParticipantExists, codeGroupParticipantExists:
			return true
		}
	}
	return false
}

// UnknownOutcomeError reports a write whose request may have reached the
// service but whose answer did not come back (lost connection, timeout, 5xx),
// or came back in a shape the client could not read.
type UnknownOutcomeError struct {
	Method string
	Path   string
	Err    error
}

func (e *UnknownOutcomeError) Error() string {
	cause := "unknown cause"
	var ae *APIError
	switch {
	case errors.As(e.Err, &ae) && ae.Method == e.Method && ae.Path == e.Path:
		cause = ae.describe()
	case e.Err != nil:
		cause = e.Err.Error()
	}
	return fmt.Sprintf("%s %s: the write may or may not have been carried out (%s): check whether it took effect before sending it again",
		e.Method, e.Path, cause)
}

func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnknownOutcome) true.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrUnknownOutcome }

// apiError turns a non-2xx response into an *APIError. It reads at most
// maxErrorBody bytes and never echoes a body that is not Twilio's JSON error
// shape: such bodies come from proxies and may be large or hold anything.
func apiError(method, path string, resp *http.Response) *APIError {
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain a little more so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBody)

	var wire struct {
		Code     int             `json:"code"`
		Message  string          `json:"message"`
		MoreInfo string          `json:"more_info"`
		Details  json.RawMessage `json:"details"`
	}
	trimmed := strings.TrimSpace(string(body))
	switch {
	case trimmed == "" && readErr != nil:
		e.Message = "error body could not be read"
	case trimmed == "":
		e.Message = "empty error body"
	case !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &wire) != nil:
		e.Message = "unexpected non-JSON error body"
	default:
		e.Code, e.Message, e.MoreInfo = wire.Code, wire.Message, wire.MoreInfo
		if len(wire.Details) > 0 && string(wire.Details) != "null" {
			e.Details = wire.Details
		}
	}
	return e
}

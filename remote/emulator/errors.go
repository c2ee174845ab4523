package emulator

import (
	"net/http"
	"strconv"
)

// Twilio error codes the emulator answers with. The HTTP status of each is
// chosen by apiError's caller; see doc.go for the ones Twilio does not state.
const (
	codeInvalidParameter      = 20001 // emulator's generic "bad parameter" (PageSize, Order, Type, header)
	codeAuthenticate          = 20003
	codeMethodNotAllowed      = 20004
	codeNoUpdateParameters    = 20161
	codeNotFound              = 20404
	codeTooManyRequests       = 20429
	codeInternalError         = 20500
	codeServiceUnavailable    = 20503
	codeInvalidPageToken      = 21481
	codeFriendlyNameMissing   = 50000
	codeFriendlyNameTooLong   = 50003
	codeUniqueNameTooLong     = 50004
	codeServiceNotFound       = 50050
	codeChannelRateExceeded   = 50063
	codeRoleNotFound          = 50100
	codeChannelRoleNotFound   = 50101
	codeUserNotFound          = 50200
	codeUserExists            = 50201
	codeIdentityMissing       = 50204
	codeIdentityLooksLikeSID  = 50206
	codeChannelNotFound       = 50300
	codeAttributesTooLong     = 50303
	codeAttributesInvalid     = 50304
	codeUniqueNameLooksLikeCH = 50306
	codeUniqueNameExists      = 50307
	codeDateCreatedInvalid    = 50308
	codeDateUpdatedInvalid    = 50309
	codeMemberNotFound        = 50402
	codeMemberExists          = 50404
	codeConsumptionTSInvalid  = 50405
	codeConsumedIndexInvalid  = 50406
	codeMessageNotFound       = 50500
	codeMediaSIDInvalid       = 50510
)

// Codes of the Media service.
const (
	codeForbidden     = 20403 // an expired or forged temporary URL
	codeMediaTooLarge = 50512
)

// apiError is an answer with Twilio's error body.
type apiError struct {
	status  int
	code    int
	message string
}

func (e *apiError) Error() string { return e.message }

func newAPIError(status, code int, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func badRequest(code int, message string) *apiError {
	return newAPIError(http.StatusBadRequest, code, message)
}

func notFound(code int, message string) *apiError {
	return newAPIError(http.StatusNotFound, code, message)
}

func conflict(code int, message string) *apiError {
	return newAPIError(http.StatusConflict, code, message)
}

// moreInfo is the more_info URL of a code.
func moreInfo(code int) string {
	return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)
}

// errorBody renders Twilio's error body {code, message, more_info, status}.
func errorBody(e *apiError) []byte {
	b := make([]byte, 0, 160+len(e.message))
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(e.code), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, e.message)
	b = append(b, `,"more_info":`...)
	b = appendString(b, moreInfo(e.code))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	return append(b, '}')
}

package remote_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

func TestAPIErrors(t *testing.T) {
	type sentinel struct {
		err  error
		want bool
	}
	all := func(notFound, auth, rate, conflict bool) []sentinel {
		return []sentinel{{remote.ErrNotFound, notFound}, {remote.ErrAuthentication, auth}, {remote.ErrRateLimited, rate},
			{remote.ErrConflict, conflict}, {remote.ErrUnknownOutcome, false}}
	}
	tests := []struct {
		name      string
		status    int
		body      string
		want      remote.APIError // Method and Path are checked separately
		sentinels []sentinel
		text      []string
	}{
		{
			name: "not found", status: 404, body: twilioError(404, 50300, "Channel not found"),
			want:      remote.APIError{Status: 404, Code: 50300, Message: "Channel not found", MoreInfo: "https://www.twilio.com/docs/errors/50300"},
			sentinels: all(true, false, false, false),
			text:      []string{"HTTP 404 Not Found", "code 50300", "Channel not found", "more info: https://www.twilio.com/docs/errors/50300"},
		},
		{
			name: "unauthorized", status: 401, body: twilioError(401, 20003, "Authenticate"),
			want:      remote.APIError{Status: 401, Code: 20003, Message: "Authenticate", MoreInfo: "https://www.twilio.com/docs/errors/20003"},
			sentinels: all(false, true, false, false),
			text:      []string{"HTTP 401 Unauthorized", "code 20003"},
		},
		{
			name: "forbidden", status: 403, body: twilioError(403, 20003, "Permission denied"),
			want:      remote.APIError{Status: 403, Code: 20003, Message: "Permission denied", MoreInfo: "https://www.twilio.com/docs/errors/20003"},
			sentinels: all(false, true, false, false),
		},
		{
			name: "forbidden by a chat counter limit", status: 403, body: twilioError(403, 50430, "Channel member limit exceeded"),
			want:      remote.APIError{Status: 403, Code: 50430, Message: "Channel member limit exceeded", MoreInfo: "https://www.twilio.com/docs/errors/50430"},
			sentinels: all(false, false, false, false),
		},
		{
			name: "member exists", status: 409, body: twilioError(409, 50404, "Member already exists"),
			want:      remote.APIError{Status: 409, Code: 50404, Message: "Member already exists", MoreInfo: "https://www.twilio.com/docs/errors/50404"},
			sentinels: all(false, false, false, true),
		},
		{
			name: "user exists", status: 409, body: twilioError(409, 50201, "User already exists"),
			want:      remote.APIError{Status: 409, Code: 50201, Message: "User already exists", MoreInfo: "https://www.twilio.com/docs/errors/50201"},
			sentinels: all(false, false, false, true),
		},
		{
			name: "unique name exists", status: 409, body: twilioError(409, 50307, "Channel with provided unique name already exists"),
			want:      remote.APIError{Status: 409, Code: 50307, Message: "Channel with provided unique name already exists", MoreInfo: "https://www.twilio.com/docs/errors/50307"},
			sentinels: all(false, false, false, true),
		},
		{
			name: "bad request with details", status: 400,
			body:      `{"code":50304,"message":"Invalid attributes","more_info":"m","status":400,"details":{"field":"Attributes"}}`,
			want:      remote.APIError{Status: 400, Code: 50304, Message: "Invalid attributes", MoreInfo: "m", Details: json.RawMessage(`{"field":"Attributes"}`)},
			sentinels: all(false, false, false, false),
		},
		{
			name: "garbage body", status: 400, body: "<html><body>Bad gateway at proxy zzz</body></html>",
			want:      remote.APIError{Status: 400, Message: "unexpected non-JSON error body"},
			sentinels: all(false, false, false, false),
			text:      []string{"HTTP 400 Bad Request: unexpected non-JSON error body"},
		},
		{
			name: "JSON that is not an object", status: 404, body: `"nope"`,
			want:      remote.APIError{Status: 404, Message: "unexpected non-JSON error body"},
			sentinels: all(true, false, false, false),
		},
		{
			name: "JSON of the wrong shape", status: 400, body: `{"code":"x"}`,
			want:      remote.APIError{Status: 400, Message: "unexpected non-JSON error body"},
			sentinels: all(false, false, false, false),
		},
		{
			name: "empty body", status: 404, body: "",
			want:      remote.APIError{Status: 404, Message: "empty error body"},
			sentinels: all(true, false, false, false),
		},
		{
			name: "oversized body", status: 400, body: `{"message":"` + strings.Repeat("x", 100<<10) + `"}`,
			want:      remote.APIError{Status: 400, Message: "unexpected non-JSON error body"},
			sentinels: all(false, false, false, false),
		},
		{
			name: "unusual status", status: 418, body: `{}`,
			want:      remote.APIError{Status: 418},
			sentinels: all(false, false, false, false),
			text:      []string{"HTTP 418 I'm a teapot"},
		},
		{
			name: "redirect is not followed", status: 302, body: "",
			want:      remote.APIError{Status: 302, Message: "empty error body"},
			sentinels: all(false, false, false, false),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			f.handle(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				reply(tt.status, tt.body)(w, r)
			})
			_, err := c.FetchChannel(t.Context(), svc, "room?x=1")
			var ae *remote.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			want := tt.want
			want.Method, want.Path = "GET", "/v2/Services/"+svc+"/Channels/room%3Fx=1"
			if ae.Method != want.Method || ae.Path != want.Path || ae.Status != want.Status || ae.Code != want.Code ||
				ae.Message != want.Message || ae.MoreInfo != want.MoreInfo || string(ae.Details) != string(want.Details) {
				t.Errorf("APIError = %+v, want %+v", *ae, want)
			}
			for _, s := range tt.sentinels {
				if errors.Is(err, s.err) != s.want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s.err, !s.want, s.want)
				}
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "GET /v2/Services/"+svc+"/Channels/room%3Fx=1: ") {
				t.Errorf("message %q does not start with the method and path", msg)
			}
			if strings.Contains(msg, "zzz") || strings.Contains(msg, "xxxx") {
				t.Errorf("message %q echoes the body", msg)
			}
			for _, w := range tt.text {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if f.count() != 1 {
				t.Errorf("%d requests, want 1 (4xx is not retried)", f.count())
			}
		})
	}
}

func TestSuccessWithGarbageBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		write   bool
		unknown bool
	}{
		{"read html", "<html>", false, false},
		{"read empty", "", false, false},
		{"read array", "[]", false, false},
		{"read null", "null", false, false},
		{"read wrong type", `{"sid":1}`, false, false},
		{"write html", "<html>", true, true},
		{"write empty", "", true, true},
		{"write truncated", `{"sid":"IM`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t)
			status, endpoint := 200, "GET /v2/Services/"+svc+"/Channels/"+chSID+"/Messages/"+imSID
			if tt.write {
				status, endpoint = 201, "POST /v2/Services/"+svc+"/Channels/"+chSID+"/Messages"
			}
			f.handle(reply(status, tt.body))
			var err error
			if tt.write {
				_, err = c.CreateMessage(t.Context(), svc, chSID, remote.MessageParams{})
			} else {
				_, err = c.FetchMessage(t.Context(), svc, chSID, imSID)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), endpoint+": ") || !strings.Contains(err.Error(), "not a message") {
				t.Errorf("err = %v, want it to name %s and the message", err, endpoint)
			}
			if errors.Is(err, remote.ErrUnknownOutcome) != tt.unknown {
				t.Errorf("unknown outcome = %v, want %v", !tt.unknown, tt.unknown)
			}
			var ae *remote.APIError
			if errors.As(err, &ae) {
				t.Errorf("a 2xx answer gave an APIError: %v", err)
			}
			if f.count() != 1 {
				t.Errorf("%d requests, want 1", f.count())
			}
		})
	}
}

func TestUnknownOutcomeErrorText(t *testing.T) {
	inner := &remote.APIError{Method: "POST", Path: "/v2/x", Status: 503, Message: "busy"}
	tests := []struct {
		name string
		err  *remote.UnknownOutcomeError
		want string
	}{
		{"api error is not repeated", &remote.UnknownOutcomeError{Method: "POST", Path: "/v2/x", Err: inner},
			"POST /v2/x: the write may or may not have been carried out (HTTP 503 Service Unavailable: busy): check whether it took effect before sending it again"},
		{"transport error", &remote.UnknownOutcomeError{Method: "DELETE", Path: "/v2/y", Err: errors.New("EOF")},
			"DELETE /v2/y: the write may or may not have been carried out (EOF): check whether it took effect before sending it again"},
		{"no cause", &remote.UnknownOutcomeError{Method: "POST", Path: "/v2/z"},
			"POST /v2/z: the write may or may not have been carried out (unknown cause): check whether it took effect before sending it again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q\nwant      %q", got, tt.want)
			}
			if !errors.Is(tt.err, remote.ErrUnknownOutcome) {
				t.Error("not ErrUnknownOutcome")
			}
		})
	}
}

package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The decoders of answers are the client's edge: whatever a server (or a
// proxy in front of it) sends, they return a value or an error and never
// panic. These fuzz targets hold them to the plain encoding/json reading
// of the same bytes, which is what the API documents.

// referenceObject is decodeObject done with encoding/json alone.
func referenceObject[T any, P resource[T]](data []byte) (*T, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("expected a JSON object")
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	P(v).setRaw(json.RawMessage(data))
	return v, nil
}

// referencePage is decodePage done with encoding/json alone.
func referencePage[T any, P resource[T]](body []byte, fallbackKey string) (*Page[*T], error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env == nil {
		return nil, errors.New("expected a JSON object")
	}
	var meta struct {
		Key         string  `json:"key"`
		NextPageURL *string `json:"next_page_url"`
	}
	if m, ok := env["meta"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, err
		}
	}
	key := meta.Key
	if key == "" {
		key = fallbackKey
	}
	arr, ok := env[key]
	if !ok {
		return nil, fmt.Errorf("no %q array", key)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(arr, &raws); err != nil {
		return nil, err
	}
	p := &Page[*T]{}
	for _, raw := range raws {
		v, err := referenceObject[T, P](raw)
		if err != nil {
			return nil, err
		}
		p.Items = append(p.Items, v)
	}
	if meta.NextPageURL != nil {
		p.NextPageURL = *meta.NextPageURL
	}
	return p, nil
}

// sameObject compares a decoded resource with the reference's, Raw by its
// bytes.
func sameObject[T any](t *testing.T, what string, got, want *T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: %T decodes to\n%+v\nencoding/json gives\n%+v", what, got, *got, *want)
	}
}

func checkObject[T any, P resource[T]](t *testing.T, data []byte) {
	t.Helper()
	got, err := decodeObject[T, P](bytes.Clone(data))
	want, wantErr := referenceObject[T, P](bytes.Clone(data))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%T: decodeObject(%q) error = %v, encoding/json says %v", got, data, err, wantErr)
	}
	if err != nil {
		return
	}
	sameObject(t, "decodeObject", got, want)
	if raw := any(got).(interface{ raw() json.RawMessage }).raw(); cap(raw) != len(raw) {
		t.Fatalf("%T: Raw has spare capacity %d: appending to it would overwrite the bytes after it", got, cap(raw)-len(raw))
	}
}

func (s *Service) raw() json.RawMessage { return s.Raw }
func (r *Role) raw() json.RawMessage    { return r.Raw }
func (u *User) raw() json.RawMessage    { return u.Raw }
func (c *Channel) raw() json.RawMessage { return c.Raw }
func (m *Member) raw() json.RawMessage  { return m.Raw }
func (m *Message) raw() json.RawMessage { return m.Raw }

// FuzzDecodeObject: a single resource (a fetch's or a create's answer)
// decodes, for every resource type, exactly as encoding/json decodes it,
// and fails exactly when encoding/json fails.
func FuzzDecodeObject(f *testing.F) {
	for _, seed := range []string{
		messageJSONForTest,
		`{"sid":"CH1","unique_name":"room","members_count":3,"messages_count":7,"date_created":"2026-01-02T03:04:05Z"}`,
		`{"sid":"MB1","identity":"alice","last_consumed_message_index":4,"last_consumption_timestamp":"2026-01-02T03:04:05Z"}`,
		`{"sid":"MB1","last_consumed_message_index":null,"last_consumption_timestamp":null}`,
		`{"sid":"RL1","permissions":["sendMessage","leaveChannel"],"type":"channel"}`,
		`{"sid":"IS1","friendly_name":"svc","default_channel_role_sid":"RL2"}`,
		`{"media":{"sid":"ME1","size":12,"content_type":"image/png","filename":"a.png"},"type":"media"}`,
		`  {"SID":"upper case name","Index":1}  `,
		`{"sid":"a\u0000b\ud800","body":"\"quoted\"\\"}`,
		`{"index":1e3}`,
		`{"index":-0}`,
		`{"index":9223372036854775808}`,
		`{"date_created":"2026-02-30T00:00:00Z"}`,
		`{"date_created":"not a date"}`,
		`{"was_edited":"true"}`,
		`{"sid":"IM1","sid":"IM2"}`,
		`{"media":{"sid":"ME1"},"media":{"size":5}}`,
		`{"sid":1}`,
		`{}`,
		`{`,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkObject[Service](t, data)
		checkObject[Role](t, data)
		checkObject[User](t, data)
		checkObject[Channel](t, data)
		checkObject[Member](t, data)
		checkObject[Message](t, data)
	})
}

func checkPage[T any, P resource[T]](t *testing.T, body []byte, fallbackKey string) {
	t.Helper()
	got, err := decodePage[T, P](bytes.Clone(body), fallbackKey)
	want, wantErr := referencePage[T, P](bytes.Clone(body), fallbackKey)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%T: decodePage(%q) error = %v, encoding/json says %v", got, body, err, wantErr)
	}
	if err != nil {
		return
	}
	if got.NextPageURL != want.NextPageURL || len(got.Items) != len(want.Items) {
		t.Fatalf("decodePage(%q) = %d items, next %q; encoding/json gives %d items, next %q",
			body, len(got.Items), got.NextPageURL, len(want.Items), want.NextPageURL)
	}
	for i := range got.Items {
		sameObject(t, fmt.Sprintf("item %d", i), got.Items[i], want.Items[i])
	}
}

// FuzzDecodePageMatchesEncodingJSON: a list answer gives the same records,
// next page and failures as reading it with encoding/json.
func FuzzDecodePageMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[` + messageJSONForTest + `,{"sid":"IM2","index":2}],"meta":{"key":"messages","next_page_url":"https://chat.twilio.com/v2/x?Page=1"}}`,
		`{"channels":[{"sid":"CH1","members_count":2}],"meta":{"key":"channels","next_page_url":null,"page_size":50}}`,
		`{"members":[{"sid":"MB1","last_consumed_message_index":3}],"meta":{"key":"members"}}`,
		`{"roles":[{"sid":"RL1","permissions":["a"]}],"meta":{"key":"roles"}}`,
		`{"messages":[],"meta":{"key":"messages"},"messages":[{"sid":"IM9"}]}`,
		`{"m\u0065ssages":[{"sid":"IM1"}]}`,
		`{"messages":[{"sid":"IM1"}],"meta":null}`,
		`{"messages":[{"sid":"IM1"}],"meta":{"key":""}}`,
		`{"messages":[{"sid":"IM1"}],"meta":{"key":7}}`,
		`{"messages":null,"meta":{"key":"messages"}}`,
		`{"messages":{},"meta":{"key":"messages"}}`,
		`{"messages":[null]}`,
		`{"messages":[1,2]}`,
		`{"messages":[{"index":"x"}]}`,
		`{"messages":[ {"sid":"IM1"} , {"sid":"IM2"} ]}`,
		`{"messages":[{"sid":"IM1"}]} trailing`,
		`{"\xff":[],"messages":[]}`,
		`{}`,
		`[]`,
		`null`,
		` `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPage[Message](t, body, "messages")
		checkPage[Channel](t, body, "channels")
		checkPage[Member](t, body, "members")
		checkPage[Role](t, body, "roles")
	})
}

// maxEchoedError bounds the text an *APIError may take from the body: the
// service's message and more_info, each cut by printable.
const maxEchoedError = 2 * (maxEchoed + 16)

// failingBody yields data, then fails instead of ending.
type failingBody struct{ r io.Reader }

func (b failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

// FuzzDecodeError: any answer with any status becomes an *APIError that
// keeps the status, takes the code and message only from Twilio's JSON
// error shape, echoes a bounded amount of the body as one line of
// printable text, and never panics.
func FuzzDecodeError(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
		fail   bool
	}{
		{404, `{"code":20404,"message":"The requested resource was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}`, false},
		{429, `{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`, false},
		{400, `{"code":50304,"message":"bad","details":{"field":"Attributes"}}`, false},
		{400, `{"code":50304,"message":"bad","details":null}`, false},
		{401, `{"code":"20003"}`, false},
		{403, `{"message":"line one\nline two\u001b[2J\u202e"}`, false},
		{500, `{"message":"` + strings.Repeat("é", 3000) + `"}`, false},
		{502, `<html><body>Bad gateway</body></html>`, false},
		{503, ``, false},
		{503, ``, true},
		{500, `{"message":"cut`, true},
		{418, `{}`, false},
		{0, `null`, false},
		{999, `"just a string"`, false},
		{-1, "\xff\xfe{", false},
	} {
		f.Add(seed.status, []byte(seed.body), seed.fail)
	}
	const method, path = "POST", "/v2/Services/IS0123456789abcdef0123456789abcdef/Channels"
	f.Fuzz(func(t *testing.T, status int, body []byte, fail bool) {
		var r io.Reader = bytes.NewReader(body)
		if fail {
			r = failingBody{r}
		}
		e := apiError(method, path, &http.Response{StatusCode: status, Body: io.NopCloser(r)})
		if e == nil {
			t.Fatal("apiError returned nil")
		}
		if e.Method != method || e.Path != path || e.Status != status {
			t.Fatalf("APIError names %s %s %d, want %s %s %d", e.Method, e.Path, e.Status, method, path, status)
		}
		trimmed := bytes.TrimSpace(body[:min(len(body), maxErrorBody)])
		var wire struct {
			Code     int             `json:"code"`
			Message  string          `json:"message"`
			MoreInfo string          `json:"more_info"`
			Details  json.RawMessage `json:"details"`
		}
		twilioShape := len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &wire) == nil
		if !twilioShape {
			switch e.Message {
			case "empty error body", "error body could not be read", "unexpected non-JSON error body":
			default:
				t.Fatalf("a body that is not Twilio's error shape gave Message %q", e.Message)
			}
			if e.Code != 0 || e.MoreInfo != "" || e.Details != nil {
				t.Fatalf("a body that is not Twilio's error shape gave %+v", *e)
			}
		} else if e.Code != wire.Code || e.Message != wire.Message || e.MoreInfo != wire.MoreInfo {
			t.Fatalf("APIError = %+v, the body says code %d, message %q, more_info %q", *e, wire.Code, wire.Message, wire.MoreInfo)
		}
		if len(e.Details) > maxErrorBody {
			t.Fatalf("Details holds %d bytes, more than the %d read", len(e.Details), maxErrorBody)
		}
		msg := e.Error()
		prefix := method + " " + path + ": HTTP "
		if !strings.HasPrefix(msg, prefix) {
			t.Fatalf("Error() = %.200q, want it to start with %q", msg, prefix)
		}
		if n := len(msg) - len(prefix); n > maxEchoedError+200 {
			t.Fatalf("Error() is %d bytes long: it echoes too much of the body", len(msg))
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("Error() is not valid UTF-8: %q", msg)
		}
		for _, r := range msg {
			if !unicode.IsPrint(r) {
				t.Fatalf("Error() holds the unprintable %U, so it is not one line of text: %q", r, msg)
			}
		}
	})
}

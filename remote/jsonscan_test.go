package remote

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/jsonscan"
)

func FuzzScanner(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `{"sid":"IM1","index":"x"}`, "\"\xff\"", `{"a":1,}`} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(messageJSONForTest))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := jsonscan.Valid(data), json.Valid(data); got != want {
			t.Fatalf("jsonscan.Valid(%q) = %v, json.Valid says %v", data, got, want)
		}
		checkFieldsDecode[Message](t, data)
		checkFieldsDecode[Member](t, data)
		checkFieldsDecode[Channel](t, data)
		checkFieldsDecode[Role](t, data)
	})
}

// messageJSONForTest is a message as the API sends it.
const messageJSONForTest = `{"sid":"IM0123456789abcdef0123456789abcdef","account_sid":"AC0123456789abcdef0123456789abcdef","attributes":"{}","service_sid":"IS0123456789abcdef0123456789abcdef","to":"CH0123456789abcdef0123456789abcdef","channel_sid":"CH0123456789abcdef0123456789abcdef","date_created":"2025-02-04T15:25:18Z","date_updated":"2025-02-04T15:25:18Z","last_updated_by":null,"was_edited":false,"from":"bob","body":"ship it \ud83d\ude80","index":884,"type":"text","media":null,"url":"https://chat.twilio.com/v2/Services/IS0123456789abcdef0123456789abcdef/Channels/CH0123456789abcdef0123456789abcdef/Messages/IM0123456789abcdef0123456789abcdef"}`

// fastDecode reports whether decodeFields decodes all of data into v.
func fastDecode(v any, data []byte) bool {
	end, ok := decodeFields(v, data, 0, 1)
	return ok && end == len(data)
}

// checkFieldsDecode checks that whenever decodeFields accepts data, it
// decodes to what json.Unmarshal gives, and that json.Unmarshal accepts it.
func checkFieldsDecode[T any](t *testing.T, data []byte) {
	t.Helper()
	fast := new(T)
	if !fastDecode(fast, data) {
		return
	}
	slow := new(T)
	if err := json.Unmarshal(data, slow); err != nil {
		t.Fatalf("%T: decodeFields accepted %q, json.Unmarshal says %v", fast, data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%T: fastDecode(%q) = %+v, json.Unmarshal gives %+v", fast, data, fast, slow)
	}
}

func TestDecodeFieldsMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fast bool // decodeFields handles it itself
	}{
		{"typical message", messageJSONForTest, true},
		{"empty object", `{}`, true},
		{"unknown members are skipped", `{"sid":"IM1","new":{"x":[1,{"y":null}]},"n":1e5}`, true},
		{"escaped string values", `{"body":"a\"b\\c\u00e9\n","from":"\ud83d\ude80"}`, true},
		{"invalid utf-8 is replaced", "{\"body\":\"a\xffb\"}", true},
		{"invalid utf-8 next to an escape", "{\"body\":\"\\n\xff\xc3\"}", true},
		{"utf-8 encoded surrogate is replaced", "{\"body\":\"\xed\xa0\x80\"}", true},
		{"lone high surrogate", `{"body":"a\ud800b"}`, true},
		{"high surrogate before a letter escape", `{"body":"\ud800\u0041"}`, true},
		{"lone low surrogate", `{"body":"\udc00x"}`, true},
		{"two high surrogates then a low one", `{"body":"\ud800\ud83d\ude80"}`, true},
		{"high surrogate at the end", `{"body":"\ud83d"}`, true},
		{"solidus and control escapes", `{"body":"\/\b\f\u0000\u001F\uFFFF"}`, true},
		{"json inside a string", `{"attributes":"{\"a\":[1,\"b\"]}"}`, true},
		{"nulls leave fields alone", `{"sid":null,"index":null,"was_edited":null,"date_created":null,"media":null}`, true},
		{"media object", `{"type":"media","media":{"sid":"ME1","size":12,"content_type":"image/png","filename":"a.png"}}`, true},
		{"time with offset", `{"date_created":"2020-01-02T03:04:05.123+02:00"}`, true},
		{"negative index", `{"index":-3}`, true},
		{"space everywhere", "{ \"sid\" :\t\"IM1\" ,\n\"index\" : 2 }", true},
		{"repeated member", `{"sid":"IM1","sid":"IM2"}`, false},
		{"repeated media merges", `{"media":{"sid":"ME1"},"media":{"size":3}}`, false},
		{"upper-case name", `{"SID":"IM1"}`, false},
		{"long s folds to s", `{"ſid":"IM1"}`, false},
		{"kelvin sign that folds to no field", `{"K":"x","was_editeK":true}`, true},
		{"escaped name", `{"s\u0069d":"IM1"}`, false},
		{"string for a number", `{"index":"7"}`, false},
		{"fraction for an integer", `{"index":1.0}`, false},
		{"exponent for an integer", `{"index":1e2}`, false},
		{"integer overflow", `{"index":9223372036854775808}`, false},
		{"number for a string", `{"sid":7}`, false},
		{"object for a string", `{"body":{}}`, false},
		{"string for a bool", `{"was_edited":"true"}`, false},
		{"number for a time", `{"date_created":0}`, false},
		{"bad time", `{"date_created":"yesterday"}`, false},
		{"escaped time", `{"date_created":"2020-01-02T03:04:05\u005a"}`, false},
		{"array for media", `{"media":[1]}`, false},
		{"not an object", `[]`, false},
		{"truncated", `{"sid":"IM1"`, false},
		{"trailing data", `{"sid":"IM1"} x`, false},
		{"syntax error inside", `{"sid":"IM1","x":[1,]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fastDecode(new(Message), []byte(tt.in))
			if got != tt.fast {
				t.Errorf("fastDecode(%q) = %v, want %v", tt.in, got, tt.fast)
			}
			checkFieldsDecode[Message](t, []byte(tt.in))
		})
	}
}

func TestDecodeFieldsOfOtherTypes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		do   func([]byte) bool
		fast bool
	}{
		{"member", `{"sid":"MB1","identity":"a b","last_consumed_message_index":4,"last_consumption_timestamp":"2020-01-03T00:00:00Z","extra":true}`,
			check[Member](t), true},
		{"member with null pointers", `{"last_consumed_message_index":null,"last_consumption_timestamp":null}`, check[Member](t), true},
		{"member with a fractional index", `{"last_consumed_message_index":4.5}`, check[Member](t), false},
		{"member with an index beyond int", `{"last_consumed_message_index":99999999999999999999}`, check[Member](t), false},
		{"member with a bad timestamp", `{"last_consumption_timestamp":"x"}`, check[Member](t), false},
		{"channel", `{"sid":"CH1","unique_name":"team/ops","attributes":"{\"a\":1}","members_count":2,"messages_count":5,"links":{"m":"x"}}`,
			check[Channel](t), true},
		{"channel with a string count", `{"messages_count":"5"}`, check[Channel](t), false},
		{"channel with a null count", `{"messages_count":null}`, check[Channel](t), true},
		{"role with permissions", `{"sid":"RL1","permissions":["sendMessage","leaveChannel"],"date_updated":null}`, check[Role](t), true},
		{"role with null permissions", `{"permissions":null}`, check[Role](t), true},
		{"role with a string for permissions", `{"permissions":"all"}`, check[Role](t), false},
		{"service", `{"sid":"IS1","limits":{"channel_members":100},"default_service_role_sid":"RL1"}`, check[Service](t), true},
		{"user", `{"sid":"US1","identity":"alice","friendly_name":null,"is_online":null}`, check[User](t), true},
		{"a type with the string option", `{"n":"1"}`, check[withStringOption](t), false},
		{"a type with an embedded struct", `{"sid":"x"}`, check[withEmbedded](t), false},
		{"a type with an untagged field", `{"Plain":"x","plain":"y"}`, check[withUntagged](t), false},
		{"a type with an untagged field, once", `{"Plain":"x"}`, check[withUntagged](t), true},
		{"not a struct", `{}`, func(b []byte) bool { return fastDecode(new(map[string]any), b) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do([]byte(tt.in)); got != tt.fast {
				t.Errorf("fastDecode(%q) = %v, want %v", tt.in, got, tt.fast)
			}
		})
	}
}

type withStringOption struct {
	N int `json:"n,string"`
}

type withEmbedded struct {
	Media
}

type withUntagged struct {
	Plain string
}

// check returns a function that checks decodeFields against json.Unmarshal
// for T and returns whether decodeFields took the object.
func check[T any](t *testing.T) func([]byte) bool {
	return func(b []byte) bool {
		checkFieldsDecode[T](t, b)
		return fastDecode(new(T), b)
	}
}

func TestEveryFieldTakesTheFastPath(t *testing.T) {
	// Each resource type's own field names are found, and a null for each
	// is decoded without encoding/json taking over.
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Service](), reflect.TypeFor[Role](), reflect.TypeFor[User](),
		reflect.TypeFor[Channel](), reflect.TypeFor[Member](), reflect.TypeFor[Message](),
	} {
		fs := fieldsOf(typ)
		if fs == nil {
			t.Errorf("%s: no fast path", typ)
			continue
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if _, ok := fs.byName[name]; !ok {
				t.Errorf("%s: field %s (%q) is not found by name", typ, f.Name, name)
			}
			v := reflect.New(typ)
			if !fastDecode(v.Interface(), []byte(`{"`+name+`":null}`)) {
				t.Errorf("%s: a null %q is left to encoding/json", typ, name)
			}
		}
	}
}

func TestDecodePage(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  []string // SIDs
		next  string
		error string
	}{
		{name: "meta after the records", body: `{"messages":[{"sid":"IM1"},{"sid":"IM2"}],"meta":{"key":"messages","next_page_url":"u"}}`, want: []string{"IM1", "IM2"}, next: "u"},
		{name: "meta before the records", body: `{"meta":{"next_page_url":"u","key":"messages"},"messages":[{"sid":"IM1"}]}`, want: []string{"IM1"}, next: "u"},
		{name: "no records", body: `{"messages":[],"meta":{"key":"messages"}}`},
		{name: "space around records", body: "{ \"messages\" : [ {\"sid\":\"IM1\"} ,\n{\"sid\":\"IM2\"} ] }", want: []string{"IM1", "IM2"}},
		{name: "repeated array: the last counts", body: `{"messages":[{"sid":"IM1"}],"messages":[{"sid":"IM2"}]}`, want: []string{"IM2"}},
		{name: "repeated array, the first broken", body: `{"messages":[1],"messages":[{"sid":"IM2"}]}`, want: []string{"IM2"}},
		{name: "meta names another array", body: `{"messages":[1],"other":[{"sid":"IM3"}],"meta":{"key":"other"}}`, want: []string{"IM3"}},
		{name: "records left to encoding/json", body: `{"messages":[{"SID":"IM1"},{"sid":"IM2","sid":"IM3"}]}`, want: []string{"IM1", "IM3"}},
		{name: "escaped member name", body: `{"m\u0065ssages":[{"sid":"IM1"}]}`, want: []string{"IM1"}},
		{name: "a record that is not an object", body: `{"messages":[{"sid":"IM1"},"IM2"]}`, error: "messages[1]: expected a JSON object"},
		{name: "a record of the wrong shape", body: `{"messages":[{"sid":"IM1"},{"index":"7"}]}`, error: "messages[1]"},
		{name: "a syntax error after a bad record", body: `{"messages":[1,{]}`, error: "invalid character"},
		{name: "truncated after a name", body: `{"messages":`, error: "unexpected end"},
		{name: "truncated in the records", body: `{"messages":[{"sid":"IM1"},`, error: "unexpected end"},
		{name: "truncated after the records", body: `{"messages":[]`, error: "unexpected end"},
		{name: "records not an array", body: `{"messages":{}}`, error: `"messages": json: cannot unmarshal object`},
		{name: "no records array", body: `{"meta":{}}`, error: `no "messages" array`},
		{name: "trailing data", body: `{"messages":[]} {}`, error: "invalid character"},
		{name: "not an object", body: `[{"sid":"IM1"}]`, error: "expected a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodePage[Message]([]byte(tt.body), "messages")
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var sids []string
			for _, m := range p.Items {
				sids = append(sids, m.SID)
				if !json.Valid(m.Raw) || m.Raw[0] != '{' || m.Raw[len(m.Raw)-1] != '}' || cap(m.Raw) != len(m.Raw) {
					t.Errorf("Raw %q is not one capped JSON object", m.Raw)
				}
			}
			if !slices.Equal(sids, tt.want) || p.NextPageURL != tt.next {
				t.Errorf("SIDs %v, next %q; want %v, %q", sids, p.NextPageURL, tt.want, tt.next)
			}
		})
	}
}

func BenchmarkDecodePage(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"messages":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(messageJSONForTest)
	}
	sb.WriteString(`],"meta":{"page":0,"page_size":100,"key":"messages","next_page_url":"https://chat.twilio.com/v2/x?Page=1&PageToken=PT1"}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := decodePage[Message](body, "messages")
		if err != nil || len(p.Items) != 100 {
			b.Fatal(len(p.Items), err)
		}
	}
}

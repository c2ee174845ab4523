package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// scannerCases are JSON texts, valid and not, that the scanner must judge
// as json.Valid does.
var scannerCases = []struct {
	name string
	in   string
}{
	{"empty object", `{}`},
	{"empty array", `[]`},
	{"spaces around", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n"},
	{"nested", `{"a":{"b":[{"c":null},true,false,"x"]}}`},
	{"numbers", `[0,-0,1.5,-2e10,3E+2,4e-1,123456789012345678901234567890]`},
	{"escapes", `"\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDC4B"`},
	{"invalid utf-8 is accepted", "\"\xff\xfe\""},
	{"lone surrogate escape is accepted", `"\ud800"`},
	{"scalar top level", `"x"`},
	{"literal top level", `null`},
	{"empty", ``},
	{"space only", `   `},
	{"unclosed object", `{"a":1`},
	{"unclosed array", `[1,2`},
	{"unclosed string", `"abc`},
	{"trailing comma in object", `{"a":1,}`},
	{"trailing comma in array", `[1,]`},
	{"missing colon", `{"a" 1}`},
	{"non-string key", `{1:2}`},
	{"two values", `{} {}`},
	{"trailing garbage", `[1]x`},
	{"control character in string", "\"a\x01b\""},
	{"newline in string", "\"a\nb\""},
	{"bad escape", `"\x"`},
	{"short unicode escape", `"\u12"`},
	{"non-hex unicode escape", `"\u12g4"`},
	{"leading zero", `01`},
	{"leading plus", `+1`},
	{"bare minus", `-`},
	{"dot without digits", `1.`},
	{"exponent without digits", `1e`},
	{"exponent sign without digits", `1e+`},
	{"leading dot", `.5`},
	{"hex number", `0x10`},
	{"misspelt literal", `nul`},
	{"literal with suffix", `truex`},
	{"capitalised literal", `True`},
	{"single quotes", `{'a':1}`},
	{"comment", `[1 /* c */]`},
	{"value after value in array", `[1 2]`},
	{"colon in array", `[1:2]`},
	{"comma first in object", `{,"a":1}`},
	{"nul byte outside string", "[1,\x002]"},
	{"depth at the limit", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)},
	{"depth beyond the limit", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)},
	{"object depth beyond the limit", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)},
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, tt := range scannerCases {
		t.Run(tt.name, func(t *testing.T) {
			want := json.Valid([]byte(tt.in))
			if got := Valid([]byte(tt.in)); got != want {
				t.Errorf("Valid(%.40q) = %v, json.Valid says %v", tt.in, got, want)
			}
		})
	}
}

func FuzzValid(f *testing.F) {
	for _, tt := range scannerCases {
		if len(tt.in) < 1000 {
			f.Add([]byte(tt.in))
		}
	}
	f.Add([]byte(messageJSON))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

// messageJSON is a message as the API sends it.
const messageJSON = `{"sid":"IM0123456789abcdef0123456789abcdef","account_sid":"AC0123456789abcdef0123456789abcdef","attributes":"{\"kind\":\"note\"}","service_sid":"IS0123456789abcdef0123456789abcdef","to":"CH0123456789abcdef0123456789abcdef","channel_sid":"CH0123456789abcdef0123456789abcdef","date_created":"2025-02-04T15:25:18Z","date_updated":"2025-02-04T15:25:18Z","last_updated_by":null,"was_edited":false,"from":"bob","body":"ship it \ud83d\ude80, see the notes from this morning","index":884,"type":"text","media":null,"url":"https://chat.twilio.com/v2/Services/IS0123456789abcdef0123456789abcdef/Channels/CH0123456789abcdef0123456789abcdef/Messages/IM0123456789abcdef0123456789abcdef"}`

// BenchmarkValid compares Valid with json.Valid on a message resource.
func BenchmarkValid(b *testing.B) {
	data := []byte(messageJSON)
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsonscan", Valid}, {"encoding_json", json.Valid}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !v.valid(data) {
					b.Fatal("the message is not valid JSON")
				}
			}
		})
	}
}

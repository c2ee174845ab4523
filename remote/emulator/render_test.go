package emulator

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "hello", `"hello"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"newline tab return", "a\nb\tc\rd", `"a\nb\tc\rd"`},
		{"other control", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"delete is not escaped", "\x7f", "\"\x7f\""},
		{"html kept", "<a href='x'>&</a>", `"<a href='x'>&</a>"`},
		{"emoji", "👩‍💻🇳🇱", `"👩‍💻🇳🇱"`},
		{"CJK and RTL", "会议 שלום مرحبا", `"会议 שלום مرحبا"`},
		{"line separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"invalid UTF-8", "a\xffb", `"a\ufffdb"`},
		{"truncated rune", "x\xe4\xbc", `"x\ufffd\ufffd"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendString(nil, tc.in))
			if got != tc.want {
				t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatalf("%s is not a JSON string: %v", got, err)
			}
			if utf8.ValidString(tc.in) && back != tc.in {
				t.Errorf("round trip of %q gives %q", tc.in, back)
			}
		})
	}
}

// FuzzAppendString checks every input renders as a JSON string that
// decodes to the input (with invalid UTF-8 replaced, as encoding/json does).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00", "\xff\xfe", "👍\u2028", strings.Repeat("\\", 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString([]byte("x"), s)[1:]
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want && utf8.ValidString(s) {
			t.Fatalf("%q came back as %q", s, back)
		}
		std, _ := json.Marshal(s)
		var viaStd string
		_ = json.Unmarshal(std, &viaStd)
		if back != viaStd {
			t.Fatalf("%q decodes to %q, encoding/json's rendering to %q", s, back, viaStd)
		}
	})
}

func TestWindow(t *testing.T) {
	keys := []int64{2, 3, 5, 8, 13, 21, 34} // gaps, as message indexes have
	key := func(i int) int64 { return keys[i] }
	tok := func(before bool, k int64) pageToken { return pageToken{set: true, before: before, key: k} }
	none := pageToken{}
	cases := []struct {
		name       string
		n          int
		pq         pageQuery
		from, to   int
		next, prev pageToken
	}{
		{"first page", 7, pageQuery{size: 3}, 0, 3, tok(false, 5), none},
		{"after a key", 7, pageQuery{size: 3, token: tok(false, 5)}, 3, 6, tok(false, 21), tok(true, 8)},
		{"after a missing key", 7, pageQuery{size: 3, token: tok(false, 6)}, 3, 6, tok(false, 21), tok(true, 8)},
		{"last page", 7, pageQuery{size: 3, token: tok(false, 21)}, 6, 7, none, tok(true, 34)},
		{"after the end", 7, pageQuery{size: 3, token: tok(false, 34)}, 7, 7, none, none},
		{"after a key below all", 7, pageQuery{size: 3, token: tok(false, -5)}, 0, 3, tok(false, 5), none},
		{"before a key", 7, pageQuery{size: 3, token: tok(true, 21)}, 2, 5, tok(false, 13), tok(true, 5)},
		{"before the second", 7, pageQuery{size: 3, token: tok(true, 3)}, 0, 1, tok(false, 2), none},
		{"before the first", 7, pageQuery{size: 3, token: tok(true, 2)}, 0, 0, none, none},
		{"offset page", 7, pageQuery{size: 3, page: 2}, 6, 7, none, tok(true, 34)},
		{"offset past the end", 7, pageQuery{size: 3, page: 5}, 7, 7, none, none},
		{"huge offset", 7, pageQuery{size: 100, page: 1 << 62}, 7, 7, none, none},
		{"empty list", 0, pageQuery{size: 50}, 0, 0, none, none},
		{"one page exactly", 7, pageQuery{size: 7}, 0, 7, none, none},
		{"desc first page", 7, pageQuery{size: 3, desc: true}, 4, 7, tok(false, 13), none},
		{"desc after a key", 7, pageQuery{size: 3, desc: true, token: tok(false, 13)}, 1, 4, tok(false, 3), tok(true, 8)},
		{"desc last page", 7, pageQuery{size: 3, desc: true, token: tok(false, 3)}, 0, 1, none, tok(true, 2)},
		{"desc before a key", 7, pageQuery{size: 3, desc: true, token: tok(true, 3)}, 2, 5, tok(false, 5), tok(true, 13)},
		{"desc before the top", 7, pageQuery{size: 3, desc: true, token: tok(true, 34)}, 7, 7, none, none},
		{"desc offset", 7, pageQuery{size: 3, desc: true, page: 2}, 0, 1, none, tok(true, 2)},
		{"desc huge offset", 7, pageQuery{size: 3, desc: true, page: 1 << 62}, 0, 0, none, none},
		{"desc empty", 0, pageQuery{size: 3, desc: true}, 0, 0, none, none},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to, next, prev := window(tc.n, key, tc.pq)
			if from != tc.from || to != tc.to || next != tc.next || prev != tc.prev {
				t.Errorf("window = [%d,%d) next %v prev %v; want [%d,%d) next %v prev %v",
					from, to, next, prev, tc.from, tc.to, tc.next, tc.prev)
			}
		})
	}
}

func TestPageTokens(t *testing.T) {
	good := map[string]pageToken{
		"PT0":                   {set: true, key: 0},
		"PT42":                  {set: true, key: 42},
		"PB7":                   {set: true, before: true, key: 7},
		"PT9223372036854775807": {set: true, key: 1<<63 - 1},
	}
	for in, want := range good {
		got, ok := parsePageToken(in)
		if !ok || got != want || got.String() != in {
			t.Errorf("parsePageToken(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	bad := []string{"", "P", "PT", "PB", "PX1", "pt1", "PT-1", "PT+1", "PT1.5", "PT 1", "PT1a", "PT9223372036854775808", "PT٣"}
	for _, in := range bad {
		if got, ok := parsePageToken(in); ok {
			t.Errorf("parsePageToken(%q) = %+v, want refusal", in, got)
		}
	}
}

func TestParseSID(t *testing.T) {
	id, ok := parseSID("CH", "CH0123456789ABCDEF0123456789abcdef")
	if !ok || id.format("CH") != "CH0123456789abcdef0123456789abcdef" {
		t.Errorf("upper-case hex SID: %v %s", ok, id.format("CH"))
	}
	for _, bad := range []string{
		"", "CH", "CH0123456789abcdef0123456789abcde", "CH0123456789abcdef0123456789abcdef0",
		"IS0123456789abcdef0123456789abcdef", "CH0123456789abcdef0123456789abcdeg", "ch0123456789abcdef0123456789abcdef",
	} {
		if _, ok := parseSID("CH", bad); ok {
			t.Errorf("parseSID(CH, %q) accepted", bad)
		}
	}
}

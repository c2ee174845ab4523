package remote

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 2 ", 2 * time.Second, true},
		{"huge seconds are capped", "99999999999999", 300000 * time.Second, true},
		{"http date ahead", "Fri, 02 Jan 2026 15:04:35 GMT", 30 * time.Second, true},
		{"rfc 850 date ahead", "Friday, 02-Jan-26 15:05:05 GMT", time.Minute, true},
		{"asctime date ahead", "Fri Jan  2 15:04:15 2026", 10 * time.Second, true},
		{"http date behind", "Fri, 02 Jan 2026 15:00:00 GMT", 0, true},
		{"empty", "", 0, false},
		{"negative", "-1", 0, false},
		{"fraction", "1.5", 0, false},
		{"words", "later", 0, false},
		{"iso date", "2026-01-02T15:05:00Z", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	const lo, hi = 200 * time.Millisecond, 10 * time.Second
	tests := []struct {
		name    string
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{"first, low", 0, 0, lo},
		{"first, high", 0, 0.999999, 399999800 * time.Nanosecond},
		{"second, high", 1, 1, 800 * time.Millisecond},
		{"fifth, mid", 4, 0.5, 3300 * time.Millisecond},
		{"capped", 10, 1, hi},
		{"huge attempt does not overflow", 70, 1, hi},
		{"huge attempt, low", 70, 0, lo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.attempt, lo, hi, tt.jitter); got != tt.want {
				t.Errorf("backoff = %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("equal bounds", func(t *testing.T) {
		if got := backoff(3, time.Second, time.Second, 0.7); got != time.Second {
			t.Errorf("backoff = %s, want 1s", got)
		}
	})
}

func TestNewClientCountersStartAtZero(t *testing.T) {
	c, err := NewClient(Credentials{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests() != 0 || c.Writes() != 0 {
		t.Errorf("counters start at %d/%d", c.Requests(), c.Writes())
	}
}

// FuzzDecodePage: any answer either fails to decode or gives records whose
// Raw is a JSON object that decodes again to the same record.
func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"sid":"IM1","index":1,"media":null}],"meta":{"key":"messages","next_page_url":null}}`,
		`{"x":[{"sid":"IM1"}, {"body":"\u00e9"}],"meta":{"key":"x","next_page_url":"http://127.0.0.1/v2/x?Page=1"}}`,
		`{"messages":null}`,
		`{"messages":[1]}`,
		`{"meta":{"key":"meta"}}`,
		`[]`,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePage[Message](data, "messages")
		if err != nil {
			return
		}
		for i, m := range p.Items {
			if !json.Valid(m.Raw) || m.Raw[0] != '{' {
				t.Fatalf("item %d: Raw %q is not a JSON object", i, m.Raw)
			}
			again, err := decodeObject[Message](m.Raw)
			if err != nil {
				t.Fatalf("item %d: Raw does not decode again: %v", i, err)
			}
			if again.SID != m.SID || again.Index != m.Index || again.Body != m.Body {
				t.Fatalf("item %d decodes differently from its Raw", i)
			}
		}
	})
}

package remote

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 1000)
	tests := []struct {
		name   string
		length int64 // Content-Length; -1 unknown
		body   string
		want   string
		err    bool
	}{
		{"declared length", 1000, body, body, false},
		{"unknown length", -1, body, body, false},
		{"empty, unknown length", -1, "", "", false},
		{"declared beyond the presized buffer", presizeBody + 1, body, body, false},
		{"shorter than declared", 2000, body, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tt.length, Body: io.NopCloser(strings.NewReader(tt.body))}
			got, err := readBody(resp)
			if (err != nil) != tt.err || string(got) != tt.want {
				t.Errorf("readBody = %d bytes, %v; want %d bytes, error %v", len(got), err, len(tt.want), tt.err)
			}
		})
	}
}

package names

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	names := []string{"general-1", "general-2", "general-10", "support", "random"}
	tests := []struct {
		name string
		want string
	}{
		{"general-3", "general-1,general-2"},
		{"genral-1", "general-1"},
		{"Support", "support"},
		{"supp", "support"},
		{"xyz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := strings.Join(Closest(tt.name, names, 3), ",")
		if tt.name == "" {
			// Every name contains the empty string; an empty name is
			// refused before Run, so any answer is harmless but bounded.
			if n := len(Closest(tt.name, names, 3)); n > 3 {
				t.Errorf("Closest(\"\") returned %d names", n)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"général", "genéral", 1}} {
		if d := EditDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"general-0", "random-1", "support-2"}
	for _, tc := range []struct {
		missing []string
		names   []string
		want    string
	}{
		{[]string{"genral-0"}, names, `did you mean general-0?`},
		{[]string{"xyz"}, names, "its channels are general-0, random-1, support-2"},
		{[]string{"xyz"}, nil, "snapshot 3 has no channels"},
	} {
		if got := Suggest(tc.missing, tc.names, "snapshot 3"); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.missing, got, tc.want)
		}
	}
}

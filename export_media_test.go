package main

import "testing"

func TestMediaExt(t *testing.T) {
	tests := []struct {
		name  string
		types []string
		want  string
	}{
		{"png", []string{"image/png"}, ".png"},
		{"jpeg, not .jfif", []string{"image/jpeg"}, ".jpg"},
		{"parameters", []string{"text/plain; charset=utf-8"}, ".txt"},
		{"pdf", []string{"application/pdf"}, ".pdf"},
		{"first type with an extension", []string{"", "image/gif"}, ".gif"},
		{"an office file", []string{"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}, ".docx"},
		{"upper case", []string{"IMAGE/PNG"}, ".png"},
		{"unknown", []string{"application/x-chatvault-unknown"}, ".bin"},
		{"malformed", []string{"not a type;;"}, ".bin"},
		{"none", nil, ".bin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mediaExt(tc.types...); got != tc.want {
				t.Errorf("mediaExt(%q) = %q, want %q", tc.types, got, tc.want)
			}
		})
	}
}

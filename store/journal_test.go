package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestJournalReadYourWritesAndPersistence(t *testing.T) {
	path := tempPath(t)
	a, err := Open(path, Options{Create: true})
	must(t, err)
	j, err := a.Journal(testSvc, testSvc2)
	must(t, err)
	if j2, _ := a.Journal(testSvc, testSvc2); j2 != j {
		t.Error("same pair gave a different Journal")
	}
	for i := range 1200 {
		must(t, j.Put(fmt.Sprintf("msg/%05d", i), []byte(fmt.Sprint(i))))
	}
	must(t, j.Put("chan/a", []byte("A")))
	must(t, j.Put("chan/b", nil))
	// Before any flush: Get sees queued values.
	for _, k := range []string{"msg/00000", "msg/01199", "chan/a"} {
		if _, ok, err := j.Get(k); !ok || err != nil {
			t.Errorf("Get(%s) before flush: ok=%v err=%v", k, ok, err)
		}
	}
	must(t, j.Flush(context.Background()))
	// Overwrite after commit: the queued value wins in Get and Scan.
	must(t, j.Put("msg/00005", []byte("five")))
	if v, ok, err := j.Get("msg/00005"); string(v) != "five" || !ok || err != nil {
		t.Errorf("Get after overwrite = %q %v %v", v, ok, err)
	}
	must(t, j.Put("msg/99999", []byte("last"))) // queued only
	var keys []string
	vals := map[string]string{}
	must(t, j.Scan("msg/", func(k string, v []byte) error {
		keys = append(keys, k)
		vals[k] = string(v)
		return nil
	}))
	if len(keys) != 1201 || vals["msg/00005"] != "five" || vals["msg/99999"] != "last" || vals["msg/00007"] != "7" {
		t.Errorf("Scan: %d keys, samples %q %q %q", len(keys), vals["msg/00005"], vals["msg/99999"], vals["msg/00007"])
	}
	for i := 1; i < len(keys); i++ {
		if keys[i] <= keys[i-1] {
			t.Fatalf("Scan out of order: %s after %s", keys[i], keys[i-1])
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := j.Scan("", func(string, []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Scan did not stop on error: %v after %d", err, n)
	}
	must(t, a.Close())

	b := openTest(t, path)
	j, err = b.Journal(testSvc, testSvc2)
	must(t, err)
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"msg/00005", "five", true},
		{"msg/99999", "last", true},
		{"chan/a", "A", true},
		{"chan/b", "", true},
		{"chan/c", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			v, ok, err := j.Get(tc.key)
			if err != nil || ok != tc.wantOK || string(v) != tc.want {
				t.Errorf("Get = %q, %v, %v; want %q, %v", v, ok, err, tc.want, tc.wantOK)
			}
		})
	}
	other, err := b.Journal(testSvc2, testSvc)
	must(t, err)
	if _, ok, _ := other.Get("chan/a"); ok {
		t.Error("journals of different pairs share keys")
	}
}

func TestJournalInvalid(t *testing.T) {
	a := openTest(t, tempPath(t))
	pairs := []struct{ name, src, dst string }{
		{"empty source", "", testSvc},
		{"empty target", testSvc, ""},
		{"separator in source", "a>b", testSvc},
		{"separator in target", testSvc, ">"},
		{"NUL", "a\x00", testSvc},
	}
	for _, tc := range pairs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.Journal(tc.src, tc.dst); err == nil {
				t.Error("accepted")
			}
		})
	}
	j, err := a.Journal(testSvc, testSvc2)
	must(t, err)
	keys := []struct{ name, key string }{
		{"empty key", ""},
		{"huge key", strings.Repeat("k", 40000)},
	}
	for _, tc := range keys {
		t.Run(tc.name, func(t *testing.T) {
			if err := j.Put(tc.key, []byte("v")); err == nil {
				t.Error("accepted")
			}
		})
	}
}

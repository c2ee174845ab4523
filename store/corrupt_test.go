package store

import (
	"bytes"
	"os"
	"testing"
)

// flipInFile changes one byte inside the first occurrence of marker in the
// file, in place.
func flipInFile(t testing.TB, path string, marker []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	i := bytes.Index(data, marker)
	if i < 0 {
		t.Fatalf("marker %q not in file", marker)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte{data[i] ^ 0x20}, int64(i))
	must(t, err)
}

package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestResourceRecordRoundTrip: every resource reads back byte for byte;
// small and incompressible ones stay plain records, the rest compressed
// and smaller, with the label outside the frame's cost.
func TestResourceRecordRoundTrip(t *testing.T) {
	a := &Archive{}
	noise := make([]byte, 600)
	_, _ = rand.Read(noise)
	for _, tc := range []struct {
		name     string
		label    string
		payload  []byte
		wantKind byte
	}{
		{"message", imSID(7), msgJSON(7, strings.Repeat("hello there ", 20)), kindPutZstd},
		{"unicode and spacing kept", "", []byte(`{ "body" : "héllo 👍 \u00e9",   "attributes":"{\"a\": 1}" , "x":[1, 2,3],"y":"` + strings.Repeat("z", 80) + `"}`), kindPutZstd},
		{"small stays plain", "L", []byte(`{"sid":"x"}`), kindPut},
		{"incompressible stays plain", "L", noise, kindPut},
		{"empty label", "", msgJSON(1, strings.Repeat("abc ", 40)), kindPutZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := a.appendResource(nil, kindPut, tc.label, tc.payload)
			if v[0] != tc.wantKind {
				t.Fatalf("record kind %d, want %d", v[0], tc.wantKind)
			}
			if tc.wantKind == kindPutZstd && len(v) >= recordLen(kindPut, tc.label, tc.payload) {
				t.Errorf("compressed record is %d bytes, the plain one %d", len(v), recordLen(kindPut, tc.label, tc.payload))
			}
			r, err := decodeRecord(v)
			if err != nil {
				t.Fatal(err)
			}
			if r.kind != kindPut || string(r.label) != tc.label || !bytes.Equal(r.payload, tc.payload) {
				t.Errorf("read back kind %d label %q payload %q", r.kind, r.label, r.payload)
			}
			plain := (&Archive{plain: true}).appendResource(nil, kindPut, tc.label, tc.payload)
			if !bytes.Equal(plain, encodeRecord(kindPut, tc.label, tc.payload)) {
				t.Error("a plain Archive does not store the plain record")
			}
		})
	}
}

// TestCompressedRecordDamage: a damaged compressed record is an error,
// never a wrong payload: a flipped bit fails the checksum, and a frame
// that is damaged under a valid checksum fails to decompress.
func TestCompressedRecordDamage(t *testing.T) {
	a := &Archive{}
	good := a.appendResource(nil, kindPut, imSID(1), msgJSON(1, strings.Repeat("some words ", 30)))
	if good[0] != kindPutZstd {
		t.Fatal("sample record is not compressed")
	}
	for _, tc := range []struct {
		name string
		at   int
		seal bool
		want error
	}{
		{"bit flipped in the frame", len(good) - 3, false, errRecordChecksum},
		{"frame damaged, checksum rewritten", len(good) / 2, true, errFrame},
		{"frame header damaged, checksum rewritten", recordHeaderLen + 1, true, errFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := bytes.Clone(good)
			v[tc.at] ^= 0x5a
			if tc.seal {
				sealRecord(v)
			}
			r, err := decodeRecord(v)
			if err == nil && tc.want == errFrame {
				// zstd frames made without a checksum can decode damaged
				// data; the damage must then show as other bytes.
				if bytes.Equal(r.payload, msgJSON(1, strings.Repeat("some words ", 30))) {
					t.Fatal("damaged frame decoded to the original payload")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("decodeRecord = %v, want %v", err, tc.want)
			}
		})
	}
	for n := range len(good) {
		if _, err := decodeRecord(good[:n]); err == nil {
			t.Errorf("record cut to %d bytes decodes", n)
		}
	}
}

// TestFormat1UpgradedByCompressedWrite: writing a compressed resource into
// a format-1 archive moves it to format 2 in the same transaction, old
// snapshots read as the previous release read them, and Check flags a
// compressed record in a file that says format 1.
func TestFormat1UpgradedByCompressedWrite(t *testing.T) {
	path, _, golden := v1Copy(t)

	a, err := Open(path, Options{})
	must(t, err)
	w := begin(t, a, testSvc)
	must(t, w.PutChannel(chSID(1), "room-1", chanJSON(1, "2026-01-01T00:00:00Z")))
	must(t, w.PutMessages(chSID(1), []MessageRecord{msg(900, strings.Repeat("a compressible body ", 10))}))
	finish(t, w)
	must(t, a.Close())
	if v := fileFormat(t, path); v != FormatVersion {
		t.Errorf("after a compressed message the file is at format %d, want %d", v, FormatVersion)
	}
	a, err = Open(path, Options{ReadOnly: true})
	must(t, err)
	checkClean(t, a)
	if format1Snapshots(t, a) != string(golden) {
		t.Error("after the upgrade, the old snapshots read differently")
	}
	must(t, a.Close())

	setFormat(t, path, 1)
	a, err = Open(path, Options{ReadOnly: true})
	must(t, err)
	defer a.Close()
	ps, err := a.Check()
	must(t, err)
	if text := fmt.Sprint(ps); !strings.Contains(text, "(a compressed record) is part of format 2") {
		t.Errorf("Check does not flag a compressed record in a format-1 file: %s", text)
	}
}

// TestContentChunksCompressedWhenItPays: text content is stored in
// compressed chunks, random bytes (as in PNG or MP4) raw, and both read
// back byte for byte.
func TestContentChunksCompressedWhenItPays(t *testing.T) {
	a := openTest(t, tempPath(t))
	text := []byte(strings.Repeat("a line of a log file, much like the one before it\n", 50_000)) // 2.5 MB: 3 chunks
	noise := make([]byte, contentChunk+1000)
	_, _ = rand.Read(noise)
	for _, tc := range []struct {
		name string
		data []byte
		want byte
	}{
		{"text", text, encZstd},
		{"random", noise, encRaw},
		{"small text", []byte(strings.Repeat("tiny ", 100)), encZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sha := putContent(t, a, tc.data)
			doc, found, err := a.content(sha)
			if err != nil || !found {
				t.Fatalf("content: %v %v", found, err)
			}
			stored := 0
			must(t, a.read(func(tx *bolt.Tx) error {
				for i := range doc.Chunks {
					v := chunkValue(tx.Bucket(bktChunks), doc.Extent, i)
					r, err := decodeRecord(v)
					if err != nil {
						return err
					}
					if r.payload[0] != tc.want {
						t.Errorf("chunk %d has encoding %d, want %d", i, r.payload[0], tc.want)
					}
					stored += len(v)
				}
				return nil
			}))
			if tc.want == encZstd && stored*2 > len(tc.data) {
				t.Errorf("compressible content stored in %d bytes for %d", stored, len(tc.data))
			}
			rc, err := a.OpenContent(sha)
			must(t, err)
			got, err := io.ReadAll(rc)
			must(t, err)
			must(t, rc.Close())
			if !bytes.Equal(got, tc.data) {
				t.Error("content reads back differently")
			}
		})
	}
}

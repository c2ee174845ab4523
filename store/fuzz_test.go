package store

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func TestRecordCodec(t *testing.T) {
	good := []struct {
		name    string
		kind    byte
		label   string
		payload []byte
	}{
		{"put", kindPut, "IM1", []byte(`{"a":1}`)},
		{"empty label and payload", kindPut, "", nil},
		{"long label", kindPut, string(bytes.Repeat([]byte("l"), 300)), []byte("x")},
		{"tombstone", kindTombstone, "", nil},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			v := encodeRecord(tc.kind, tc.label, tc.payload)
			r, err := decodeRecord(v)
			if err != nil {
				t.Fatal(err)
			}
			if r.kind != tc.kind || string(r.label) != tc.label || !bytes.Equal(r.payload, tc.payload) {
				t.Errorf("decoded %+v", r)
			}
		})
	}
	put := encodeRecord(kindPut, "IM1", []byte(`{"a":1}`))
	mutate := func(f func(v []byte) []byte) []byte { return f(append([]byte(nil), put...)) }
	bad := []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"header only, short", []byte{1, 0, 0}},
		{"payload byte flipped", mutate(func(v []byte) []byte { v[len(v)-2] ^= 1; return v })},
		{"label byte flipped", mutate(func(v []byte) []byte { v[6] ^= 1; return v })},
		{"kind flipped to tombstone", mutate(func(v []byte) []byte { v[0] = kindTombstone; return v })},
		{"crc flipped", mutate(func(v []byte) []byte { v[2] ^= 0x80; return v })},
		{"truncated", mutate(func(v []byte) []byte { return v[:len(v)-1] })},
		{"unknown kind with valid crc", func() []byte { v := encodeRecord(kindPut, "", nil); v[0] = 7; return resum(v) }()},
		{"tombstone with data", func() []byte { v := append(encodeRecord(kindTombstone, "", nil), 'x'); return resum(v) }()},
		{"label length past end", func() []byte {
			v := append(encodeRecord(kindTombstone, "", nil)[:5], 50, 'a')
			v[0] = kindPut
			return resum(v)
		}()},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := decodeRecord(tc.v); err == nil {
				t.Errorf("accepted as %+v", r)
			}
		})
	}
}

// resum recomputes a record's checksum over whatever it holds.
func resum(v []byte) []byte {
	body := append([]byte{v[0]}, v[recordHeaderLen:]...)
	binary.BigEndian.PutUint32(v[1:recordHeaderLen], crc32.Checksum(body, castagnoli))
	return v
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(kindPut, "IM1", []byte(`{"a":1}`)))
	f.Add(encodeRecord(kindTombstone, "", nil))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecord(v)
		if err != nil {
			return
		}
		again := encodeRecord(r.kind, string(r.label), r.payload)
		if !bytes.Equal(again, v) {
			t.Fatalf("decode/encode not stable: %x -> %x", v, again)
		}
	})
}

func FuzzRecordRoundTrip(f *testing.F) {
	f.Add(true, "IM1", []byte(`{"body":"héllo"}`))
	f.Add(false, "", []byte(nil))
	f.Fuzz(func(t *testing.T, put bool, label string, payload []byte) {
		kind := kindTombstone
		if put {
			kind = kindPut
		}
		r, err := decodeRecord(encodeRecord(kind, label, payload))
		if err != nil {
			t.Fatal(err)
		}
		if r.kind != kind || (put && (string(r.label) != label || !bytes.Equal(r.payload, payload))) {
			t.Fatalf("round trip changed the record: %+v", r)
		}
	})
}

// FuzzArchiveReader damages up to three bytes of a real archive and reads it:
// the reader reports errors and never panics.
func FuzzArchiveReader(f *testing.F) {
	pristine := sampleBytes(f)
	f.Add(uint32(16), byte(0xff), uint32(0), byte(0), uint32(0), byte(0))
	f.Add(uint32(8192+40), byte(0x7f), uint32(12288+10), byte(1), uint32(0), byte(0))
	f.Add(uint32(len(pristine)-4000), byte(0x55), uint32(20000), byte(0x80), uint32(9000), byte(3))
	f.Fuzz(func(t *testing.T, p1 uint32, x1 byte, p2 uint32, x2 byte, p3 uint32, x3 byte) {
		data := append([]byte(nil), pristine...)
		for _, d := range []struct {
			pos uint32
			x   byte
		}{{p1, x1}, {p2, x2}, {p3, x3}} {
			data[int(d.pos)%len(data)] ^= d.x
		}
		readDamaged(t, data)
	})
}

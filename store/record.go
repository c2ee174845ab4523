package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Record encoding (see doc.go):
//
//	[0]    kind: 1 = put, 2 = tombstone, 3 = compressed put
//	[1:5]  CRC-32C (Castagnoli), big endian, over byte 0 and bytes 5..end
//	[5:]   put only: uvarint length of label, label, payload (kind 3:
//	       uvarint length of label, then label and payload together as one
//	       zstd frame made with resourceDict, its magic number left out)
//
// A tombstone is exactly 5 bytes.

const (
	kindPut       byte = 1
	kindTombstone byte = 2
	kindPutZstd   byte = 3 // format 2: decoded as kindPut

	recordHeaderLen = 5

	// maxSnapID bounds snapshot ids so that the first byte of every 8-byte
	// snapshot suffix is zero; with entity keys free of NUL bytes this keeps
	// all versions of one entity contiguous in key order (see doc.go).
	maxSnapID = 1<<56 - 1
	// snapInf stands for "newer than every snapshot": reads with it see the
	// current state.
	snapInf = uint64(1<<64 - 1)
	// maxEntityLen bounds string entity keys (SIDs, unique names).
	maxEntityLen = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is a decoded value. label and payload alias the decoded bytes.
type record struct {
	kind    byte
	label   []byte
	payload []byte
}

func (r record) live() bool { return r.kind == kindPut }

func recordLen(kind byte, label string, payload []byte) int {
	if kind != kindPut {
		return recordHeaderLen
	}
	return recordHeaderLen + uvarintLen(uint64(len(label))) + len(label) + len(payload)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendRecord appends the encoded record to dst.
func appendRecord(dst []byte, kind byte, label string, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, kind, 0, 0, 0, 0)
	if kind == kindPut {
		dst = binary.AppendUvarint(dst, uint64(len(label)))
		dst = append(dst, label...)
		dst = append(dst, payload...)
	}
	sealRecord(dst[start:])
	return dst
}

// sealRecord writes the checksum of the encoded record v.
func sealRecord(v []byte) {
	binary.BigEndian.PutUint32(v[1:recordHeaderLen], recordSum(v))
}

// recordSum is the CRC-32C of an encoded record v: its kind byte and
// everything after the checksum.
func recordSum(v []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, v[:1]), castagnoli, v[recordHeaderLen:])
}

func encodeRecord(kind byte, label string, payload []byte) []byte {
	return appendRecord(make([]byte, 0, recordLen(kind, label, payload)), kind, label, payload)
}

var (
	errRecordShort    = errors.New("shorter than the 5-byte record header")
	errRecordChecksum = errors.New("checksum mismatch")
)

// decodeRecord verifies the checksum and splits a stored value. The result
// aliases v, but for a compressed put, whose payload is decompressed into
// a new slice (and whose kind reads as kindPut).
func decodeRecord(v []byte) (record, error) {
	if len(v) < recordHeaderLen {
		return record{}, fmt.Errorf("%d bytes, %w", len(v), errRecordShort)
	}
	want := binary.BigEndian.Uint32(v[1:recordHeaderLen])
	if recordSum(v) != want {
		return record{}, errRecordChecksum
	}
	r := record{kind: v[0]}
	switch r.kind {
	case kindTombstone:
		if len(v) != recordHeaderLen {
			return record{}, fmt.Errorf("tombstone carries %d bytes of data", len(v)-recordHeaderLen)
		}
		return r, nil
	case kindPut, kindPutZstd:
	default:
		return record{}, fmt.Errorf("unknown record kind %d", r.kind)
	}
	body := v[recordHeaderLen:]
	n, w := binary.Uvarint(body)
	if r.kind == kindPutZstd {
		if w <= 0 {
			return record{}, errors.New("label length is unreadable")
		}
		var err error
		if body, err = inflate(body[w:]); err != nil {
			return record{}, err
		}
		r.kind, w = kindPut, 0
	} else if w <= 0 {
		return record{}, errors.New("label length runs past the end of the record")
	}
	if n > uint64(len(body)-w) {
		return record{}, errors.New("label length runs past the end of the record")
	}
	r.label = body[w : w+int(n)]
	r.payload = body[w+int(n):]
	return r, nil
}

// sameAs reports whether r (a stored version, possibly absent) already holds
// the state that writing kind/label/payload would produce. An absent version
// and a tombstone are the same state.
func (r record) sameAs(kind byte, label string, payload []byte) bool {
	if r.kind != kindPut || kind != kindPut {
		return r.kind != kindPut && kind != kindPut
	}
	return string(r.label) == label && bytes.Equal(r.payload, payload)
}

// versionKey appends entity and the 8-byte big-endian snapshot id to dst.
func versionKey(dst, entity []byte, snap uint64) []byte {
	dst = append(dst, entity...)
	return binary.BigEndian.AppendUint64(dst, snap)
}

// splitVersionKey splits a version key into entity and snapshot id.
func splitVersionKey(k []byte) (entity []byte, snap uint64, ok bool) {
	if len(k) < 8 {
		return nil, 0, false
	}
	return k[:len(k)-8], binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// entityAfter returns the smallest key greater than every version key of
// entity (valid because snapshot ids stay below 1<<56, see maxSnapID).
func entityAfter(entity []byte) []byte {
	out := make([]byte, len(entity)+1)
	copy(out, entity)
	out[len(entity)] = 1
	return out
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// validEntity checks a string entity key (SID, unique name, journal name).
func validEntity(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxEntityLen:
		return fmt.Errorf("%s is %d bytes long, more than %d", what, len(s), maxEntityLen)
	case bytes.IndexByte([]byte(s), 0) >= 0:
		return fmt.Errorf("%s %q contains a NUL byte", what, s)
	}
	return nil
}

// describeKey renders a version key for messages: bucket path plus entity
// and snapshot in readable form.
func describeKey(path string, k []byte, numeric bool) string {
	e, snap, ok := splitVersionKey(k)
	if !ok {
		return fmt.Sprintf("%s/%x", path, k)
	}
	var name string
	switch {
	case numeric && len(e) == 8:
		name = "index " + strconv.FormatUint(binary.BigEndian.Uint64(e), 10)
	case len(e) == 0:
		name = "(service)"
	default:
		name = strconv.Quote(string(e))
	}
	return fmt.Sprintf("%s/%s@snapshot %d", path, name, snap)
}

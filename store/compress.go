package store

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Resources are compressed one record at a time with zstd and a
// dictionary built from emulator-like history and shipped in the binary
// (zstd.dict; see doc.go, "Compression", for the figures behind the
// choice). The dictionary can never change: records written with it must
// read back forever. A later dictionary would need a new record kind.
//
//go:embed zstd.dict
var resourceDict []byte

// compressMin is the smallest payload worth compressing: below it the
// frame's header costs more than it saves.
const compressMin = 64

// maxResource bounds a decompressed resource: a damaged frame must not make
// a read allocate without limit.
const maxResource = 64 << 20

// zWindow is the encoders' window. Each encoder keeps a history buffer of
// about its window: with zstd's default 8 MiB, the content encoders alone
// held 16 MiB of a backup's heap (and the heap's peak, with the garbage
// collector's headroom, twice that). A chunk holds at most contentChunk
// bytes, so a larger window finds nothing more in it; a resource under
// zWindow (every message: Twilio caps a body at 32 KiB) encodes to the
// same bytes as with the default window, so the byte comparison of an
// unchanged resource still holds for records written before.
const zWindow = contentChunk

var (
	zOnce sync.Once
	zEnc  *zstd.Encoder // with resourceDict
	zDec  *zstd.Decoder // with resourceDict
	zBulk *zstd.Encoder // without a dictionary: content chunks
	zErr  error
)

// codecs builds the encoders and decoder once. They are safe for
// concurrent use (EncodeAll and DecodeAll).
func codecs() error {
	zOnce.Do(func() {
		n := runtime.GOMAXPROCS(0)
		zEnc, zErr = zstd.NewWriter(nil, zstd.WithEncoderDict(resourceDict), zstd.WithEncoderCRC(false),
			zstd.WithEncoderConcurrency(n), zstd.WithLowerEncoderMem(true), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(zWindow))
		if zErr != nil {
			return
		}
		zBulk, zErr = zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(n),
			zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(zWindow), zstd.WithLowerEncoderMem(true))
		if zErr != nil {
			return
		}
		zDec, zErr = zstd.NewReader(nil, zstd.WithDecoderDicts(resourceDict), zstd.WithDecoderConcurrency(n),
			zstd.WithDecoderMaxMemory(maxResource), zstd.WithDecoderLowmem(true))
	})
	if zErr != nil {
		return fmt.Errorf("zstd: %v", zErr)
	}
	return nil
}

// appendResource appends the record of a resource version: kindPutZstd
// when compressing saves bytes, else a plain record (always plain when
// a.plain, which only tests set: to find a record's bytes in the file, or
// to measure the size of an archive written as before compression). A compressed record
// holds one zstd frame of label and payload together (the label, a SID
// most often, also appears in the payload, so it costs once), without the
// frame's 4-byte magic number, which every frame shares.
func (a *Archive) appendResource(dst []byte, kind byte, label string, payload []byte) []byte {
	if kind != kindPut || len(payload) < compressMin || a.plain || codecs() != nil {
		return appendRecord(dst, kind, label, payload)
	}
	start := len(dst)
	dst = append(dst, kindPutZstd, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, uint64(len(label)))
	body := len(dst)
	scratch := zInput.Get().(*[]byte)
	in := append(append((*scratch)[:0], label...), payload...)
	dst = zEnc.EncodeAll(in, dst)
	if cap(in) <= zInputKeep {
		*scratch = in
		zInput.Put(scratch)
	}
	if !bytes.HasPrefix(dst[body:], zstdMagic) || len(dst)-body-len(zstdMagic) >= len(in) {
		return appendRecord(dst[:start], kind, label, payload)
	}
	dst = append(dst[:body], dst[body+len(zstdMagic):]...)
	sealRecord(dst[start:])
	return dst
}

// zInput holds buffers for the input of a resource's frame (label and
// payload together), reused by the backup's workers: a message's frame
// is encoded hundreds of thousands of times a run. Buffers larger than
// zInputKeep are left to the collector.
var zInput = sync.Pool{New: func() any { return new([]byte) }}

const zInputKeep = 64 << 10

// zstdMagic starts every zstd frame; compressed records leave it out.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var errFrame = errors.New("compressed payload does not decompress")

// inflate decompresses the frame of a kindPutZstd record (without its
// magic number) into a new slice: label then payload.
func inflate(frame []byte) ([]byte, error) {
	if err := codecs(); err != nil {
		return nil, err
	}
	in := make([]byte, 0, len(zstdMagic)+len(frame))
	in = append(append(in, zstdMagic...), frame...)
	out, err := zDec.DecodeAll(in, make([]byte, 0, 4*len(frame)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFrame, err)
	}
	return out, nil
}

// compressChunk returns data compressed into dst's spare room when that
// saves at least an eighth; ok is false otherwise (already-compressed
// media such as PNG or MP4 does not pay). A 64 KiB sample is tried first
// so incompressible chunks cost little.
func compressChunk(dst, data []byte) (out []byte, ok bool) {
	if codecs() != nil {
		return nil, false
	}
	if len(data) > 128<<10 {
		sample := data[:64<<10]
		if z := zBulk.EncodeAll(sample, dst[:0]); len(z) > len(sample)*7/8 {
			return nil, false
		}
	}
	out = zBulk.EncodeAll(data, dst[:0])
	if len(out) > len(data)*7/8 {
		return nil, false
	}
	return out, true
}

// inflateChunk decompresses a chunk's data, which must hold at most
// contentChunk bytes.
func inflateChunk(z []byte) ([]byte, error) {
	if err := codecs(); err != nil {
		return nil, err
	}
	out, err := zDec.DecodeAll(z, make([]byte, 0, contentChunk))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFrame, err)
	}
	return out, nil
}

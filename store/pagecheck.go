package store

import (
	"encoding/binary"
	"fmt"
	"os"
)

// bbolt's on-disk page format (go.etcd.io/bbolt/internal/common), native
// byte order: a 16-byte header {id uint64, flags uint16, count uint16,
// overflow uint32}, then count 16-byte elements whose key (and value) sit
// pos bytes after the element itself. Branch elements are {pos, ksize
// uint32, pgid uint64}; leaf elements {flags, pos, ksize, vsize uint32}.
// A bucket value starts with {root pgid, sequence uint64}; root 0 means an
// inline bucket whose page follows that header inside the value.
const (
	pageHeaderLen   = 16
	pageElemLen     = 16
	bucketHeaderLen = 16
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
)

// pageWalker checks, by reading the file (not bbolt's memory map), that
// every page reachable from the root lies below the high-water mark, is a
// branch or leaf page, is reached once, and holds only elements whose keys
// and values lie inside it. bbolt's tx.Check reads every key through the
// map in a goroutine of its own, where a bad length would be a fatal fault;
// this walk makes sure it cannot meet one.
type pageWalker struct {
	f        *os.File
	pageSize uint64
	hwm      uint64
	seen     map[uint64]bool
	problems int
	add      func(where, what string)
}

func (w *pageWalker) bad(id uint64, format string, args ...any) {
	w.problems++
	w.add(fmt.Sprintf("page %d", id), fmt.Sprintf(format, args...))
}

func (w *pageWalker) walk(id uint64) {
	if id < 2 || id >= w.hwm {
		w.bad(id, "referenced, but outside the file's %d pages", w.hwm)
		return
	}
	if w.seen[id] {
		w.bad(id, "reached twice (a loop or a shared page)")
		return
	}
	w.seen[id] = true
	hdr := make([]byte, pageHeaderLen)
	if _, err := w.f.ReadAt(hdr, int64(id*w.pageSize)); err != nil {
		w.bad(id, "unreadable: %v", err)
		return
	}
	overflow := uint64(binary.NativeEndian.Uint32(hdr[12:16]))
	if id+overflow >= w.hwm {
		w.bad(id, "overflows past the file's %d pages", w.hwm)
		return
	}
	for i := uint64(1); i <= overflow; i++ {
		w.seen[id+i] = true
	}
	buf := make([]byte, (overflow+1)*w.pageSize)
	if _, err := w.f.ReadAt(buf, int64(id*w.pageSize)); err != nil {
		w.bad(id, "unreadable: %v", err)
		return
	}
	w.node(id, buf, false)
}

// node checks one page image (a file page or an inline bucket's page).
func (w *pageWalker) node(id uint64, p []byte, inline bool) {
	flags := binary.NativeEndian.Uint16(p[8:10])
	count := uint64(binary.NativeEndian.Uint16(p[10:12]))
	size := uint64(len(p))
	if pageHeaderLen+count*pageElemLen > size {
		w.bad(id, "%d elements do not fit in %d bytes", count, size)
		return
	}
	switch {
	case flags == branchPageFlag && !inline:
		for i := range count {
			off := pageHeaderLen + i*pageElemLen
			e := p[off : off+pageElemLen]
			pos, ksize := uint64(binary.NativeEndian.Uint32(e[0:4])), uint64(binary.NativeEndian.Uint32(e[4:8]))
			if off+pos+ksize > size {
				w.bad(id, "branch element %d points outside the page", i)
				return
			}
		}
		for i := range count {
			off := pageHeaderLen + i*pageElemLen
			w.walk(binary.NativeEndian.Uint64(p[off+8 : off+16]))
		}
	case flags == leafPageFlag:
		for i := range count {
			off := pageHeaderLen + i*pageElemLen
			e := p[off : off+pageElemLen]
			eflags := binary.NativeEndian.Uint32(e[0:4])
			pos := uint64(binary.NativeEndian.Uint32(e[4:8]))
			ksize := uint64(binary.NativeEndian.Uint32(e[8:12]))
			vsize := uint64(binary.NativeEndian.Uint32(e[12:16]))
			end := off + pos + ksize + vsize
			if end > size {
				w.bad(id, "leaf element %d points outside the page", i)
				return
			}
			if eflags&bucketLeafFlag == 0 {
				continue
			}
			v := p[off+pos+ksize : end]
			if len(v) < bucketHeaderLen {
				w.bad(id, "bucket element %d is %d bytes, shorter than a bucket header", i, len(v))
				return
			}
			if root := binary.NativeEndian.Uint64(v[0:8]); root != 0 {
				w.walk(root)
			} else if len(v) < bucketHeaderLen+pageHeaderLen {
				w.bad(id, "inline bucket element %d is too short for a page", i)
				return
			} else {
				w.node(id, v[bucketHeaderLen:], true)
			}
		}
	default:
		w.bad(id, "type %#x where a branch or leaf page belongs", flags)
	}
}

// Meta page fields, after the page header: magic, version, pageSize,
// flags (uint32 each), root bucket {root, sequence}, freelist, pgid (the
// high-water mark), txid, checksum (uint64 each).
const (
	metaRootOff     = pageHeaderLen + 16
	metaFreelistOff = pageHeaderLen + 32
	metaPgidOff     = pageHeaderLen + 40
	metaTxidOff     = pageHeaderLen + 48
	freelistFlag    = 0x10
	noFreelist      = ^uint64(0)
)

// freelist checks the freelist page named by the meta page in use (the one
// whose root and high-water mark are the transaction's): bbolt's check
// marks its pages reachable in a loop bounded only by the page's overflow.
func (w *pageWalker) freelist(root uint64) {
	var (
		best   uint64
		bestTx uint64
		found  bool
	)
	for m := uint64(0); m < 2; m++ {
		buf := make([]byte, metaTxidOff+8)
		if _, err := w.f.ReadAt(buf, int64(m*w.pageSize)); err != nil {
			continue
		}
		if binary.NativeEndian.Uint64(buf[metaRootOff:]) != root || binary.NativeEndian.Uint64(buf[metaPgidOff:]) != w.hwm {
			continue
		}
		if tx := binary.NativeEndian.Uint64(buf[metaTxidOff:]); !found || tx > bestTx {
			best, bestTx, found = binary.NativeEndian.Uint64(buf[metaFreelistOff:]), tx, true
		}
	}
	if !found {
		w.bad(0, "no meta page describes the tree being checked")
		return
	}
	if best == noFreelist {
		return
	}
	if best < 2 || best >= w.hwm {
		w.bad(best, "the freelist page is outside the file's %d pages", w.hwm)
		return
	}
	hdr := make([]byte, pageHeaderLen)
	if _, err := w.f.ReadAt(hdr, int64(best*w.pageSize)); err != nil {
		w.bad(best, "unreadable freelist page: %v", err)
		return
	}
	if flags := binary.NativeEndian.Uint16(hdr[8:10]); flags != freelistFlag {
		w.bad(best, "type %#x where the freelist page belongs", flags)
	}
	if overflow := uint64(binary.NativeEndian.Uint32(hdr[12:16])); best+overflow >= w.hwm {
		w.bad(best, "the freelist overflows past the file's %d pages", w.hwm)
	}
}

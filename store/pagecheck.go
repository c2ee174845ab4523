package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
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
//
// With lazy set, a bucket that is not inline and whose path (bucket names
// from the root) lazy accepts is not walked: only its root page number is
// checked. Open walks that way and the reads that open such a bucket check
// it then (see Archive.vetBucket).
type pageWalker struct {
	f        *os.File
	pageSize uint64
	hwm      uint64
	seen     map[uint64]bool
	problems int
	add      func(where, what string)
	lazy     func(path []string) bool
	path     []string
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
			w.path = append(w.path, string(p[off+pos:off+pos+ksize]))
			root := binary.NativeEndian.Uint64(v[0:8])
			switch {
			case root != 0 && w.lazy != nil && w.lazy(w.path):
				if root < 2 || root >= w.hwm {
					w.bad(root, "referenced, but outside the file's %d pages", w.hwm)
				}
			case root != 0:
				w.walk(root)
			case len(v) < bucketHeaderLen+pageHeaderLen:
				w.bad(id, "inline bucket element %d is too short for a page", i)
				return
			default:
				w.node(id, v[bucketHeaderLen:], true)
			}
			w.path = w.path[:len(w.path)-1]
		}
	default:
		w.bad(id, "type %#x where a branch or leaf page belongs", flags)
	}
}

// Meta page fields, after the page header: magic, version, pageSize,
// flags (uint32 each), root bucket {root, sequence}, freelist, pgid (the
// high-water mark), txid, checksum (uint64 each); the checksum is FNV-64a
// over the fields before it.
const (
	metaMagic       = 0xED0CDAED
	metaVersion     = 2
	metaRootOff     = pageHeaderLen + 16
	metaFreelistOff = pageHeaderLen + 32
	metaPgidOff     = pageHeaderLen + 40
	metaTxidOff     = pageHeaderLen + 48
	metaSumOff      = pageHeaderLen + 56
	metaLen         = metaSumOff + 8
	freelistFlag    = 0x10
	noFreelist      = ^uint64(0)
)

type metaInfo struct {
	valid                      bool
	pageSize                   uint64
	root, freelist, pgid, txid uint64
}

func parseMeta(b []byte) metaInfo {
	if len(b) < metaLen {
		return metaInfo{}
	}
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[pageHeaderLen:metaSumOff])
	return metaInfo{
		valid: ne.Uint32(b[pageHeaderLen:]) == metaMagic && ne.Uint32(b[pageHeaderLen+4:]) == metaVersion &&
			h.Sum64() == ne.Uint64(b[metaSumOff:]),
		pageSize: uint64(ne.Uint32(b[pageHeaderLen+8:])),
		root:     ne.Uint64(b[metaRootOff:]),
		freelist: ne.Uint64(b[metaFreelistOff:]),
		pgid:     ne.Uint64(b[metaPgidOff:]),
		txid:     ne.Uint64(b[metaTxidOff:]),
	}
}

func readMeta(f *os.File, off int64) metaInfo {
	buf := make([]byte, metaLen)
	if _, err := f.ReadAt(buf, off); err != nil {
		return metaInfo{}
	}
	return parseMeta(buf)
}

// activeMeta finds the meta page bbolt will use, the way bbolt does: the
// page size from the first valid meta page (probing 1 KiB .. 16 MiB for
// the second), then of the two meta pages the one with the higher txid if
// valid, else the other if valid.
func activeMeta(f *os.File, size int64) (metaInfo, bool) {
	pageSize := uint64(os.Getpagesize())
	if m := readMeta(f, 0); m.valid {
		pageSize = m.pageSize
	} else {
		for i := 0; i <= 14; i++ {
			pos := int64(1024) << i
			if pos >= size-1024 {
				break
			}
			if m := readMeta(f, pos); m.valid {
				pageSize = m.pageSize
				break
			}
		}
	}
	if pageSize < 1024 || pageSize > 1<<24 {
		return metaInfo{}, false
	}
	m0, m1 := readMeta(f, 0), readMeta(f, int64(pageSize))
	m0.pageSize, m1.pageSize = pageSize, pageSize
	a, b := m0, m1
	if m1.txid > m0.txid {
		a, b = m1, m0
	}
	switch {
	case a.valid:
		return a, true
	case b.valid:
		return b, true
	}
	return metaInfo{}, false
}

// freelistProblem checks that the freelist page of m lies inside the file
// and that its count fits the page. bbolt reads the list with the count as
// given, so a damaged count would make it copy (and allocate) far beyond
// the page.
func freelistProblem(f *os.File, m metaInfo, size int64) string {
	if m.freelist == noFreelist {
		return ""
	}
	ps := m.pageSize
	if m.freelist < 2 || m.freelist >= m.pgid || (m.freelist+1)*ps > uint64(size) {
		return fmt.Sprintf("the free-page list (page %d) is outside the file", m.freelist)
	}
	hdr := make([]byte, pageHeaderLen+8)
	if _, err := f.ReadAt(hdr, int64(m.freelist*ps)); err != nil {
		return fmt.Sprintf("the free-page list (page %d) is unreadable: %v", m.freelist, err)
	}
	ne := binary.NativeEndian
	if flags := ne.Uint16(hdr[8:10]); flags != freelistFlag {
		return fmt.Sprintf("page %d is of type %#x where the free-page list belongs", m.freelist, flags)
	}
	span := (uint64(ne.Uint32(hdr[12:16])) + 1) * ps
	if m.freelist*ps+span > uint64(size) || m.freelist+span/ps > m.pgid {
		return fmt.Sprintf("the free-page list (page %d) overflows past the end of the file", m.freelist)
	}
	need := pageHeaderLen + 8*uint64(ne.Uint16(hdr[10:12]))
	if ne.Uint16(hdr[10:12]) == 0xFFFF {
		n := ne.Uint64(hdr[pageHeaderLen:])
		if n > span/8 {
			return fmt.Sprintf("the free-page list (page %d) claims %d entries", m.freelist, n)
		}
		need = pageHeaderLen + 8 + 8*n
	}
	if need > span {
		return fmt.Sprintf("the free-page list (page %d) claims more entries than fit in it", m.freelist)
	}
	return ""
}

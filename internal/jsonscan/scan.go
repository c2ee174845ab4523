// Package jsonscan is a small JSON scanner for hot paths: it checks the
// syntax of a text once and hands out the exact byte ranges of object
// members and array elements, so that every record is decoded from its own
// bytes without first being copied out by encoding/json. remote decodes
// pages with it; store checks every resource it is given with Valid. It
// accepts exactly what json.Valid accepts (FuzzValid checks this):
// strings may hold invalid UTF-8 (decoding replaces it) but no control
// characters, and values nest at most MaxDepth deep. It checks a message
// resource about 2.7 times as fast as json.Valid (BenchmarkValid: 1.0
// GB/s against 0.37), skipping the plain bytes of a string eight at a
// time.
package jsonscan

import (
	"encoding/binary"
	"errors"
)

// MaxDepth is encoding/json's nesting limit.
const MaxDepth = 10000

// ErrSyntax is the error of a text that is not JSON.
var ErrSyntax = errors.New("invalid JSON")

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	return i
}

// ScanValue returns the end of the value starting at d[i] (no leading
// space), checking its syntax. depth is the nesting level of the value's
// container (0 at the top).
func ScanValue(d []byte, i, depth int) (int, error) {
	if i >= len(d) {
		return 0, ErrSyntax
	}
	switch c := d[i]; {
	case c == '"':
		end, _, err := ScanString(d, i)
		return end, err
	case c == '{' || c == '[':
		it := NewIter(d, i, depth+1)
		for it.Next() {
		}
		return it.End, it.Err
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(d, i)
	case c == 't':
		return scanLiteral(d, i, "true")
	case c == 'f':
		return scanLiteral(d, i, "false")
	case c == 'n':
		return scanLiteral(d, i, "null")
	}
	return 0, ErrSyntax
}

// Bytes repeated in each byte of a word, for plainWord.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of the 8 bytes of x (read from a string's
// contents) is '"', '\\' or a control character, so the scanner can skip
// all 8 at once. (x-ones)&^x&highs is non-zero exactly when some byte of x
// is zero; the same with ones*0x20 when some byte is below 0x20.
func plainWord(x uint64) bool {
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q|(b-ones)&^b|(x-ones*0x20)&^x)&highs == 0
}

// ScanString returns the end of the string starting at d[i] == '"' and
// whether it holds escape sequences.
func ScanString(d []byte, i int) (end int, escaped bool, err error) {
	for i++; ; {
		for i+8 <= len(d) && plainWord(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			return 0, false, ErrSyntax
		}
		switch c := d[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				return 0, false, ErrSyntax
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return 0, false, ErrSyntax
				}
				i += 6
			default:
				return 0, false, ErrSyntax
			}
		case c < 0x20:
			return 0, false, ErrSyntax
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber returns the end of the number starting at d[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(d []byte, i int) (int, error) {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	default:
		return 0, ErrSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return 0, ErrSyntax
		}
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return 0, ErrSyntax
		}
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	return i, nil
}

func scanLiteral(d []byte, i int, lit string) (int, error) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// Iter walks the members of the object, or the elements of the array,
// starting at d[i], checking the syntax of everything in it. After Next
// returns false, Err tells whether the value was valid and End is the
// index after its closing bracket.
type Iter struct {
	d     []byte
	I     int // where the scan is: the start of the value Next stopped at
	depth int
	close byte // '}' or ']'

	Key     []byte // object member's name, quotes included
	Escaped bool   // Key holds escape sequences
	Val     []byte // the member's value or the element, without space around

	// Lazy: Next stops at the start of each value (I) without scanning
	// it; the caller scans it with Value, or reads it itself and calls
	// Resume.
	Lazy    bool
	pending bool

	started bool
	End     int
	Err     error
}

// NewIter walks the object or array at d[i], at nesting level depth (1 at
// the top).
func NewIter(d []byte, i, depth int) Iter {
	it := Iter{d: d, I: i, depth: depth}
	if i < len(d) && d[i] == '{' {
		it.close = '}'
	} else if i < len(d) && d[i] == '[' {
		it.close = ']'
	}
	return it
}

// Next moves to the next member or element, reporting whether there is
// one.
func (it *Iter) Next() bool {
	if it.pending && !it.Value() {
		return false
	}
	if it.Err != nil || it.End > 0 {
		return false
	}
	d := it.d
	i := it.I
	if !it.started {
		it.started = true
		if it.depth > MaxDepth || it.close == 0 {
			return it.fail()
		}
		i = SkipSpace(d, i+1)
		if i < len(d) && d[i] == it.close {
			it.End = i + 1
			return false
		}
	} else {
		i = SkipSpace(d, i)
		if i >= len(d) {
			return it.fail()
		}
		switch d[i] {
		case it.close:
			it.End = i + 1
			return false
		case ',':
			i = SkipSpace(d, i+1)
		default:
			return it.fail()
		}
	}
	if it.close == '}' {
		if i >= len(d) || d[i] != '"' {
			return it.fail()
		}
		kend, esc, err := ScanString(d, i)
		if err != nil {
			return it.fail()
		}
		it.Key, it.Escaped = d[i:kend], esc
		i = SkipSpace(d, kend)
		if i >= len(d) || d[i] != ':' {
			return it.fail()
		}
		i = SkipSpace(d, i+1)
	}
	it.I = i
	if it.Lazy {
		it.Val, it.pending = nil, true
		return true
	}
	return it.Value()
}

// Value scans the value at it.I (see Lazy) and sets it.Val.
func (it *Iter) Value() bool {
	it.pending = false
	end, err := ScanValue(it.d, it.I, it.depth)
	if err != nil {
		return it.fail()
	}
	it.Resume(end)
	return true
}

// Resume records that the value at it.I, read by the caller, ends at end.
func (it *Iter) Resume(end int) {
	it.Val, it.I, it.pending = it.d[it.I:end], end, false
}

func (it *Iter) fail() bool {
	it.Err = ErrSyntax
	return false
}

// Valid reports whether d is one JSON value with optional surrounding
// space, like json.Valid.
func Valid(d []byte) bool {
	i := SkipSpace(d, 0)
	end, err := ScanValue(d, i, 0)
	return err == nil && SkipSpace(d, end) == len(d)
}

package remote

import (
	"encoding/binary"
	"errors"
)

// A small JSON scanner for the hot path of decoding pages: it checks the
// syntax of an answer once and hands out the exact byte ranges of object
// members and array elements, so that every record is decoded from its own
// bytes without first being copied out by encoding/json. It accepts exactly
// what json.Valid accepts (FuzzScanner checks this): strings may hold
// invalid UTF-8 (decoding replaces it) but no control characters, and
// values nest at most maxDepth deep.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

var errSyntax = errors.New("invalid JSON")

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	return i
}

// scanValue returns the end of the value starting at d[i] (no leading
// space), checking its syntax. depth is the nesting level of the value's
// container (0 at the top).
func scanValue(d []byte, i, depth int) (int, error) {
	if i >= len(d) {
		return 0, errSyntax
	}
	switch c := d[i]; {
	case c == '"':
		end, _, err := scanString(d, i)
		return end, err
	case c == '{' || c == '[':
		it := newIter(d, i, depth+1)
		for it.next() {
		}
		return it.end, it.err
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(d, i)
	case c == 't':
		return scanLiteral(d, i, "true")
	case c == 'f':
		return scanLiteral(d, i, "false")
	case c == 'n':
		return scanLiteral(d, i, "null")
	}
	return 0, errSyntax
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

// scanString returns the end of the string starting at d[i] == '"' and
// whether it holds escape sequences.
func scanString(d []byte, i int) (end int, escaped bool, err error) {
	for i++; ; {
		for i+8 <= len(d) && plainWord(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			return 0, false, errSyntax
		}
		switch c := d[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				return 0, false, errSyntax
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return 0, false, errSyntax
				}
				i += 6
			default:
				return 0, false, errSyntax
			}
		case c < 0x20:
			return 0, false, errSyntax
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
		return 0, errSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return 0, errSyntax
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
			return 0, errSyntax
		}
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	return i, nil
}

func scanLiteral(d []byte, i int, lit string) (int, error) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

// scanIter walks the members of the object, or the elements of the array,
// starting at d[i], checking the syntax of everything in it. After next
// returns false, err tells whether the value was valid and end is the
// index after its closing bracket.
type scanIter struct {
	d     []byte
	i     int
	depth int
	close byte // '}' or ']'

	key     []byte // object member's name, quotes included
	escaped bool   // key holds escape sequences
	val     []byte // the member's value or the element, without space around

	// lazy: next stops at the start of each value (it.i) without scanning
	// it; the caller scans it with value, or reads it itself and calls
	// resume.
	lazy    bool
	pending bool

	started bool
	end     int
	err     error
}

// newIter walks the object or array at d[i], at nesting level depth (1 at
// the top).
func newIter(d []byte, i, depth int) scanIter {
	it := scanIter{d: d, i: i, depth: depth}
	if i < len(d) && d[i] == '{' {
		it.close = '}'
	} else if i < len(d) && d[i] == '[' {
		it.close = ']'
	}
	return it
}

func (it *scanIter) next() bool {
	if it.pending && !it.value() {
		return false
	}
	if it.err != nil || it.end > 0 {
		return false
	}
	d := it.d
	i := it.i
	if !it.started {
		it.started = true
		if it.depth > maxDepth || it.close == 0 {
			return it.fail()
		}
		i = skipSpace(d, i+1)
		if i < len(d) && d[i] == it.close {
			it.end = i + 1
			return false
		}
	} else {
		i = skipSpace(d, i)
		if i >= len(d) {
			return it.fail()
		}
		switch d[i] {
		case it.close:
			it.end = i + 1
			return false
		case ',':
			i = skipSpace(d, i+1)
		default:
			return it.fail()
		}
	}
	if it.close == '}' {
		if i >= len(d) || d[i] != '"' {
			return it.fail()
		}
		kend, esc, err := scanString(d, i)
		if err != nil {
			return it.fail()
		}
		it.key, it.escaped = d[i:kend], esc
		i = skipSpace(d, kend)
		if i >= len(d) || d[i] != ':' {
			return it.fail()
		}
		i = skipSpace(d, i+1)
	}
	it.i = i
	if it.lazy {
		it.val, it.pending = nil, true
		return true
	}
	return it.value()
}

// value scans the value at it.i (see lazy) and sets it.val.
func (it *scanIter) value() bool {
	it.pending = false
	end, err := scanValue(it.d, it.i, it.depth)
	if err != nil {
		return it.fail()
	}
	it.resume(end)
	return true
}

// resume records that the value at it.i, read by the caller, ends at end.
func (it *scanIter) resume(end int) {
	it.val, it.i, it.pending = it.d[it.i:end], end, false
}

func (it *scanIter) fail() bool {
	it.err = errSyntax
	return false
}

// validJSON reports whether d is one JSON value with optional surrounding
// space, like json.Valid.
func validJSON(d []byte) bool {
	i := skipSpace(d, 0)
	end, err := scanValue(d, i, 0)
	return err == nil && skipSpace(d, end) == len(d)
}

package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/chatvault/chatvault/internal/jsonscan"
)

// resource is implemented by the pointers to the API's resource types, so the
// decoding and paging code is written once for all of them.
type resource[T any] interface {
	*T
	setRaw(json.RawMessage)
}

func (s *Service) setRaw(b json.RawMessage) { s.Raw = b }
func (r *Role) setRaw(b json.RawMessage)    { r.Raw = b }
func (u *User) setRaw(b json.RawMessage)    { u.Raw = b }
func (c *Channel) setRaw(b json.RawMessage) { c.Raw = b }
func (m *Member) setRaw(b json.RawMessage)  { m.Raw = b }
func (m *Message) setRaw(b json.RawMessage) { m.Raw = b }

// decodeObject decodes one JSON object and keeps data as its Raw. data must
// not be shared with anything else: Raw aliases it (capped, so appending to
// Raw never writes into the bytes after it).
func decodeObject[T any, P resource[T]](data []byte) (*T, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("expected a JSON object")
	}
	v := new(T)
	if end, ok := decodeFields(any(v), data, 0, 1); !ok || end != len(data) {
		// Not a shape the fast path handles (or not valid at all): let
		// encoding/json decode it, or say what is wrong with it.
		*v = *new(T)
		if err := json.Unmarshal(data, v); err != nil {
			return nil, err
		}
	}
	P(v).setRaw(json.RawMessage(data[:len(data):len(data)]))
	return v, nil
}

// decodeFields decodes the object data into *v, a struct, member by
// member, without encoding/json's reflection over the whole object: the
// scanner hands out each member's bytes and the field's own type decodes
// them (fieldOf). It reports false, leaving v partly written, when the
// object is not simple enough to be sure of decoding it as json.Unmarshal
// does: a member name with escapes, or one matching a field only without
// regard to case, a field given twice, a value of an unexpected type, or a
// syntax error. json.Unmarshal then decides.
//
// The object starts at d[i], at nesting level depth; end is the index after
// it.
func decodeFields(v any, d []byte, i, depth int) (end int, ok bool) {
	rv := reflect.ValueOf(v).Elem()
	fs := fieldsOf(rv.Type())
	if fs == nil || i >= len(d) || d[i] != '{' {
		return 0, false
	}
	var seen uint64
	it := jsonscan.NewIter(d, i, depth)
	for it.Next() {
		name := it.Key[1 : len(it.Key)-1]
		f, ok := fs.byName[string(name)]
		switch {
		case it.Escaped:
			return 0, false
		case !ok:
			if fs.folds(name) {
				return 0, false
			}
			continue
		case seen&(1<<f) != 0:
			return 0, false // encoding/json merges repeated objects: let it
		}
		seen |= 1 << f
		if !decodeField(rv.Field(f).Addr().Interface(), it.Val) {
			return 0, false
		}
	}
	return it.End, it.Err == nil
}

// structFields are the fields of a struct type as encoding/json names them.
type structFields struct {
	byName map[string]int // JSON name → field index
	names  []string
}

var fieldCache sync.Map // reflect.Type → *structFields (nil: not for decodeFields)

// fieldsOf returns t's fields, or nil when decodeFields cannot serve t: not
// a struct, more than 64 fields, embedded fields or the ",string" option.
func fieldsOf(t reflect.Type) *structFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*structFields)
	}
	var fs *structFields
	if t.Kind() == reflect.Struct && t.NumField() <= 64 {
		fs = &structFields{byName: map[string]int{}}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous || strings.Contains(","+opts+",", ",string,") {
				fs = nil
				break
			}
			if !f.IsExported() || tag == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; dup {
				fs = nil // encoding/json's rules for clashing names: let it
				break
			}
			fs.byName[name] = i
			fs.names = append(fs.names, name)
		}
	}
	actual, _ := fieldCache.LoadOrStore(t, fs)
	return actual.(*structFields)
}

// folds reports whether name matches a field's name without regard to
// case, as encoding/json also accepts: bytes.EqualFold, Unicode folding
// included, so "ſid" is "sid".
func (fs *structFields) folds(name []byte) bool {
	for _, n := range fs.names {
		// A folded ASCII letter is 1 to 3 bytes long in UTF-8.
		if len(name) >= len(n) && len(name) <= 3*len(n) && bytes.EqualFold(name, []byte(n)) {
			return true
		}
	}
	return false
}

// decodeField decodes val into the field p points to, as encoding/json
// does: null leaves the field as it is (pointers, slices and maps become
// nil); a value of another type gives false. Types without a case here
// are left to encoding/json for this one value.
func decodeField(p any, val []byte) bool {
	switch p := p.(type) {
	case *string:
		return decString(p, val)
	case *int64:
		return decInt(p, val)
	case *int:
		var n int64
		if !decInt(&n, val) || int64(int(n)) != n {
			return false
		}
		if val[0] != 'n' {
			*p = int(n)
		}
		return true
	case *bool:
		switch val[0] {
		case 'n':
		case 't':
			*p = true
		case 'f':
			*p = false
		default:
			return false
		}
		return true
	case *time.Time:
		return p.UnmarshalJSON(val) == nil // "null" leaves it as it is
	case **int:
		if val[0] == 'n' {
			*p = nil
			return true
		}
		n := new(int)
		if !decodeField(n, val) {
			return false
		}
		*p = n
		return true
	case **time.Time:
		if val[0] == 'n' {
			*p = nil
			return true
		}
		t := new(time.Time)
		if !decodeField(t, val) {
			return false
		}
		*p = t
		return true
	}
	if e := reflect.ValueOf(p).Elem(); val[0] == 'n' && e.Kind() == reflect.Pointer {
		e.SetZero() // encoding/json sets a pointer to nil for null, whatever it points to
		return true
	}
	return json.Unmarshal(val, p) == nil
}

func decString(dst *string, val []byte) bool {
	switch val[0] {
	case 'n':
		return true
	case '"':
		s := val[1 : len(val)-1]
		if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			*dst = string(s)
		} else {
			*dst = unquote(s)
		}
		return true
	}
	return false
}

// decInt decodes an integer, which encoding/json reads with
// strconv.ParseInt (so 1.0 and 1e3 are refused).
func decInt(dst *int64, val []byte) bool {
	if val[0] == 'n' {
		return true
	}
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// unquote decodes the contents of a JSON string whose syntax was checked,
// as encoding/json does: escapes are decoded, and a \u escape of half a
// surrogate pair without its other half, and every byte that is not part
// of valid UTF-8, become U+FFFD.
func unquote(s []byte) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r := hex4(s[i+2:])
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
						r2 = hex4(s[i+8:])
					}
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						b.WriteRune(pair)
						i += 12
						continue
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
				i += 6
				continue
			default: // '"', '\\' and '/' stand for themselves
				b.WriteByte(e)
			}
			i += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.Write(s[i : i+n])
			}
			i += n
		}
	}
	return b.String()
}

// hex4 reads the four hexadecimal digits at the start of s (checked).
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// one sends r and decodes the single resource it answers with. what names
// the resource in errors ("channel").
//
// A write whose 2xx answer cannot be decoded was most likely carried out, but
// the caller cannot know what was created, so it gets an
// *UnknownOutcomeError and reconciles as for a lost answer.
func one[T any, P resource[T]](ctx context.Context, c *Client, r *call, what string) (*T, error) {
	body, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := decodeAs[T, P](r.api, body)
	if err != nil {
		err = &badAnswerError{fmt.Errorf("the answer is not a %s (%w): %s", what, err, r.checkRoot())}
		if r.write() {
			return nil, &UnknownOutcomeError{Method: r.method, Path: r.path, Err: err}
		}
		return nil, r.fail(err)
	}
	return v, nil
}

// badAnswerError is a successful answer that is not the resource asked
// for: whatever sent it was reached, so it is no reason to try another API.
type badAnswerError struct{ err error }

func (e *badAnswerError) Error() string { return e.err.Error() }
func (e *badAnswerError) Unwrap() error { return e.err }

// none sends r and ignores the body of its answer (deletes answer 204).
func none(ctx context.Context, c *Client, r *call) error {
	_, err := c.do(ctx, r)
	return err
}

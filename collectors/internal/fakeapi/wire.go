package fakeapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// WriteJSON encodes v before writing anything (a failure is a plain 500),
// without escaping HTML as the vendors do not, and answers status with it.
// The Content-Type is application/json unless the fake set one.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "fake: encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Offset returns the bounds of the page of n items that starts at offset
// and holds at most limit items, and whether more follow.
func Offset(n, offset, limit int) (lo, hi int, more bool) {
	lo = min(max(offset, 0), n)
	hi = min(lo+max(limit, 0), n)
	return lo, hi, hi < n
}

// Pages reads page-number pagination as GitHub does (per_page, default
// perPage and at most maxPerPage; page from 1), writes the Link header for
// n items and returns the bounds of the requested page.
func Pages(w http.ResponseWriter, r *http.Request, n, perPage, maxPerPage int) (lo, hi int) {
	q := r.URL.Query()
	per := perPage
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, maxPerPage)
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	last := (n + per - 1) / per
	if l := link(r, page, last); l != "" {
		w.Header().Set("Link", l)
	}
	lo = min((page-1)*per, n)
	return lo, min(lo+per, n)
}

// link builds an RFC 8288 Link header as GitHub writes it: prev, next,
// last, first, each only where it applies, at the host the request came to.
func link(r *http.Request, page, last int) string {
	if last <= 1 && page <= 1 {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	at := func(p int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s://%s%s?%s>", scheme, r.Host, r.URL.Path, q.Encode())
	}
	var parts []string
	if page > 1 {
		parts = append(parts, at(min(page-1, max(last, 1)))+`; rel="prev"`)
	}
	if page < last {
		parts = append(parts, at(page+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if page > 1 {
		parts = append(parts, at(1)+`; rel="first"`)
	}
	return strings.Join(parts, ", ")
}

// Cursor is an opaque cursor holding a position, as Slack writes them:
// base64 of "<key>:<position>".
func Cursor(key string, position int64) string {
	return base64.StdEncoding.EncodeToString([]byte(key + ":" + strconv.FormatInt(position, 10)))
}

// ParseCursor reads a Cursor of key; it fails for anything else, and for a
// position that is not positive.
func ParseCursor(key, cursor string) (int64, error) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return 0, fmt.Errorf("cursor is not base64")
	}
	v, ok := strings.CutPrefix(string(b), key+":")
	if !ok {
		return 0, fmt.Errorf("cursor is not a %s cursor", key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cursor holds no position")
	}
	return n, nil
}

// InsertSorted inserts v into s (sorted by less) after every element not
// greater than it, so that seeding in order is an append.
func InsertSorted[T any](s []T, v T, less func(a, b T) bool) []T {
	i := sort.Search(len(s), func(i int) bool { return less(v, s[i]) })
	if i == len(s) {
		return append(s, v)
	}
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// Object is a JSON object whose members keep the order they were given in,
// the order of the vendor's examples. Build it with Obj.
type Object []member

type member struct {
	key   string
	value any
}

// Obj returns the object of the key, value pairs kv (keys are strings). It
// panics on an odd count or a key that is not a string: a fake's bug.
func Obj(kv ...any) Object {
	if len(kv)%2 != 0 {
		panic("fakeapi.Obj: odd number of arguments")
	}
	o := make(Object, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			panic(fmt.Sprintf("fakeapi.Obj: key %v is not a string", kv[i]))
		}
		o = append(o, member{k, kv[i+1]})
	}
	return o
}

// With returns o followed by the pairs kv.
func (o Object) With(kv ...any) Object { return append(o[:len(o):len(o)], Obj(kv...)...) }

// OmitEmpty is v as an Object's value that is left out when v is empty
// (nil, zero, or of length zero), as a field tagged omitempty is.
func OmitEmpty(v any) any {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return omitted{}
	case rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map || rv.Kind() == reflect.String:
		if rv.Len() == 0 {
			return omitted{}
		}
	case rv.IsZero():
		return omitted{}
	}
	return v
}

type omitted struct{}

// MarshalJSON writes the members in order, without escaping HTML.
func (o Object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	n := 0
	for _, m := range o {
		if _, skip := m.value.(omitted); skip {
			continue
		}
		if n++; n > 1 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(m.key); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // the Encoder's newline
		buf.WriteByte(':')
		if err := enc.Encode(m.value); err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

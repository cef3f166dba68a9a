package timeline

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Replacement is what MakeStorable puts in place of a NUL character or of
// bytes that are not UTF-8: U+FFFD, the Unicode replacement character.
const Replacement = "\uFFFD"

// StorableString returns s with every NUL character, and every run of bytes
// that is not valid UTF-8, replaced by Replacement. Postgres keeps neither in
// text or jsonb, and one such character would make a whole write fail. A
// string that needs no change is returned as it is, without allocating.
func StorableString(s string) string {
	if storableString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, Replacement), "\x00", Replacement)
}

func storableString(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// Storable reports whether every string of e (ids, title, text, url, actor
// and every string in details, keys included) can be stored as it is, that
// is whether MakeStorable would leave e unchanged.
func (e Event) Storable() bool {
	for _, s := range []string{e.ID, e.IncidentID, e.Source, e.Kind, e.Title, e.Text, e.URL} {
		if !storableString(s) {
			return false
		}
	}
	if a := e.Actor; a != nil && !(storableString(a.ID) && storableString(a.Name) && storableString(a.Email)) {
		return false
	}
	return storableValue(e.Details)
}

// MakeStorable returns e with every string made storable by StorableString:
// ids, source, kind, title, text, url, the actor's fields and every string
// in details, recursively, map keys included. It never changes e's actor or
// details in place: a part that needs a change is copied. Every normaliser
// applies it, and the store applies it again before writing, so that no
// upstream content can make an event unstorable.
func MakeStorable(e Event) Event {
	if e.Storable() {
		return e
	}
	e.ID = StorableString(e.ID)
	e.IncidentID = StorableString(e.IncidentID)
	e.Source = StorableString(e.Source)
	e.Kind = StorableString(e.Kind)
	e.Title = StorableString(e.Title)
	e.Text = StorableString(e.Text)
	e.URL = StorableString(e.URL)
	if a := e.Actor; a != nil {
		e.Actor = &Actor{ID: StorableString(a.ID), Name: StorableString(a.Name), Email: StorableString(a.Email)}
	}
	if !storableValue(e.Details) {
		e.Details, _ = storableCopy(e.Details).(map[string]any)
	}
	return e
}

// storableValue reports whether every string in v is storable. Values of
// types other than those normalisers build are judged by their JSON, which
// is how the store writes them.
func storableValue(v any) bool {
	switch x := v.(type) {
	case nil, bool, int, int32, int64, float64:
		return true
	case string:
		return storableString(x)
	case []string:
		for _, s := range x {
			if !storableString(s) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !storableValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range x {
			if !storableString(k) || !storableValue(e) {
				return false
			}
		}
		return true
	case map[string]string:
		for k, s := range x {
			if !storableString(k) || !storableString(s) {
				return false
			}
		}
		return true
	case []map[string]any:
		for _, m := range x {
			if !storableValue(m) {
				return false
			}
		}
		return true
	default:
		// encoding/json already replaces invalid UTF-8; only NUL remains.
		b, err := json.Marshal(x)
		return err != nil || !bytes.Contains(b, []byte(`\u0000`))
	}
}

// storableCopy returns v, or a copy of it with every string made storable
// when it has one that is not.
func storableCopy(v any) any {
	if storableValue(v) {
		return v
	}
	switch x := v.(type) {
	case string:
		return StorableString(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = StorableString(s)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = storableCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[StorableString(k)] = storableCopy(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, s := range x {
			out[StorableString(k)] = StorableString(s)
		}
		return out
	case []map[string]any:
		out := make([]map[string]any, len(x))
		for i, m := range x {
			out[i], _ = storableCopy(m).(map[string]any)
		}
		return out
	default:
		// Another type holding a NUL: rebuild it from its JSON as plain
		// maps and slices, which store as the same JSON.
		b, err := json.Marshal(x)
		if err != nil {
			return v
		}
		var plain any
		if err := json.Unmarshal(b, &plain); err != nil {
			return v
		}
		return storableCopy(plain)
	}
}

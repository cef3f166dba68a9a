package timeline

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Cursors are opaque to clients and tamper-evident: the payload is signed
// with an HMAC key that only the servers know, so a client can neither forge
// a position nor read one from another query.

// CursorCodec signs and verifies cursors.
type CursorCodec struct {
	Key []byte
}

type cursorPayload struct {
	Scope string `json:"s"`
	T     string `json:"t"`
	ID    string `json:"i"`
}

// ErrBadCursor is returned (wrapped in ErrInvalid) for a cursor that is
// malformed, forged, or belongs to another query.
var ErrBadCursor = errors.New("cursor is malformed or was not issued for this query")

// Encode returns an opaque cursor for position (t, id) within scope (for
// example "timeline:INC1").
func (c CursorCodec) Encode(scope string, t time.Time, id string) string {
	b, _ := json.Marshal(cursorPayload{Scope: scope, T: t.UTC().Format(time.RFC3339Nano), ID: id})
	mac := c.mac(b)
	return base64.RawURLEncoding.EncodeToString(append(mac, b...))
}

// Decode verifies a cursor issued for scope and returns its position.
func (c CursorCodec) Decode(scope, s string) (time.Time, string, error) {
	bad := fmt.Errorf("%w: %w", ErrInvalid, ErrBadCursor)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= sha256.Size {
		return time.Time{}, "", bad
	}
	mac, b := raw[:sha256.Size], raw[sha256.Size:]
	if !hmac.Equal(mac, c.mac(b)) {
		return time.Time{}, "", bad
	}
	var p cursorPayload
	if err := json.Unmarshal(b, &p); err != nil || p.Scope != scope {
		return time.Time{}, "", bad
	}
	t, err := time.Parse(time.RFC3339Nano, p.T)
	if err != nil {
		return time.Time{}, "", bad
	}
	return t, p.ID, nil
}

func (c CursorCodec) mac(b []byte) []byte {
	h := hmac.New(sha256.New, c.Key)
	h.Write(b)
	return h.Sum(nil)
}

package collectors

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/timeline"
)

// What receivers share: the time of a delivery, the refusals they write for
// senders, HMAC signatures and strict JSON. The api uses the same texts for
// its own callers.

type receivedAtKey struct{}

// WithReceivedAt returns ctx carrying t, the time a delivery was received
// by the server's clock. The api sets it on the context of every Receive.
func WithReceivedAt(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, receivedAtKey{}, t)
}

// ReceivedAt returns the time the delivery being received under ctx arrived,
// by the server's clock (which tests set), or time.Now when ctx carries
// none. A receiver checks a sender's timestamp against it (a replay window)
// and dates by it what the sender does not date.
func ReceivedAt(ctx context.Context) time.Time {
	if t, ok := ctx.Value(receivedAtKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// NotConfigured refuses every delivery of a receiver whose credentials are
// not set, naming the key that sets them.
func NotConfigured(receiver, key string) error {
	return Refuse(ErrNotConfigured, "the %s webhook is not configured: set %s", receiver, key)
}

// Unauthenticated refuses a delivery whose signature or credentials are
// missing or wrong; msg says which, never what was expected.
func Unauthenticated(msg string) error { return Refuse(ErrUnauthenticated, "%s", msg) }

// Malformed refuses a body that is not what the sender sends. An error among
// args is replaced by ClientText, so that no Go type name or error chain
// reaches the sender.
func Malformed(format string, args ...any) error {
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = ClientText(err)
		}
	}
	return Refuse(ErrMalformed, format, args...)
}

// HMACSHA256 returns the HMAC-SHA256 under secret of the parts of msg,
// concatenated.
func HMACSHA256(secret Secret, msg ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(secret.Value()))
	for _, b := range msg {
		m.Write(b)
	}
	return m.Sum(nil)
}

// VerifyHex reports whether sig, prefix and then the MAC in hex (such as
// "sha256=…"), is the MAC want, in constant time.
func VerifyHex(sig, prefix string, want []byte) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), prefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	return err == nil && hmac.Equal(got, want)
}

// VerifyHubSignature checks a signature header of the form "sha256=<hex>"
// over body (GitHub's X-Hub-Signature-256, the generic hook's
// X-Groundwork-Signature), refusing a missing or wrong one by the header's
// name.
func VerifyHubSignature(header, sig string, secret Secret, body []byte) error {
	if sig == "" {
		return Unauthenticated("missing " + header)
	}
	if !VerifyHex(sig, "sha256=", HMACSHA256(secret, body)) {
		return Unauthenticated(header + " does not match the body")
	}
	return nil
}

// FirstNonEmpty returns the first of ss that is not empty.
func FirstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// DecodeStrict decodes one JSON object, refusing unknown fields and naming
// the field that is wrong (ErrMalformed).
func DecodeStrict(body []byte, v any) error {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		return Malformed("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Malformed("%s", JSONProblem(err))
	}
	if dec.More() {
		return Malformed("the body holds more than one JSON value")
	}
	return nil
}

// ParseBodyTime parses the RFC 3339 time v of a body's field, in UTC; an
// empty v is nil, or refused when required (ErrMalformed).
func ParseBodyTime(field, v string, required bool) (*time.Time, error) {
	if v == "" {
		if required {
			return nil, Malformed("%s: required", field)
		}
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, Malformed("%s: must be an RFC 3339 time such as 2026-11-20T09:00:00Z, got %s", field, Quote(v))
	}
	t = t.UTC()
	return &t, nil
}

// maxEcho is how much of a caller's value a message repeats.
const maxEcho = 64

// Quote quotes a value a caller sent for a message, cut to 64 bytes (on a
// rune boundary) so that a 10,000-character value is not sent back whole.
func Quote(s string) string {
	if len(s) <= maxEcho {
		return fmt.Sprintf("%q", s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}

// InvalidDetail is the detail of a timeline.ErrInvalid, without its prefix.
// The domain writes those details for the caller (they name the field).
func InvalidDetail(err error) string {
	return strings.TrimPrefix(err.Error(), timeline.ErrInvalid.Error()+": ")
}

// JSONProblem describes what is wrong with a JSON body in the caller's
// terms: JSON types and field paths, never Go's type names.
func JSONProblem(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the value"
		}
		want := jsonKind(typeErr.Type)
		got, literal, _ := strings.Cut(typeErr.Value, " ")
		if got == "bool" {
			got = "boolean"
		}
		if got == want {
			return fmt.Sprintf("%s: %s is out of range or not a whole number", field, Quote(literal))
		}
		return fmt.Sprintf("%s: must be a JSON %s, not a %s", field, want, got)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the body is not valid JSON: it ends too early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + Quote(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	case errors.As(err, &timeErr):
		return "a time is not RFC 3339: " + Quote(timeErr.Value)
	}
	return "the body is not valid JSON"
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "value"
}

// ClientText is what a caller may read of err, an error about its input: a
// JSON decoding error described in JSON terms, the detail of a
// timeline.ErrInvalid, and of any other error nothing but a generic phrase.
func ClientText(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.As(err, &typeErr), errors.Is(err, io.ErrUnexpectedEOF):
		return JSONProblem(err)
	case errors.Is(err, timeline.ErrInvalid):
		return InvalidDetail(err)
	}
	return "it cannot be read"
}

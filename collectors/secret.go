package collectors

import (
	"fmt"
	"reflect"
	"strings"
)

// Redacted is what a Secret prints as.
const Redacted = "[REDACTED]"

// Secret is a configuration value that must never be printed: a token, a
// password, a signing secret. Every way of printing it (fmt's verbs, JSON,
// YAML, zap) shows "[REDACTED]", or "" when it is empty, so that a printed
// configuration says which secrets are set without showing any. Value
// returns the secret for use. Keep secrets in exported fields: fmt prints
// an unexported field without calling its methods.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format implements fmt.Formatter: every verb prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		_, _ = f.Write([]byte(s.String()))
	}
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.String())), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// SecretsOf returns the value of every non-empty Secret reachable from v
// (struct fields, pointers, maps, slices, interfaces), for scrubbing error
// texts. It finds them by type, so no list is kept by hand.
func SecretsOf(v any) []string {
	var out []string
	var walk func(reflect.Value)
	secretType := reflect.TypeOf(Secret(""))
	walk = func(x reflect.Value) {
		if !x.IsValid() {
			return
		}
		if x.Type() == secretType {
			if s := x.String(); s != "" {
				out = append(out, s)
			}
			return
		}
		switch x.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !x.IsNil() {
				walk(x.Elem())
			}
		case reflect.Struct:
			for i := 0; i < x.NumField(); i++ {
				walk(x.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < x.Len(); i++ {
				walk(x.Index(i))
			}
		case reflect.Map:
			iter := x.MapRange()
			for iter.Next() {
				walk(iter.Value())
			}
		}
	}
	walk(reflect.ValueOf(v))
	return out
}

// HideSecret returns err with every occurrence of secret in its text
// replaced by [REDACTED], keeping its chain for errors.Is and errors.As; err
// itself when its text does not hold the secret (nil stays nil). A source
// passes its client's errors through it with its token, in case a library
// puts a credential in an error.
func HideSecret(err error, secret Secret) error {
	if err == nil || len(secret) < 4 || !strings.Contains(err.Error(), secret.Value()) {
		return err
	}
	return &hiddenError{msg: RedactError(err, secret.Value()), err: err}
}

// hiddenError is an error whose text has a secret redacted.
type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }

// Unwrap returns the error whose text is hidden.
func (e *hiddenError) Unwrap() error { return e.err }

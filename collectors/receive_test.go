package collectors_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
)

// TestReceivedAt: the time the api sets on a delivery's context is the one a
// receiver reads; without it, the receiver reads the wall clock.
func TestReceivedAt(t *testing.T) {
	t.Parallel()
	at := time.Date(2018, 7, 12, 22, 0, 0, 0, time.UTC)
	if got := collectors.ReceivedAt(collectors.WithReceivedAt(context.Background(), at)); !got.Equal(at) {
		t.Errorf("ReceivedAt = %v, want the server's %v", got, at)
	}
	before := time.Now()
	if got := collectors.ReceivedAt(context.Background()); got.Before(before) {
		t.Errorf("ReceivedAt without a server's time = %v, want now", got)
	}
}

// TestVerifyHubSignature: only sha256= and the body's HMAC passes; a
// missing, SHA-1, unprefixed or wrong signature is refused, naming the
// header and never the expected value.
func TestVerifyHubSignature(t *testing.T) {
	t.Parallel()
	const secret = "It's a Secret to Everybody"
	body := []byte("Hello, World!")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	good := hex.EncodeToString(m.Sum(nil))
	// GitHub's documented test vector.
	if good != "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Fatalf("HMAC of the test vector = %s", good)
	}
	for sig, want := range map[string]string{
		"sha256=" + good:      "",
		" sha256=" + good:     "",
		"":                    "missing X-Sig",
		good:                  "X-Sig does not match the body",
		"sha1=" + good:        "X-Sig does not match the body",
		"sha256=" + good[:62]: "X-Sig does not match the body",
		"sha256=zz":           "X-Sig does not match the body",
	} {
		err := collectors.VerifyHubSignature("X-Sig", sig, secret, body)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want it verified", sig, err)
		case want != "" && (!errors.Is(err, collectors.ErrUnauthenticated) || err.Error() != want):
			t.Errorf("%q: %v, want %q (ErrUnauthenticated)", sig, err, want)
		case err != nil && strings.Contains(err.Error(), good):
			t.Errorf("%q: the refusal shows the expected signature", sig)
		}
	}
}

// TestMalformedHidesGoErrors: an error among a refusal's arguments reaches
// the sender as JSON terms (field and JSON types), never as Go's text.
func TestMalformedHidesGoErrors(t *testing.T) {
	t.Parallel()
	var v struct {
		At    time.Time `json:"at"`
		Count int       `json:"count"`
	}
	for body, want := range map[string]string{
		`{"count":"x"}`:     "count: must be a JSON number, not a string",
		`{"at":"tomorrow"}`: `a time is not RFC 3339: "tomorrow"`,
		`{"count":`:         "the body is not valid JSON: unexpected end of JSON input (at byte 9)",
	} {
		err := json.Unmarshal([]byte(body), &v)
		if got := collectors.JSONProblem(err); got != want {
			t.Errorf("JSONProblem(%s) = %q, want %q", body, got, want)
		}
	}
	err := collectors.Malformed("the body is not a beacon: %v", fmt.Errorf("wrapped: %w", errors.New("main.beaconBody: secret detail")))
	if !errors.Is(err, collectors.ErrMalformed) || err.Error() != "the body is not a beacon: it cannot be read" {
		t.Errorf("Malformed = %v, want the generic phrase for an unknown error", err)
	}
	if err := collectors.DecodeStrict([]byte(`{"count":1,"severity":2}`), &v); !errors.Is(err, collectors.ErrMalformed) ||
		err.Error() != `unknown field "severity"` {
		t.Errorf("DecodeStrict with an unknown field: %v", err)
	}
}

// TestHideSecret: a client error holding the token keeps its chain, but not
// the token; one without it is returned as it is.
func TestHideSecret(t *testing.T) {
	t.Parallel()
	const token = "tok-9c1e77"
	cause := &collectors.RateLimitError{Source: "x", RetryAfter: time.Minute}
	err := collectors.HideSecret(fmt.Errorf("GET /?token=%s: %w", token, cause), token)
	var rl *collectors.RateLimitError
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), collectors.Redacted) || !errors.As(err, &rl) {
		t.Errorf("HideSecret = %q (chain kept: %v), want the token redacted and the chain kept", err, errors.As(err, &rl))
	}
	plain := errors.New("connection refused")
	if collectors.HideSecret(plain, token) != plain || collectors.HideSecret(nil, token) != nil {
		t.Error("an error without the secret is not returned as it is")
	}
}

// TestParseHTTPURL: only absolute http(s) URLs with a host pass.
func TestParseHTTPURL(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://api.pagerduty.com": true, "http://127.0.0.1:9090/": true,
		"api.github.com": false, "ftp://x/": false, "http://[::1": false, "https://": false, "": false,
	} {
		u, err := collectors.ParseHTTPURL(raw)
		if (err == nil) != ok || ok && u.String() != raw {
			t.Errorf("ParseHTTPURL(%q) = %v, %v; want ok=%v", raw, u, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", raw)) {
			t.Errorf("ParseHTTPURL(%q): %v does not quote the value", raw, err)
		}
	}
}

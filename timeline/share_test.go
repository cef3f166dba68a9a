package timeline

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestShareCodec(t *testing.T) {
	c := ShareCodec{Key: []byte("0123456789abcdef0123456789abcdef")}
	l := ShareLink{ID: "0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", IncidentID: "Q1CHK42INC7XYZ", ExpiresAt: time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC)}
	tok, err := c.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	got, err := c.Decode(tok)
	if err != nil || got.LinkID != l.ID || got.IncidentID != l.IncidentID || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	// Every single byte changed, a cut, another key: refused.
	for i := 0; i < len(tok); i++ {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := c.Decode(string(b)); !errors.Is(err, ErrBadShareToken) || !errors.Is(err, ErrInvalid) {
			t.Errorf("token altered at %d: %v", i, err)
		}
	}
	for _, bad := range []string{"", tok[:len(tok)-4], tok + "AA", "not base64!", strings.Repeat("A", 2000)} {
		if _, err := c.Decode(bad); !errors.Is(err, ErrBadShareToken) {
			t.Errorf("Decode(%.20q…) = %v", bad, err)
		}
	}
	if _, err := (ShareCodec{Key: []byte("another key")}).Decode(tok); !errors.Is(err, ErrBadShareToken) {
		t.Errorf("another key: %v", err)
	}
	if _, err := (ShareCodec{}).Decode(tok); !errors.Is(err, ErrBadShareToken) {
		t.Errorf("no key: %v", err)
	}
	if _, err := c.Encode(ShareLink{ID: "nope", IncidentID: "X"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode of a link without a UUID: %v", err)
	}
}

func TestShareLinkState(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	revoked := now.Add(-time.Hour)
	for _, tc := range []struct {
		l    ShareLink
		want string
	}{
		{ShareLink{ExpiresAt: now.Add(time.Second)}, ShareActive},
		{ShareLink{ExpiresAt: now}, ShareExpired},
		{ShareLink{ExpiresAt: now.Add(time.Hour), RevokedAt: &revoked}, ShareRevoked},
		{ShareLink{ExpiresAt: now.Add(-time.Hour), RevokedAt: &revoked}, ShareRevoked},
	} {
		if got := tc.l.State(now); got != tc.want {
			t.Errorf("State(%+v) = %s, want %s", tc.l, got, tc.want)
		}
	}
}

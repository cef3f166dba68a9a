package timeline

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Share links let the people in a review meeting open one incident's page
// without an API token. A link is a row of the store (so that it can be
// listed and revoked) and a token that names the row, its incident and its
// expiry, signed with a key only the servers know: a token cannot be forged
// or moved to another incident, and an altered, expired or revoked one is
// refused.

// ShareLink is one read-only link to one incident's page.
type ShareLink struct {
	// ID is assigned by the store (a UUID).
	ID         string
	IncidentID string
	// CreatedBy is the name of the API token that created it.
	CreatedBy string
	CreatedAt time.Time
	// ExpiresAt is when it stops working, to the second.
	ExpiresAt time.Time
	// RevokedAt is when it was revoked, nil while it was not.
	RevokedAt *time.Time
}

// Share link states (ShareLink.State).
const (
	ShareActive  = "active"
	ShareExpired = "expired"
	ShareRevoked = "revoked"
)

// State says whether the link works at now: revoked wins over expired.
func (l ShareLink) State(now time.Time) string {
	switch {
	case l.RevokedAt != nil:
		return ShareRevoked
	case !now.Before(l.ExpiresAt):
		return ShareExpired
	}
	return ShareActive
}

// Limits of a share link's lifetime.
const (
	// DefaultShareLifetime is a link's lifetime when the request names none.
	DefaultShareLifetime = 24 * time.Hour
	// MinShareLifetime and MaxShareLifetime bound the lifetime a request
	// may ask for.
	MinShareLifetime = time.Minute
	MaxShareLifetime = 30 * 24 * time.Hour
)

// ErrShareLinkNotFound is returned for a share link that does not exist (in
// that incident); errors.Is(err, ErrNotFound) holds for it too.
var ErrShareLinkNotFound = fmt.Errorf("share link %w", ErrNotFound)

// ShareStore persists share links. Its methods return ErrNotFound when the
// incident does not exist, ErrShareLinkNotFound for a link that does not
// exist in it, ErrInvalid (wrapped) for input they cannot use and
// ErrUnavailable (wrapped) when the database cannot be reached.
type ShareStore interface {
	// CreateShareLink stores a new link of l.IncidentID, created by
	// l.CreatedBy, expiring at l.ExpiresAt, and returns it with ID and
	// CreatedAt assigned.
	CreateShareLink(ctx context.Context, l ShareLink) (ShareLink, error)
	// ShareLink returns one link of an incident, revoked or not.
	ShareLink(ctx context.Context, incidentID, id string) (ShareLink, error)
	// ShareLinks returns an incident's links, newest first.
	ShareLinks(ctx context.Context, incidentID string) ([]ShareLink, error)
	// RevokeShareLink revokes a link at at and returns it. Revoking a
	// revoked link changes nothing and returns it as it is.
	RevokeShareLink(ctx context.Context, incidentID, id string, at time.Time) (ShareLink, error)
}

// ShareClaims are what a share token says: the link, its incident and its
// expiry.
type ShareClaims struct {
	LinkID     string
	IncidentID string
	ExpiresAt  time.Time
}

// ShareCodec signs and verifies share tokens.
type ShareCodec struct {
	Key []byte
}

// ErrBadShareToken is returned (wrapped in ErrInvalid) for a token that is
// malformed or was altered: its signature does not hold.
var ErrBadShareToken = errors.New("share token is malformed or was altered")

// shareTokenVersion is the first byte of every token, so that a later
// format can be told apart.
const shareTokenVersion = 1

// shareMACSize is how many bytes of the HMAC-SHA256 a token carries.
const shareMACSize = 20

// Encode returns the token of l: URL-safe base64 of version, link id (16
// bytes), expiry (Unix seconds) and incident id, followed by their MAC.
func (c ShareCodec) Encode(l ShareLink) (string, error) {
	id, err := hex.DecodeString(strings.ReplaceAll(l.ID, "-", ""))
	if err != nil || len(id) != 16 {
		return "", fmt.Errorf("%w: share link id %q is not a UUID", ErrInvalid, l.ID)
	}
	if len(c.Key) == 0 {
		return "", errors.New("share codec: no key")
	}
	b := make([]byte, 0, 1+16+8+len(l.IncidentID)+shareMACSize)
	b = append(b, shareTokenVersion)
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.ExpiresAt.Unix()))
	b = append(b, l.IncidentID...)
	b = append(b, c.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Decode verifies a token's signature and returns its claims. It does not
// check the expiry or the store: the caller does both.
func (c ShareCodec) Decode(token string) (ShareClaims, error) {
	bad := fmt.Errorf("%w: %w", ErrInvalid, ErrBadShareToken)
	if len(c.Key) == 0 || len(token) > 1024 {
		return ShareClaims{}, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) <= 1+16+8+shareMACSize || raw[0] != shareTokenVersion {
		return ShareClaims{}, bad
	}
	body, mac := raw[:len(raw)-shareMACSize], raw[len(raw)-shareMACSize:]
	if !hmac.Equal(mac, c.mac(body)) {
		return ShareClaims{}, bad
	}
	id := hex.EncodeToString(body[1:17])
	exp := int64(binary.BigEndian.Uint64(body[17:25]))
	return ShareClaims{
		LinkID:     id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:],
		ExpiresAt:  time.Unix(exp, 0).UTC(),
		IncidentID: string(body[25:]),
	}, nil
}

func (c ShareCodec) mac(b []byte) []byte {
	h := hmac.New(sha256.New, c.Key)
	h.Write([]byte("groundwork share link\x00"))
	h.Write(b)
	return h.Sum(nil)[:shareMACSize]
}

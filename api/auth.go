package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// Scopes a token may hold.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// Token is one bearer token of the api_tokens configuration.
type Token struct {
	Name   string   `yaml:"name"`
	Token  string   `yaml:"token"`
	Scopes []string `yaml:"scopes"`
}

type tokenEntry struct {
	name   string
	hash   [sha256.Size]byte
	scopes map[string]bool
}

func newTokenTable(tokens []Token) []tokenEntry {
	out := make([]tokenEntry, 0, len(tokens))
	for _, t := range tokens {
		if t.Token == "" {
			continue
		}
		e := tokenEntry{name: t.Name, hash: sha256.Sum256([]byte(t.Token)), scopes: map[string]bool{}}
		for _, s := range t.Scopes {
			e.scopes[s] = true
		}
		out = append(out, e)
	}
	return out
}

// tokenNameKey is the context key of the request's token name.
type tokenNameKey struct{}

// tokenName is the name of the token that authenticated r (the author of
// what it writes), "" on a route without auth.
func tokenName(r *http.Request) string {
	name, _ := r.Context().Value(tokenNameKey{}).(string)
	return name
}

// authenticate finds the token of the request and returns r with the
// token's name in its context (see tokenName). It compares against every
// configured token in constant time (over fixed-length hashes), so neither
// the match nor its position leaks through timing.
func (s *Server) authenticate(r *http.Request, scope string) (*http.Request, error) {
	match, err := s.findToken(r, scope)
	if err != nil {
		return r, err
	}
	name := match.name
	if name == "" {
		name = "unnamed token"
	}
	return r.WithContext(context.WithValue(r.Context(), tokenNameKey{}, name)), nil
}

func (s *Server) findToken(r *http.Request, scope string) (*tokenEntry, error) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing bearer token: send Authorization: Bearer <token>"}
	}
	match := s.matchToken(strings.TrimSpace(h[len(prefix):]))
	if match == nil {
		return nil, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "invalid bearer token"}
	}
	if !match.scopes[scope] {
		// The token's name is the operator's, not the caller's: it is
		// logged, not sent.
		s.logger().Info("request refused: the token lacks the scope", zap.String("token", match.name),
			zap.String("scope", scope), zap.String("method", r.Method), zap.String("path", r.URL.Path))
		return nil, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "this token lacks the " + scope + " scope"}
	}
	return match, nil
}

// matchToken returns the configured token equal to raw, or nil, comparing
// with every one in constant time.
func (s *Server) matchToken(raw string) *tokenEntry {
	got := sha256.Sum256([]byte(raw))
	var match *tokenEntry
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(got[:], s.tokens[i].hash[:]) == 1 {
			match = &s.tokens[i]
		}
	}
	return match
}

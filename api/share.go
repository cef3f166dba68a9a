package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// ShareLinkJSON is one share link on the wire. URL, Path and Token come
// only in the answer to POST /v1/incidents/{id}/share: a link is shown once,
// like a token, and a lost one is replaced, not looked up.
type ShareLinkJSON struct {
	ID         string  `json:"id"`
	IncidentID string  `json:"incident_id"`
	CreatedBy  string  `json:"created_by"`
	CreatedAt  string  `json:"created_at"`
	ExpiresAt  string  `json:"expires_at"`
	RevokedAt  *string `json:"revoked_at"`
	// Status is active, expired or revoked.
	Status string `json:"status"`
	URL    string `json:"url,omitempty"`
	Path   string `json:"path,omitempty"`
	Token  string `json:"token,omitempty"`
}

// ShareLinkListJSON is GET /v1/incidents/{id}/share.
type ShareLinkListJSON struct {
	IncidentID string          `json:"incident_id"`
	Links      []ShareLinkJSON `json:"links"`
}

func shareLinkJSON(l timeline.ShareLink, now time.Time) ShareLinkJSON {
	return ShareLinkJSON{ID: l.ID, IncidentID: l.IncidentID, CreatedBy: l.CreatedBy, CreatedAt: formatTime(l.CreatedAt),
		ExpiresAt: formatTime(l.ExpiresAt), RevokedAt: formatTimePtr(l.RevokedAt), Status: l.State(now)}
}

// shareBody is the optional body of POST /v1/incidents/{id}/share.
type shareBody struct {
	// ExpiresIn is a Go duration ("8h", "90m"); ExpiresAt an RFC 3339
	// time. At most one of them.
	ExpiresIn string `json:"expires_in"`
	ExpiresAt string `json:"expires_at"`
}

var errNoShares = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
	Message: "share links cannot be made: the share link store is not configured"}

func (s *Server) sharesEnabled() bool { return s.Shares != nil && len(s.ShareCodec.Key) > 0 }

func (s *Server) routeShares(route func(pattern, scope string, h handlerFunc)) {
	route("POST /v1/incidents/{id}/share", ScopeWrite, s.createShare)
	route("GET /v1/incidents/{id}/share", ScopeRead, s.listShares)
	route("DELETE /v1/incidents/{id}/share/{link}", ScopeWrite, s.revokeShare)
}

// shareExpiry reads the lifetime a request asks for, from now.
func shareExpiry(r *http.Request, now time.Time) (time.Time, error) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return now.Add(timeline.DefaultShareLifetime), nil
	}
	body, err := readBody(r)
	var empty *Error
	if errors.As(err, &empty) && empty.Code == "malformed_body" {
		// An empty body asks for the default, as no body does.
		return now.Add(timeline.DefaultShareLifetime), nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var b shareBody
	if err := decodeStrict(body, &b); err != nil {
		return time.Time{}, err
	}
	limits := fmt.Sprintf("from %s to %s", timeline.MinShareLifetime, timeline.MaxShareLifetime)
	var exp time.Time
	switch {
	case b.ExpiresIn != "" && b.ExpiresAt != "":
		return time.Time{}, malformed("give expires_in or expires_at, not both")
	case b.ExpiresIn != "":
		d, err := time.ParseDuration(b.ExpiresIn)
		if err != nil {
			return time.Time{}, malformed("expires_in: must be a duration such as 8h or 90m, got %s", quoted(b.ExpiresIn))
		}
		exp = now.Add(d)
	case b.ExpiresAt != "":
		t, err := parseBodyTime("expires_at", b.ExpiresAt, true)
		if err != nil {
			return time.Time{}, err
		}
		exp = *t
	default:
		return now.Add(timeline.DefaultShareLifetime), nil
	}
	if d := exp.Sub(now); d < timeline.MinShareLifetime || d > timeline.MaxShareLifetime {
		return time.Time{}, badRequest("invalid_expiry", "a share link lives "+limits+", from now; this one would live "+d.Round(time.Second).String())
	}
	return exp, nil
}

func (s *Server) createShare(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	now := s.now()
	exp, err := shareExpiry(r, now)
	if err != nil {
		return err
	}
	if !s.sharesEnabled() {
		return errNoShares
	}
	l, err := s.Shares.CreateShareLink(r.Context(), timeline.ShareLink{IncidentID: id, CreatedBy: tokenName(r), ExpiresAt: exp.Truncate(time.Second)})
	if err != nil {
		return incidentErr(id, err)
	}
	token, err := s.ShareCodec.Encode(l)
	if err != nil {
		return err
	}
	out := shareLinkJSON(l, now)
	out.Token = token
	out.Path = pagePath(id) + "?s=" + url.QueryEscape(token)
	out.URL = s.publicBase(r) + out.Path
	s.logger().Info("share link created", zap.String("incident", id), zap.String("link", l.ID),
		zap.String("by", l.CreatedBy), zap.Time("expires_at", l.ExpiresAt))
	w.Header().Set("Location", "/v1/incidents/"+url.PathEscape(id)+"/share/"+l.ID)
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listShares(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	if err := onlyParams(r); err != nil {
		return err
	}
	if !s.sharesEnabled() {
		return errNoShares
	}
	links, err := s.Shares.ShareLinks(r.Context(), id)
	if err != nil {
		return incidentErr(id, err)
	}
	now := s.now()
	out := ShareLinkListJSON{IncidentID: id, Links: make([]ShareLinkJSON, 0, len(links))}
	for _, l := range links {
		out.Links = append(out.Links, shareLinkJSON(l, now))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) revokeShare(w http.ResponseWriter, r *http.Request) error {
	id, link := r.PathValue("id"), r.PathValue("link")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	// Link ids are UUIDs, as annotation ids are.
	if !timeline.ValidAnnotationID(link) {
		return badRequest("invalid_link_id", "a share link id is a UUID such as 0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1, got "+quoted(link))
	}
	if !s.sharesEnabled() {
		return errNoShares
	}
	l, err := s.Shares.RevokeShareLink(r.Context(), id, strings.ToLower(link), s.now())
	switch {
	case errors.Is(err, timeline.ErrShareLinkNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "share link " + quoted(link) + " does not exist in incident " + quoted(id)}
	case err != nil:
		return incidentErr(id, err)
	}
	s.logger().Info("share link revoked", zap.String("incident", id), zap.String("link", l.ID), zap.String("by", tokenName(r)))
	return writeJSON(w, http.StatusOK, shareLinkJSON(l, s.now()))
}

func pagePath(id string) string { return "/incidents/" + url.PathEscape(id) }

// pageAccess is what let a request see a page: a share link, or an API
// token with the read scope.
type pageAccess struct {
	// link is the share link, nil for a token.
	link *timeline.ShareLink
	// token is the share token, which the page's own links carry.
	token string
	// who names the token, or the link, for logs.
	who string
}

// shareParam is the query parameter that carries a share token.
const shareParam = "s"

// Refusals of the pages. A share link's refusal says what is wrong with it,
// which tells its holder nothing they could use.
var (
	errPageUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "Open this page through a share link (ask the facilitator for one), or sign in with an API token that has the read scope as the password."}
	errShareAltered = &Error{Status: http.StatusForbidden, Code: "share_link_invalid",
		Message: "This share link is not valid: it is incomplete or was altered. Copy the whole link again, or ask for a new one."}
	errShareOther = &Error{Status: http.StatusForbidden, Code: "share_link_invalid",
		Message: "This share link is for another incident."}
)

// authorizePage checks that r may see incident id's pages (id "" for the
// index, which only a token opens). A share token in the query is checked
// first, and must hold: its signature, incident and expiry, then the store
// (revocation). Without one, an API token with the read scope, as a bearer
// token or as the password of HTTP basic authentication.
func (s *Server) authorizePage(r *http.Request, id string) (pageAccess, error) {
	if id != "" && r.URL.Query().Has(shareParam) {
		token := r.URL.Query().Get(shareParam)
		l, err := s.checkShareToken(r.Context(), id, token)
		if err != nil {
			return pageAccess{}, err
		}
		return pageAccess{link: &l, token: token, who: "share link " + l.ID}, nil
	}
	var raw string
	if _, password, ok := r.BasicAuth(); ok {
		raw = password
	} else if h := r.Header.Get("Authorization"); len(h) > len("bearer ") && strings.EqualFold(h[:len("bearer ")], "bearer ") {
		raw = strings.TrimSpace(h[len("bearer "):])
	}
	if raw == "" {
		return pageAccess{}, errPageUnauthorized
	}
	match := s.matchToken(raw)
	if match == nil {
		return pageAccess{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "That API token is not valid. " + errPageUnauthorized.Message}
	}
	if !match.scopes[ScopeRead] {
		return pageAccess{}, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "This API token lacks the read scope."}
	}
	return pageAccess{who: "token " + match.name}, nil
}

// checkShareToken returns the share link that token names, when it is valid
// for incident id now.
func (s *Server) checkShareToken(ctx context.Context, id, token string) (timeline.ShareLink, error) {
	if !s.sharesEnabled() {
		return timeline.ShareLink{}, &Error{Status: http.StatusForbidden, Code: "share_link_invalid", Message: "This server does not accept share links."}
	}
	c, err := s.ShareCodec.Decode(token)
	if err != nil {
		return timeline.ShareLink{}, errShareAltered
	}
	if subtle.ConstantTimeCompare([]byte(c.IncidentID), []byte(id)) != 1 {
		return timeline.ShareLink{}, errShareOther
	}
	now := s.now()
	if !now.Before(c.ExpiresAt) {
		return timeline.ShareLink{}, shareExpired(c.ExpiresAt)
	}
	l, err := s.Shares.ShareLink(ctx, id, c.LinkID)
	switch {
	case errors.Is(err, timeline.ErrNotFound):
		// Signed by this service, yet gone: its incident was deleted.
		return timeline.ShareLink{}, errShareAltered
	case err != nil:
		return timeline.ShareLink{}, err
	}
	switch l.State(now) {
	case timeline.ShareRevoked:
		return l, &Error{Status: http.StatusForbidden, Code: "share_link_revoked", Message: "This share link was revoked. Ask the facilitator for a new one."}
	case timeline.ShareExpired:
		return l, shareExpired(l.ExpiresAt)
	}
	if !l.ExpiresAt.Equal(c.ExpiresAt) {
		return timeline.ShareLink{}, errShareAltered
	}
	return l, nil
}

func shareExpired(at time.Time) *Error {
	return &Error{Status: http.StatusForbidden, Code: "share_link_expired",
		Message: "This share link expired at " + at.UTC().Format("2006-01-02 15:04 MST") + ". Ask the facilitator for a new one."}
}

// streamKey is what the stream caps count a page's event stream against:
// its share link, or its token.
func (a pageAccess) streamKey(r *http.Request) [sha256.Size]byte {
	if a.link != nil {
		return sha256.Sum256([]byte("share:" + a.link.ID))
	}
	if _, password, ok := r.BasicAuth(); ok {
		return sha256.Sum256([]byte(password))
	}
	return sha256.Sum256([]byte(bearerToken(r)))
}

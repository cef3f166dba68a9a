package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/timeline"
)

// VersionStore says when an incident's responses change.
type VersionStore interface {
	// IncidentVersion returns an opaque token that changes exactly when the
	// incident, its events or its collection status change, or
	// timeline.ErrNotFound.
	IncidentVersion(ctx context.Context, incidentID string) (string, error)
}

// etagOf builds a strong ETag from the incident's version and everything
// else the representation depends on (route, query, format, settings).
func etagOf(version string, parts ...any) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s", version)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%v", p)
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// notModified sets the validator headers and reports whether the request's
// If-None-Match matches etag, in which case it has answered 304.
// If-None-Match uses the weak comparison (RFC 9110 §13.1.2), so a W/ prefix a
// proxy may have added still matches.
func notModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	h := w.Header()
	h.Set("ETag", etag)
	// Responses need a token: shared caches must not keep them, private ones
	// must revalidate before reuse.
	h.Set("Cache-Control", "private, no-cache")
	if !etagMatches(r.Header.Values("If-None-Match"), etag) {
		return false
	}
	w.WriteHeader(http.StatusNotModified)
	return true
}

func etagMatches(headers []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, h := range headers {
		for _, tag := range strings.Split(h, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
				return true
			}
		}
	}
	return false
}

// version returns the incident's version, or "" when the server has no
// VersionStore (then responses carry no ETag).
func (s *Server) version(r *http.Request, incidentID string) (string, error) {
	if s.Versions == nil {
		return "", nil
	}
	return s.Versions.IncidentVersion(r.Context(), incidentID)
}

// summaryInputDigest digests what a summary reads beyond the incident's own
// rows: the overlapping incidents and the responders' earlier pages.
func summaryInputDigest(in timeline.SummaryInput) string {
	h := sha256.New()
	for _, o := range in.Overlapping {
		fmt.Fprintf(h, "%q|%q|%d|", o.ID, o.Title, o.StartedAt.UnixNano())
		if o.ResolvedAt != nil {
			fmt.Fprintf(h, "%d", o.ResolvedAt.UnixNano())
		}
		h.Write([]byte{0})
	}
	users := slices.Sorted(maps.Keys(in.PriorPages))
	for _, u := range users {
		fmt.Fprintf(h, "%q=%d\x00", u, in.PriorPages[u])
	}
	fmt.Fprintf(h, "%t", in.PriorPages == nil)
	incs := slices.Sorted(maps.Keys(in.OverlappingPeople))
	for _, id := range incs {
		fmt.Fprintf(h, "\x00%q:%v", id, in.OverlappingPeople[id])
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

package api

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
)

// checkPath answers, before routing, what the mux would answer without the
// JSON error shape: the request target * (an empty 400; net/http answers
// "OPTIONS *" itself, with 200) and a path that is not canonical, with an empty, "." or ".." segment (a redirect to the cleaned
// path, so that /v1/incidents/../x would reach /v1/x). Both are 400 here;
// an incident id that needs a '/' or '.' segment sends it escaped (%2F,
// %2E), and the id rule then refuses it.
func (s *Server) checkPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.RequestURI == "*":
			s.writeError(w, r, badRequest("invalid_path", "the request target * is not served: name a path"))
			return
		case r.Method != http.MethodConnect:
			if p := r.URL.EscapedPath(); cleanPath(p) != p {
				s.writeError(w, r, badRequest("invalid_path",
					"the path "+quoted(p)+" is not canonical: it has an empty, '.' or '..' segment; send "+quoted(cleanPath(p))))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is the canonical form of p, as net/http's ServeMux computes it
// before it redirects: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			np = p
		} else {
			np += "/"
		}
	}
	return np
}

// checkQuery refuses a query string that does not decode (a broken
// percent-escape, a ';' separator), naming the parameter, where
// http.Request.URL.Query would drop the pair silently.
func checkQuery(raw string) error {
	if raw == "" {
		return nil
	}
	if _, err := url.ParseQuery(raw); err == nil {
		return nil
	}
	for _, pair := range strings.Split(raw, "&") {
		if strings.Contains(pair, ";") {
			return badRequest("invalid_query", "the query string holds a ';': separate parameters with '&' and escape a ';' in a value as %3B")
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return badRequest("invalid_query", "a parameter name holds a broken percent-escape: "+quoted(k))
		}
		if _, err := url.QueryUnescape(v); err != nil {
			return badRequest("invalid_query", "parameter "+quoted(name)+" holds a broken percent-escape (a '%' must be followed by two hex digits): "+quoted(v))
		}
	}
	return badRequest("invalid_query", "the query string cannot be decoded")
}

// requireJSON refuses with 415 a body declared as anything but JSON in
// UTF-8. A request without Content-Type is read as JSON (some senders omit
// it); its body must still parse.
func requireJSON(r *http.Request) error { return refusal(collectors.RequireJSON(r)) }

// decodeStrict decodes one JSON object of a request body, refusing unknown
// fields and naming the field that is wrong (400 malformed_body).
func decodeStrict(body []byte, v any) error { return refusal(collectors.DecodeStrict(body, v)) }

// parseBodyTime parses an RFC 3339 time field of a request body (400
// malformed_body).
func parseBodyTime(field, v string, required bool) (*time.Time, error) {
	t, err := collectors.ParseBodyTime(field, v, required)
	return t, refusal(err)
}

// malformed is the 400 malformed_body refusal of a request body, its text
// made safe for the caller (collectors.Malformed).
func malformed(format string, args ...any) error {
	return refusal(collectors.Malformed(format, args...))
}

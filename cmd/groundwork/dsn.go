package main

import (
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/groundwork-dev/groundwork/collectors"
)

// A Postgres connection string comes in the two forms pgx accepts (and
// libpq before it): a URL (postgres://user:password@host/db?password=…)
// or keyword/value pairs (host=db password='a secret'). Both may carry
// secrets: the password in the URL's userinfo, and a password or
// sslpassword value. The functions here find them by splitting the string
// the way pgx's parser does, and never guess: a string whose parts cannot
// be told apart for certain is treated as a secret as a whole.

// dsnPart is a run of a connection string; secret runs are masked.
type dsnPart struct {
	text   string
	secret bool
	// value is the secret as pgx reads it: percent-decoded, unquoted,
	// unescaped.
	value string
}

// redactDSN returns dsn with every secret in it replaced by [REDACTED],
// the rest as written, so the printed value still names the host, the
// database and the options. A string that cannot be split for certain is
// [REDACTED] whole.
func redactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	parts, ok := splitDSN(dsn)
	if !ok {
		return redacted
	}
	var b strings.Builder
	for _, p := range parts {
		if p.secret {
			b.WriteString(redacted)
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// dsnSecrets lists the texts that must not appear in a log line or an
// error: each secret as written and as pgx reads it, and the whole string.
// For a string that cannot be split, every password=… value a lenient
// pattern finds is listed too.
func dsnSecrets(dsn string) []string {
	if dsn == "" {
		return nil
	}
	out := []string{dsn}
	parts, ok := splitDSN(dsn)
	if !ok {
		for _, m := range loosePasswordRE.FindAllStringSubmatch(dsn, -1) {
			out = append(out, m[1], strings.Trim(m[1], "'"))
		}
		return out
	}
	for _, p := range parts {
		if p.secret {
			out = append(out, p.text, p.value)
		}
	}
	return out
}

// loosePasswordRE finds password=… values in a malformed string, for
// scrubbing only.
var loosePasswordRE = regexp.MustCompile(`(?i)password\s*=\s*('[^']*'?|\S+)`)

// scrubDSN returns err with dsn's secrets blanked out of its text. The
// result still unwraps to err, so errors.Is keeps working.
func scrubDSN(err error, dsn string) error {
	return scrubSecrets(err, dsnSecrets(dsn))
}

// scrubSecrets returns err with every secret blanked out of its text.
func scrubSecrets(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := collectors.RedactError(err, secrets...)
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// checkDatabaseURL parses dsn as pgx will and reports what is wrong with it
// without quoting it: pgx's own message quotes the string, and only does
// its best to mask the password.
func checkDatabaseURL(dsn string) error { return checkDSN("database_url", dsn) }

// checkDSN is checkDatabaseURL for a connection string named key.
func checkDSN(key, dsn string) error {
	if dsn == "" {
		return nil
	}
	_, err := pgconn.ParseConfig(dsn)
	if err == nil {
		return nil
	}
	return errors.New(key + ": not a valid Postgres connection string (" + parseProblem(err) + ")")
}

// parseProblem is what pgx found wrong, without the connection string:
// the message of its ParseConfigError, never the quoted string nor the
// wrapped error (a URL parser's error may quote the password).
func parseProblem(err error) string {
	const unknown = "pgx could not parse it"
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return unknown
	}
	// Error() is "cannot parse `<string, best-effort masked>`: <msg>[ (<wrapped>)]".
	prefix := pgconn.NewParseConfigError(pe.ConnString, "", nil).Error()
	msg, ok := strings.CutPrefix(pe.Error(), prefix)
	if !ok {
		return unknown
	}
	if inner := errors.Unwrap(pe); inner != nil {
		if msg, ok = strings.CutSuffix(msg, " ("+inner.Error()+")"); !ok {
			return unknown
		}
	}
	if msg == "" {
		return unknown
	}
	return msg
}

// splitDSN splits dsn into runs, marking the secret ones; ok is false
// when its structure is ambiguous.
func splitDSN(dsn string) ([]dsnPart, bool) {
	if strings.IndexByte(dsn, 0) >= 0 {
		return nil, false
	}
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if rest, ok := strings.CutPrefix(dsn, scheme); ok {
			return splitURL(scheme, rest)
		}
	}
	return splitKeywordValue(dsn)
}

// isSecretKey: password and sslpassword, and for safety any other key
// that mentions a password.
func isSecretKey(key string) bool {
	return strings.Contains(strings.ToLower(key), "password")
}

// splitURL follows pgx's URL parser: the userinfo ends at the first '@'
// before any '/', the query starts at the first '?', and its pairs are
// split at '&' and their first '='. An '@' after the userinfo means a
// password with an unencoded '@', '/' or '?' in it: ambiguous.
func splitURL(scheme, rest string) ([]dsnPart, bool) {
	parts := []dsnPart{{text: scheme}}
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		user, pw, hasPW := strings.Cut(rest[:i], ":")
		parts = append(parts, dsnPart{text: user})
		if hasPW {
			parts = append(parts, dsnPart{text: ":"}, dsnPart{text: pw, secret: true, value: unescapeURL(pw)})
		}
		parts = append(parts, dsnPart{text: "@"})
		rest = rest[i+1:]
	}
	if strings.IndexByte(rest, '@') >= 0 {
		return nil, false
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return append(parts, dsnPart{text: rest}), true
	}
	parts = append(parts, dsnPart{text: rest[:q+1]})
	for i, pair := range strings.Split(rest[q+1:], "&") {
		if i > 0 {
			parts = append(parts, dsnPart{text: "&"})
		}
		k, v, hasV := strings.Cut(pair, "=")
		if hasV && isSecretKey(unescapeURL(k)) {
			parts = append(parts, dsnPart{text: k + "="}, dsnPart{text: v, secret: true, value: unescapeURL(v)})
		} else {
			parts = append(parts, dsnPart{text: pair})
		}
	}
	return parts, true
}

func unescapeURL(s string) string {
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// splitKeywordValue follows libpq's keyword/value rules, as pgx does: a
// keyword, '=' with optional spaces around it, then a value that is either
// single-quoted (a backslash escapes the next character, ' included) or
// runs to the next space (a backslash escapes the next character, a space
// included). A keyword that is not a plain name, a missing '=' or an
// unterminated quote make the string ambiguous.
func splitKeywordValue(s string) ([]dsnPart, bool) {
	var parts []dsnPart
	i := 0
	for {
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j == len(s) {
			return append(parts, dsnPart{text: s[i:]}), true
		}
		k := j
		for k < len(s) && !isSpace(s[k]) && s[k] != '=' {
			k++
		}
		key := s[j:k]
		if !plainKeyRE.MatchString(key) {
			return nil, false
		}
		for k < len(s) && isSpace(s[k]) {
			k++
		}
		if k == len(s) || s[k] != '=' {
			return nil, false
		}
		k++
		for k < len(s) && isSpace(s[k]) {
			k++
		}
		parts = append(parts, dsnPart{text: s[i:k]})
		start := k
		if k < len(s) && s[k] == '\'' {
			for k++; k < len(s) && s[k] != '\''; k++ {
				if s[k] == '\\' {
					k++
				}
			}
			if k >= len(s) {
				return nil, false
			}
			k++
		} else {
			for ; k < len(s) && !isSpace(s[k]); k++ {
				if s[k] == '\\' {
					k++
				}
			}
			k = min(k, len(s))
		}
		raw := s[start:k]
		parts = append(parts, dsnPart{text: raw, secret: isSecretKey(key), value: unescapeKeywordValue(raw)})
		i = k
	}
}

// plainKeyRE is what a keyword looks like: a parameter name, or a custom
// setting such as myapp.role.
var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// unescapeKeywordValue removes the quotes and backslash escapes of a raw
// keyword/value value.
func unescapeKeywordValue(raw string) string {
	if len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'' {
		raw = raw[1 : len(raw)-1]
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
			if i == len(raw) {
				break
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

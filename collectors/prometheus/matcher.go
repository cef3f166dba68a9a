package prometheus

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// matcher is one label matcher of a PromQL selector: name op "value".
type matcher struct {
	name, op, value string
	re              *regexp.Regexp // for =~ and !~, anchored as PromQL anchors it
}

// selector is a parsed label selector such as {service="checkout",env=~"prod|eu"}.
type selector []matcher

var (
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	matcherRE   = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" + `)\s*`)
)

// parseSelector parses a label selector written as in PromQL: braces
// around comma-separated matchers whose values are quoted strings. The
// empty string is the empty selector, which matches every alert.
func parseSelector(s string) (selector, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	if !strings.HasPrefix(t, "{") || !strings.HasSuffix(t, "}") {
		return nil, fmt.Errorf("%q is not a label selector such as {service=\"checkout\"}", s)
	}
	rest := strings.TrimSpace(t[1 : len(t)-1])
	var out selector
	for rest != "" {
		m := matcherRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("%q: cannot read a matcher at %q (want name=\"value\", with =, !=, =~ or !~)", s, rest)
		}
		value, err := unquote(m[3])
		if err != nil {
			return nil, fmt.Errorf("%q: the value %s is not a valid string", s, m[3])
		}
		mt := matcher{name: m[1], op: m[2], value: value}
		if mt.op == "=~" || mt.op == "!~" {
			if mt.re, err = regexp.Compile("^(?s:" + value + ")$"); err != nil {
				return nil, fmt.Errorf("%q: %s is not a regular expression: %v", s, m[3], err)
			}
		}
		out = append(out, mt)
		rest = strings.TrimSpace(rest[len(m[0]):])
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("%q: want ',' between matchers at %q", s, rest)
		}
		rest = strings.TrimSpace(rest[1:])
	}
	return out, nil
}

func unquote(q string) (string, error) {
	switch q[0] {
	case '`':
		return q[1 : len(q)-1], nil
	case '\'':
		// Single-quoted like Go's double-quoted strings, with \' allowed.
		inner := strings.ReplaceAll(q[1:len(q)-1], `\'`, `'`)
		return strconv.Unquote(`"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`)
	}
	v, err := strconv.Unquote(q)
	if err == nil && !utf8.ValidString(v) {
		err = fmt.Errorf("invalid UTF-8")
	}
	return v, err
}

// matches reports whether labels satisfy every matcher; a missing label is
// the empty string, as in PromQL.
func (sel selector) matches(labels map[string]string) bool {
	for _, m := range sel {
		v := labels[m.name]
		var ok bool
		switch m.op {
		case "=":
			ok = v == m.value
		case "!=":
			ok = v != m.value
		case "=~":
			ok = m.re.MatchString(v)
		case "!~":
			ok = !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// promQL renders the matchers as PromQL, each value double-quoted.
func (sel selector) promQL() []string {
	out := make([]string, len(sel))
	for i, m := range sel {
		out[i] = m.name + m.op + strconv.Quote(m.value)
	}
	return out
}

// alertsSelector is the ALERTS selector of firing alerts, narrowed by sel
// and by exact, when set (every label of one series, in name order).
func alertsSelector(sel selector, exact map[string]string) string {
	parts := []string{`alertstate="firing"`}
	parts = append(parts, sel.promQL()...)
	names := make([]string, 0, len(exact))
	for n := range exact {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		name := n
		if !labelNameRE.MatchString(n) {
			name = strconv.Quote(n) // a UTF-8 label name, as Prometheus 3 writes it
		}
		parts = append(parts, name+"="+strconv.Quote(exact[n]))
	}
	return "ALERTS{" + strings.Join(parts, ",") + "}"
}

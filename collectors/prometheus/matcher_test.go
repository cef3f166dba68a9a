package prometheus

import "testing"

// TestSelectorMatchesAsPromQL: matchers read as PromQL writes them and
// match labels as Prometheus does: regexps anchored, a missing label is
// the empty string; the rendered PromQL quotes every value.
func TestSelectorMatchesAsPromQL(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"service": "checkout", "env": "prod-eu", "team": "payments"}
	for sel, want := range map[string]bool{
		``:                                  true,
		`{}`:                                true,
		`{service="checkout"}`:              true,
		`{service="check"}`:                 false,
		`{service=~"check"}`:                false, // anchored
		`{service=~"check.*"}`:              true,
		`{env!~"dev|test", team!="search"}`: true,
		`{env!~"prod-.*"}`:                  false,
		`{missing=""}`:                      true,
		`{missing!=""}`:                     false,
		`{service='checkout', env=~` + "`prod-(eu|us)`" + `,}`: true,
		`{ service = "checkout" , team =~ "pay.*" }`:           true,
		`{service="a\"b"}`: false,
	} {
		s, err := parseSelector(sel)
		if err != nil {
			t.Errorf("%s: %v", sel, err)
			continue
		}
		if got := s.matches(labels); got != want {
			t.Errorf("%s matches %v = %v, want %v", sel, labels, got, want)
		}
	}
	for _, bad := range []string{`service="checkout"`, `{service=checkout}`, `{service="x" env="y"}`, `{9x="y"}`, `{a=~"("}`, `{a="x}`} {
		if _, err := parseSelector(bad); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
	s, _ := parseSelector(`{team=~"pay.*", note="say \"hi\""}`)
	if got, want := alertsSelector(s, map[string]string{"alertname": "X", "my.label": "v"}),
		`ALERTS{alertstate="firing",team=~"pay.*",note="say \"hi\"",alertname="X","my.label"="v"}`; got != want {
		t.Errorf("alertsSelector = %s, want %s", got, want)
	}
}

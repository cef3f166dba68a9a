package timeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/timeline"
)

func TestValidateIncidentID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{
		"PT4KHLK", "Q1CHK5XX", "Q2CKYRLH85UNN4", "PCHECKOUT", // PagerDuty
		"INC-42", "INC1", "x", "P", // generic hooks, tests
		"01FKZSYE5HCMM576S6JUVIGLQT",           // ULID (incident.io)
		"70413a06-38d6-4c85-92b8-5ebc900d42e2", // UUID (Opsgenie, FireHydrant)
		"ops:2026-11-20_checkout", "a.b", "-x", "_x", "a..b",
		strings.Repeat("a", timeline.MaxIncidentIDLen),
	} {
		if err := timeline.ValidateIncidentID(id); err != nil {
			t.Errorf("ValidateIncidentID(%q) = %v, want nil", id, err)
		}
		if err := (timeline.CollectRequest{IncidentID: id}).Validate(); err != nil {
			t.Errorf("CollectRequest{%q}.Validate() = %v, want nil", id, err)
		}
	}
	for _, tc := range []struct{ id, names string }{
		{"", "empty"},
		{strings.Repeat("a", timeline.MaxIncidentIDLen+1), "129 bytes"},
		{strings.Repeat("P", 10000), "10000 bytes"},
		{".", "starts with '.'"},
		{"..", "starts with '.'"},
		{".hidden", "starts with '.'"},
		{"../x", "starts with '.'"},
		{"a/../x", `"/" at byte 1`},
		{"a/b", `"/"`},
		{`a\b`, `"\\"`},
		{`a"b`, `"\""`},
		{"a'b", `"'"`},
		{"a\x00b", `"\x00" at byte 1`},
		{"a\nb", `"\n"`},
		{" PT4KHLK", `" " at byte 0`},
		{"PT4KHLK ", `" " at byte 7`},
		{"a%2Fb", `"%"`},
		{"a?b", `"?"`},
		{"a#b", `"#"`},
		{"a;b", `";"`},
		{"<script>", `"<"`},
		{"café", `"é" at byte 3`},
		{"\xff", `"\xff"`},
	} {
		err := timeline.ValidateIncidentID(tc.id)
		if !errors.Is(err, timeline.ErrInvalid) || !strings.Contains(err.Error(), tc.names) ||
			!strings.Contains(err.Error(), timeline.IncidentIDRule) {
			t.Errorf("ValidateIncidentID(%.20q) = %v, want ErrInvalid naming %s and stating the rule", tc.id, err, tc.names)
		}
		err = (timeline.CollectRequest{IncidentID: tc.id}).Validate()
		if !errors.Is(err, timeline.ErrInvalid) || !strings.Contains(err.Error(), "incident_id: ") || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("CollectRequest{%.20q}.Validate() = %v, want ErrInvalid naming incident_id and %s", tc.id, err, tc.names)
		}
	}
}

func TestCollectRequestRefusesWhatPostgresCannotStore(t *testing.T) {
	t.Parallel()
	for _, r := range []timeline.CollectRequest{
		{IncidentID: "P1", Title: "checkout\x00down"},
		{IncidentID: "P1", Repos: []string{"acme/check\x00out"}},
		{IncidentID: "P1", Channels: []string{"C0\x00CHECKOUT"}},
	} {
		if err := r.Validate(); !errors.Is(err, timeline.ErrInvalid) {
			t.Errorf("%+v: Validate() = %v, want ErrInvalid", r, err)
		}
	}
}

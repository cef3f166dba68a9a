package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
)

func TestReviewSettings(t *testing.T) {
	dir := t.TempDir()
	icsPath := filepath.Join(dir, "company.ics")
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//acme//cal//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:1@acme\r\nDTSTAMP:20251101T000000Z\r\nSUMMARY:Payments code freeze\r\nCATEGORIES:FREEZE\r\n" +
		"DTSTART;VALUE=DATE:20251119\r\nDTEND;VALUE=DATE:20251122\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:2@acme\r\nDTSTAMP:20251101T000000Z\r\nSUMMARY:Black Friday launch\r\n" +
		"DTSTART:20251128T080000Z\r\nDTEND:20251128T200000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	if err := os.WriteFile(icsPath, []byte(ics), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := `
review:
  timezone: Europe/London
  production_environments: [production, prod-eu]
  local_hours: {working: "07:00-18:00", evening: "18:00-22:00", night: "22:00-07:00"}
  calendar:
    - {title: Eng offsite, kind: offsite, start: "2025-11-20", end: "2025-11-20"}
    - {ical: ` + icsPath + `}
people:
  - {name: Tomás Ortega, email: tomas@acme.example, github: tortega, slack: U0TOMAS01, pagerduty: PORTTOM}
ignore_actors: [qa-bot@acme.example, PTEST01]
`
	cfg, err := ParseConfig([]byte(raw), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := reviewConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := (timeline.LocalHours{WorkingStart: 7 * 60, EveningStart: 18 * 60, NightStart: 22 * 60}); rc.LocalHours != want {
		t.Errorf("local hours = %+v, want %+v", rc.LocalHours, want)
	}
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	wantCal := []timeline.CalendarEntry{
		{Title: "Eng offsite", Kind: "offsite", Start: utc("2025-11-20T00:00:00Z"), End: utc("2025-11-21T00:00:00Z")},
		{Title: "Payments code freeze", Kind: "freeze", Start: utc("2025-11-19T00:00:00Z"), End: utc("2025-11-22T00:00:00Z")},
		{Title: "Black Friday launch", Start: utc("2025-11-28T08:00:00Z"), End: utc("2025-11-28T20:00:00Z")},
	}
	if diff := cmp.Diff(wantCal, rc.Calendar); diff != "" {
		t.Errorf("calendar (-want +got):\n%s", diff)
	}
	wantPeople := []timeline.PersonAlias{{Name: "Tomás Ortega", Email: "tomas@acme.example", Identities: []timeline.Identity{
		{Source: "github", ID: "tortega"}, {Source: "pagerduty", ID: "PORTTOM"}, {Source: "slack", ID: "U0TOMAS01"}}}}
	if diff := cmp.Diff(wantPeople, rc.People); diff != "" {
		t.Errorf("people (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"qa-bot@acme.example", "PTEST01"}, rc.IgnoreActors); diff != "" {
		t.Errorf("ignore_actors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"production", "prod-eu"}, rc.ProductionEnvironments); diff != "" {
		t.Errorf("production environments (-want +got):\n%s", diff)
	}

	// Defaults.
	cfg, err = ParseConfig([]byte("listen: \":8080\"\n"), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err = reviewConfig(cfg); err != nil || rc.LocalHours != timeline.DefaultLocalHours() ||
		len(rc.ProductionEnvironments) != 2 || len(rc.Calendar) != 0 {
		t.Errorf("defaults: %+v, %v", rc, err)
	}
}

func TestReviewSettingsErrorsNameTheKey(t *testing.T) {
	for raw, want := range map[string]string{
		"people:\n  - {name: X, gitlab: x, email: x@acme.example}\n": "people[0].gitlab: unknown key (name, email or a source: pagerduty, github, slack, generic, prometheus)",
		"people:\n  - {name: X, github: x}\n":                        "people[0]: names fewer than two identities",
		"people:\n  - {email: nope, github: x}\n":                    "people[0].email",
		"ignore_actors: ['']\n":                                      "ignore_actors[0]: is empty",
		"review:\n  local_hours: {working: '08:00-19:00', evening: '19:00-22:00', night: '23:00-08:00'}\n": "review.local_hours: working, evening and night must follow",
		"review:\n  local_hours: {working: '8-19', evening: '19:00-23:00', night: '23:00-08:00'}\n":        "review.local_hours.working",
		"review:\n  calendar:\n    - {title: X, start: tomorrow}\n":                                        "review.calendar[0].start",
		"review:\n  calendar:\n    - {title: X, start: '2025-11-20', end: '2025-11-18'}\n":                 "review.calendar[0]: ends",
		"review:\n  calendar:\n    - {ical: /nonexistent/cal.ics}\n":                                       "review.calendar[0].ical",
		"review:\n  calendar:\n    - {start: '2025-11-20'}\n":                                              "review.calendar[0].title",
	} {
		_, err := ParseConfig([]byte(raw), getenv(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", raw, err, want)
		}
	}
}

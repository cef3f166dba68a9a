package pagerduty_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/timeline"
)

func TestLogEntryKind(t *testing.T) {
	for typ, want := range map[string]string{
		"trigger_log_entry":                   timeline.KindPageTriggered,
		"acknowledge_log_entry":               timeline.KindPageAcknowledged,
		"unacknowledge_log_entry":             timeline.KindPageUnacknowledged,
		"escalate_log_entry":                  timeline.KindPageEscalated,
		"assign_log_entry":                    timeline.KindPageReassigned,
		"delegate_log_entry":                  timeline.KindPageReassigned,
		"notify_log_entry":                    timeline.KindPageNotified,
		"priority_change_log_entry":           timeline.KindPagePriorityChanged,
		"resolve_log_entry":                   timeline.KindPageResolved,
		"urgency_change_log_entry":            timeline.KindPageOther,
		"field_value_change_log_entry":        timeline.KindPageOther,
		"custom_field_value_change_log_entry": timeline.KindPageOther,
		"snooze_log_entry":                    timeline.KindPageOther,
		"exhaust_escalation_path_log_entry":   timeline.KindPageOther,
		"brand_new_log_entry":                 timeline.KindPageOther,
		"trigger":                             timeline.KindPageTriggered,
	} {
		got, keep := pagerduty.LogEntryKind(typ)
		if got != want || !keep {
			t.Errorf("LogEntryKind(%q) = %q, %v; want %q, true", typ, got, keep, want)
		}
	}
	if _, keep := pagerduty.LogEntryKind("annotate_log_entry"); keep {
		t.Error("annotate entries should be skipped")
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

var users = pagerduty.Users{
	"PXPGF42": {ID: "PXPGF42", Name: "Earline Greenholt", Email: "earline@example.com"},
	"PL7A2O4": {ID: "PL7A2O4", Name: "Lee Turner", Email: "lee@example.com"},
}

func TestNormalizeLogEntry(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want timeline.Event
	}{
		{
			name: "trigger by a service, as in PagerDuty's example",
			json: `{"id":"Q02JTSNZWHSEKV","type":"trigger_log_entry","summary":"Triggered through the API",
				"self":"https://api.pagerduty.com/log_entries/Q02JTSNZWHSEKV?incident_id=PT4KHLK",
				"html_url":"https://subdomain.pagerduty.com/incidents/PT4KHLK/log_entries/Q02JTSNZWHSEKV",
				"created_at":"2015-11-07T00:14:20Z",
				"agent":{"id":"PIJ90N7","type":"service_reference","summary":"My Mail Service"},
				"channel":{"type":"api"},"incident":{"id":"PT4KHLK","type":"incident_reference"},
				"teams":[],"contexts":[],
				"event_details":{"description":"Tasks::SFDCValidator - PD_Data__c - duplicates"}}`,
			want: timeline.Event{
				ID: "pagerduty:log_entry:Q02JTSNZWHSEKV", IncidentID: "PT4KHLK", Source: "pagerduty",
				Kind: timeline.KindPageTriggered, OccurredAt: time.Date(2015, 11, 7, 0, 14, 20, 0, time.UTC),
				Actor: &timeline.Actor{ID: "PIJ90N7", Name: "My Mail Service", Bot: true},
				Title: "Triggered through the API", Text: "Tasks::SFDCValidator - PD_Data__c - duplicates",
				URL: "https://subdomain.pagerduty.com/incidents/PT4KHLK/log_entries/Q02JTSNZWHSEKV",
				Details: map[string]any{"type": "trigger_log_entry", "agent_type": "service_reference", "channel": "api",
					"event_details": map[string]any{"description": "Tasks::SFDCValidator - PD_Data__c - duplicates"}},
			},
		},
		{
			name: "notify with the notification in the channel: the actor stays the agent",
			json: `{"id":"RN1","type":"notify_log_entry","summary":"Notified Lee Turner","created_at":"2024-02-01T10:00:00.5+01:00",
				"agent":{"id":"PIJ90N7","type":"service_reference","summary":"My Mail Service"},
				"channel":{"type":"notification","notification":{"type":"phone_notification","status":"success"}},
				"user":{"id":"PL7A2O4","type":"user_reference","summary":"Lee T."}}`,
			want: timeline.Event{
				ID: "pagerduty:log_entry:RN1", IncidentID: "PT4KHLK", Source: "pagerduty",
				Kind: timeline.KindPageNotified, OccurredAt: time.Date(2024, 2, 1, 9, 0, 0, 5e8, time.UTC),
				Actor: &timeline.Actor{ID: "PIJ90N7", Name: "My Mail Service", Bot: true},
				Title: "Notified Lee Turner",
				Details: map[string]any{"type": "notify_log_entry", "agent_type": "service_reference", "channel": "notification", "notification_type": "phone",
					"user": map[string]any{"id": "PL7A2O4", "name": "Lee Turner", "email": "lee@example.com"}},
			},
		},
		{
			name: "escalation with a level and assignees",
			json: `{"id":"RE1","type":"escalate_log_entry","summary":"Escalated to level 2","created_at":"2024-02-01T10:00:00Z",
				"agent":{"id":"PIJ90N7","type":"service_reference","summary":"My Mail Service"},
				"channel":{"type":"timeout","escalation_level":2},
				"assignees":[{"id":"PXPGF42","type":"user_reference","summary":"Earline"},{"id":"PUNKNWN","type":"user_reference","summary":"Someone Else"}]}`,
			want: timeline.Event{
				ID: "pagerduty:log_entry:RE1", IncidentID: "PT4KHLK", Source: "pagerduty",
				Kind: timeline.KindPageEscalated, OccurredAt: time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC),
				Actor: &timeline.Actor{ID: "PIJ90N7", Name: "My Mail Service", Bot: true},
				Title: "Escalated to level 2",
				Details: map[string]any{"type": "escalate_log_entry", "agent_type": "service_reference", "channel": "timeout", "escalation_level": float64(2), "escalation_reason": "timeout",
					"assignees": []map[string]any{
						{"id": "PXPGF42", "name": "Earline Greenholt", "email": "earline@example.com"},
						{"id": "PUNKNWN", "name": "Someone Else"},
					}},
			},
		},
		{
			name: "priority change by a user",
			json: `{"id":"RP1","type":"priority_change_log_entry","summary":"Priority changed from P3 to P1","created_at":"2024-02-01T10:00:00Z",
				"agent":{"id":"PXPGF42","type":"user_reference","summary":"Earline"},
				"channel":{"type":"website","old_priority":{"id":"P3ID","summary":"P3"},"new_priority":{"id":"P1ID","name":"P1"}}}`,
			want: timeline.Event{
				ID: "pagerduty:log_entry:RP1", IncidentID: "PT4KHLK", Source: "pagerduty",
				Kind: timeline.KindPagePriorityChanged, OccurredAt: time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC),
				Actor: &timeline.Actor{ID: "PXPGF42", Name: "Earline Greenholt", Email: "earline@example.com"},
				Title: "Priority changed from P3 to P1",
				Details: map[string]any{"type": "priority_change_log_entry", "agent_type": "user_reference", "channel": "website",
					"old_priority": "P3", "new_priority": "P1"},
			},
		},
		{
			name: "an unknown type is page.other and keeps its type; no summary gives a title",
			json: `{"id":"RX1","type":"reach_trigger_limit_log_entry","created_at":"2024-02-01T10:00:00Z"}`,
			want: timeline.Event{
				ID: "pagerduty:log_entry:RX1", IncidentID: "PT4KHLK", Source: "pagerduty",
				Kind: timeline.KindPageOther, OccurredAt: time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC),
				Title:   "reach trigger limit",
				Details: map[string]any{"type": "reach_trigger_limit_log_entry"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			le := decode[pd.LogEntry](t, tc.json)
			got, err := pagerduty.NormalizeLogEntry("PT4KHLK", le, users)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeLogEntryRefuses(t *testing.T) {
	annotate := decode[pd.LogEntry](t, `{"id":"RA","type":"annotate_log_entry","created_at":"2024-02-01T10:00:00Z"}`)
	if !pagerduty.SkipLogEntry(annotate) {
		t.Error("SkipLogEntry(annotate) = false")
	}
	if _, err := pagerduty.NormalizeLogEntry("P", annotate, nil); err == nil {
		t.Error("an annotate entry was normalised")
	}
	bad := decode[pd.LogEntry](t, `{"id":"RB","type":"trigger_log_entry","created_at":"yesterday"}`)
	if _, err := pagerduty.NormalizeLogEntry("P", bad, nil); err == nil || !strings.Contains(err.Error(), "RB") {
		t.Errorf("bad created_at: err = %v, want one naming the entry", err)
	}
}

func TestNormalizeNote(t *testing.T) {
	// From PagerDuty's example: a person's note with a -05:00 offset, and an
	// event rule's (a bot user, whose name is not looked up).
	notes := decode[map[string][]pd.IncidentNote](t, `{"notes":[
		{"id":"PWL7QXS","user":{"id":"PXPGF42","type":"user_reference","summary":"Earline Greenholt"},
		 "channel":{"summary":"The PagerDuty website or APIs"},"content":"Firefighters are on the scene.",
		 "created_at":"2013-03-06T15:28:51-05:00","updated_at":"2023-10-01T12:00:00-05:00"},
		{"id":"PCQC25","user":{"id":"PXPGF42","type":"bot_user_reference","summary":"A Global Event Rule"},
		 "content":"Initial alert information indicates a 1-alarm fire","created_at":"2013-03-06T15:28:42-05:00"}]}`)["notes"]
	var got []timeline.Event
	for _, n := range notes {
		ev, err := pagerduty.NormalizeNote("PT4KHLK", n, users)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	want := []timeline.Event{
		{
			ID: "pagerduty:note:PWL7QXS", IncidentID: "PT4KHLK", Source: "pagerduty", Kind: timeline.KindPageAnnotated,
			OccurredAt: time.Date(2013, 3, 6, 20, 28, 51, 0, time.UTC),
			Actor:      &timeline.Actor{ID: "PXPGF42", Name: "Earline Greenholt", Email: "earline@example.com"},
			Title:      "Firefighters are on the scene.", Text: "Firefighters are on the scene.",
			Details: map[string]any{"agent_type": "user_reference"},
		},
		{
			ID: "pagerduty:note:PCQC25", IncidentID: "PT4KHLK", Source: "pagerduty", Kind: timeline.KindPageAnnotated,
			OccurredAt: time.Date(2013, 3, 6, 20, 28, 42, 0, time.UTC),
			Actor:      &timeline.Actor{ID: "PXPGF42", Name: "A Global Event Rule", Bot: true},
			Title:      "Initial alert information indicates a 1-alarm fire", Text: "Initial alert information indicates a 1-alarm fire",
			Details: map[string]any{"agent_type": "bot_user_reference"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got[0].OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at %v is not UTC", got[0].OccurredAt)
	}

	long := pd.IncidentNote{ID: "PL", Content: strings.Repeat("word ", 60) + "\nsecond line", CreatedAt: "2024-01-01T00:00:00Z"}
	ev, err := pagerduty.NormalizeNote("P", long, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(ev.Title)); n > 120 || strings.Contains(ev.Title, "\n") || ev.Text != long.Content {
		t.Errorf("title %q (%d runes), text %q", ev.Title, n, ev.Text)
	}
}

func TestNormalizeAlert(t *testing.T) {
	a := decode[map[string][]pd.IncidentAlert](t, `{"alerts":[{"id":"PT4KHLK","type":"alert","summary":"The server is on fire.",
		"html_url":"https://subdomain.pagerduty.com/alerts/PXPGF42","created_at":"2015-10-06T21:30:42Z",
		"status":"resolved","alert_key":"baf7cf21b1da41b4b0221008339ff357",
		"service":{"id":"PIJ90N7","type":"service_reference","summary":"My Mail Service"},
		"body":{"type":"alert_body","contexts":[{"type":"link"}],"details":{"customKey":"Server is on fire!"}},
		"incident":{"id":"PT4KHLK","type":"incident_reference"},"suppressed":false,"severity":"critical",
		"integration":{"id":"PQ12345","type":"generic_email_inbound_integration_reference","summary":"Email Integration"}}]}`)["alerts"][0]
	got, err := pagerduty.NormalizeAlert("PT4KHLK", a)
	if err != nil {
		t.Fatal(err)
	}
	want := timeline.Event{
		ID: "pagerduty:alert:PT4KHLK", IncidentID: "PT4KHLK", Source: "pagerduty", Kind: timeline.KindAlertTriggered,
		OccurredAt: time.Date(2015, 10, 6, 21, 30, 42, 0, time.UTC),
		Actor:      &timeline.Actor{ID: "PQ12345", Name: "Email Integration", Bot: true},
		Title:      "The server is on fire.", URL: "https://subdomain.pagerduty.com/alerts/PXPGF42",
		Details: map[string]any{"status": "resolved", "severity": "critical", "alert_key": "baf7cf21b1da41b4b0221008339ff357",
			"service_id": "PIJ90N7", "body_details": map[string]any{"customKey": "Server is on fire!"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNormalizeIncident(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		resolved   *time.Time
	}{
		{"open", `{"id":"P1","title":"t","created_at":"2015-10-06T21:30:42Z","status":"acknowledged","last_status_change_at":"2015-10-06T21:38:23Z","resolved_at":null}`, nil},
		{"resolved_at", `{"id":"P1","title":"t","created_at":"2015-10-06T21:30:42Z","status":"resolved","resolved_at":"2015-10-06T22:38:23-01:00"}`,
			ptr(time.Date(2015, 10, 6, 23, 38, 23, 0, time.UTC))},
		{"resolved without resolved_at", `{"id":"P1","title":"t","created_at":"2015-10-06T21:30:42Z","status":"resolved","last_status_change_at":"2015-10-06T21:38:23Z"}`,
			ptr(time.Date(2015, 10, 6, 21, 38, 23, 0, time.UTC))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pagerduty.NormalizeIncident(decode[pd.Incident](t, tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(tc.resolved, got.ResolvedAt) || !got.StartedAt.Equal(time.Date(2015, 10, 6, 21, 30, 42, 0, time.UTC)) {
				t.Errorf("started %v resolved %v, want resolved %v", got.StartedAt, got.ResolvedAt, tc.resolved)
			}
			// The status time, where PagerDuty gives one, orders this view
			// against the webhooks' (timeline.Incident.Refresh).
			if want := strings.Contains(tc.json, "last_status_change_at"); got.StatusAt.IsZero() == want {
				t.Errorf("status at %v; want it from last_status_change_at: %v", got.StatusAt, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Whatever PagerDuty puts in a note, a log entry or an alert, NUL characters
// and invalid UTF-8 come out replaced, so the event can be stored.
func TestNormalizeMakesStorable(t *testing.T) {
	const dirty = "nul\x00 and bad \xff"
	const clean = "nul\uFFFD and bad \uFFFD"
	users := pagerduty.Users{"PU1": {ID: "PU1", Name: "Sa\x00m", Email: "s\xff@acme.test"}}
	ref := pd.APIObject{ID: "PU1", Type: "user_reference", Summary: "Sam"}
	note, err := pagerduty.NormalizeNote("Q1", pd.IncidentNote{ID: "N1", User: ref, Content: dirty, CreatedAt: "2025-11-20T10:00:00Z"}, users)
	if err != nil {
		t.Fatal(err)
	}
	le, err := pagerduty.NormalizeLogEntry("Q1", pd.LogEntry{CommonLogEntryField: pd.CommonLogEntryField{
		APIObject: pd.APIObject{ID: "R1", Type: "trigger_log_entry", Summary: dirty}, CreatedAt: "2025-11-20T10:00:00Z",
		Agent: pd.Agent(ref), EventDetails: map[string]string{"description": dirty, "k\x00": "v"},
	}}, users)
	if err != nil {
		t.Fatal(err)
	}
	alert, err := pagerduty.NormalizeAlert("Q1", pd.IncidentAlert{APIObject: pd.APIObject{ID: "A1", Summary: dirty},
		CreatedAt: "2025-11-20T10:00:00Z", Body: map[string]any{"details": map[string]any{"msg": dirty}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []timeline.Event{note, le, alert} {
		if !e.Storable() {
			t.Errorf("%s is not storable: %+v", e.ID, e)
		}
		if e.Title != clean {
			t.Errorf("%s title %q, want %q", e.ID, e.Title, clean)
		}
	}
	if note.Text != clean || note.Actor.Name != "Sa\uFFFDm" || le.Text != clean {
		t.Errorf("note %+v, log entry %+v", note, le)
	}
	inc, err := pagerduty.NormalizeIncident(pd.Incident{APIObject: pd.APIObject{ID: "Q1"}, Title: dirty, CreatedAt: "2025-11-20T10:00:00Z"})
	if err != nil || inc.Title != clean {
		t.Errorf("incident title %q, %v; want %q", inc.Title, err, clean)
	}
}

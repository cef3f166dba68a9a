package pagerdutyfake

import "time"

// CheckoutIncidentID is the id of the incident SeedCheckoutIncident adds.
const CheckoutIncidentID = "Q1CHK42INC7XYZ"

// SeedCheckoutIncident adds a realistic, resolved incident with its log
// entries, notes, alerts and users: the checkout API's error rate pages the
// on-call, who misses it; it escalates, is acknowledged, reassigned, has its
// priority raised and is resolved. Notes carry their authors' local offsets,
// an annotate entry duplicates a note, and one entry has a type Groundwork
// does not map. It returns the incident id.
func SeedCheckoutIncident(f *Fake) string {
	at := func(hms string) time.Time {
		t, err := time.Parse(time.RFC3339, "2025-11-20T"+hms+"Z")
		if err != nil {
			panic(err)
		}
		return t
	}
	newYork := time.FixedZone("", -5*60*60)
	kolkata := time.FixedZone("", 5*60*60+30*60)
	id := CheckoutIncidentID

	priya := UserRef("PNATPRI", "Priya Natarajan")
	tomas := UserRef("PORTTOM", "Tomás Ortega")
	sam := UserRef("POKASAM", "Sam Okafor")
	service := ServiceRef("PSVC001", "checkout-api")
	datadog := IntegrationRef("PINTDD1", "Datadog")
	rule := Ref{ID: "PBOTRUL", Type: "bot_user_reference", Summary: "Checkout Event Rule"}

	f.AddUser(User{ID: priya.ID, Name: priya.Summary, Email: "priya@acme.example", TimeZone: "Asia/Kolkata", JobTitle: "SRE"})
	f.AddUser(User{ID: tomas.ID, Name: tomas.Summary, Email: "tomas@acme.example", TimeZone: "America/New_York"})
	f.AddUser(User{ID: sam.ID, Name: sam.Summary, Email: "sam@acme.example", TimeZone: "Europe/London"})

	resolved := at("11:10:35")
	f.AddIncident(Incident{
		ID: id, Number: 4242, Title: "Checkout API error rate above 5%",
		Urgency: "high", IncidentKey: "checkout-api/5xx-rate",
		CreatedAt: at("09:58:02"), ResolvedAt: &resolved, LastStatusChangeBy: &sam,
		Service:          service,
		EscalationPolicy: &Ref{ID: "PEPCHK1", Type: "escalation_policy_reference", Summary: "Checkout on-call"},
		Teams:            []Ref{TeamRef("PTEAMPY", "Payments")},
		Priority:         "P1",
	})

	timeout := 1800
	entries := []LogEntry{
		{ID: "R1TRIGGER0000000000000001", Type: "trigger", Summary: "Triggered through the API", CreatedAt: at("09:58:02"),
			Agent: &service, Channel: map[string]any{"type": "api"}, Assignees: []Ref{priya},
			EventDetails: map[string]string{"description": "checkout-api 5xx rate 7.2% > 5% for 5m"}},
		{ID: "R2NOTIFY00000000000000002", Type: "notify", Summary: "Notified Priya Natarajan via SMS", CreatedAt: at("09:58:04"),
			Agent: &service, Channel: map[string]any{"type": "sms"}, User: &priya},
		{ID: "R3NOTIFY00000000000000003", Type: "notify", Summary: "Notified Priya Natarajan via push notification", CreatedAt: at("09:58:04"),
			Agent: &service, Channel: map[string]any{"type": "push_notification"}, User: &priya},
		{ID: "R4NOTIFY00000000000000004", Type: "notify", Summary: "Notified Priya Natarajan via phone", CreatedAt: at("10:03:05"),
			Agent: &service, Channel: map[string]any{"type": "phone"}, User: &priya},
		{ID: "R5ESCALATE000000000000005", Type: "escalate", Summary: "Escalated to Tomás Ortega", CreatedAt: at("10:08:03"),
			Agent: &service, Channel: map[string]any{"type": "timeout"}, Assignees: []Ref{tomas}},
		{ID: "R6NOTIFY00000000000000006", Type: "notify", Summary: "Notified Tomás Ortega via SMS", CreatedAt: at("10:08:05"),
			Agent: &service, Channel: map[string]any{"type": "sms"}, User: &tomas},
		{ID: "R7ACK00000000000000000007", Type: "acknowledge", Summary: "Acknowledged by Tomás Ortega", CreatedAt: at("10:09:40"),
			Agent: &tomas, Channel: map[string]any{"type": "website"}, AcknowledgementTimeout: &timeout},
		{ID: "R8ANNOTATE000000000000008", Type: "annotate", Summary: "Note added", CreatedAt: at("10:12:00"),
			Agent: &tomas, Channel: map[string]any{"type": "note", "summary": "Rolling back checkout-api to v2.41.0"}},
		{ID: "R9ASSIGN00000000000000009", Type: "assign", Summary: "Reassigned to Sam Okafor by Tomás Ortega", CreatedAt: at("10:15:30"),
			Agent: &tomas, Channel: map[string]any{"type": "website"}, Assignees: []Ref{sam}},
		{ID: "RAPRIORITY00000000000000A", Type: "priority_change", Summary: "Priority changed from P3 to P1", CreatedAt: at("10:16:00"),
			Agent: &tomas, Channel: map[string]any{"type": "website"}},
		{ID: "RBURGENCY000000000000000B", Type: "urgency_change", Summary: "Urgency changed to high", CreatedAt: at("10:16:05"),
			Agent: &tomas, Channel: map[string]any{"type": "website"}},
		{ID: "RCFIELD00000000000000000C", Type: "custom_field_value_change", Summary: "Custom field customer_impact changed to high", CreatedAt: at("10:30:00"),
			Agent: &sam, Channel: map[string]any{"type": "website"}},
		{ID: "RDRESOLVE0000000000000000D", Type: "resolve", Summary: "Resolved by Sam Okafor", CreatedAt: at("11:10:35"),
			Agent: &sam, Channel: map[string]any{"type": "website"}},
	}
	for _, le := range entries {
		le.IncidentID = id
		le.Teams = []Ref{TeamRef("PTEAMPY", "Payments")}
		f.AddLogEntry(le)
	}

	f.AddNote(Note{ID: "PNOTEBOT1", IncidentID: id, User: rule, ChannelSummary: "Checkout Event Rule",
		Content: "Automated diagnostics: p99 latency 4.1s, DB pool 100/100 in use", CreatedAt: at("09:58:10")})
	f.AddNote(Note{ID: "PNOTEPRI1", IncidentID: id, User: priya,
		Content:   "Joining the bridge late (was driving). Seeing DB connection pool exhaustion on checkout-db-2.",
		CreatedAt: time.Date(2025, 11, 20, 15, 40, 0, 0, kolkata)})
	f.AddNote(Note{ID: "PNOTETOM1", IncidentID: id, User: tomas,
		Content:   "Rolling back checkout-api to v2.41.0\nv2.42.0 doubled the pool's max lifetime.",
		CreatedAt: time.Date(2025, 11, 20, 5, 12, 0, 0, newYork)})

	f.AddAlert(Alert{ID: "PALRT5XX1", IncidentID: id, Summary: "checkout-api 5xx rate 7.2% > 5% for 5m",
		Status: "resolved", Severity: "critical", AlertKey: "checkout-api/5xx-rate", CreatedAt: at("09:58:01"),
		Service: service, Integration: &datadog,
		Details: map[string]any{"metric": "http.5xx_rate", "value": "7.2%", "threshold": "5%"}})
	f.AddAlert(Alert{ID: "PALRTP991", IncidentID: id, Summary: "checkout-api p99 latency above 2s",
		Status: "resolved", Severity: "error", AlertKey: "checkout-api/p99", CreatedAt: at("10:01:12"),
		Service: service, Integration: &datadog,
		Details: map[string]any{"metric": "http.p99", "value": "4.1s"}})
	return id
}

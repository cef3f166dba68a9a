package timeline

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPrepare10k derives the review of a 10,000-event incident.
func BenchmarkPrepare10k(b *testing.B) {
	t0 := at("2025-11-20T10:00:00Z")
	var evs []Event
	evs = append(evs, ev("pagerduty:log_entry:T", KindPageTriggered, "2025-11-20T10:00:00Z", pdSystem("PSVC", "svc", "")))
	for i := 0; i < 10_000; i++ {
		e := ev(fmt.Sprintf("slack:message:C1:%d.000100", t0.Unix()+int64(i)), KindChatMessage, "2025-11-20T10:00:00Z",
			by(fmt.Sprintf("U%d", i%7), "Person", ""), with(DetailChatChannel, "C1"))
		e.OccurredAt = t0.Add(time.Duration(i) * time.Second)
		evs = append(evs, e)
	}
	in := SummaryInput{Events: evs}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Prepare(in)
	}
}

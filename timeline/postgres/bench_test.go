package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// benchEvents builds n realistic events: ~200-byte texts, details JSON, a
// mix of sources and kinds, many sharing a timestamp.
func benchEvents(n int) []timeline.Event {
	words := strings.Fields("checkout p99 latency climbing after deploy rolled back payments api errors 502 upstream timeout pool exhausted retry storm cache cold")
	out := make([]timeline.Event, n)
	for i := range out {
		var sb strings.Builder
		for sb.Len() < 200 {
			sb.WriteString(words[(i+sb.Len())%len(words)])
			sb.WriteByte(' ')
		}
		at := t0.Add(time.Duration(i/3) * time.Second)
		ts := fmt.Sprintf("%d.%06d", at.Unix(), i%1000000)
		out[i] = timeline.Event{
			ID: timeline.EventID("slack", "message", "C0CHECKOUT", ts), IncidentID: "PBENCH",
			Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: at,
			Actor: &timeline.Actor{ID: "U0761F5NSP5", Name: "Ana Lima", Email: "ana@acme.test"},
			Title: timeline.Truncate(sb.String(), 80), Text: sb.String(),
			URL:     "https://acme.slack.com/archives/C0CHECKOUT/p" + strings.ReplaceAll(ts, ".", ""),
			Details: map[string]any{"channel": "C0CHECKOUT", "ts": ts, "thread_ts": nil, "reply_count": i % 7, "reactions": []string{"eyes"}},
		}
	}
	return out
}

// BenchmarkUpsert loads N events (GW_BENCH_EVENTS, default 100,000) and, in
// the same run, reports events/s of (a) the store's upsert of new events,
// (b) the re-upsert of the same unchanged events, and (c) a plain COPY of the
// same rows, already encoded, into an identical table (same indexes, checks,
// foreign key and seq default), plus a/c and b/a.
//
//	go test ./timeline/postgres -run '^$' -bench Upsert -benchtime 3x
func BenchmarkUpsert(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("GW_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	events := benchEvents(n)
	for _, m := range []postgres.BulkMethod{postgres.BulkCopy, postgres.BulkUnnest} {
		b.Run(m.String(), func(b *testing.B) {
			s := pgtest.New(b)
			st := postgres.New(s.Pool).WithBulkMethod(m)
			ctx := context.Background()
			if err := st.UpsertIncident(ctx, timeline.Incident{ID: "PBENCH", StartedAt: t0, WindowStart: t0, WindowEnd: t0.Add(48 * time.Hour)}); err != nil {
				b.Fatal(err)
			}
			// An identical table: LIKE copies defaults (the seq), indexes and
			// checks; the foreign key to incidents is added by hand.
			if _, err := s.Pool.Exec(ctx, `CREATE TABLE events_copy (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS,
				FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE)`); err != nil {
				b.Fatal(err)
			}
			rows := copyRows(b, events)
			var newDur, sameDur, copyDur time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if _, err := s.Pool.Exec(ctx, `TRUNCATE events, events_copy`); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				res, err := st.UpsertEvents(ctx, events)
				if err != nil || res.Inserted != n {
					b.Fatalf("upsert: %+v %v", res, err)
				}
				newDur += time.Since(start)

				start = time.Now()
				res, err = st.UpsertEvents(ctx, events)
				if err != nil || res.Changed() != 0 {
					b.Fatalf("re-upsert: %+v %v", res, err)
				}
				sameDur += time.Since(start)

				start = time.Now()
				cn, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"events_copy"},
					[]string{"incident_id", "id", "source", "kind", "occurred_at", "occurred_ns", "actor", "title", "text", "url", "details", "content_hash"},
					pgx.CopyFromRows(rows))
				if err != nil || int(cn) != n {
					b.Fatalf("copy: %d %v", cn, err)
				}
				copyDur += time.Since(start)
			}
			b.StopTimer()
			rate := func(d time.Duration) float64 { return float64(n*b.N) / d.Seconds() }
			a, same, c := rate(newDur), rate(sameDur), rate(copyDur)
			b.ReportMetric(a, "new_events/s")
			b.ReportMetric(same, "unchanged_events/s")
			b.ReportMetric(c, "copy_events/s")
			b.ReportMetric(a/c, "new/copy")
			b.ReportMetric(same/a, "unchanged/new")
		})
	}
}

func copyRows(b *testing.B, events []timeline.Event) [][]any {
	rows := make([][]any, len(events))
	for i, e := range events {
		actor, _ := json.Marshal(e.Actor)
		details, _ := json.Marshal(e.Details)
		us := e.OccurredAt.Truncate(time.Microsecond)
		h := sha256.Sum256(details)
		rows[i] = []any{e.IncidentID, e.ID, e.Source, e.Kind, us, int32(e.OccurredAt.Sub(us)), json.RawMessage(actor), e.Title, e.Text, e.URL, json.RawMessage(details), h[:16]}
	}
	return rows
}

package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// TestWindowRuleAgrees runs edge cases of the incident window rule through
// the Go rule (Incident.Covers, on the incident as stored) and through the
// store's three window queries: the journal joining an incident when it is
// declared (joinJournalSQL), a live event joining the incidents that cover
// it (coveringSQL, then Covers), and LiveIncidents (microseconds, as
// Postgres keeps times). Open, reopened and resolved incidents, instants a
// nanosecond and a microsecond either side of each bound, and a window of
// no length.
func TestWindowRuleAgrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	st := d.Store
	start, end := t0.Add(-2*time.Hour), t0.Add(time.Hour)
	resolved := t0.Add(30 * time.Minute)
	reopenedAt := t0.Add(40 * time.Minute)

	type incidentCase struct {
		name string
		// views are the deliveries' views of the incident, in order.
		views      func(id string, channels []string) []timeline.Incident
		start, end time.Time
	}
	view := func(id string, channels []string, ws, we time.Time, res *time.Time, statusAt time.Time) timeline.Incident {
		return timeline.Incident{ID: id, Title: "window rule", Source: timeline.SourceGeneric, StartedAt: t0,
			WindowStart: ws, WindowEnd: we, ResolvedAt: res, StatusAt: statusAt, Channels: channels}
	}
	cases := []incidentCase{
		{"resolved", func(id string, ch []string) []timeline.Incident {
			return []timeline.Incident{view(id, ch, start, end, &resolved, resolved)}
		}, start, end},
		{"open", func(id string, ch []string) []timeline.Incident {
			return []timeline.Incident{view(id, ch, start, end, nil, t0)}
		}, start, end},
		{"reopened", func(id string, ch []string) []timeline.Incident {
			return []timeline.Incident{
				view(id, ch, start, end, &resolved, resolved),
				view(id, ch, start, end, nil, reopenedAt),
			}
		}, start, end},
		{"no length", func(id string, ch []string) []timeline.Incident {
			return []timeline.Incident{view(id, ch, t0, t0, &t0, t0)}
		}, t0, t0},
	}
	offsets := []time.Duration{-time.Microsecond, -time.Nanosecond, 0, time.Nanosecond, time.Microsecond}

	for ci, c := range cases {
		var instants []time.Time
		for _, bound := range []time.Time{c.start, c.end} {
			for _, o := range offsets {
				instants = append(instants, bound.Add(o))
			}
		}
		instants = append(instants, c.end.Add(24*time.Hour), c.start.Add(-24*time.Hour))
		channel := func(path string, i int) string { return fmt.Sprintf("C%s%d_%02d", path, ci, i) }
		var joinChannels, liveChannels []string
		for i := range instants {
			joinChannels = append(joinChannels, channel("J", i))
			liveChannels = append(liveChannels, channel("L", i))
		}
		joinID, liveID := fmt.Sprintf("JOIN%d", ci), fmt.Sprintf("LIVE%d", ci)
		declare := func(id string, channels []string) {
			for vi, v := range c.views(id, channels) {
				record(t, d, timeline.Delivery{Receiver: "incident", ID: fmt.Sprint(id, "-", vi), Incidents: []timeline.Incident{v}})
			}
		}
		live := func(path string, i int, at time.Time) timeline.Event {
			e := chatEvent(channel(path, i), at, "at "+at.Format(time.RFC3339Nano))
			record(t, d, timeline.Delivery{Receiver: "slack", ID: "live-" + e.ID, Journal: []timeline.JournalEntry{slackEntry(e)}})
			return e
		}

		// The journal first, then the incident: joinJournalSQL.
		joinEvents := make([]timeline.Event, len(instants))
		for i, at := range instants {
			joinEvents[i] = live("J", i, at)
		}
		declare(joinID, joinChannels)
		// The incident first, then live events: coveringSQL and Covers.
		declare(liveID, liveChannels)
		liveEvents := make([]timeline.Event, len(instants))
		for i, at := range instants {
			liveEvents[i] = live("L", i, at)
		}

		for _, path := range []struct {
			id     string
			events []timeline.Event
		}{{joinID, joinEvents}, {liveID, liveEvents}} {
			inc, err := st.Incident(ctx, path.id)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "reopened" && !inc.Open() {
				t.Fatalf("%s: the reopened incident is stored resolved", path.id)
			}
			held := eventIDs(storedTimeline(t, st, path.id))
			for i, at := range instants {
				want := inc.Covers(at, at)
				if later := inc.Covers(at, at.Add(48*time.Hour)); later != want {
					t.Fatalf("%s %s: Covers depends on now for a past event", c.name, at.Format(time.RFC3339Nano))
				}
				if got := slices.Contains(held, path.events[i].ID); got != want {
					t.Errorf("%s (%s) at %s: the store holds it = %t, Incident.Covers = %t",
						c.name, path.id, at.Format(time.RFC3339Nano), got, want)
				}
			}
		}

		// LiveIncidents, to the microsecond.
		inc, err := st.Incident(ctx, liveID)
		if err != nil {
			t.Fatal(err)
		}
		for i, at := range instants {
			found, err := d.LiveIncidents(ctx, timeline.LiveScope{Channel: channel("L", i), From: at, To: at})
			if err != nil {
				t.Fatal(err)
			}
			us := at.Truncate(time.Microsecond)
			if got, want := len(found) == 1, inc.Covers(us, us); got != want {
				t.Errorf("%s: LiveIncidents at %s finds it = %t, Incident.Covers = %t", c.name, us.Format(time.RFC3339Nano), got, want)
			}
		}
	}
}

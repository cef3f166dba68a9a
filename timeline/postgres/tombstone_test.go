package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// versioned is chat(inc, i, at) as a Slack message edited at version with
// text.
func versioned(inc string, i int, at, version time.Time, text string) timeline.Event {
	e := chat(inc, i, at)
	e.Text, e.Title, e.Version = text, "Ana: "+text, version
	return e
}

// tombstone is the deletion of e, deleted at at.
func tombstone(e timeline.Event, at time.Time) timeline.Event {
	return timeline.Event{ID: e.ID, IncidentID: e.IncidentID, Source: e.Source, Kind: e.Kind,
		OccurredAt: e.OccurredAt, Version: at, Deleted: true}
}

func timelineOf(t *testing.T, st *postgres.Store, inc string) []timeline.Event {
	t.Helper()
	evs, err := st.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: inc})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// rowContent is what the events row of id holds besides its keys.
func rowContent(t *testing.T, s *pgtest.Schema, inc, id string) (string, bool) {
	t.Helper()
	var content string
	var deleted bool
	err := s.Pool.QueryRow(context.Background(), `SELECT concat_ws('|', title, text, url, actor::text, details::text), deleted
		FROM events WHERE incident_id = $1 AND id = $2`, inc, id).Scan(&content, &deleted)
	if err != nil {
		t.Fatalf("row %s: %v", id, err)
	}
	return content, deleted
}

// TestOlderVersionNeverReplacesNewer: an edit that arrives before the
// original (Slack retried the original late) stays, whichever way the rows
// reach the store (probed or from an incident's snapshot).
func TestOlderVersionNeverReplacesNewer(t *testing.T) {
	t.Parallel()
	for _, m := range []postgres.BulkMethod{postgres.BulkCopy, postgres.BulkUnnest} {
		for _, many := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/snapshot=%t", m, many), func(t *testing.T) {
				t.Parallel()
				st, _ := newStore(t)
				st = st.WithBulkMethod(m)
				ctx := context.Background()
				mustIncident(t, st, "PV")
				at := t0.Add(time.Minute)
				var filler []timeline.Event
				if many {
					// Enough events of the incident in one batch that it is
					// compared against a snapshot instead of probed.
					for i := 0; i < 1200; i++ {
						filler = append(filler, chat("PV", 1000+i, t0.Add(time.Duration(i)*time.Millisecond)))
					}
				}
				upsertAll := func(e timeline.Event) timeline.UpsertResult {
					t.Helper()
					res, err := st.UpsertEvents(ctx, append(append([]timeline.Event(nil), filler...), e))
					if err != nil {
						t.Fatal(err)
					}
					return res
				}
				edited := versioned("PV", 1, at, at.Add(30*time.Second), "edited")
				upsertAll(edited)
				original := versioned("PV", 1, at, at, "original")
				if res := upsertAll(original); res.Changed() != 0 {
					t.Errorf("the older version changed %+v", res)
				}
				resolved := edited
				resolved.Actor = &timeline.Actor{ID: "U0761F5NSP5", Name: "Ana Lima", Email: "ana@acme.test"}
				if res := upsertAll(resolved); res.Updated != 1 {
					t.Errorf("the same version with names resolved: %+v, want it updated", res)
				}
				newer := versioned("PV", 1, at, at.Add(time.Minute), "edited twice")
				if res := upsertAll(newer); res.Updated != 1 {
					t.Errorf("a newer version: %+v, want it updated", res)
				}
				// An unversioned event (another source) is replaced by the
				// last write, as before versions existed.
				plain := chat("PV", 2, at)
				upsertAll(plain)
				plain.Text = "changed"
				if res := upsertAll(plain); res.Updated != 1 {
					t.Errorf("an unversioned change: %+v, want it updated", res)
				}
				got := map[string]string{}
				for _, e := range timelineOf(t, st, "PV") {
					got[e.ID] = e.Text
				}
				if got[newer.ID] != "edited twice" || got[plain.ID] != "changed" {
					t.Errorf("stored %q and %q, want the newest version and the last write", got[newer.ID], got[plain.ID])
				}
			})
		}
	}
}

// TestDeletionLeavesOnlyATombstone: storing a deletion removes the event's
// content and takes it off the timeline; the feed carries the removal at a
// new seq; neither a repeated deletion nor a late copy of the message
// changes anything; a deletion of a message never stored is kept too.
func TestDeletionLeavesOnlyATombstone(t *testing.T) {
	t.Parallel()
	for _, m := range []postgres.BulkMethod{postgres.BulkCopy, postgres.BulkUnnest} {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			st, s := newStore(t)
			st = st.WithBulkMethod(m)
			ctx := context.Background()
			mustIncident(t, st, "PD")
			at := t0.Add(time.Minute)
			secret := versioned("PD", 1, at, at, "AKIA… pasted by mistake")
			kept := versioned("PD", 2, at, at, "rolling back")
			upsert(t, st, secret, kept)
			before, err := st.Feed(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			res, err := st.UpsertEvents(ctx, []timeline.Event{tombstone(secret, at.Add(time.Minute))})
			if err != nil || res.Updated != 1 {
				t.Fatalf("deletion: %+v %v, want one update", res, err)
			}
			if got := ids(timelineOf(t, st, "PD")); !cmp.Equal(got, []string{kept.ID}) {
				t.Errorf("timeline %v, want only %s", got, kept.ID)
			}
			enc, err := st.TimelineJSON(ctx, timeline.TimelineQuery{IncidentID: "PD"})
			if err != nil || len(enc) != 1 || enc[0].ID != kept.ID {
				t.Errorf("encoded timeline %d events (%v), want only %s", len(enc), err, kept.ID)
			}
			if content, deleted := rowContent(t, s, "PD", secret.ID); content != "|||{}" || !deleted {
				t.Errorf("tombstone row holds %q (deleted %t), want no content", content, deleted)
			}
			feed, err := st.Feed(ctx, before[len(before)-1].Seq, 100)
			if err != nil || len(feed) != 1 {
				t.Fatalf("feed after the deletion: %v %v, want the tombstone", feed, err)
			}
			want := timeline.Event{ID: secret.ID, IncidentID: "PD", Source: "slack", Kind: timeline.KindChatMessage,
				OccurredAt: at, Details: map[string]any{}, Seq: feed[0].Seq, Version: at.Add(time.Minute), Deleted: true}
			if d := cmp.Diff(want, feed[0]); d != "" {
				t.Errorf("feed tombstone (-want +got):\n%s", d)
			}

			for name, e := range map[string]timeline.Event{
				"the deletion again":      tombstone(secret, at.Add(2*time.Minute)),
				"a late copy of it":       secret,
				"a late edit before then": versioned("PD", 1, at, at.Add(30*time.Second), "edited"),
			} {
				if res, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil || res.Changed() != 0 {
					t.Errorf("%s: %+v %v, want nothing changed", name, res, err)
				}
			}
			if got := ids(timelineOf(t, st, "PD")); !cmp.Equal(got, []string{kept.ID}) {
				t.Errorf("timeline %v after late copies, want only %s", got, kept.ID)
			}

			never := tombstone(chat("PD", 3, at), at.Add(time.Minute))
			if res, err := st.UpsertEvents(ctx, []timeline.Event{never}); err != nil || res.Inserted != 1 {
				t.Fatalf("deletion of a message never stored: %+v %v, want a tombstone inserted", res, err)
			}
			if res, err := st.UpsertEvents(ctx, []timeline.Event{versioned("PD", 3, at, at, "arrived late")}); err != nil || res.Changed() != 0 {
				t.Errorf("the message after its deletion: %+v %v, want nothing changed", res, err)
			}
			if got := ids(timelineOf(t, st, "PD")); !cmp.Equal(got, []string{kept.ID}) {
				t.Errorf("timeline %v, want only %s", got, kept.ID)
			}
		})
	}
}

func ids(evs []timeline.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func TestSweepEvents(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PS")
	mustIncident(t, st, "POTHER")
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	inRange := chat("PS", 1, at(10))
	first := chat("PS", 2, at(0)) // the range's first instant: included
	last := chat("PS", 3, at(60)) // its last: included
	kept := chat("PS", 4, at(20))
	after := chat("PS", 5, at(61))
	other := chat("PS", 6, at(10))
	other.ID = timeline.EventID("slack", "message", "C0OTHER", "1.000006")
	gh := timeline.Event{ID: "github:commit:acme/api:abc", IncidentID: "PS", Source: "github", Kind: timeline.KindChangeCommit, OccurredAt: at(10)}
	elsewhere := chat("POTHER", 7, at(10))
	gone := chat("PS", 8, at(30))
	upsert(t, st, inRange, first, last, kept, after, other, gh, elsewhere, gone, tombstone(gone, at(40)))
	before, err := st.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	n, err := st.SweepEvents(ctx, timeline.Sweep{IncidentID: "PS", Source: "slack", IDPrefix: "slack:message:C0CHECKOUT:",
		Start: at(0), End: at(60), KeepFunc: func(e timeline.Event) bool {
			asked = append(asked, e.ID)
			if e.Text == "" || e.Deleted {
				t.Errorf("KeepFunc got %+v, want the stored event with its content", e)
			}
			return e.ID == kept.ID
		}})
	if err != nil || n != 3 {
		t.Fatalf("sweep: %d %v, want 3 deleted", n, err)
	}
	if d := cmp.Diff(sortedStrings(asked), sortedStrings([]string{inRange.ID, first.ID, last.ID, kept.ID})); d != "" {
		t.Errorf("candidates (-want +got):\n%s", d)
	}
	if got := ids(timelineOf(t, st, "PS")); !cmp.Equal(sortedStrings(got), sortedStrings([]string{kept.ID, after.ID, other.ID, gh.ID})) {
		t.Errorf("timeline after the sweep: %v", got)
	}
	if got := ids(timelineOf(t, st, "POTHER")); len(got) != 1 {
		t.Errorf("another incident's timeline: %v", got)
	}
	feed, err := st.Feed(ctx, before[len(before)-1].Seq, 100)
	if err != nil || len(feed) != 3 {
		t.Fatalf("feed after the sweep: %v %v", feed, err)
	}
	for _, e := range feed {
		if !e.Deleted || e.Text != "" || e.Actor != nil {
			t.Errorf("feed entry %+v, want a tombstone", e)
		}
		if content, _ := rowContent(t, s, "PS", e.ID); content != "|||{}" {
			t.Errorf("swept row %s keeps %q", e.ID, content)
		}
	}
	// A live deletion of a swept event changes nothing more.
	if res, err := st.UpsertEvents(ctx, []timeline.Event{tombstone(inRange, at(90))}); err != nil || res.Changed() != 0 {
		t.Errorf("deleting a swept event again: %+v %v", res, err)
	}
	// Sweeping again finds nothing.
	if n, err := st.SweepEvents(ctx, timeline.Sweep{IncidentID: "PS", Source: "slack", IDPrefix: "slack:message:C0CHECKOUT:",
		Start: at(0), End: at(60), KeepFunc: func(e timeline.Event) bool { return e.ID == kept.ID }}); n != 0 || err != nil {
		t.Errorf("second sweep: %d %v", n, err)
	}
	for name, bad := range map[string]timeline.Sweep{
		"no prefix":   {IncidentID: "PS", Source: "slack", Start: at(0), End: at(60)},
		"no incident": {Source: "slack", IDPrefix: "slack:", Start: at(0), End: at(60)},
		"backwards":   {IncidentID: "PS", Source: "slack", IDPrefix: "slack:", Start: at(60), End: at(0)},
	} {
		if _, err := st.SweepEvents(ctx, bad); !errors.Is(err, timeline.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func sortedStrings(s []string) []string { return slices.Sorted(slices.Values(s)) }

// A deleted page is not counted among a person's prior pages.
func TestPriorPagesSkipTombstones(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	incidentAt(t, st, "PNOW", t0, time.Hour)
	incidentAt(t, st, "PBEFORE", t0.Add(-48*time.Hour), time.Hour)
	page := notified("PBEFORE", "PUSER1", t0.Add(-48*time.Hour))
	upsert(t, st, page, notified("PBEFORE", "PUSER1", t0.Add(-47*time.Hour)))
	upsert(t, st, notified("PNOW", "PUSER1", t0.Add(time.Minute))) // PNOW's own page names PUSER1
	upsert(t, st, tombstone(page, t0))
	got, err := st.PriorPages(context.Background(), "PNOW", t0.Add(-7*24*time.Hour), t0)
	if err != nil || got["PUSER1"] != 1 {
		t.Errorf("prior pages %v %v, want 1 for PUSER1", got, err)
	}
}

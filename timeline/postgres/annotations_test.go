package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

func note(inc string, ids ...string) timeline.Annotation {
	return timeline.Annotation{IncidentID: inc, EventIDs: ids, Marker: timeline.MarkerDiagnosis,
		Title: "pool exhausted", Note: "the DB pool ran dry at 09:04", Author: "facilitators", Status: timeline.AnnotationActive}
}

func mustCreate(t *testing.T, st *postgres.Store, a timeline.Annotation) timeline.Annotation {
	t.Helper()
	out, err := st.CreateAnnotation(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An annotation is stored apart from events, with its author, a version and
// a seq drawn after every event's; reading it back gives what was written,
// nanoseconds of at included.
func TestAnnotationRoundTrip(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	evs := []timeline.Event{chat("PA", 1, t0), chat("PA", 2, t0.Add(time.Minute))}
	if _, err := st.UpsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	stored, _ := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PA"})
	at := t0.Add(90*time.Second + 123456789)
	a := note("PA", evs[1].ID, evs[0].ID)
	a.At = &at
	got := mustCreate(t, st, a)
	if !timeline.ValidAnnotationID(got.ID) || got.Version != 1 || got.Seq <= stored[1].Seq || got.CreatedAt.IsZero() {
		t.Fatalf("created %+v", got)
	}
	back, err := st.Annotation(ctx, "PA", got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, back); diff != "" {
		t.Errorf("read back (-created +read):\n%s", diff)
	}
	if !back.At.Equal(at) || !slices.Equal(back.EventIDs, []string{evs[1].ID, evs[0].ID}) || back.Orphaned() {
		t.Errorf("read back %+v", back)
	}
	// A marker on a moment needs no event.
	blind := timeline.Annotation{IncidentID: "PA", Marker: timeline.MarkerBlindSpot, At: &at, Author: "facilitators", Status: timeline.AnnotationActive}
	if b := mustCreate(t, st, blind); len(b.EventIDs) != 0 || b.Seq <= got.Seq {
		t.Errorf("blind spot %+v", b)
	}
}

// Creating refuses, naming them, events that are not on the incident's
// timeline (including another incident's), and an unknown incident; nothing
// is stored.
func TestAnnotationRefusesUnknownEvents(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	mustIncident(t, st, "PB")
	other := chat("PB", 1, t0)
	mine := chat("PA", 2, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{other, mine}); err != nil {
		t.Fatal(err)
	}
	_, err := st.CreateAnnotation(ctx, note("PA", mine.ID, other.ID, "slack:message:C0X:1.2"))
	var unknown *timeline.UnknownEventsError
	if !errors.As(err, &unknown) || !errors.Is(err, timeline.ErrInvalid) || !slices.Equal(unknown.IDs, []string{other.ID, "slack:message:C0X:1.2"}) {
		t.Fatalf("err = %v, want the two unknown ids", err)
	}
	if _, err := st.CreateAnnotation(ctx, note("PNOPE", mine.ID)); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("unknown incident: %v", err)
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM annotations`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d annotations stored (%v)", n, err)
	}
}

// An annotation whose event leaves the timeline is orphaned, never dropped:
// it names the missing event, in lists, in single reads and in the feed,
// and is whole again when the event comes back.
func TestAnnotationOrphanedWhenItsEventDisappears(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	keep, gone := chat("PA", 1, t0), chat("PA", 2, t0.Add(time.Second))
	if _, err := st.UpsertEvents(ctx, []timeline.Event{keep, gone}); err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, st, note("PA", keep.ID, gone.ID))
	if _, err := s.Pool.Exec(ctx, `DELETE FROM events WHERE incident_id = 'PA' AND id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	back, err := st.Annotation(ctx, "PA", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Orphaned() || !slices.Equal(back.MissingEventIDs, []string{gone.ID}) || !slices.Equal(back.EventIDs, a.EventIDs) {
		t.Errorf("after the deletion: %+v", back)
	}
	list, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA"})
	if err != nil || len(list) != 1 || !slices.Equal(list[0].MissingEventIDs, []string{gone.ID}) {
		t.Errorf("list = %+v, %v", list, err)
	}
	feed, err := st.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := feed[len(feed)-1]
	if last.Annotation == nil || !slices.Equal(last.Annotation.MissingEventIDs, []string{gone.ID}) {
		t.Errorf("feed's last entry %+v", last)
	}
	// The event comes back (collected again): the annotation is whole.
	if _, err := st.UpsertEvents(ctx, []timeline.Event{gone}); err != nil {
		t.Fatal(err)
	}
	if back, err = st.Annotation(ctx, "PA", a.ID); err != nil || back.Orphaned() || back.Version != a.Version {
		t.Errorf("after the event came back: %+v, %v", back, err)
	}
}

// PATCH semantics in the store: a version mismatch is refused with the
// current version, nothing changed is no new version, events newly cited
// must be on the timeline while kept ones may have left it, and confirming
// is only for suggestions and records who.
func TestAnnotationUpdate(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	e1, e2, e3 := chat("PA", 1, t0), chat("PA", 2, t0), chat("PA", 3, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e1, e2, e3}); err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, st, note("PA", e1.ID))
	title := "pool exhausted after the deploy"
	_, err := st.UpdateAnnotation(ctx, "PA", a.ID, timeline.AnnotationPatch{Title: &title, IfVersion: 7})
	var mismatch *timeline.VersionMismatchError
	if !errors.As(err, &mismatch) || mismatch.Current != 1 {
		t.Fatalf("stale version: %v", err)
	}
	same, err := st.UpdateAnnotation(ctx, "PA", a.ID, timeline.AnnotationPatch{Title: &a.Title, IfVersion: 1})
	if err != nil || same.Version != 1 || same.Seq != a.Seq {
		t.Fatalf("a patch that changes nothing: %+v, %v", same, err)
	}
	if _, err := s.Pool.Exec(ctx, `DELETE FROM events WHERE id = $1`, e1.ID); err != nil {
		t.Fatal(err)
	}
	ids := []string{e1.ID, e2.ID}
	up, err := st.UpdateAnnotation(ctx, "PA", a.ID, timeline.AnnotationPatch{Title: &title, EventIDs: &ids, IfVersion: 1, By: "writer"})
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || up.Seq <= a.Seq || up.Title != title || !slices.Equal(up.MissingEventIDs, []string{e1.ID}) {
		t.Errorf("updated %+v", up)
	}
	bad := []string{e2.ID, "github:commit:acme/x:1"}
	var unknown *timeline.UnknownEventsError
	if _, err := st.UpdateAnnotation(ctx, "PA", a.ID, timeline.AnnotationPatch{EventIDs: &bad}); !errors.As(err, &unknown) || !slices.Equal(unknown.IDs, []string{"github:commit:acme/x:1"}) {
		t.Errorf("newly citing an unknown event: %v", err)
	}
	confirmed := timeline.AnnotationConfirmed
	if _, err := st.UpdateAnnotation(ctx, "PA", a.ID, timeline.AnnotationPatch{Status: &confirmed}); !errors.Is(err, timeline.ErrInvalid) {
		t.Errorf("confirming a person's annotation: %v", err)
	}
	if _, err := st.UpdateAnnotation(ctx, "PA", "00000000-0000-0000-0000-000000000000", timeline.AnnotationPatch{Title: &title}); !errors.Is(err, timeline.ErrAnnotationNotFound) {
		t.Errorf("unknown annotation: %v", err)
	}
	if _, err := st.Annotation(ctx, "PNOPE", a.ID); !errors.Is(err, timeline.ErrNotFound) || errors.Is(err, timeline.ErrAnnotationNotFound) {
		t.Errorf("unknown incident: %v", err)
	}
}

// Deleting keeps the row so the feed carries the removal at a new seq;
// reads no longer find it, and an incident's version moves with every
// annotation change.
func TestAnnotationDeleteReachesTheFeed(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	e := chat("PA", 1, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil {
		t.Fatal(err)
	}
	v0, _ := st.IncidentVersion(ctx, "PA")
	a := mustCreate(t, st, note("PA", e.ID))
	v1, _ := st.IncidentVersion(ctx, "PA")
	if err := st.DeleteAnnotation(ctx, "PA", a.ID, 2); !errors.Is(err, timeline.ErrVersionMismatch) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := st.DeleteAnnotation(ctx, "PA", a.ID, 1); err != nil {
		t.Fatal(err)
	}
	v2, _ := st.IncidentVersion(ctx, "PA")
	if v0 == v1 || v1 == v2 {
		t.Errorf("versions %s, %s, %s: an annotation change must change the incident's version", v0, v1, v2)
	}
	if _, err := st.Annotation(ctx, "PA", a.ID); !errors.Is(err, timeline.ErrAnnotationNotFound) {
		t.Errorf("read after delete: %v", err)
	}
	if err := st.DeleteAnnotation(ctx, "PA", a.ID, 0); !errors.Is(err, timeline.ErrAnnotationNotFound) {
		t.Errorf("second delete: %v", err)
	}
	feed, err := st.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range feed {
		switch {
		case f.Annotation == nil:
			kinds = append(kinds, "event")
		case f.Annotation.Deleted:
			kinds = append(kinds, "deleted")
		default:
			kinds = append(kinds, "annotation")
		}
	}
	// The creation's entry was superseded: an annotation is in the feed at
	// the seq of its last change, as an event is.
	if diff := cmp.Diff([]string{"event", "deleted"}, kinds); diff != "" {
		t.Errorf("feed entries (-want +got):\n%s", diff)
	}
	if f := feed[1]; f.ID != a.ID || f.IncidentID != "PA" || f.Seq <= a.Seq {
		t.Errorf("removal entry %+v", f)
	}
}

// Writers of events and of annotations racing: the feed, read page by page
// while they write, sees every change exactly once and in seq order.
func TestFeedInterleavesAnnotationsWithoutSkipping(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	first := chat("PA", 0, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{first}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 1; i <= n; i++ {
			if _, err := st.UpsertEvents(ctx, []timeline.Event{chat("PA", i, t0.Add(time.Duration(i)*time.Second))}); err != nil {
				errs <- err
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := st.CreateAnnotation(ctx, note("PA", first.ID)); err != nil {
				errs <- err
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var after int64
	read := func() {
		page, err := st.Feed(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("seq %d after %d", e.Seq, after)
			}
			after = e.Seq
			if seen[e.ID] {
				t.Fatalf("%s twice", e.ID)
			}
			seen[e.ID] = true
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		read()
	}
	for before := -1; before != len(seen); {
		before = len(seen)
		read()
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != 2*n+1 {
		t.Errorf("the feed gave %d entries, want %d", len(seen), 2*n+1)
	}
}

// Suggestions are stored once per key: running the detector again adds
// nothing, and one a person dismissed or deleted stays so.
func TestSuggestAnnotationsIdempotent(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	e := chat("PA", 1, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil {
		t.Fatal(err)
	}
	sugg := func(key string) timeline.Annotation {
		return timeline.Annotation{IncidentID: "PA", EventIDs: []string{e.ID}, Marker: timeline.MarkerRepair, Title: "Rollback",
			Author: timeline.SuggestedAuthor, Suggested: true, SuggestedKey: key, Status: timeline.AnnotationActive}
	}
	if n, err := st.SuggestAnnotations(ctx, "PA", []timeline.Annotation{sugg("a"), sugg("b")}); err != nil || n != 2 {
		t.Fatalf("first run: %d, %v", n, err)
	}
	if n, err := st.SuggestAnnotations(ctx, "PA", []timeline.Annotation{sugg("a"), sugg("b")}); err != nil || n != 0 {
		t.Fatalf("second run: %d, %v", n, err)
	}
	list, _ := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA"})
	if len(list) != 2 || !list[0].Suggested || list[0].Author != timeline.SuggestedAuthor {
		t.Fatalf("suggestions %+v", list)
	}
	dismissed := timeline.AnnotationDismissed
	d, err := st.UpdateAnnotation(ctx, "PA", list[0].ID, timeline.AnnotationPatch{Status: &dismissed, By: "facilitators", IfVersion: 1})
	if err != nil || d.ReviewedBy != "facilitators" || d.ReviewedAt == nil || d.Status != dismissed {
		t.Fatalf("dismissed: %+v, %v", d, err)
	}
	if err := st.DeleteAnnotation(ctx, "PA", list[1].ID, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := st.SuggestAnnotations(ctx, "PA", []timeline.Annotation{sugg("a"), sugg("b"), sugg("c")}); err != nil || n != 1 {
		t.Fatalf("third run: %d, %v", n, err)
	}
	list, _ = st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA"})
	if len(list) != 1 || list[0].SuggestedKey != "c" {
		t.Errorf("without dismissed: %+v", list)
	}
	all, _ := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA", IncludeDismissed: true})
	if len(all) != 2 || all[0].Status != timeline.AnnotationDismissed {
		t.Errorf("with dismissed: %+v", all)
	}
	if _, err := st.SuggestAnnotations(ctx, "PA", []timeline.Annotation{note("PA", e.ID)}); !errors.Is(err, timeline.ErrInvalid) {
		t.Errorf("a person's annotation as a suggestion: %v", err)
	}
}

// Annotations are kept apart from events: upserting the same events again,
// or changed ones, leaves them exactly as they were.
func TestAnnotationsUntouchedByUpserts(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	e := chat("PA", 1, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, st, note("PA", e.ID))
	e.Text = "edited"
	for i := 0; i < 2; i++ {
		if _, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	back, err := st.Annotation(ctx, "PA", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, back); diff != "" {
		t.Errorf("annotation changed by upserts (-before +after):\n%s", diff)
	}
}

// Markers filter the list; an unknown incident is ErrNotFound, an incident
// without annotations an empty list.
func TestAnnotationList(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PA")
	mustIncident(t, st, "PEMPTY")
	e := chat("PA", 1, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, st, note("PA", e.ID))
	star := note("PA", e.ID)
	star.Marker = timeline.MarkerStar
	b := mustCreate(t, st, star)
	got, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA", Markers: []string{timeline.MarkerStar}})
	if err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("stars: %+v, %v", got, err)
	}
	got, _ = st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA"})
	if len(got) != 2 || got[0].ID != a.ID {
		t.Errorf("all: %+v", got)
	}
	// A timeline page's annotations: those citing one of its events.
	e2 := chat("PA", 2, t0.Add(time.Second))
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e2}); err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, st, note("PA", e2.ID, e.ID))
	for _, tc := range []struct {
		page []string
		want []string
	}{
		{[]string{e2.ID}, []string{c.ID}},
		{[]string{e.ID, "other"}, []string{a.ID, b.ID, c.ID}},
		{[]string{"other"}, nil},
		{[]string{}, nil},
	} {
		got, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PA", EventIDs: tc.page})
		var ids []string
		for _, x := range got {
			ids = append(ids, x.ID)
		}
		if err != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("page %v: %v, %v; want %v", tc.page, ids, err, tc.want)
		}
	}
	if _, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PNOPE", EventIDs: []string{}}); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("unknown incident, by page: %v", err)
	}
	if got, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PEMPTY"}); err != nil || len(got) != 0 {
		t.Errorf("empty incident: %v, %v", got, err)
	}
	if _, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PNOPE"}); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("unknown incident: %v", err)
	}
}

// A Slack deletion stored as a tombstone orphans the annotations citing the
// message, which are kept whole.
func TestAnnotationOrphanedByATombstone(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PT")
	msg := chat("PT", 1, t0)
	if _, err := st.UpsertEvents(ctx, []timeline.Event{msg}); err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, st, note("PT", msg.ID))
	tomb := timeline.Event{IncidentID: "PT", ID: msg.ID, Source: msg.Source, Kind: msg.Kind, OccurredAt: msg.OccurredAt,
		Version: msg.OccurredAt.Add(time.Minute), Deleted: true}
	if _, err := st.UpsertEvents(ctx, []timeline.Event{tomb}); err != nil {
		t.Fatal(err)
	}
	back, err := st.Annotation(ctx, "PT", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Orphaned() || !slices.Equal(back.MissingEventIDs, []string{msg.ID}) || back.Title != a.Title {
		t.Errorf("after the deletion: %+v, want it orphaned and whole", back)
	}
}

// The story view's marks are the events that hide and star annotations
// cite; other markers and dismissed suggestions are not marks.
func TestStoryMarksFromAnnotations(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PM")
	a, b, c := chat("PM", 1, t0), chat("PM", 2, t0.Add(time.Second)), chat("PM", 3, t0.Add(2*time.Second))
	if _, err := st.UpsertEvents(ctx, []timeline.Event{a, b, c}); err != nil {
		t.Fatal(err)
	}
	hide, star, other := note("PM", a.ID), note("PM", b.ID), note("PM", c.ID)
	hide.Marker, star.Marker = timeline.MarkerHide, timeline.MarkerStar
	mustCreate(t, st, hide)
	mustCreate(t, st, star)
	mustCreate(t, st, other)
	marks, err := st.StoryMarks(ctx, "PM")
	if err != nil {
		t.Fatal(err)
	}
	if len(marks.Hidden) != 1 || !marks.Hidden[a.ID] || len(marks.Starred) != 1 || !marks.Starred[b.ID] {
		t.Errorf("marks = %+v, want %s hidden and %s starred", marks, a.ID, b.ID)
	}
}

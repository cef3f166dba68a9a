package timeline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAnnotationValidate(t *testing.T) {
	at := at("2025-06-14T11:00:00Z")
	base := func() Annotation {
		return Annotation{IncidentID: "Q2SEARCH", EventIDs: []string{"slack:message:C0:1.2"}, Marker: MarkerDiagnosis,
			Title: "t", Note: "n", Author: "facilitators", Status: AnnotationActive}
	}
	for _, tc := range []struct {
		name   string
		change func(*Annotation)
		want   string // a part of the error; "" for valid
	}{
		{"valid", func(*Annotation) {}, ""},
		{"a moment without events", func(a *Annotation) { a.EventIDs, a.At = nil, &at }, ""},
		{"neither events nor a moment", func(a *Annotation) { a.EventIDs = nil }, "event_ids: name at least one event"},
		{"unknown marker", func(a *Annotation) { a.Marker = "important" }, `marker must be one of detection, diagnosis`},
		{"empty event id", func(a *Annotation) { a.EventIDs = []string{"x", ""} }, "event_ids[1] is empty"},
		{"duplicate event id", func(a *Annotation) { a.EventIDs = []string{"x", "x"} }, `event_ids[1] names "x" a second time`},
		{"too many events", func(a *Annotation) {
			a.EventIDs = nil
			for i := 0; i <= MaxAnnotationEvents; i++ {
				a.EventIDs = append(a.EventIDs, strings.Repeat("e", i+1))
			}
		}, "at most 200 events"},
		{"NUL in the title", func(a *Annotation) { a.Title = "a\x00b" }, "title holds a NUL character"},
		{"NUL in an event id", func(a *Annotation) { a.EventIDs = []string{"a\x00"} }, "event_ids[0] holds a NUL"},
		{"invalid UTF-8 in the note", func(a *Annotation) { a.Note = "\xff" }, "note holds a NUL character or invalid UTF-8"},
		{"two-line title", func(a *Annotation) { a.Title = "a\nb" }, "title must be one line"},
		{"long title", func(a *Annotation) { a.Title = strings.Repeat("é", MaxAnnotationTitle+1) }, "title is 201 characters long, at most 200"},
		{"title at the limit", func(a *Annotation) { a.Title = strings.Repeat("é", MaxAnnotationTitle) }, ""},
		{"long note", func(a *Annotation) { a.Note = strings.Repeat("x", MaxAnnotationNote+1) }, "note is 20001 characters long"},
		{"bad incident id", func(a *Annotation) { a.IncidentID = "a/b" }, "the incident id holds"},
		{"no author", func(a *Annotation) { a.Author = "" }, "author is empty"},
		{"a person's annotation confirmed", func(a *Annotation) { a.Status = AnnotationConfirmed }, "only a suggested annotation is confirmed or dismissed"},
		{"suggestion confirmed", func(a *Annotation) { a.Suggested, a.SuggestedKey, a.Status = true, "k", AnnotationConfirmed }, ""},
		{"suggestion without key", func(a *Annotation) { a.Suggested = true }, "needs a suggested key"},
		{"unknown status", func(a *Annotation) { a.Status = "open" }, "status must be one of active, confirmed, dismissed"},
		{"year 10000", func(a *Annotation) { t := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC); a.At = &t }, "outside the years"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.change(&a)
			err := a.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid)):
				t.Fatalf("error %v, want one containing %q wrapping ErrInvalid", err, tc.want)
			}
		})
	}
}

func TestValidAnnotationID(t *testing.T) {
	for id, want := range map[string]bool{
		"0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1": true,
		"0B7E3E2A-5F0C-4D7E-9A43-3C1F6C0DE9A1": true,
		"0b7e3e2a5f0c4d7e9a433c1f6c0de9a1":     false,
		"0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9ag": false,
		"0b7e3e2a-5f0c-4d7e-9a43_3c1f6c0de9a1": false,
		"../../etc/passwd":                     false,
		"":                                     false,
	} {
		if got := ValidAnnotationID(id); got != want {
			t.Errorf("ValidAnnotationID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestAnnotationPatchApply(t *testing.T) {
	at1 := at("2025-06-14T11:00:00Z")
	a := Annotation{EventIDs: []string{"e1"}, Marker: MarkerStar, Title: "t", Note: "n", At: &at1, Status: AnnotationActive, ReviewedBy: "x"}
	same := "t"
	if _, changed := (AnnotationPatch{Title: &same, SetAt: true, At: &at1}).Apply(a); changed {
		t.Error("a patch of equal values changed the annotation")
	}
	ids := []string{"e1", "e2"}
	dismissed := AnnotationDismissed
	got, changed := AnnotationPatch{EventIDs: &ids, SetAt: true, Status: &dismissed, By: "facilitators"}.Apply(a)
	want := a
	want.EventIDs, want.At, want.Status, want.ReviewedBy = ids, nil, dismissed, "facilitators"
	if !changed {
		t.Error("changed = false")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if a.At == nil || len(a.EventIDs) != 1 {
		t.Error("Apply changed its argument")
	}
}

// A rollback deployment that succeeded is suggested as the repair, citing
// its statuses and keyed by its successful status; one that has not
// succeeded is not.
func TestSuggestionsRollbackRepair(t *testing.T) {
	in := multiDayInput()
	got := Suggestions(in.Incident, in.Events)
	const done = "github:deployment_status:acme/search-indexer:7006"
	if len(got) != 1 {
		t.Fatalf("%d suggestions, want 1: %+v", len(got), got)
	}
	s := got[0]
	if s.Marker != MarkerRepair || !s.Suggested || s.Author != SuggestedAuthor || s.SuggestedKey != SuggestKeyRollback+done ||
		s.Status != AnnotationActive || s.IncidentID != "Q2SEARCH" || s.At == nil || !s.At.Equal(at("2025-06-14T11:12:00Z")) {
		t.Errorf("suggestion %+v", s)
	}
	if diff := cmp.Diff([]string{"github:deployment_status:acme/search-indexer:7005", done}, s.EventIDs); diff != "" {
		t.Errorf("event ids (-want +got):\n%s", diff)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("the suggestion is not valid: %v", err)
	}
	var unfinished []Event
	for _, e := range in.Events {
		if e.ID != done {
			unfinished = append(unfinished, e)
		}
	}
	if got := Suggestions(in.Incident, unfinished); len(got) != 0 {
		t.Errorf("a rollback still in progress was suggested: %+v", got)
	}
}

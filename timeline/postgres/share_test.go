package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

func TestShareLinks(t *testing.T) {
	t.Parallel()
	st, schema := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PSHARE")
	mustIncident(t, st, "POTHER")
	key, err := st.ShareKey(ctx)
	if err != nil || len(key) < 32 {
		t.Fatalf("share key: %d bytes, %v", len(key), err)
	}
	if cursor, _ := st.CursorKey(ctx); string(cursor) == string(key) {
		t.Error("the share key is the cursor key")
	}
	exp := t0.Add(8*time.Hour + 500*time.Millisecond)
	a, err := st.CreateShareLink(ctx, timeline.ShareLink{IncidentID: "PSHARE", CreatedBy: "automation", ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	if !timeline.ValidAnnotationID(a.ID) || a.CreatedAt.IsZero() || !a.ExpiresAt.Equal(exp.Truncate(time.Second)) || a.RevokedAt != nil {
		t.Errorf("created %+v", a)
	}
	b, err := st.CreateShareLink(ctx, timeline.ShareLink{IncidentID: "PSHARE", CreatedBy: "automation", ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateShareLink(ctx, timeline.ShareLink{IncidentID: "PNOPE", CreatedBy: "x", ExpiresAt: exp}); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("a link of an unknown incident: %v", err)
	}
	if _, err := st.CreateShareLink(ctx, timeline.ShareLink{IncidentID: "PSHARE", ExpiresAt: exp}); !errors.Is(err, timeline.ErrInvalid) {
		t.Errorf("a link without its creator: %v", err)
	}
	got, err := st.ShareLink(ctx, "PSHARE", a.ID)
	if err != nil || got.ID != a.ID || got.CreatedBy != "automation" {
		t.Errorf("ShareLink = %+v, %v", got, err)
	}
	// A link is found only under its own incident.
	if _, err := st.ShareLink(ctx, "POTHER", a.ID); !errors.Is(err, timeline.ErrShareLinkNotFound) {
		t.Errorf("the link under another incident: %v", err)
	}
	list, err := st.ShareLinks(ctx, "PSHARE")
	if err != nil || len(list) != 2 {
		t.Fatalf("ShareLinks = %+v, %v", list, err)
	}
	if list[0].CreatedAt.Before(list[1].CreatedAt) {
		t.Errorf("links not newest first: %+v", list)
	}
	if _, err := st.ShareLinks(ctx, "PNOPE"); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("the links of an unknown incident: %v", err)
	}
	at := t0.Add(time.Hour)
	r, err := st.RevokeShareLink(ctx, "PSHARE", b.ID, at)
	if err != nil || r.RevokedAt == nil || !r.RevokedAt.Equal(at) || r.State(at) != timeline.ShareRevoked {
		t.Fatalf("revoked %+v, %v", r, err)
	}
	again, err := st.RevokeShareLink(ctx, "PSHARE", b.ID, at.Add(time.Hour))
	if err != nil || !again.RevokedAt.Equal(at) {
		t.Errorf("revoked again: %+v, %v; want the first revocation kept", again, err)
	}
	if _, err := st.RevokeShareLink(ctx, "POTHER", a.ID, at); !errors.Is(err, timeline.ErrShareLinkNotFound) {
		t.Errorf("revoking under another incident: %v", err)
	}
	if l, _ := st.ShareLink(ctx, "PSHARE", a.ID); l.RevokedAt != nil {
		t.Error("revoking under another incident revoked it")
	}
	// Links go with their incident.
	if _, err := schema.Pool.Exec(ctx, `DELETE FROM incidents WHERE id = 'PSHARE'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ShareLink(ctx, "PSHARE", a.ID); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("a link of a deleted incident: %v", err)
	}
}

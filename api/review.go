package api

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/groundwork-dev/groundwork/timeline"
)

// reviewCacheSize is how many prepared reviews a server keeps.
const reviewCacheSize = 64

// reviewCache keeps prepared reviews by what they were derived from: the
// incident's version (which moves with every change to it, its events or
// its collection status), the summary's other inputs and the review
// settings. An entry is never stale: a change makes a new key.
type reviewCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *reviewEntry, most recent first
	byKey map[string]*list.Element
}

type reviewEntry struct {
	key    string
	review timeline.Review
	// recorded says the review's questions were offered to the annotation
	// store as suggestions.
	recorded bool
}

func newReviewCache(max int) *reviewCache {
	return &reviewCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *reviewCache) get(key string) (timeline.Review, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return timeline.Review{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*reviewEntry).review, true
}

func (c *reviewCache) put(key string, r timeline.Review) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*reviewEntry).review = r
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&reviewEntry{key: key, review: r})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*reviewEntry).key)
	}
}

// recorded reports whether the questions of the review under key were
// recorded as suggested annotations.
func (c *reviewCache) recorded(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	return ok && el.Value.(*reviewEntry).recorded
}

// markRecorded notes that the questions of the review under key were
// recorded; a review no longer cached is left alone.
func (c *reviewCache) markRecorded(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*reviewEntry).recorded = true
	}
}

func (s *Server) reviewCache() *reviewCache {
	s.reviewsInit.Do(func() { s.reviews = newReviewCache(reviewCacheSize) })
	return s.reviews
}

// reviewSettings digests every review setting a representation depends on.
func reviewSettings(c timeline.ReviewConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%v|%d|%d|%d|%v|%v|%v|%v|%v", c.Location, c.BusinessStart, c.BusinessEnd, c.QuietGap,
		c.LocalHours, c.ProductionEnvironments, c.People, c.IgnoreActors, c.Calendar)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// preparedReview is a review and the incident it is of.
type preparedReview struct {
	incident timeline.Incident
	version  string
	// key names what the review was derived from; "" without versions.
	key    string
	review *timeline.Review
	input  timeline.SummaryInput
}

// gatherReview reads the incident, its version and the summary's inputs
// other than the events: enough to name the review (key) before deriving
// it. Without Summaries it returns a nil review and no key.
func (s *Server) gatherReview(r *http.Request, id string) (*preparedReview, error) {
	// The version is read before the data: were it read after, a change in
	// between would label old data with the new key.
	version, err := s.version(r, id)
	if err != nil {
		return nil, err
	}
	inc, err := s.Store.Incident(r.Context(), id)
	if err != nil {
		return nil, err
	}
	p := &preparedReview{incident: inc, version: version}
	if s.Summaries == nil {
		return p, nil
	}
	if p.input, err = timeline.GatherSummaryInput(r.Context(), s.Summaries, inc, s.Review, s.now()); err != nil {
		return nil, err
	}
	// An open incident's window runs up to now: its review is derived
	// afresh on each call.
	if version != "" && !inc.Open() {
		p.key = etagOf(version, "review", reviewSettings(s.Review), summaryInputDigest(p.input))
	}
	return p, nil
}

// derive fills p.review: from the cache when the key is known, else from
// the whole timeline (and caches it).
func (s *Server) derive(r *http.Request, p *preparedReview) error {
	if s.Summaries == nil || p.review != nil {
		return nil
	}
	if p.key != "" {
		if rv, ok := s.reviewCache().get(p.key); ok {
			p.review = &rv
			return nil
		}
	}
	in := p.input
	var err error
	if in.Events, err = s.Summaries.Timeline(r.Context(), timeline.TimelineQuery{IncidentID: p.incident.ID}); err != nil {
		return err
	}
	rv := timeline.Prepare(in)
	if p.key != "" {
		s.reviewCache().put(p.key, rv)
	}
	p.review = &rv
	return nil
}

// PeopleJSON is GET /v1/incidents/{id}/people.
type PeopleJSON struct {
	IncidentID string `json:"incident_id"`
	timeline.People
}

// ChangesJSON is GET /v1/incidents/{id}/changes.
type ChangesJSON struct {
	IncidentID string `json:"incident_id"`
	timeline.Changes
}

// reviewPart serves one part of the review with its own ETag.
func (s *Server) reviewPart(w http.ResponseWriter, r *http.Request, part string, extra string, body func(timeline.Review) any) (err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	defer func() { err = incidentErr(id, err) }()
	if s.Summaries == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "review_unavailable",
			Message: "this server does not prepare reviews"}
	}
	p, err := s.gatherReview(r, id)
	if err != nil {
		return err
	}
	if p.key != "" && notModified(w, r, etagOf(p.key, part, extra)) {
		return nil
	}
	if err := s.derive(r, p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, body(*p.review))
}

func (s *Server) getPeople(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	return s.reviewPart(w, r, "people", "", func(rv timeline.Review) any {
		return PeopleJSON{IncidentID: r.PathValue("id"), People: rv.People}
	})
}

func (s *Server) getChanges(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r, "authors"); err != nil {
		return err
	}
	authors := false
	if v := r.URL.Query().Get("authors"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("invalid_authors", "authors must be true or false, got "+quoted(v))
		}
		authors = b
	}
	return s.reviewPart(w, r, "changes", strconv.FormatBool(authors), func(rv timeline.Review) any {
		c := rv.Changes
		if authors {
			c = c.WithAuthors()
		}
		return ChangesJSON{IncidentID: r.PathValue("id"), Changes: c}
	})
}

// onlyParams refuses query parameters other than the allowed ones.
func onlyParams(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return badRequest("invalid_parameter", "unknown query parameter "+quoted(k))
		}
	}
	return nil
}

package api

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// QuestionsJSON is GET /v1/incidents/{id}/questions.
type QuestionsJSON struct {
	IncidentID string `json:"incident_id"`
	// Timezone is the zone the questions' texts give times in.
	Timezone  string                      `json:"timezone"`
	Questions []timeline.ReviewedQuestion `json:"questions"`
	// LeftOut counts the questions a person dismissed (unless
	// include_dismissed) or deleted.
	LeftOut int `json:"left_out"`
}

// Formats of the review packet.
const formatHTML = "html"

// packetCSP keeps a packet page to itself: its inline style and nothing
// else, no script, no external asset, no form.
const packetCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) routePacket(route func(pattern, scope string, h handlerFunc)) {
	route("GET /v1/incidents/{id}/questions", ScopeRead, s.getQuestions)
	route("GET /v1/incidents/{id}/review", ScopeRead, s.getReviewPacket)
}

func parseBoolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("invalid_"+name, name+" must be true or false, got "+quoted(v))
	}
	return b, nil
}

// reviewed is a prepared review with its questions paired with their
// annotations, and the incident's annotations.
type reviewed struct {
	*preparedReview
	questions   []timeline.ReviewedQuestion
	leftOut     int
	annotations []timeline.Annotation
}

// prepareReviewed answers 304 (done true) when the client's copy is
// current, else derives the review and pairs its questions with their
// annotations.
func (s *Server) prepareReviewed(w http.ResponseWriter, r *http.Request, part string, includeDismissed bool, extra ...any) (_ *reviewed, done bool, err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return nil, false, err
	}
	if s.Summaries == nil {
		return nil, false, &Error{Status: http.StatusServiceUnavailable, Code: "review_unavailable",
			Message: "this server does not prepare reviews"}
	}
	p, err := s.gatherReview(r, id)
	if err != nil {
		return nil, false, err
	}
	if p.key != "" && notModified(w, r, etagOf(p.key, append([]any{part, includeDismissed}, extra...)...)) {
		return nil, true, nil
	}
	if err := s.derive(r, p); err != nil {
		return nil, false, err
	}
	out := &reviewed{preparedReview: p}
	if out.questions, out.leftOut, out.annotations, err = s.questionsOf(r.Context(), p, includeDismissed); err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// questionsOf pairs p's questions with their suggested annotations. The
// first time a review is derived, the questions not yet recorded are
// recorded (AnnotationStore.SuggestAnnotations keeps one per key, so a
// question a person dismissed or deleted stays so); it returns every
// annotation of the incident too, dismissed ones included.
func (s *Server) questionsOf(ctx context.Context, p *preparedReview, includeDismissed bool) ([]timeline.ReviewedQuestion, int, []timeline.Annotation, error) {
	qs := p.review.Questions
	if s.Annotations == nil {
		rq, left := timeline.ReviewQuestions(qs, nil, false, includeDismissed)
		return rq, left, nil, nil
	}
	q := timeline.AnnotationQuery{IncidentID: p.incident.ID, IncludeDismissed: true}
	anns, err := s.Annotations.Annotations(ctx, q)
	if err != nil {
		return nil, 0, nil, err
	}
	held := make(map[string]bool, len(anns))
	for _, a := range anns {
		held[a.SuggestedKey] = true
	}
	var missing []timeline.Annotation
	for _, qq := range qs {
		if !held[qq.SuggestedKey()] {
			missing = append(missing, qq.Annotation(p.incident.ID))
		}
	}
	if len(missing) > 0 && (p.key == "" || !s.reviewCache().recorded(p.key)) {
		n, err := s.Annotations.SuggestAnnotations(ctx, p.incident.ID, missing)
		if err != nil {
			return nil, 0, nil, err
		}
		if n > 0 {
			if anns, err = s.Annotations.Annotations(ctx, q); err != nil {
				return nil, 0, nil, err
			}
		}
	}
	if p.key != "" {
		s.reviewCache().markRecorded(p.key)
	}
	// Every question has now been offered to the store: one without a
	// live annotation was deleted by a person.
	rq, left := timeline.ReviewQuestions(qs, anns, true, includeDismissed)
	return rq, left, anns, nil
}

func (s *Server) getQuestions(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	defer func() { err = incidentErr(id, err) }()
	if err := onlyParams(r, "include_dismissed"); err != nil {
		return err
	}
	include, err := parseBoolParam(r, "include_dismissed")
	if err != nil {
		return err
	}
	rv, done, err := s.prepareReviewed(w, r, "questions", include)
	if err != nil || done {
		return err
	}
	return writeJSON(w, http.StatusOK, QuestionsJSON{IncidentID: id, Timezone: rv.review.Summary.Context.Timezone,
		Questions: rv.questions, LeftOut: rv.leftOut})
}

func (s *Server) getReviewPacket(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	defer func() { err = incidentErr(id, err) }()
	if err := onlyParams(r, "format"); err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "":
		format = formatJSON
	case formatJSON, formatMarkdown, formatHTML:
	default:
		return badRequest("invalid_format", "format must be json, markdown or html, got "+quoted(format))
	}
	base := s.publicBase(r)
	rv, done, err := s.prepareReviewed(w, r, "packet", false, format, base)
	if err != nil || done {
		return err
	}
	packet := timeline.BuildPacket(rv.incident, *rv.review, rv.questions, rv.annotations, packetLinks(base, id))
	switch format {
	case formatMarkdown:
		return writeText(w, "text/markdown; charset=utf-8", []byte(packet.Markdown()))
	case formatHTML:
		var buf bytes.Buffer
		if err := packet.WriteHTML(&buf); err != nil {
			return err
		}
		w.Header().Set("Content-Security-Policy", packetCSP)
		return writeText(w, "text/html; charset=utf-8", buf.Bytes())
	}
	return writeJSON(w, http.StatusOK, packet)
}

// writeText writes a text body of type ct.
func writeText(w http.ResponseWriter, ct string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// publicBase is the address the packet's links start with: PublicURL, else
// the scheme and host the request came to.
func (s *Server) publicBase(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimRight(s.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// packetLinks are the addresses of incident id's timeline, meeting page
// and questions under base.
func packetLinks(base, id string) timeline.PacketLinks {
	inc := base + "/v1/incidents/" + url.PathEscape(id)
	return timeline.PacketLinks{
		Timeline: inc + "/timeline", TimelineMarkdown: inc + "/timeline?format=markdown",
		Page: base + "/incidents/" + url.PathEscape(id), Questions: inc + "/questions",
		MomentFunc: func(at time.Time) string {
			t := url.QueryEscape(at.UTC().Format(time.RFC3339Nano))
			return inc + "/timeline?since=" + t + "&until=" + t
		},
	}
}

package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The meeting page: GET /incidents/{id} is one incident, server-rendered
// HTML and SVG that works with JavaScript off; page.js adds the live feed,
// the local-time readout and present mode's keys. GET /incidents lists
// recent incidents. A strict Content-Security-Policy allows nothing inline:
// styles and scripts come from /static, under names that carry their hash.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageCSP is the Content-Security-Policy of every page.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// staticAsset is one file of /static, served under its hashed name.
type staticAsset struct {
	name        string
	contentType string
	body        []byte
}

var (
	pageTemplates *template.Template
	// assets maps a served name (page.1a2b3c4d.css) to its file;
	// assetPaths maps the file's own name (page.css) to its served path.
	assets     = map[string]staticAsset{}
	assetPaths = map[string]string{}
)

func init() {
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		ext := path.Ext(name)
		sum := sha256.Sum256(body)
		served := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		assets[served] = staticAsset{name: served, contentType: types[ext], body: body}
		assetPaths[name] = "/static/" + served
		return nil
	})
	if err != nil {
		panic(err)
	}
	pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
		"px":    func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"asset": func(name string) string { return assetPaths[name] },
		"join":  strings.Join,
		"add":   func(a, b int) int { return a + b },
	}).ParseFS(templateFS, "templates/*.html"))
}

// routePages registers the pages and their assets.
func (s *Server) routePages(handle handleFunc) {
	page := func(pattern string, timed, jsonErrors bool, h handlerFunc) {
		var hh http.Handler = s.pageWrap(h, timed, jsonErrors)
		if s.Metrics != nil {
			hh = s.Metrics.instrument(pattern, hh)
		}
		handle(pattern, hh)
	}
	page("GET /incidents", true, false, s.getIndexPage)
	page("GET /incidents/{id}", true, false, s.getIncidentPage)
	// The stream outlives ReadTimeout: each of its reads has its own.
	page("GET /incidents/{id}/feed", false, true, s.getPageFeed)
	handle("GET /static/{file}", http.HandlerFunc(serveAsset))
}

// setPageHeaders sets the headers every page and page error carries: the
// policy, and no caching or referrers (a share link's token is in its URL).
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// pageWrap is wrap for the pages: errors become an HTML page (or, for the
// event stream, the API's JSON error), and timed bounds the database reads.
func (s *Server) pageWrap(h handlerFunc, timed, jsonErrors bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		fail := func(err error) {
			if jsonErrors {
				s.writeError(w, r, err)
				return
			}
			s.writePageError(w, r, err)
		}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			fail(err)
			return
		}
		hr := r
		if timed {
			ctx, cancel := context.WithTimeout(r.Context(), s.readTimeout())
			defer cancel()
			hr = r.WithContext(ctx)
		}
		if err := h(w, hr); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
				err = fmt.Errorf("%w: %w", timeline.ErrUnavailable, err)
			}
			fail(err)
		}
	})
}

// errorView is the model of error.html.
type errorView struct {
	Status  int
	Title   string
	Message string
	CSS     string
}

// writePageError answers err as a small HTML page. A request without any
// credentials is asked for HTTP basic authentication (an API token as the
// password); a refused share link is not, so that nobody in the room is
// shown a login box.
func (s *Server) writePageError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.clientError(r, err)
	if e == nil {
		return
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Groundwork", charset="UTF-8"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	msg := e.Message
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	_ = s.renderPage(w, e.Status, "error.html", errorView{Status: e.Status, Title: http.StatusText(e.Status), Message: msg})
}

// renderPage executes a template to a buffer, then writes it.
func (s *Server) renderPage(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// serveAsset serves a file of /static by its hashed name, cached for a year:
// a changed file has another name.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("file")]
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("no such file\n"))
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	_, _ = w.Write(a.body)
}

// pageParams are the incident page's query parameters.
type pageParams struct {
	// Zoom is "incident" (the default: the incident's span) or "window".
	Zoom string
	// Present is present mode, at Step (1-based).
	Present bool
	Step    int
}

func parsePageParams(r *http.Request) (pageParams, error) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case shareParam, "zoom", "present", "step":
		default:
			return pageParams{}, badRequest("invalid_parameter", "unknown query parameter "+quoted(k)+"; the page takes zoom, present and step")
		}
	}
	p := pageParams{Zoom: "incident", Step: 1}
	switch z := q.Get("zoom"); z {
	case "", "incident":
	case "window":
		p.Zoom = z
	default:
		return p, badRequest("invalid_zoom", "zoom must be incident or window, got "+quoted(z))
	}
	if q.Has("present") {
		p.Present = true
	}
	if v := q.Get("step"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, badRequest("invalid_step", "step must be a whole number from 1, got "+quoted(v))
		}
		p.Step = n
	}
	return p, nil
}

// feedHead is where the feed ends now, read before the page's data so that
// the page's stream misses nothing committed after it; 0 when the store
// cannot say (the stream then starts from the beginning).
func (s *Server) feedHead(ctx context.Context) (int64, error) {
	var src FeedSource
	switch {
	case s.FeedSource != nil:
		src = s.FeedSource
	default:
		src, _ = s.Store.(FeedSource)
	}
	if src == nil {
		return 0, nil
	}
	return src.FeedHead(ctx)
}

// reviewOf derives p's review from events already read, or takes it from
// the cache. Without Summaries it is nil.
func (s *Server) reviewOf(p *preparedReview, events []timeline.Event) *timeline.Review {
	if s.Summaries == nil {
		return nil
	}
	if p.key != "" {
		if rv, ok := s.reviewCache().get(p.key); ok {
			return &rv
		}
	}
	in := p.input
	in.Events = events
	rv := timeline.Prepare(in)
	if p.key != "" {
		s.reviewCache().put(p.key, rv)
	}
	return &rv
}

func (s *Server) getIncidentPage(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	acc, err := s.authorizePage(r, id)
	if err != nil {
		return err
	}
	params, err := parsePageParams(r)
	if err != nil {
		return err
	}
	defer func() { err = incidentErr(id, err) }()
	ctx := r.Context()
	head, err := s.feedHead(ctx)
	if err != nil {
		return err
	}
	p, err := s.gatherReview(r, id)
	if err != nil {
		return err
	}
	events, err := s.Store.Timeline(ctx, timeline.TimelineQuery{IncidentID: id})
	if err != nil {
		return err
	}
	review := s.reviewOf(p, events)
	sts, err := s.Store.SourceStatuses(ctx, id)
	if err != nil {
		return err
	}
	var anns []timeline.Annotation
	if s.Annotations != nil {
		if anns, err = s.Annotations.Annotations(ctx, timeline.AnnotationQuery{IncidentID: id}); err != nil {
			return err
		}
	}
	loc := s.Review.Location
	if loc == nil {
		loc = time.UTC
	}
	var moments []timeline.KeyMoment
	if review != nil {
		moments = review.Summary.KeyMoments
	}
	story, err := s.pageStory(ctx, id, events, moments, loc)
	if err != nil {
		return err
	}
	v := buildPageView(pageInput{Incident: p.incident, Events: events, Review: review, Annotations: anns, Statuses: sts,
		Story: story, Loc: loc, Now: s.now(), Params: params, Token: acc.token, FeedHead: head, Shared: acc.link != nil})
	return s.renderPage(w, http.StatusOK, "page.html", v)
}

// getPageFeed is the page's event stream: the feed of one incident, as
// server-sent events, from after (the feed's head when the page was
// rendered) or Last-Event-ID. A stream opened with a share link ends when
// the link expires or is revoked, and its reconnection is refused.
func (s *Server) getPageFeed(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	acc, err := s.authorizePage(r, id)
	if err != nil {
		return err
	}
	for k := range r.URL.Query() {
		if k != shareParam && k != "after" {
			return badRequest("invalid_parameter", "unknown query parameter "+quoted(k)+"; the page's feed takes after")
		}
	}
	p, err := parseFeedParams(r)
	if err != nil {
		return err
	}
	if !wantsEventStream(r) {
		return &Error{Status: http.StatusNotAcceptable, Code: "not_acceptable", Message: "this is an event stream: send Accept: text/event-stream"}
	}
	// A token opens any incident's stream: the incident must exist (a
	// share link's does, or the link would not hold).
	if acc.link == nil {
		rctx, cancel := context.WithTimeout(r.Context(), s.readTimeout())
		_, err := s.Store.Incident(rctx, id)
		cancel()
		if err != nil {
			return incidentErr(id, err)
		}
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if p.After, err = parseSeq("Last-Event-ID", v); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if l := acc.link; l != nil {
		expiry := time.AfterFunc(l.ExpiresAt.Sub(s.now()), cancel)
		defer expiry.Stop()
		go s.watchShareLink(ctx, cancel, *l)
	}
	return s.streamFeed(w, r.WithContext(ctx), p, streamScope{key: acc.streamKey(r), incident: id})
}

// watchShareLink cancels a stream when its link is revoked, looking every
// heartbeat interval.
func (s *Server) watchShareLink(ctx context.Context, cancel context.CancelFunc, l timeline.ShareLink) {
	t := time.NewTicker(s.heartbeatInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, done := context.WithTimeout(ctx, s.readTimeout())
		now, err := s.Shares.ShareLink(rctx, l.IncidentID, l.ID)
		done()
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, timeline.ErrNotFound):
			// The database is away: the stream waits for it as it does.
			s.logger().Warn("page stream: checking its share link failed", zap.String("link", l.ID), zap.Error(err))
		case err != nil && ctx.Err() == nil, err == nil && now.State(s.now()) != timeline.ShareActive:
			cancel()
			return
		}
	}
}

// indexView is the model of index.html.
type indexView struct {
	Zone      string
	Incidents []indexIncident
	Older     string
}

type indexIncident struct {
	ID, Title, Status, Started, Duration, Href string
	Open                                       bool
	Sources                                    []pageSource
}

// pageSource is one source's collection status, for people.
type pageSource struct {
	Source, State, Detail string
	Count                 int
}

func pageSources(sts []timeline.SourceStatus) []pageSource {
	out := make([]pageSource, 0, len(sts))
	for _, st := range sts {
		ps := pageSource{Source: st.Source, State: st.State, Count: st.EventCount, Detail: cmpOr(st.Error, st.Reason)}
		out = append(out, ps)
	}
	return out
}

// getIndexPage lists recent incidents with their collection status. Only an
// API token opens it (HTTP basic authentication, the token as password):
// a share link opens one incident.
func (s *Server) getIndexPage(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.authorizePage(r, ""); err != nil {
		return err
	}
	qs := r.URL.Query()
	for k := range qs {
		if k != "cursor" {
			return badRequest("invalid_parameter", "unknown query parameter "+quoted(k)+"; the index takes cursor")
		}
	}
	q := timeline.IncidentQuery{Limit: incidentsDefaultLimit + 1}
	if c := qs.Get("cursor"); c != "" {
		t, id, err := s.Cursors.Decode("incidents", c)
		if err != nil {
			return badRequest("invalid_cursor", "cursor is malformed, was tampered with, or belongs to another query")
		}
		q.Before = &timeline.IncidentPosition{StartedAt: t, ID: id}
	}
	list, err := s.Store.Incidents(r.Context(), q)
	if err != nil {
		return err
	}
	loc := s.Review.Location
	if loc == nil {
		loc = time.UTC
	}
	v := indexView{Zone: loc.String()}
	if len(list) > incidentsDefaultLimit {
		last := list[incidentsDefaultLimit-1]
		v.Older = "/incidents?cursor=" + url.QueryEscape(s.Cursors.Encode("incidents", last.StartedAt, last.ID))
		list = list[:incidentsDefaultLimit]
	}
	now := s.now()
	for _, inc := range list {
		sts, err := s.Store.SourceStatuses(r.Context(), inc.ID)
		if err != nil {
			return err
		}
		end := now
		if inc.ResolvedAt != nil {
			end = *inc.ResolvedAt
		}
		ii := indexIncident{ID: inc.ID, Title: cmpOr(inc.Title, inc.ID), Status: inc.Status(), Open: inc.Open(),
			Started: inc.StartedAt.In(loc).Format("Mon 2 Jan 2006 15:04"), Duration: humanDuration(end.Sub(inc.StartedAt)),
			Href: pagePath(inc.ID), Sources: pageSources(sts)}
		if inc.Open() {
			ii.Duration += " so far"
		}
		v.Incidents = append(v.Incidents, ii)
	}
	return s.renderPage(w, http.StatusOK, "index.html", v)
}

package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Export formats of the timeline besides json. Each streams: the timeline is
// read in keyset pages of exportPageSize events and written as it is read,
// so a 100,000-event timeline never sits in memory.
const (
	formatJSON     = "json"
	formatJSONL    = "jsonl"
	formatCSV      = "csv"
	formatMarkdown = "markdown"

	exportPageSize = 1000
)

var exportContentTypes = map[string]string{
	formatJSONL:    "application/x-ndjson; charset=utf-8",
	formatCSV:      "text/csv; charset=utf-8",
	formatMarkdown: "text/markdown; charset=utf-8",
}

// exportWriter renders events in one format.
type exportWriter interface {
	begin() error
	event(e timeline.Event) error
	// end finishes the document and flushes what it buffers.
	end() error
}

func newExportWriter(format string, w io.Writer, inc timeline.Incident, loc *time.Location) exportWriter {
	switch format {
	case formatCSV:
		return &csvExport{w: csv.NewWriter(w)}
	case formatMarkdown:
		if loc == nil {
			loc = time.UTC
		}
		return &markdownExport{w: w, inc: inc, loc: loc}
	default:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &jsonlExport{enc: enc}
	}
}

// exportTimeline streams the whole (filtered) timeline of inc. The first page
// is read before anything is written, so a failure there is still a clean
// error response; a failure later aborts the connection, so the client sees
// a truncated transfer rather than a complete-looking document.
func (s *Server) exportTimeline(w http.ResponseWriter, r *http.Request, inc timeline.Incident, p timelineParams) error {
	// An export may outlast ReadTimeout; each page read gets it instead.
	ctx := untimed(r)
	q := p.query(inc.ID)
	q.Limit = exportPageSize
	page, err := s.readTimeline(ctx, q)
	if err != nil {
		return err
	}
	var header []string
	var names map[string]string
	if p.Format == formatMarkdown && s.Summaries != nil {
		// The table opens with the summary, and names each person once.
		rp, err := s.gatherReview(r, inc.ID)
		if err != nil {
			return err
		}
		if err := s.derive(r, rp); err != nil {
			return err
		}
		header = timeline.BuildPacket(rp.incident, *rp.review, nil, nil, timeline.PacketLinks{}).SummaryMarkdown()
		names = timeline.PersonNames(*rp.review)
	}
	var anns map[string][]AnnotationJSON
	if p.Format == formatJSONL {
		// Lines carry their annotations, as rows of format=json do.
		if anns, err = s.eventAnnotations(ctx, inc.ID, nil); err != nil {
			return err
		}
	}
	h := w.Header()
	h.Set("Content-Type", exportContentTypes[p.Format])
	h.Set("X-Content-Type-Options", "nosniff")
	if p.Format == formatCSV {
		h.Set("Content-Disposition", `attachment; filename="`+safeFilename(inc.ID)+`-timeline.csv"`)
	}
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 32<<10)
	ew := newExportWriter(p.Format, bw, inc, s.Review.Location)
	switch x := ew.(type) {
	case *jsonlExport:
		x.annotations = anns
	case *markdownExport:
		x.header, x.names = header, names
	}
	if err := ew.begin(); err != nil {
		return s.streamFailed(r, err)
	}
	for {
		// A long export may outlast the server's WriteTimeout; each page
		// gets its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
		for _, e := range page {
			if err := ew.event(e); err != nil {
				return s.streamFailed(r, err)
			}
		}
		if len(page) < exportPageSize {
			break
		}
		last := page[len(page)-1]
		q.After = &timeline.TimelinePosition{OccurredAt: last.OccurredAt, ID: last.ID}
		if page, err = s.readTimeline(ctx, q); err != nil {
			return s.streamFailed(r, err)
		}
	}
	if err := ew.end(); err != nil {
		return s.streamFailed(r, err)
	}
	if err := bw.Flush(); err != nil {
		return s.streamFailed(r, err)
	}
	return nil
}

// readTimeline reads one page of an export within ReadTimeout.
func (s *Server) readTimeline(ctx context.Context, q timeline.TimelineQuery) ([]timeline.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.readTimeout())
	defer cancel()
	return s.Store.Timeline(ctx, q)
}

// streamFailed ends a response whose headers are already sent. A client that
// went away needs nothing; any other failure aborts the connection.
func (s *Server) streamFailed(r *http.Request, err error) error {
	if untimed(r).Err() != nil {
		return nil
	}
	s.logger().Warn("streaming response failed", zap.String("path", r.URL.Path), zap.Error(err))
	panic(http.ErrAbortHandler)
}

func safeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// jsonlExport writes one EventJSON per line, with its annotations.
type jsonlExport struct {
	enc         *json.Encoder
	annotations map[string][]AnnotationJSON
}

func (x *jsonlExport) begin() error { return nil }
func (x *jsonlExport) event(e timeline.Event) error {
	ej := eventJSON(e)
	ej.Annotations = x.annotations[e.ID]
	return x.enc.Encode(ej)
}
func (x *jsonlExport) end() error { return nil }

// csvColumns is the CSV header; details are a JSON object in one cell.
var csvColumns = []string{"id", "incident_id", "seq", "occurred_at", "source", "kind",
	"actor_id", "actor_name", "title", "text", "url", "details"}

// csvExport writes RFC 4180 CSV (encoding/csv quotes commas, quotes and
// line breaks).
type csvExport struct {
	w   *csv.Writer
	row []string
}

func (x *csvExport) begin() error { return x.w.Write(csvColumns) }

func (x *csvExport) event(e timeline.Event) error {
	var actorID, actorName string
	if e.Actor != nil {
		actorID, actorName = e.Actor.ID, e.Actor.Name
	}
	details := []byte("{}")
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return err
		}
		details = b
	}
	x.row = append(x.row[:0], e.ID, e.IncidentID, strconv.FormatInt(e.Seq, 10), formatTime(e.OccurredAt),
		e.Source, e.Kind, spreadsheetSafe(actorID), spreadsheetSafe(actorName), spreadsheetSafe(e.Title),
		spreadsheetSafe(e.Text), spreadsheetSafe(e.URL), string(details))
	return x.w.Write(x.row)
}

func (x *csvExport) end() error {
	x.w.Flush()
	return x.w.Error()
}

// spreadsheetSafe defuses text a spreadsheet would run as a formula (chat
// messages are written by anyone): a cell starting with = + - @ or a control
// character gets a leading apostrophe, as OWASP recommends for CSV exports.
func spreadsheetSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// markdownExport writes a table a facilitator pastes into a review document:
// local times in the review's time zone, each event linked to its source.
type markdownExport struct {
	w   io.Writer
	inc timeline.Incident
	loc *time.Location
	// header are the summary's lines, written before the table; names
	// maps "source\x00id" (lower-cased) of each person's identities to
	// their one name (timeline.PersonNames).
	header []string
	names  map[string]string
}

func (x *markdownExport) begin() error {
	title := x.inc.ID
	if x.inc.Title != "" {
		title = x.inc.Title + " (" + x.inc.ID + ")"
	}
	heading := mdInline(title)
	if u := mdURL(x.inc.URL); u != "" {
		heading = "[" + heading + "](" + u + ")"
	}
	if _, err := fmt.Fprintf(x.w, "## Timeline: %s\n\nTimes are in %s.\n\n", heading, mdInline(x.loc.String())); err != nil {
		return err
	}
	if len(x.header) > 0 {
		if _, err := io.WriteString(x.w, strings.Join(x.header, "\n")+"\n\n"); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(x.w, "| Time (%s) | Source | Kind | Who | What |\n|---|---|---|---|---|\n", mdInline(x.loc.String()))
	return err
}

func (x *markdownExport) event(e timeline.Event) error {
	who := ""
	if e.Actor != nil {
		name := cmpOr(e.Actor.Name, e.Actor.ID)
		if n, ok := x.names[e.Source+"\x00"+strings.ToLower(e.Actor.ID)]; ok && e.Actor.ID != "" && !e.Actor.Bot {
			name = n
		}
		who = mdCell(name)
	}
	what := mdCell(cmpOr(e.Title, e.Kind))
	if u := mdURL(e.URL); u != "" {
		what = "[" + what + "](" + u + ")"
	}
	if text := strings.TrimSpace(e.Text); text != "" && text != strings.TrimSpace(e.Title) {
		what += "<br>" + mdCell(text)
	}
	_, err := fmt.Fprintf(x.w, "| %s | %s | %s | %s | %s |\n",
		e.OccurredAt.In(x.loc).Format("2006-01-02 15:04:05 MST"), mdCell(e.Source), mdCell(e.Kind), who, what)
	return err
}

func (x *markdownExport) end() error { return nil }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// mdReplacer escapes what would break a table cell or inject markup: pipes
// end a cell, brackets would end a link text, angle brackets and ampersands
// would be read as HTML. Other characters, non-ASCII included, pass through.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, `|`, `\|`, `[`, `\[`, `]`, `\]`, `<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`,
)

// mdInline escapes s for one line of Markdown, folding line breaks to spaces.
func mdInline(s string) string {
	return mdReplacer.Replace(strings.Join(strings.Fields(s), " "))
}

// mdCell escapes s for a table cell: a row is one line, so line breaks become
// <br>, the line break tables allow.
func mdCell(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = mdReplacer.Replace(strings.TrimSpace(l))
	}
	return strings.Join(lines, "<br>")
}

// mdURL returns u ready for a Markdown link target, or "" when it is not an
// absolute http(s) URL (no javascript: links in a review document).
func mdURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "|", "%7C", "<", "%3C", ">", "%3E").Replace(p.String())
}

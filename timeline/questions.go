package timeline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Questions are prompts for the review meeting, derived from patterns in
// one incident's own data. Each cites the events that raised it and asks
// "what" and "how" — what people saw, knew and decided, how the work and
// the information moved — never why someone did not do something. They are
// openings for the conversation, not findings.

// Question patterns (Question.Pattern).
const (
	// PatternAckedInChat: a paged person acknowledged in chat, and the
	// pager did not record it (it escalated, or acknowledged later).
	PatternAckedInChat = "acknowledged_in_chat"
	// PatternRepagedAfterMitigation: alerts or pages came after the
	// suggested mitigation.
	PatternRepagedAfterMitigation = "repaged_after_mitigation"
	// PatternFixFailedBeforeRollback: a production deployment after the
	// page failed (or was rolled back) before a rollback.
	PatternFixFailedBeforeRollback = "fix_failed_before_rollback"
	// PatternMovedToCall: the conversation moved to a call, which the
	// timeline does not see (a blind spot).
	PatternMovedToCall = "moved_to_call"
	// PatternSameQuestionTwoChannels: much the same question was asked in
	// two channels.
	PatternSameQuestionTwoChannels = "same_question_two_channels"
	// PatternChangesDuringIncident: merges and production deployments kept
	// landing while the incident was open.
	PatternChangesDuringIncident = "changes_during_incident"
	// PatternOverlappingIncident: another incident was open at the same
	// time in the same channel.
	PatternOverlappingIncident = "overlapping_incident_same_channel"
	// PatternOffHours: a person was paged outside working hours by their
	// own time zone.
	PatternOffHours = "off_hours"
	// PatternManyJoined: many people joined a channel at once.
	PatternManyJoined = "many_joined_at_once"
)

// QuestionPatterns lists every pattern, in the order the detectors run.
var QuestionPatterns = []string{
	PatternAckedInChat, PatternRepagedAfterMitigation, PatternFixFailedBeforeRollback, PatternMovedToCall,
	PatternSameQuestionTwoChannels, PatternChangesDuringIncident, PatternOverlappingIncident, PatternOffHours,
	PatternManyJoined,
}

// Thresholds of the detectors, stated once.
const (
	// JoinWave is how close joins must be to count as joining at once, and
	// JoinWaveSize how many distinct people make it many.
	JoinWave     = 5 * time.Minute
	JoinWaveSize = 3
	// SameQuestionWindow is how far apart two questions in two channels
	// may be to count as the same question asked twice.
	SameQuestionWindow = time.Hour
	// ChangesDuringMin is how many merges and deployments (rollbacks left
	// out) must land while the incident is open for them to "keep landing".
	ChangesDuringMin = 2
	// maxQuestionEvents caps the events one question cites.
	maxQuestionEvents = 50
	// quoteLen is the longest quote of a message in a question.
	quoteLen = 80
)

// SuggestKeyQuestion prefixes the SuggestedKey of a question recorded as a
// suggested annotation; the rest is the question's ID.
const SuggestKeyQuestion = "question:"

// Question is one prompt for the review meeting.
type Question struct {
	// ID is stable: the pattern and a digest of the events that define the
	// question, so that deriving it again gives the same id.
	ID      string `json:"id"`
	Pattern string `json:"pattern"`
	// Marker is the annotation marker the question is recorded under:
	// blind_spot for PatternMovedToCall, else question.
	Marker string `json:"marker"`
	// Title names the pattern in a few words; Text is the question, with
	// times in the review's time zone.
	Title string `json:"title"`
	Text  string `json:"text"`
	// At is the moment it is about; nil when it is about a stretch.
	At       *time.Time `json:"at"`
	EventIDs []string   `json:"event_ids"`
}

// SuggestedKey is the key the question is recorded under as a suggested
// annotation.
func (q Question) SuggestedKey() string { return SuggestKeyQuestion + q.ID }

// Annotation returns the question as a suggested annotation of incidentID,
// which a person confirms or dismisses.
func (q Question) Annotation(incidentID string) Annotation {
	ids := q.EventIDs
	if len(ids) > MaxAnnotationEvents {
		ids = ids[:MaxAnnotationEvents]
	}
	return Annotation{
		IncidentID: incidentID, EventIDs: slices.Clone(ids), Marker: q.Marker,
		Title: Truncate(q.Title, MaxAnnotationTitle),
		Note: q.Text + "\n\nGroundwork derived this question from the incident's data. " +
			"Confirm it to keep it for the review, or dismiss it.",
		At: q.At, Author: SuggestedAuthor, Suggested: true, SuggestedKey: q.SuggestedKey(), Status: AnnotationActive,
	}
}

var patternTitles = map[string]string{
	PatternAckedInChat:             "Acknowledged in chat, not in the pager",
	PatternRepagedAfterMitigation:  "Alerted again after the mitigation",
	PatternFixFailedBeforeRollback: "A fix attempt failed before the rollback",
	PatternMovedToCall:             "The conversation moved to a call",
	PatternSameQuestionTwoChannels: "The same question in two channels",
	PatternChangesDuringIncident:   "Changes kept landing during the incident",
	PatternOverlappingIncident:     "Another incident in the same channel",
	PatternOffHours:                "Paged outside working hours, by their own clock",
	PatternManyJoined:              "Many people joined at once",
}

// Questions derives the review meeting's questions from a prepared review
// and the incident's events (in any order). It does no I/O; its output
// depends only on its input and is sorted by time.
func Questions(rv Review, events []Event) []Question {
	if !slices.IsSortedFunc(events, Compare) {
		events = slices.Clone(events)
		slices.SortStableFunc(events, Compare)
	}
	qc := newQuestionContext(rv, events)
	var out []Question
	for _, d := range []func(*questionContext) []Question{
		(*questionContext).ackedInChat,
		(*questionContext).repagedAfterMitigation,
		(*questionContext).fixFailedBeforeRollback,
		(*questionContext).movedToCall,
		(*questionContext).sameQuestionTwoChannels,
		(*questionContext).changesDuringIncident,
		(*questionContext).overlappingIncident,
		(*questionContext).offHours,
		(*questionContext).manyJoined,
	} {
		out = append(out, d(qc)...)
	}
	slices.SortStableFunc(out, func(x, y Question) int {
		return cmp.Or(compareTimePtr(x.At, y.At), cmp.Compare(slices.Index(QuestionPatterns, x.Pattern), slices.Index(QuestionPatterns, y.Pattern)),
			cmp.Compare(x.ID, y.ID))
	})
	return out
}

// compareTimePtr orders nil after every time.
func compareTimePtr(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// questionContext is what the detectors read.
type questionContext struct {
	rv     Review
	events []Event
	byID   map[string]*Event
	loc    *time.Location
	// people maps "source\x00id" of every identity of a responder to
	// them; ignored people and those who did not respond are absent.
	people map[string]*Person
	// spanStart and spanEnd bound the incident (spanEnd nil while open);
	// page is the page's time, zero without one.
	spanStart time.Time
	spanEnd   *time.Time
	page      time.Time
}

func newQuestionContext(rv Review, events []Event) *questionContext {
	qc := &questionContext{rv: rv, events: events, byID: make(map[string]*Event, len(events)),
		loc: time.UTC, people: map[string]*Person{}}
	if l := loadLocation(rv.Summary.Context.Timezone); l != nil {
		qc.loc = l
	}
	for i := range events {
		qc.byID[events[i].ID] = &events[i]
	}
	for i := range rv.People.Responders {
		p := &rv.People.Responders[i]
		for _, id := range p.Identities {
			qc.people[id.Source+"\x00"+strings.ToLower(id.ID)] = p
		}
	}
	ph := rv.Summary.Phases
	switch {
	case ph.Detection != nil:
		qc.spanStart = ph.Detection.At
	case ph.Page != nil:
		qc.spanStart = ph.Page.At
	case len(events) > 0:
		qc.spanStart = events[0].OccurredAt
	}
	if ph.Page != nil {
		qc.page = ph.Page.At
		if qc.page.Before(qc.spanStart) {
			qc.spanStart = qc.page
		}
	}
	if ph.Resolved != nil {
		t := ph.Resolved.At
		qc.spanEnd = &t
	}
	return qc
}

// inSpan reports whether t lies inside the incident, from its detection to
// its resolution.
func (qc *questionContext) inSpan(t time.Time) bool {
	if qc.spanStart.IsZero() || t.Before(qc.spanStart) {
		return false
	}
	return qc.spanEnd == nil || !t.After(*qc.spanEnd)
}

// person returns the responder who acted in e, nil for a bot, an ignored
// person or someone who did not respond.
func (qc *questionContext) person(e *Event) *Person {
	if e.Actor == nil || e.Actor.Bot || e.Actor.ID == "" {
		return nil
	}
	return qc.people[e.Source+"\x00"+strings.ToLower(e.Actor.ID)]
}

// hm is t as "15:04" in the review's zone ("15:04:05" when seconds matter).
func (qc *questionContext) hm(t time.Time) string { return t.In(qc.loc).Format("15:04") }

func (qc *questionContext) hms(t time.Time) string { return t.In(qc.loc).Format("15:04:05") }

// question builds a question; key are the events that define it (its id
// rests on them), cited the others it cites, after them.
func question(pattern string, at *time.Time, text string, key []string, cited ...string) Question {
	return keyedQuestion(pattern, at, text, key, slices.Concat(key, cited))
}

// keyedQuestion builds a question whose id rests on idParts, citing cited.
func keyedQuestion(pattern string, at *time.Time, text string, idParts, cited []string) Question {
	ids := make([]string, 0, len(cited))
	for _, id := range cited {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxQuestionEvents {
		ids = ids[:maxQuestionEvents]
	}
	marker := MarkerQuestion
	if pattern == PatternMovedToCall {
		marker = MarkerBlindSpot
	}
	if at != nil {
		t := at.UTC()
		at = &t
	}
	return Question{ID: pattern + ":" + digest(append([]string{pattern}, idParts...)...), Pattern: pattern, Marker: marker,
		Title: patternTitles[pattern], Text: text, At: at, EventIDs: ids}
}

func timePtr(t time.Time) *time.Time { return &t }

// quote returns a message's text as a short one-line quote.
func quote(e *Event) string {
	s := strings.Join(strings.Fields(cmp.Or(e.Text, e.Title)), " ")
	return "“" + Truncate(s, quoteLen) + "”"
}

func channelName(ch string) string {
	if ch == "" {
		return "the channel"
	}
	return "channel " + ch
}

func (qc *questionContext) ackedInChat() []Question {
	var out []Question
	ack := qc.rv.Summary.Phases.FirstAck
	if ack != nil {
		for _, c := range ack.AcknowledgedInChat {
			if len(c.EventIDs) == 0 {
				continue
			}
			var past *EscalatedPast
			for i := range ack.EscalatedPast {
				if ack.EscalatedPast[i].Person.PersonID == c.By.PersonID {
					past = &ack.EscalatedPast[i]
				}
			}
			msg := qc.byID[c.EventIDs[0]]
			q := fmt.Sprintf("At %s %s acknowledged in chat (%s)", qc.hm(c.At), c.By.Name, quoteText(msg, c.Text))
			var cited []string
			if past != nil {
				q += fmt.Sprintf(", and the page moved on at %s (%s); the pager recorded an acknowledgement at %s.",
					qc.hm(past.At), reasonPhrase(past.Reason), qc.hm(ack.At))
				cited = append(cited, past.EventIDs...)
			} else {
				q += fmt.Sprintf(" before the pager recorded an acknowledgement at %s.", qc.hm(ack.At))
			}
			q += fmt.Sprintf(" What did the pager show %s at %s, and how did the others know who had the page?", c.By.Name, qc.hm(c.At))
			cited = append(cited, ack.EventIDs...)
			out = append(out, question(PatternAckedInChat, timePtr(c.At), q, c.EventIDs, cited...))
		}
		return out
	}
	// No acknowledgement in the pager at all: a paged person's message
	// acknowledging the page is the only one.
	if qc.page.IsZero() {
		return nil
	}
	seen := map[*Person]bool{}
	for i := range qc.events {
		e := &qc.events[i]
		if e.OccurredAt.Before(qc.page) || !qc.inSpan(e.OccurredAt) || !isChat(e.Kind) || e.Kind == KindChatJoined {
			continue
		}
		p := qc.person(e)
		if p == nil || seen[p] || p.FirstNotifiedAt == nil || p.FirstNotifiedAt.After(e.OccurredAt) || !chatAckRE.MatchString(e.Text) {
			continue
		}
		seen[p] = true
		q := fmt.Sprintf("At %s %s acknowledged in chat (%s), and the pager never recorded an acknowledgement. "+
			"What did the pager show %s then, and how did the others know who had the page?", qc.hm(e.OccurredAt), p.Name, quote(e), p.Name)
		out = append(out, question(PatternAckedInChat, timePtr(e.OccurredAt), q, []string{e.ID}))
	}
	return out
}

func quoteText(e *Event, fallback string) string {
	if e != nil {
		return quote(e)
	}
	return "“" + Truncate(fallback, quoteLen) + "”"
}

func reasonPhrase(r string) string {
	switch r {
	case ReasonTimeout:
		return "it escalated on a timeout"
	case ReasonManual:
		return "it was escalated by hand"
	case ReasonReassignment:
		return "it was reassigned"
	}
	return r
}

var mitigationPhrases = map[string]string{
	MitigationRollback:       "the rollback went live",
	MitigationFixDeploy:      "the fix went live",
	MitigationRecoveryAlert:  "the alert recovered",
	MitigationUrgencyLowered: "the urgency was lowered",
}

func (qc *questionContext) repagedAfterMitigation() []Question {
	m := qc.rv.Summary.Phases.Mitigation
	if m == nil {
		return nil
	}
	var c *MitigationCandidate
	for i := range m.Candidates {
		if m.Candidates[i].At.Equal(m.At) && m.Candidates[i].Kind == m.Kind {
			c = &m.Candidates[i]
			break
		}
	}
	if c == nil || len(c.FollowedBy) == 0 {
		return nil
	}
	first := c.FollowedBy[0]
	var cited []string
	alerts, pages := 0, 0
	for _, f := range c.FollowedBy {
		cited = append(cited, f.EventIDs...)
		if strings.HasPrefix(f.Kind, "alert.") {
			alerts++
		} else {
			pages++
		}
	}
	what := cmp.Or(mitigationPhrases[m.Kind], "the mitigation")
	if strings.Contains(m.Title, " ") {
		what += " (“" + Truncate(m.Title, quoteLen) + "”)"
	}
	q := fmt.Sprintf("At %s %s; %s later %s came (“%s”)", qc.hms(m.At), what,
		humanDuration(time.Duration(first.AfterS)*time.Second), countPhrase(alerts, "alert", pages, "page"), Truncate(first.Title, quoteLen))
	q += ". What did the responders see at that moment, and how did they tell whether the impact had ended?"
	return []Question{question(PatternRepagedAfterMitigation, timePtr(first.At), q, append(slices.Clone(m.EventIDs), first.EventIDs...), cited...)}
}

// countPhrase says "2 alerts and a page".
func countPhrase(n1 int, w1 string, n2 int, w2 string) string {
	one := func(n int, w string) string {
		switch n {
		case 0:
			return ""
		case 1:
			if strings.ContainsRune("aeiou", rune(w[0])) {
				return "an " + w
			}
			return "a " + w
		}
		return fmt.Sprintf("%d %ss", n, w)
	}
	a, b := one(n1, w1), one(n2, w2)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " and " + b
}

// humanDuration says 17 s, 4m10s, 1h2m.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		if s := d % time.Minute; s != 0 {
			return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(s/time.Second))
		}
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// changeAt is when a change began: queued, else started, else live or
// failed.
func changeAt(c Change) *time.Time {
	for _, t := range []*time.Time{c.QueuedAt, c.StartedAt, c.LiveAt, c.FailedAt} {
		if t != nil {
			return t
		}
	}
	return nil
}

// changeEnd is when a change went live or failed, else when it began.
func changeEnd(c Change) *time.Time {
	return cmp.Or(c.LiveAt, c.FailedAt, changeAt(c))
}

// changeName names a change without its author: its pull request's title,
// else its ref and short sha.
func changeName(c Change) string {
	if len(c.PullRequests) > 0 && c.PullRequests[0].Title != "" {
		return fmt.Sprintf("%s, “%s”", c.Repo, Truncate(c.PullRequests[0].Title, quoteLen))
	}
	sha := c.SHA
	if len(sha) > 7 {
		sha = sha[:7]
	}
	return strings.Join(strings.Fields(c.Repo+" "+c.Ref+" "+sha), " ")
}

func (qc *questionContext) fixFailedBeforeRollback() []Question {
	if qc.page.IsZero() {
		return nil
	}
	var out []Question
	changes := qc.rv.Changes.Changes
	for i, rb := range changes {
		rbAt := changeAt(rb)
		if !rb.Rollback || rbAt == nil || rbAt.Before(qc.page) {
			continue
		}
		// The latest attempt after the page that failed or was rolled
		// back, before this rollback began.
		var attempt *Change
		for j := range changes[:i] {
			c := changes[j]
			at, end := changeAt(c), changeEnd(c)
			if c.Rollback || at == nil || at.Before(qc.page) || end.After(*rbAt) || !(c.State == "failed" || c.RolledBack) {
				continue
			}
			attempt = &changes[j]
		}
		if attempt == nil {
			continue
		}
		end := changeEnd(*attempt)
		how := "went live and was rolled back"
		if attempt.State == "failed" {
			how = "failed"
		}
		q := fmt.Sprintf("A fix attempt (%s) %s at %s, and a rollback began at %s. "+
			"How did the responders decide to roll back, and what did they know about the fix when it shipped?",
			changeName(*attempt), how, qc.hm(*end), qc.hm(*rbAt))
		out = append(out, question(PatternFixFailedBeforeRollback, timePtr(*end), q, append(slices.Clone(attempt.EventIDs), rb.EventIDs...)))
	}
	return out
}

// callRE finds a message saying the conversation goes to a call: "on a
// call", "jumping on the bridge", "moving to zoom", a meeting link. "On
// call" without an article is the rota, not a call.
var callRE = regexp.MustCompile(`(?i)\b(on|onto|join|joining|joined|jump on|jumping on|hop on|hopping on|get on|getting on|move to|moving to|moved to|take this to|taking this to|into|in)\s+` +
	`((a|the|our|this)\s+(quick\s+)?(call|bridge|zoom|huddle|hangout|war ?room|video ?call|phone call|conference call|google meet|teams call)|zoom|huddle|bridge|google meet)\b` +
	`|zoom\.us/j/|meet\.google\.com/|teams\.microsoft\.com/l/meetup-join`)

func (qc *questionContext) movedToCall() []Question {
	var out []Question
	seen := map[string]bool{}
	for i := range qc.events {
		e := &qc.events[i]
		if !isChat(e.Kind) || e.Kind == KindChatJoined || !qc.inSpan(e.OccurredAt) || qc.person(e) == nil {
			continue
		}
		ch := detailString(e.Details, DetailChatChannel)
		if seen[ch] || !callRE.MatchString(e.Text) {
			continue
		}
		seen[ch] = true
		q := fmt.Sprintf("At %s the conversation in %s moved to a call (%s). What was learned and decided on the call, "+
			"and how did it reach the people who were only following the channel?", qc.hm(e.OccurredAt), channelName(ch), quote(e))
		cited := []string{}
		// The channel's quiet stretch that followed, when one did.
		for _, g := range qc.rv.Summary.Gaps {
			if g.Lane == "chat:"+ch && !g.Start.Before(e.OccurredAt) && g.Start.Sub(e.OccurredAt) <= 10*time.Minute {
				q = strings.TrimSuffix(q, "?") + fmt.Sprintf("? (The channel was then quiet for %s.)", humanDuration(time.Duration(g.Seconds)*time.Second))
				cited = append(cited, g.BeforeEventID)
				break
			}
		}
		out = append(out, question(PatternMovedToCall, timePtr(e.OccurredAt), q, []string{e.ID}, cited...))
	}
	return out
}

// questionStopWords are words that carry no subject in a question.
var questionStopWords = map[string]bool{
	"the": true, "and": true, "any": true, "anyone": true, "anybody": true, "does": true, "did": true, "know": true,
	"what": true, "why": true, "how": true, "who": true, "when": true, "where": true, "can": true, "could": true,
	"has": true, "have": true, "had": true, "this": true, "that": true, "for": true, "with": true, "you": true,
	"are": true, "was": true, "were": true, "our": true, "about": true, "there": true, "someone": true,
	"just": true, "still": true, "also": true, "all": true, "here": true, "now": true, "right": true, "everyone": true,
	"seeing": true, "see": true, "folks": true, "team": true, "please": true, "anything": true, "something": true,
	"people": true, "think": true, "else": true,
	"from": true, "into": true, "because": true, "been": true, "being": true, "will": true, "would": true, "should": true,
}

var mentionRE = regexp.MustCompile(`<[^>]*>|https?://\S+`)

// questionWords are a question's subject words, or nil when the message is
// not a question.
func questionWords(text string) map[string]bool {
	if !strings.Contains(text, "?") {
		return nil
	}
	out := map[string]bool{}
	for _, w := range words(mentionRE.ReplaceAllString(text, " ")) {
		if len([]rune(w)) >= 3 && !questionStopWords[w] {
			out[w] = true
		}
	}
	return out
}

// sameQuestion reports whether two questions' subject words mostly agree:
// at least two words in common, and at least half of all their words.
func sameQuestion(a, b map[string]bool) bool {
	common := 0
	for w := range a {
		if b[w] {
			common++
		}
	}
	union := len(a) + len(b) - common
	return common >= 2 && union > 0 && 2*common >= union
}

func (qc *questionContext) sameQuestionTwoChannels() []Question {
	type asked struct {
		e     *Event
		ch    string
		words map[string]bool
	}
	var qs []asked
	for i := range qc.events {
		e := &qc.events[i]
		if !isChat(e.Kind) || e.Kind == KindChatJoined || !qc.inSpan(e.OccurredAt) || qc.person(e) == nil {
			continue
		}
		if w := questionWords(e.Text); len(w) >= 2 {
			qs = append(qs, asked{e: e, ch: detailString(e.Details, DetailChatChannel), words: w})
		}
	}
	var out []Question
	used := map[*Event]bool{}
	for i, a := range qs {
		if used[a.e] {
			continue
		}
		for _, b := range qs[i+1:] {
			if used[b.e] || b.ch == a.ch || b.e.OccurredAt.Sub(a.e.OccurredAt) > SameQuestionWindow || !sameQuestion(a.words, b.words) {
				continue
			}
			used[a.e], used[b.e] = true, true
			q := fmt.Sprintf("Much the same question was asked in two channels: at %s in %s (%s) and at %s in %s (%s). "+
				"How did information move between the two channels, and where did people expect to find answers?",
				qc.hm(a.e.OccurredAt), channelName(a.ch), quote(a.e), qc.hm(b.e.OccurredAt), channelName(b.ch), quote(b.e))
			out = append(out, question(PatternSameQuestionTwoChannels, timePtr(b.e.OccurredAt), q, []string{a.e.ID, b.e.ID}))
			break
		}
	}
	return out
}

func (qc *questionContext) changesDuringIncident() []Question {
	if qc.page.IsZero() {
		return nil
	}
	during := func(t time.Time) bool { return t.After(qc.page) && (qc.spanEnd == nil || !t.After(*qc.spanEnd)) }
	var merges, deploys []string
	var first time.Time
	note := func(t time.Time) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	for i := range qc.events {
		e := &qc.events[i]
		if e.Kind == KindChangeMerged && during(e.OccurredAt) {
			merges = append(merges, e.ID)
			note(e.OccurredAt)
		}
	}
	var deployIDs []string
	for _, c := range qc.rv.Changes.Changes {
		at := changeAt(c)
		if c.Rollback || at == nil || !during(*at) || len(c.EventIDs) == 0 {
			continue
		}
		deploys = append(deploys, c.EventIDs[0])
		deployIDs = append(deployIDs, c.EventIDs...)
		note(*at)
	}
	if len(merges)+len(deploys) < ChangesDuringMin {
		return nil
	}
	span := "Since the page at " + qc.hm(qc.page)
	if qc.spanEnd != nil {
		span = "Between the page at " + qc.hm(qc.page) + " and the resolution at " + qc.hm(*qc.spanEnd)
	}
	q := fmt.Sprintf("%s, %s landed, rollbacks left out. How did people shipping changes know an incident was open, "+
		"and how did the responders keep track of what was changing around them?",
		span, countPhrase(len(merges), "merge", len(deploys), "production deployment"))
	key := slices.Concat(merges, deploys)
	slices.Sort(key)
	return []Question{question(PatternChangesDuringIncident, timePtr(first), q, key[:1], slices.Concat(merges, deployIDs)...)}
}

func (qc *questionContext) overlappingIncident() []Question {
	var out []Question
	for _, o := range qc.rv.Summary.Context.OverlappingIncidents {
		if len(o.Shares.Channels) == 0 {
			continue
		}
		from := o.StartedAt
		if from.Before(qc.spanStart) {
			from = qc.spanStart
		}
		var cited []string
		for i := range qc.events {
			e := &qc.events[i]
			if len(cited) == 5 {
				break
			}
			if isChat(e.Kind) && !e.OccurredAt.Before(from) && (o.ResolvedAt == nil || !e.OccurredAt.After(*o.ResolvedAt)) &&
				qc.inSpan(e.OccurredAt) && slices.Contains(o.Shares.Channels, detailString(e.Details, DetailChatChannel)) {
				cited = append(cited, e.ID)
			}
		}
		if len(cited) == 0 {
			// No message in the shared channel during the overlap: the
			// page is what the question is anchored to.
			if ph := qc.rv.Summary.Phases.Page; ph != nil && len(ph.EventIDs) > 0 {
				cited = append(cited, ph.EventIDs[len(ph.EventIDs)-1])
			} else {
				continue
			}
		}
		span := "from " + qc.hm(o.StartedAt)
		if o.ResolvedAt != nil {
			span += " to " + qc.hm(*o.ResolvedAt)
		} else {
			span += " on"
		}
		chans := make([]string, len(o.Shares.Channels))
		for i, c := range o.Shares.Channels {
			chans[i] = channelName(c)
		}
		title := ""
		if o.Title != "" {
			title = " (“" + Truncate(o.Title, quoteLen) + "”)"
		}
		q := fmt.Sprintf("Incident %s%s was open %s, in the same %s. How did the responders tell the two conversations apart, "+
			"and how did people know which one they were following?", o.ID, title, span, strings.Join(chans, " and "))
		// Its id rests on the other incident and the channels shared.
		out = append(out, keyedQuestion(PatternOverlappingIncident, timePtr(from), q,
			append([]string{"incident:" + o.ID}, o.Shares.Channels...), cited))
	}
	return out
}

// digest is a short stable digest of parts.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

func (qc *questionContext) offHours() []Question {
	var out []Question
	for _, p := range qc.rv.People.Responders {
		for _, in := range p.Interruptions {
			if in.LocalClass == LocalWorking && !in.Weekend {
				continue
			}
			lt, err := time.Parse(time.RFC3339, in.LocalTime)
			if err != nil || len(in.EventIDs) == 0 {
				continue
			}
			when := in.LocalClass
			if in.Weekend {
				when = lt.Weekday().String()
				if in.LocalClass != LocalWorking {
					when += " " + in.LocalClass
				}
			}
			where := fmt.Sprintf("by their own clock (%s, %s)", in.Zone, when)
			if p.TimeZone == nil {
				where = fmt.Sprintf("in the company's time zone (%s, %s; their own is not known)", in.Zone, when)
			}
			q := fmt.Sprintf("%s was paged at %s %s. What did it take to start on the incident at that hour, "+
				"and what support did they have while they worked on it?", p.Name, lt.Format("15:04"), where)
			out = append(out, question(PatternOffHours, timePtr(in.At), q, in.EventIDs[:1], in.EventIDs...))
			break // the first such interruption per person
		}
	}
	return out
}

func (qc *questionContext) manyJoined() []Question {
	type join struct {
		e *Event
		p *Person
	}
	byChannel := map[string][]join{}
	var channels []string
	for i := range qc.events {
		e := &qc.events[i]
		if e.Kind != KindChatJoined || !qc.inSpan(e.OccurredAt) {
			continue
		}
		p := qc.person(e)
		if p == nil {
			continue
		}
		ch := detailString(e.Details, DetailChatChannel)
		if _, ok := byChannel[ch]; !ok {
			channels = append(channels, ch)
		}
		byChannel[ch] = append(byChannel[ch], join{e, p})
	}
	var out []Question
	for _, ch := range channels {
		js := byChannel[ch]
		for i := 0; i < len(js); {
			// The wave: every join within JoinWave of the first.
			j := i
			people := []*Person{}
			for j < len(js) && js[j].e.OccurredAt.Sub(js[i].e.OccurredAt) <= JoinWave {
				if !slices.Contains(people, js[j].p) {
					people = append(people, js[j].p)
				}
				j++
			}
			if len(people) < JoinWaveSize {
				i++
				continue
			}
			names := make([]string, len(people))
			for k, p := range people {
				names[k] = p.Name
			}
			var ids []string
			for _, x := range js[i:j] {
				ids = append(ids, x.e.ID)
			}
			q := fmt.Sprintf("Between %s and %s, %d people joined %s (%s). How did the people joining learn what was already known, "+
				"and how did the channel keep track of who was doing what?",
				qc.hm(js[i].e.OccurredAt), qc.hm(js[j-1].e.OccurredAt), len(people), channelName(ch), strings.Join(names, ", "))
			out = append(out, question(PatternManyJoined, timePtr(js[i].e.OccurredAt), q, ids[:1], ids...))
			i = j
		}
	}
	return out
}

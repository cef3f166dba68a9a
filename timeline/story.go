package timeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The story view is the timeline with its noise collapsed by fixed rules, so
// that a facilitator can read an incident of 1,600 events on one screen.
// BuildStory is a pure function: events (and the key moments, hide and star
// marks) in, rows out. Every event of the timeline that is not hidden ends
// up in exactly one row, either shown (StoryRow.EventIDs) or folded into it
// (StoryRow.Collapsed), so nothing is lost and nothing is told twice.
//
// The rules, in the order they claim events:
//
//  1. Events cited by a key moment, and starred events, are never collapsed:
//     each is a row of its own, except a deployment's statuses, which are
//     all shown on the deployment's one row.
//  2. A deployment's statuses (deploy.*, grouped by repo and
//     deployment_id) become one row: "acme/api v2.14.0 to production:
//     queued 09:45, started 09:47, live 09:52". inactive statuses are folded.
//  3. A bot's chat message that echoes an event already on the timeline
//     (it names the event's URL, title, or an identifier such as the sha, the
//     ref or the run number together with the event's verb, within
//     EchoWindow of it) is folded into the row of that event.
//  4. page.notified events become one row per escalation step (the stretch
//     between two triggers, escalations, reassignments or
//     unacknowledgements), counting interruptions: notifications of one
//     person less than InterruptionGap apart are one interruption.
//  5. Commits and merged pull requests whose sha no deployment on the
//     timeline shipped, successful CI runs (unless KeepSuccessfulCI), and
//     failed ones on refs no deployment shipped, become one count per repo.
//     A shipped commit that is a shipped pull request's merge commit folds
//     into the pull request's row.
//  6. Low-content chat ("ack", "+1", "on it", emoji only, channel joins)
//     folds into presence: into the row of its thread's parent, else of the
//     chat row of its channel it follows within PresenceWindow, else into a
//     presence row of its own ("12 check-ins from 7 people in #checkout").
//  7. Dense bursts of chat (BurstMinMessages messages within BurstWindow
//     from BurstMinPeople people, in one channel or one thread) become one
//     row per BurstMaxSpan at most: "31 messages from 9 people in #checkout,
//     10:02–10:06", showing the first BurstLines lines.
//  8. Everything else is a row of its own.
//
// Rows name the channel (#checkout, from the DetailChannelName a chat
// source's normaliser records), show a reply's thread parent (its
// DetailThreadParentID), show chat text as its reader sees it
// (DetailPlainText, else Text) and show one name per person: identities
// are joined by Actor.Email across sources, a name of two words or more
// ("Alice Smith") wins over a one-word handle ("alice"), a handle over a
// name that is only the identity's id (a login), and among names as good
// the first on the timeline; mentions of a person's chat name (@alice)
// become that one name.

// Story row kinds besides the event kinds (a row of one event, or of a
// deployment, carries its head event's kind).
const (
	StoryKindNotifications = "story.notifications"
	StoryKindChanges       = "story.changes"
	StoryKindBurst         = "story.burst"
	StoryKindPresence      = "story.presence"
)

// Details of chat events that chat sources' normalisers set for the story
// view: DetailChannel and DetailChannelName are the channel's id and name;
// DetailThreadParentID is a reply's thread parent, by event id; and
// DetailPlainText is the text as a reader of the message sees it (mentions
// as @names, links as their labels, no formatting marks), when that is not
// Text.
const (
	DetailChannel        = "channel"
	DetailChannelName    = "channel_name"
	DetailThreadParentID = "thread_parent_id"
	DetailPlainText      = "plain_text"
)

// DefaultLowContent are the phrases a chat message may consist of to count
// as low-content (compared case-insensitively, surrounding punctuation
// ignored). Messages of emoji only are low-content whatever the list says.
var DefaultLowContent = []string{
	"ack", "acked", "acking", "+1", "on it", "looking", "looking now", "ok", "okay", "k", "kk",
	"ty", "thx", "thanks", "thank you", "same", "me too", "here", "yes", "yep", "yup", "lgtm",
}

// StoryConfig holds the rules of the story view (`review.story:` in the
// configuration). A zero field means its default (DefaultStoryConfig).
type StoryConfig struct {
	// BurstWindow, BurstMinMessages and BurstMinPeople define a dense
	// burst: at least BurstMinMessages messages within BurstWindow from at
	// least BurstMinPeople people (bots are not people). Defaults: 5m, 10,
	// 4.
	BurstWindow      time.Duration
	BurstMinMessages int
	BurstMinPeople   int
	// BurstMaxSpan is the longest stretch one burst row covers (15m).
	BurstMaxSpan time.Duration
	// BurstLines is how many first lines a burst row shows (3).
	BurstLines int
	// PresenceWindow is how long after a chat row low-content messages of
	// its channel fold into it (10m).
	PresenceWindow time.Duration
	// InterruptionGap: notifications of one person less than this apart
	// are one interruption (5m).
	InterruptionGap time.Duration
	// EchoWindow is how far from an event a bot message that echoes it may
	// be (5m).
	EchoWindow time.Duration
	// LowContent lists the low-content phrases; nil means
	// DefaultLowContent, an empty list none (emoji-only messages and joins
	// are low-content either way).
	LowContent []string
	// KeepSuccessfulCI shows successful CI runs as rows of their own
	// instead of counting them per repo.
	KeepSuccessfulCI bool
}

// DefaultStoryConfig returns the default rules.
func DefaultStoryConfig() StoryConfig {
	return StoryConfig{
		BurstWindow: 5 * time.Minute, BurstMinMessages: 10, BurstMinPeople: 4,
		BurstMaxSpan: 15 * time.Minute, BurstLines: 3,
		PresenceWindow: 10 * time.Minute, InterruptionGap: 5 * time.Minute, EchoWindow: 5 * time.Minute,
		LowContent: slices.Clone(DefaultLowContent),
	}
}

// Validate reports the first thing wrong with c, naming the setting under
// review.story. Zero values stand for defaults.
func (c StoryConfig) Validate() error {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"burst_window", c.BurstWindow}, {"burst_max_span", c.BurstMaxSpan}, {"presence_window", c.PresenceWindow},
		{"interruption_gap", c.InterruptionGap}, {"echo_window", c.EchoWindow},
	} {
		if d.v < 0 {
			return fmt.Errorf("review.story.%s: %s is negative", d.key, d.v)
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"burst_min_messages", c.BurstMinMessages}, {"burst_min_people", c.BurstMinPeople}, {"burst_lines", c.BurstLines},
	} {
		if n.v < 0 {
			return fmt.Errorf("review.story.%s: %d is negative", n.key, n.v)
		}
	}
	for i, p := range c.LowContent {
		if storyNormalize(p) == "" {
			return fmt.Errorf("review.story.low_content[%d]: %q has no words", i, p)
		}
	}
	return nil
}

func (c StoryConfig) withDefaults() StoryConfig {
	d := DefaultStoryConfig()
	c.BurstWindow = cmp.Or(c.BurstWindow, d.BurstWindow)
	c.BurstMinMessages = cmp.Or(c.BurstMinMessages, d.BurstMinMessages)
	c.BurstMinPeople = cmp.Or(c.BurstMinPeople, d.BurstMinPeople)
	c.BurstMaxSpan = cmp.Or(c.BurstMaxSpan, d.BurstMaxSpan)
	c.BurstLines = cmp.Or(c.BurstLines, d.BurstLines)
	c.PresenceWindow = cmp.Or(c.PresenceWindow, d.PresenceWindow)
	c.InterruptionGap = cmp.Or(c.InterruptionGap, d.InterruptionGap)
	c.EchoWindow = cmp.Or(c.EchoWindow, d.EchoWindow)
	if c.LowContent == nil {
		c.LowContent = d.LowContent
	}
	return c
}

// StoryMarks are the hide and star annotations of an incident, by event id.
type StoryMarks struct {
	Hidden  map[string]bool
	Starred map[string]bool
}

// StoryMarkStore is implemented by stores that keep hide and star
// annotations; the story view applies them when its store has them.
type StoryMarkStore interface {
	// StoryMarks returns the incident's marks; ErrUnavailable (wrapped)
	// when the database cannot be reached.
	StoryMarks(ctx context.Context, incidentID string) (StoryMarks, error)
}

// StoryInput is everything BuildStory reads.
type StoryInput struct {
	// Events is the incident's whole timeline, in any order.
	Events []Event
	// KeyMoments are the summary's; every event they cite stays shown.
	KeyMoments []KeyMoment
	// Hidden events are left out of every row (a hide annotation wins
	// over a star and a key moment); Starred ones are never collapsed.
	Hidden  map[string]bool
	Starred map[string]bool
	Config  StoryConfig
	// Location is the time zone of the clock times in titles; nil is UTC.
	Location *time.Location
}

// Story is the story view of one incident.
type Story struct {
	// Rows are in (At, ID) order.
	Rows []StoryRow
	// Hidden are the ids of the timeline's events that hide annotations
	// left out, in timeline order.
	Hidden []string
	// Events is the number of events the rows account for.
	Events int
}

// StoryRow is one line of the story.
type StoryRow struct {
	// ID is the head event's id, or for a row of many events a stable
	// synthetic id: story:notify:<first id>, story:changes:<repo>,
	// story:burst:<first id>, story:presence:<first id>.
	ID string
	At time.Time
	// End is the time of the row's last event when it is not At.
	End    time.Time
	Kind   string
	Source string
	Title  string
	Text   string
	URL    string
	// Actor is the head event's actor under the person's one name; nil
	// for rows of many people.
	Actor *Actor
	// Channel is "#name" of a chat row (the channel id when no name is
	// known).
	Channel string
	// ThreadParent is the parent message of a reply or a thread's burst.
	ThreadParent *StoryRef
	// EventIDs are the events the row shows; Collapsed the ones it folds.
	EventIDs  []string
	Collapsed []string
	// KeyMoment names the key moment the row shows, if any.
	KeyMoment string
	Starred   bool
	// Presence are the people whose low-content messages the row folds.
	Presence []string
}

// StoryRef names another event.
type StoryRef struct {
	ID    string
	Title string
}

// storyRowKind is how a row was formed, which decides its title.
type storyRowKind int

const (
	storySingle storyRowKind = iota
	storyDeploy
	storyNotify
	storyChanges
	storyBurst
	storyPresence
)

// storyRow is a row being built.
type storyRow struct {
	kind storyRowKind
	row  StoryRow
	// head is the event the row was made for (its first core event).
	head *Event
	// core events make the row and set its span; attached ones (echoes,
	// presence) fold into it without moving it.
	core, attached []*Event
	shown          map[string]bool
	// stream is the chat stream of a chat row (channel, thread).
	stream string
	repo   string
}

func (r *storyRow) start() time.Time { return r.core[0].OccurredAt }
func (r *storyRow) end() time.Time   { return r.core[len(r.core)-1].OccurredAt }

type storyBuilder struct {
	cfg     StoryConfig
	loc     *time.Location
	events  []*Event
	byID    map[string]*Event
	moment  map[string]string
	starred map[string]bool
	dir     *storyDirectory
	rowOf   map[string]*storyRow
	rows    []*storyRow
	// chatRows are the chat rows of each stream, for presence.
	chatRows map[string][]*storyRow
	low      map[string]bool
}

// BuildStory collapses a timeline into its story. It does no I/O, and its
// output depends only on in.
func BuildStory(in StoryInput) Story {
	all := make([]Event, len(in.Events))
	copy(all, in.Events)
	slices.SortStableFunc(all, Compare)
	b := &storyBuilder{
		cfg: in.Config.withDefaults(), loc: cmp.Or(in.Location, time.UTC),
		byID: map[string]*Event{}, moment: map[string]string{}, starred: map[string]bool{},
		rowOf: map[string]*storyRow{}, chatRows: map[string][]*storyRow{}, low: map[string]bool{},
	}
	var out Story
	for i := range all {
		e := &all[i]
		if _, dup := b.byID[e.ID]; dup {
			continue // the same id twice: the first one stands
		}
		if in.Hidden[e.ID] {
			out.Hidden = append(out.Hidden, e.ID)
			b.byID[e.ID] = nil
			continue
		}
		b.byID[e.ID] = e
		b.events = append(b.events, e)
	}
	for id := range b.byID {
		if b.byID[id] == nil {
			delete(b.byID, id)
		}
	}
	out.Events = len(b.events)
	for _, m := range in.KeyMoments {
		for _, id := range m.EventIDs {
			if _, ok := b.moment[id]; !ok {
				b.moment[id] = m.Moment
			}
		}
	}
	for id, ok := range in.Starred {
		if ok {
			b.starred[id] = true
		}
	}
	b.dir = newStoryDirectory(all)

	b.deployments()
	for _, e := range b.events {
		if b.rowOf[e.ID] == nil && (b.moment[e.ID] != "" || b.starred[e.ID]) {
			b.single(e)
		}
	}
	echoes := b.echoes()
	b.notifications()
	b.changes()
	b.chat(echoes)
	for _, e := range b.events {
		if b.rowOf[e.ID] == nil && echoes[e.ID] == nil {
			b.single(e)
		}
	}
	for _, e := range b.events {
		if t := echoes[e.ID]; t != nil {
			b.attach(b.rowOf[t.ID], e)
		}
	}

	out.Rows = make([]StoryRow, 0, len(b.rows))
	for _, r := range b.rows {
		out.Rows = append(out.Rows, b.finish(r))
	}
	slices.SortStableFunc(out.Rows, func(x, y StoryRow) int {
		return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.ID, y.ID))
	})
	return out
}

func (b *storyBuilder) newRow(kind storyRowKind, core ...*Event) *storyRow {
	r := &storyRow{kind: kind, head: core[0], core: core, shown: map[string]bool{}}
	for _, e := range core {
		b.rowOf[e.ID] = r
	}
	b.rows = append(b.rows, r)
	return r
}

func (b *storyBuilder) add(r *storyRow, e *Event) {
	r.core = append(r.core, e)
	b.rowOf[e.ID] = r
}

func (b *storyBuilder) attach(r *storyRow, e *Event) {
	r.attached = append(r.attached, e)
	b.rowOf[e.ID] = r
}

// single makes e a row of its own, shown.
func (b *storyBuilder) single(e *Event) *storyRow {
	r := b.newRow(storySingle, e)
	r.shown[e.ID] = true
	if storyIsChat(e.Kind) {
		r.stream = storyStream(e)
		b.chatRows[r.stream] = append(b.chatRows[r.stream], r)
	}
	return r
}

// deployments groups every deploy.* event by deployment (rule 2). An
// inactive status folds into its deployment's row without moving it; a
// deployment of which the timeline holds only the inactive status (it was
// made before the window) folds into the row of the deployment to the same
// repo and environment that went live when it became inactive.
func (b *storyBuilder) deployments() {
	type group struct {
		row               *storyRow
		repo, env         string
		live              []*Event
		inactive          []*Event
		protectedInactive bool
	}
	byKey := map[string]*group{}
	var order []*group
	for _, e := range b.events {
		if !strings.HasPrefix(e.Kind, "deploy.") {
			continue
		}
		repo := storyRepo(e)
		key := "event\x00" + e.ID
		if id := storyDetail(e.Details, DetailDeploymentID); id != "" {
			key = "deployment\x00" + repo + "\x00" + id
		}
		g := byKey[key]
		if g == nil {
			g = &group{repo: repo}
			byKey[key] = g
			order = append(order, g)
		}
		g.env = cmp.Or(g.env, storyDetail(e.Details, DetailEnvironment))
		keep := b.moment[e.ID] != "" || b.starred[e.ID]
		if e.Kind == KindDeployInactive && !keep {
			g.inactive = append(g.inactive, e)
			continue
		}
		g.live = append(g.live, e)
	}
	for _, g := range order {
		if len(g.live) == 0 {
			continue
		}
		g.row = b.newRow(storyDeploy, g.live...)
		g.row.repo = g.repo
		for _, e := range g.live {
			g.row.shown[e.ID] = true
		}
		for _, e := range g.inactive {
			b.attach(g.row, e)
		}
	}
	for _, g := range order {
		if g.row != nil {
			continue
		}
		// Only inactive statuses: the deployment that replaced it.
		var into *storyRow
		for _, o := range order {
			if o.row == nil || o.repo != g.repo || o.env != g.env {
				continue
			}
			for _, e := range o.live {
				if e.Kind == KindDeploySucceeded && !e.OccurredAt.After(g.inactive[0].OccurredAt) &&
					(into == nil || e.OccurredAt.After(into.end())) {
					into = o.row
				}
			}
		}
		if into == nil {
			g.row = b.newRow(storyDeploy, g.inactive...)
			g.row.repo = g.repo
			continue
		}
		for _, e := range g.inactive {
			b.attach(into, e)
		}
	}
}

// isStoryBot reports whether e's actor is a bot rather than a person, as
// the source's normaliser marked it (Actor.Bot).
func isStoryBot(e *Event) bool { return e.Actor != nil && e.Actor.Bot }

func storyIsChat(k string) bool {
	return k == KindChatMessage || k == KindChatReply || k == KindChatJoined
}

// echoes finds, for each bot message no earlier rule claimed, the event it
// echoes (rule 3).
func (b *storyBuilder) echoes() map[string]*Event {
	out := map[string]*Event{}
	for _, m := range b.events {
		if !storyIsChat(m.Kind) || m.Kind == KindChatJoined || b.rowOf[m.ID] != nil || !isStoryBot(m) {
			continue
		}
		text := strings.ToLower(m.Text + "\n" + b.dir.text(m) + "\n" + m.Title)
		lo, _ := slices.BinarySearchFunc(b.events, m.OccurredAt.Add(-b.cfg.EchoWindow), func(e *Event, t time.Time) int {
			return e.OccurredAt.Compare(t)
		})
		var best *Event
		var bestD time.Duration
		for _, e := range b.events[lo:] {
			if e.OccurredAt.After(m.OccurredAt.Add(b.cfg.EchoWindow)) {
				break
			}
			if storyIsChat(e.Kind) || !storyEchoes(e, text) {
				continue
			}
			d := m.OccurredAt.Sub(e.OccurredAt)
			if d < 0 {
				d = -d + 1 // an event after the message is a worse match than one as far before it
			}
			if best == nil || d < bestD {
				best, bestD = e, d
			}
		}
		if best != nil {
			out[m.ID] = best
		}
	}
	return out
}

// storyEchoes reports whether the (lowercased) text of a bot message
// repeats e: it names e's URL or its title, or one of its identifiers
// (sha, ref, tag, run or pull request number, incident URL) with one of the
// verbs of its kind.
func storyEchoes(e *Event, text string) bool {
	if u := strings.TrimRight(strings.ToLower(e.URL), "/"); u != "" && strings.Contains(text, u) {
		return true
	}
	if t := strings.ToLower(strings.Join(strings.Fields(e.Title), " ")); utf8.RuneCountInString(t) >= 16 && strings.Contains(strings.Join(strings.Fields(text), " "), t) {
		return true
	}
	ids := storyEchoIDs(e)
	if !slices.ContainsFunc(ids, func(id string) bool { return storyHasToken(text, id) }) {
		return false
	}
	return slices.ContainsFunc(storyEchoVerbs(e), func(v string) bool { return storyHasToken(text, v) })
}

func storyEchoIDs(e *Event) []string {
	var ids []string
	if u := strings.ToLower(e.URL); u != "" {
		if i := strings.Index(u, "/incidents/"); i >= 0 {
			rest := u[i+len("/incidents/"):]
			if j := strings.IndexAny(rest, "/?#"); j >= 0 {
				rest = rest[:j]
			}
			if rest != "" {
				ids = append(ids, u[:i]+"/incidents/"+rest, rest)
			}
		}
	}
	for _, k := range []string{DetailSHA, "head_sha", "merge_commit_sha"} {
		if s := strings.ToLower(storyDetail(e.Details, k)); len(s) >= 7 {
			ids = append(ids, s[:7])
		}
	}
	for _, k := range []string{"ref", "tag"} {
		if s := strings.ToLower(storyDetail(e.Details, k)); len(s) >= 3 {
			ids = append(ids, s)
		}
	}
	for _, k := range []string{"run_number", "number"} {
		if s := storyDetail(e.Details, k); s != "" {
			ids = append(ids, "#"+s)
		}
	}
	return ids
}

var storyEchoVerbsByKind = map[string][]string{
	KindPageTriggered:       {"triggered"},
	KindPageAcknowledged:    {"acknowledged", "acked"},
	KindPageUnacknowledged:  {"unacknowledged"},
	KindPageEscalated:       {"escalated"},
	KindPageReassigned:      {"reassigned", "assigned"},
	KindPageResolved:        {"resolved"},
	KindPageAnnotated:       {"note", "noted"},
	KindPagePriorityChanged: {"priority"},
	KindAlertTriggered:      {"alert", "firing", "triggered"},
	KindDeployQueued:        {"queued"},
	KindDeployPending:       {"pending"},
	KindDeployStarted:       {"started", "deploying", "in progress"},
	KindDeploySucceeded:     {"succeeded", "success", "successful", "live", "deployed", "completed", "finished"},
	KindDeployFailed:        {"failed", "failure", "error", "errored"},
	KindDeployInactive:      {"inactive"},
	KindChangeMerged:        {"merged"},
	KindChangeCommit:        {"pushed", "committed"},
	KindChangeRelease:       {"released", "published", "release"},
}

func storyEchoVerbs(e *Event) []string {
	if e.Kind != KindCICompleted {
		return storyEchoVerbsByKind[e.Kind]
	}
	switch storyDetail(e.Details, "conclusion") {
	case "success":
		return []string{"passed", "succeeded", "success", "successful", "green"}
	case "failure", "startup_failure":
		return []string{"failed", "failure", "failing", "broken", "red"}
	case "timed_out":
		return []string{"timed out"}
	case "cancelled":
		return []string{"cancelled", "canceled"}
	}
	return nil
}

// storyHasToken reports whether tok occurs in s not as part of a longer
// word or version: the characters around it are not letters or digits (a
// dot followed by a digit continues a version).
func storyHasToken(s, tok string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], tok)
		if i < 0 {
			return false
		}
		i += from
		j := i + len(tok)
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[j:])
		okBefore := i == 0 || !storyWordRune(before)
		okAfter := j == len(s) || !storyWordRune(after)
		if okAfter && after == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
			okAfter = false
		}
		if okBefore && okAfter {
			return true
		}
		from = i + 1
	}
}

func storyWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// notifications makes one row per escalation step of the page.notified
// events no earlier rule claimed (rule 4).
func (b *storyBuilder) notifications() {
	// A step starts at a trigger, an escalation, a reassignment or an
	// unacknowledgement; the notifications it sends may carry the same
	// second.
	var starts []time.Time
	for _, e := range b.events {
		switch e.Kind {
		case KindPageTriggered, KindPageEscalated, KindPageReassigned, KindPageUnacknowledged:
			starts = append(starts, e.OccurredAt)
		}
	}
	byStep := map[int]*storyRow{}
	for _, e := range b.events {
		if e.Kind != KindPageNotified || b.rowOf[e.ID] != nil {
			continue
		}
		step, _ := slices.BinarySearchFunc(starts, e.OccurredAt, func(s, t time.Time) int {
			if s.After(t) {
				return 1
			}
			return -1
		})
		if r := byStep[step]; r != nil {
			b.add(r, e)
		} else {
			byStep[step] = b.newRow(storyNotify, e)
		}
	}
	// The first notification of each interruption is shown.
	for _, r := range byStep {
		last := map[string]time.Time{}
		for _, e := range r.core {
			who := b.dir.notifiedKey(e)
			if t, ok := last[who]; !ok || e.OccurredAt.Sub(t) >= b.cfg.InterruptionGap {
				r.shown[e.ID] = true
			}
			last[who] = e.OccurredAt
		}
	}
}

// changes counts per repo the changes and CI runs that shipped nothing
// (rule 5).
func (b *storyBuilder) changes() {
	deployed := map[string]bool{} // repo \x00 sha, repo \x00 ref
	for _, e := range b.events {
		if strings.HasPrefix(e.Kind, "deploy.") {
			repo := storyRepo(e)
			for _, k := range []string{DetailSHA, "ref"} {
				if v := storyDetail(e.Details, k); v != "" {
					deployed[repo+"\x00"+strings.ToLower(v)] = true
				}
			}
		}
	}
	shipped := func(repo, sha string) bool { return sha != "" && deployed[repo+"\x00"+strings.ToLower(sha)] }
	byRepo := map[string]*storyRow{}
	count := func(e *Event) {
		repo := storyRepo(e)
		if r := byRepo[repo]; r != nil {
			b.add(r, e)
			return
		}
		r := b.newRow(storyChanges, e)
		r.repo = repo
		byRepo[repo] = r
	}
	pulls := map[string]*storyRow{}
	for _, e := range b.events {
		if e.Kind != KindChangeMerged || b.rowOf[e.ID] != nil {
			continue
		}
		repo, sha := storyRepo(e), storyDetail(e.Details, "merge_commit_sha")
		if shipped(repo, sha) {
			pulls[repo+"\x00"+strings.ToLower(sha)] = b.single(e)
		}
	}
	for _, e := range b.events {
		if b.rowOf[e.ID] != nil {
			continue
		}
		repo := storyRepo(e)
		switch e.Kind {
		case KindChangeMerged:
			count(e)
		case KindChangeCommit:
			sha := storyDetail(e.Details, DetailSHA)
			switch {
			case pulls[repo+"\x00"+strings.ToLower(sha)] != nil:
				b.add(pulls[repo+"\x00"+strings.ToLower(sha)], e)
			case shipped(repo, sha):
				b.single(e)
			default:
				count(e)
			}
		case KindCICompleted:
			switch c := storyDetail(e.Details, "conclusion"); {
			case c == "success" && b.cfg.KeepSuccessfulCI:
				b.single(e)
			case storyCIFailed(c) && (shipped(repo, storyDetail(e.Details, "head_sha")) || shipped(repo, storyDetail(e.Details, "head_branch"))):
				b.single(e)
			default:
				count(e)
			}
		}
	}
}

func storyCIFailed(conclusion string) bool {
	return conclusion == "failure" || conclusion == "timed_out" || conclusion == "startup_failure"
}

// storyStream is the conversation a chat event belongs to: its channel, and
// its thread for a reply.
func storyStream(e *Event) string {
	ch := storyDetail(e.Details, DetailChannel)
	if e.Kind == KindChatReply {
		return ch + "\x00" + storyDetail(e.Details, DetailThreadParentID)
	}
	return ch + "\x00"
}

// chat applies the presence and burst rules to the chat no earlier rule
// claimed (rules 6 and 7).
func (b *storyBuilder) chat(echoes map[string]*Event) {
	streams := map[string][]*Event{}
	var order []string
	var low []*Event
	for _, e := range b.events {
		if !storyIsChat(e.Kind) || b.rowOf[e.ID] != nil || echoes[e.ID] != nil {
			continue
		}
		if b.isLowContent(e) {
			low = append(low, e)
			b.low[e.ID] = true
			continue
		}
		s := storyStream(e)
		if streams[s] == nil {
			order = append(order, s)
		}
		streams[s] = append(streams[s], e)
	}
	for _, s := range order {
		b.bursts(streams[s])
	}
	for _, e := range b.events {
		if storyIsChat(e.Kind) && b.rowOf[e.ID] == nil && echoes[e.ID] == nil && !b.low[e.ID] {
			b.single(e)
		}
	}
	for _, e := range low {
		b.presence(e)
	}
}

// bursts makes burst rows of the dense stretches of one stream's messages
// (in time order); the rest is left for rows of their own.
func (b *storyBuilder) bursts(msgs []*Event) {
	// A window [j, k] slides over the messages: k is the last message
	// within BurstWindow of message j; people counts the window's authors.
	dense := make([]bool, len(msgs))
	keys := make([]string, len(msgs))
	for i, m := range msgs {
		keys[i] = b.dir.personKey(m)
	}
	people := map[string]int{}
	k, marked := -1, -1
	for j := range msgs {
		for k+1 < len(msgs) && !msgs[k+1].OccurredAt.After(msgs[j].OccurredAt.Add(b.cfg.BurstWindow)) {
			k++
			if keys[k] != "" {
				people[keys[k]]++
			}
		}
		if k-j+1 >= b.cfg.BurstMinMessages && len(people) >= b.cfg.BurstMinPeople {
			for i := max(j, marked+1); i <= k; i++ {
				dense[i] = true
			}
			marked = k
		}
		if p := keys[j]; p != "" {
			if people[p]--; people[p] == 0 {
				delete(people, p)
			}
		}
	}
	var group []*Event
	flush := func() {
		if len(group) >= 3 {
			r := b.newRow(storyBurst, group...)
			r.stream = storyStream(group[0])
			b.chatRows[r.stream] = append(b.chatRows[r.stream], r)
			// The first lines, people's before bots', each saying
			// something the ones before did not.
			said := map[string]bool{}
			for _, pass := range []bool{true, false} {
				for _, m := range group {
					text := storyNormalize(b.dir.text(m))
					if len(said) < b.cfg.BurstLines && !said[text] && (b.dir.personKey(m) != "") == pass {
						r.shown[m.ID] = true
						said[text] = true
					}
				}
			}
		}
		group = nil
	}
	for i, m := range msgs {
		if !dense[i] {
			flush()
			continue
		}
		if len(group) > 0 {
			last, first := group[len(group)-1].OccurredAt, group[0].OccurredAt
			if m.OccurredAt.Sub(last) > b.cfg.BurstWindow || m.OccurredAt.Sub(first) > b.cfg.BurstMaxSpan {
				flush()
			}
		}
		group = append(group, m)
	}
	flush()
}

// presence folds a low-content message into the row of its thread's
// parent, else into the chat row of its stream it follows within
// PresenceWindow, else into a presence row.
func (b *storyBuilder) presence(e *Event) {
	if e.Kind == KindChatReply {
		if r := b.rowOf[storyDetail(e.Details, DetailThreadParentID)]; r != nil {
			b.attachPresence(r, e)
			return
		}
	}
	stream := storyStream(e)
	var best *storyRow
	for _, r := range b.chatRows[stream] {
		if r.start().After(e.OccurredAt) || r.end().Add(b.cfg.PresenceWindow).Before(e.OccurredAt) {
			continue
		}
		if best == nil || r.start().After(best.start()) {
			best = r
		}
	}
	if best == nil {
		best = b.newRow(storyPresence, e)
		best.stream = stream
		b.chatRows[stream] = append(b.chatRows[stream], best)
		b.notePresence(best, e)
		return
	}
	b.attachPresence(best, e)
}

func (b *storyBuilder) attachPresence(r *storyRow, e *Event) {
	if r.kind == storyPresence {
		b.add(r, e)
	} else {
		b.attach(r, e)
	}
	b.notePresence(r, e)
}

func (b *storyBuilder) notePresence(r *storyRow, e *Event) {
	if b.dir.personKey(e) == "" {
		return
	}
	name := b.dir.nameOf(e)
	if !slices.Contains(r.row.Presence, name) {
		r.row.Presence = append(r.row.Presence, name)
	}
}

// isLowContent reports whether a chat event says no more than that its
// author is there: a join, a message of emoji only, or one of the
// low-content phrases.
func (b *storyBuilder) isLowContent(e *Event) bool {
	if e.Kind == KindChatJoined {
		return true
	}
	text := strings.TrimSpace(b.dir.text(e))
	if text == "" {
		return false
	}
	if storyEmojiOnly(text) {
		return true
	}
	n := storyNormalize(text)
	return slices.ContainsFunc(b.cfg.LowContent, func(p string) bool { return storyNormalize(p) == n })
}

// storyNormalize lowercases s, folds its spaces and trims the
// punctuation around it ("On it!" is "on it"; "+1" keeps its plus).
func storyNormalize(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	return strings.TrimFunc(s, func(r rune) bool { return r != '+' && (unicode.IsPunct(r) || unicode.IsSpace(r)) })
}

// storyEmojiOnly reports whether s is nothing but emoji and :shortcodes:.
func storyEmojiOnly(s string) bool {
	seen := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
		case r == ':':
			j := strings.IndexByte(s[i+1:], ':')
			if j <= 0 || strings.IndexFunc(s[i+1:i+1+j], func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_+-'", r))
			}) >= 0 {
				return false
			}
			n, seen = j+2, true
		case unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) || r == 0x200d || r == 0xfe0f || (r >= 0x1f3fb && r <= 0x1f3ff):
			seen = true
		default:
			return false
		}
		i += n
	}
	return seen
}

// finish renders a row built from its events.
func (b *storyBuilder) finish(r *storyRow) StoryRow {
	slices.SortStableFunc(r.core, func(x, y *Event) int { return Compare(*x, *y) })
	slices.SortStableFunc(r.attached, func(x, y *Event) int { return Compare(*x, *y) })
	members := append(slices.Clone(r.core), r.attached...)
	slices.SortStableFunc(members, func(x, y *Event) int { return Compare(*x, *y) })
	row := r.row
	row.EventIDs = []string{}
	for _, e := range members {
		if r.shown[e.ID] {
			row.EventIDs = append(row.EventIDs, e.ID)
		} else {
			row.Collapsed = append(row.Collapsed, e.ID)
		}
		if b.starred[e.ID] {
			row.Starred = true
		}
	}
	row.At = r.start().UTC()
	if end := r.end(); !end.Equal(r.start()) {
		row.End = end.UTC()
	}
	head := r.head
	switch r.kind {
	case storySingle:
		b.finishSingle(&row, head)
	case storyDeploy:
		b.finishDeploy(&row, r)
	case storyNotify:
		b.finishNotify(&row, r)
	case storyChanges:
		b.finishChanges(&row, r)
	case storyBurst, storyPresence:
		b.finishChat(&row, r, members)
	}
	for _, e := range members {
		if m := b.moment[e.ID]; m != "" && row.KeyMoment == "" && r.shown[e.ID] {
			row.KeyMoment = m
		}
	}
	return row
}

func (b *storyBuilder) finishSingle(row *StoryRow, e *Event) {
	row.ID, row.Kind, row.Source, row.URL = e.ID, e.Kind, e.Source, e.URL
	row.Actor = b.dir.actor(e)
	if !storyIsChat(e.Kind) {
		row.Title = cmp.Or(strings.TrimSpace(e.Title), e.Kind)
		// The text, less the line the title already says (a commit's
		// subject, a note).
		t := strings.TrimSpace(e.Text)
		if first := storyFirstLine(t); first == row.Title {
			t = strings.TrimSpace(t[len(first):])
		}
		row.Text = t
		return
	}
	row.Channel = b.dir.channel(storyDetail(e.Details, DetailChannel))
	text := b.dir.text(e)
	row.Title = b.chatTitle(e, text)
	if t := strings.TrimSpace(text); t != "" && (strings.ContainsAny(t, "\r\n") || !strings.HasSuffix(row.Title, t)) {
		row.Text = t
	}
	if e.Kind == KindChatReply {
		row.ThreadParent = b.threadParent(e)
	}
}

func (b *storyBuilder) chatTitle(e *Event, text string) string {
	who := b.dir.nameOf(e)
	if e.Kind == KindChatJoined {
		return Truncate(who+" joined "+b.dir.channel(storyDetail(e.Details, DetailChannel)), 120)
	}
	body := storyFirstLine(text)
	if body == "" {
		body = cmp.Or(strings.TrimSpace(e.Title), "(no text)")
		if _, rest, ok := strings.Cut(body, ": "); ok && e.Actor != nil && strings.HasPrefix(body, e.Actor.Name) {
			body = rest
		}
	}
	return Truncate(who+": "+body, 120)
}

func (b *storyBuilder) threadParent(e *Event) *StoryRef {
	id := storyDetail(e.Details, DetailThreadParentID)
	if id == "" {
		return nil
	}
	ref := &StoryRef{ID: id}
	if p := b.byID[ref.ID]; p != nil {
		ref.Title = b.chatTitle(p, b.dir.text(p))
	}
	return ref
}

func (b *storyBuilder) clock(t time.Time) string { return t.In(b.loc).Format("15:04") }

func (b *storyBuilder) span(r *storyRow) string {
	if r.end().Sub(r.start()) < time.Minute && b.clock(r.start()) == b.clock(r.end()) {
		return b.clock(r.start())
	}
	return b.clock(r.start()) + "–" + b.clock(r.end())
}

// storyIsVersion reports whether a ref reads as a release ("v2.14.0",
// "2026.03.1") rather than a branch.
func storyIsVersion(ref string) bool {
	r := strings.TrimPrefix(strings.TrimPrefix(ref, "refs/tags/"), "v")
	return r != "" && r[0] >= '0' && r[0] <= '9'
}

// storyDeployStates names deploy kinds in titles.
var storyDeployStates = map[string]string{
	KindDeployQueued: "queued", KindDeployPending: "pending", KindDeployStarted: "started",
	KindDeploySucceeded: "live", KindDeployFailed: "failed", KindDeployInactive: "inactive",
}

func (b *storyBuilder) finishDeploy(row *StoryRow, r *storyRow) {
	var head *Event
	for _, e := range r.core {
		switch {
		case e.Kind == KindDeploySucceeded || e.Kind == KindDeployFailed:
			head = e
		case head == nil || (head.Kind != KindDeploySucceeded && head.Kind != KindDeployFailed && e.Kind != KindDeployInactive):
			head = e
		}
	}
	row.ID, row.Kind, row.Source, row.URL = head.ID, head.Kind, head.Source, head.URL
	row.Actor = b.dir.actor(head)
	row.Text = strings.TrimSpace(head.Text)
	var ref, sha, env string
	rollback := false
	for _, e := range r.core {
		ref = cmp.Or(ref, storyDetail(e.Details, "ref"))
		sha = cmp.Or(sha, storyDetail(e.Details, DetailSHA))
		env = cmp.Or(env, storyDetail(e.Details, DetailEnvironment))
		rollback = rollback || storyBool(e.Details, DetailRollback) || b.moment[e.ID] == MomentRollback
	}
	what := sha
	if len(what) > 7 {
		what = what[:7]
	}
	switch {
	case ref == "" || ref == sha:
	case storyIsVersion(ref) || what == "":
		what = ref
	default:
		what = ref + "@" + what // a branch: which commit of it
	}
	var states []string
	onlyInactive := !slices.ContainsFunc(r.core, func(e *Event) bool { return e.Kind != KindDeployInactive })
	prev := ""
	for _, e := range r.core {
		if e.Kind == KindDeployInactive && !onlyInactive {
			continue
		}
		st := cmp.Or(storyDeployStates[e.Kind], strings.TrimPrefix(e.Kind, "deploy."))
		if st == prev {
			continue
		}
		prev = st
		states = append(states, st+" "+b.clock(e.OccurredAt))
	}
	title := strings.Join(strings.Fields(fmt.Sprintf("%s %s to %s", r.repo, what, cmp.Or(env, "an unknown environment"))), " ")
	if rollback {
		title = "Rollback: " + title
	}
	row.Title = Truncate(title+": "+strings.Join(states, ", "), 160)
}

func (b *storyBuilder) finishNotify(row *StoryRow, r *storyRow) {
	row.ID = "story:notify:" + r.core[0].ID
	row.Kind, row.Source = StoryKindNotifications, r.core[0].Source
	type who struct {
		name  string
		times []string
	}
	var people []*who
	byKey := map[string]*who{}
	var channels []string
	levels := map[string]bool{}
	interruptions := 0
	for _, e := range r.core {
		if l := storyDetail(e.Details, "escalation_level"); l != "" {
			levels[l] = true
		}
		if c := storyNotifyChannel(storyDetail(e.Details, "notification_type")); c != "" && !slices.Contains(channels, c) {
			channels = append(channels, c)
		}
		k := b.dir.notifiedKey(e)
		w := byKey[k]
		if w == nil {
			w = &who{name: b.dir.notifiedName(e)}
			byKey[k] = w
			people = append(people, w)
		}
		if r.shown[e.ID] {
			w.times = append(w.times, b.clock(e.OccurredAt))
			interruptions++
		}
	}
	label := "Paging"
	if len(levels) == 1 {
		for l := range levels {
			label = "Escalation level " + l
		}
	}
	names := make([]string, 0, len(people))
	lines := make([]string, 0, len(people))
	for _, w := range people {
		n := w.name
		if len(w.times) > 1 {
			n += " ×" + strconv.Itoa(len(w.times))
		}
		names = append(names, n)
		lines = append(lines, w.name+": "+strings.Join(w.times, ", "))
	}
	whom := strings.Join(names, ", ")
	if len(people) > 1 {
		whom = fmt.Sprintf("%d people: %s", len(people), whom)
	}
	by := ""
	if len(channels) > 0 {
		by = " by " + storyJoinAnd(channels)
	}
	row.Title = Truncate(fmt.Sprintf("%s: %s of %s (%s%s)", label, storyPlural(interruptions, "interruption"), whom,
		storyPlural(len(r.core), "notification"), by), 200)
	row.Text = "Interruptions at " + strings.Join(lines, "; ")
}

func storyNotifyChannel(t string) string {
	switch strings.ToLower(t) {
	case "":
		return ""
	case "sms":
		return "SMS"
	case "phone":
		return "phone"
	}
	return strings.ToLower(t)
}

func (b *storyBuilder) finishChanges(row *StoryRow, r *storyRow) {
	row.ID = "story:changes:" + r.repo
	row.Kind, row.Source = StoryKindChanges, r.core[0].Source
	var commits, merges, passed, failed, other int
	for _, e := range r.core {
		switch e.Kind {
		case KindChangeCommit:
			commits++
		case KindChangeMerged:
			merges++
		case KindCICompleted:
			switch c := storyDetail(e.Details, "conclusion"); {
			case c == "success":
				passed++
			case storyCIFailed(c):
				failed++
			default:
				other++
			}
		}
	}
	var parts []string
	var changed []string
	if commits > 0 {
		changed = append(changed, storyPlural(commits, "commit"))
	}
	if merges > 0 {
		changed = append(changed, storyPlural(merges, "merge"))
	}
	if len(changed) > 0 {
		verb := "that shipped nothing"
		parts = append(parts, storyJoinAnd(changed)+" "+verb)
	}
	if passed > 0 {
		parts = append(parts, storyPlural(passed, "CI run")+" passed")
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed on refs not deployed", failed))
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d cancelled or skipped", other))
	}
	row.Title = strings.Join(parts, "; ")
	if r.repo != "" {
		row.Title = r.repo + ": " + row.Title
	}
}

func (b *storyBuilder) finishChat(row *StoryRow, r *storyRow, members []*Event) {
	head := r.core[0]
	ch := storyDetail(head.Details, DetailChannel)
	row.Channel = b.dir.channel(ch)
	row.Source = head.Source
	people := map[string]bool{}
	for _, e := range members {
		if p := b.dir.personKey(e); p != "" {
			people[p] = true
		}
	}
	where := "in " + row.Channel
	if head.Kind == KindChatReply {
		where = "in a thread in " + row.Channel
		row.ThreadParent = b.threadParent(head)
	}
	if r.kind == storyPresence {
		row.ID, row.Kind = "story:presence:"+head.ID, StoryKindPresence
		row.Title = fmt.Sprintf("%s from %s %s, %s", storyPlural(len(members), "check-in"), storyPlural(len(people), "person"), where, b.span(r))
		row.Text = strings.Join(row.Presence, ", ")
		return
	}
	row.ID, row.Kind = "story:burst:"+head.ID, StoryKindBurst
	noun := "message"
	if head.Kind == KindChatReply {
		noun = "reply"
	}
	row.Title = fmt.Sprintf("%s from %s %s, %s", storyPlural(len(members), noun), storyPlural(len(people), "person"), where, b.span(r))
	var lines []string
	for _, e := range r.core {
		if r.shown[e.ID] {
			lines = append(lines, b.chatTitle(e, b.dir.text(e)))
		}
	}
	row.Text = strings.Join(lines, "\n")
}

func storyPlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch noun {
	case "reply":
		return strconv.Itoa(n) + " replies"
	case "person":
		return strconv.Itoa(n) + " people"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func storyJoinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func storyFirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// storyRepo is a change's or a deployment's "owner/name": its repo detail,
// else the owner/name part of its id, as the summary reads it.
func storyRepo(e *Event) string {
	return cmp.Or(storyDetail(e.Details, DetailRepo), repoFromID(e.ID))
}

// storyDetail returns details[key] as a string; numbers are written without
// exponent so that ids survive a JSON round trip (anyString).
func storyDetail(d map[string]any, key string) string { return anyString(d[key]) }

func storyBool(d map[string]any, key string) bool {
	switch v := d[key].(type) {
	case bool:
		return v
	case string:
		ok, _ := strconv.ParseBool(v)
		return ok
	}
	return false
}

func storyDetailMap(d map[string]any, key string) map[string]string {
	out := map[string]string{}
	switch v := d[key].(type) {
	case map[string]string:
		return v
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}

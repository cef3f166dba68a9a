package timeline

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Modes of engagement (Person.Mode).
const (
	ModePaged               = "paged"
	ModePagedByEscalation   = "paged_by_escalation"
	ModeAddedByReassignment = "added_by_reassignment"
	ModeSelfJoined          = "self_joined"
	ModePresentBeforePage   = "present_before_page"
	ModeObserver            = "observer"
)

// Roles the data shows (Role.Role).
const (
	RoleIncidentCommander      = "incident_commander"
	RoleAssignedByReassignment = "assigned_by_reassignment"
	RoleHandedOver             = "handed_over"
)

// interruptionWindow is how close notifications to one person must be to
// count as one interruption, as pagers count them.
const interruptionWindow = 60 * time.Second

// People is GET /v1/incidents/{id}/people: one entry per person who
// responded, by when they engaged. It records spans of presence and modes
// of engagement, not how much anyone said.
type People struct {
	Responders []Person `json:"responders"`
	// OthersActive acted in the window without responding: they only
	// committed or merged, or acted outside the incident's span.
	OthersActive []OtherActive `json:"others_active"`
	// Ignored counts the people left out by review.ignore_actors.
	Ignored int `json:"ignored"`
}

// Person is one person who responded, with every identity joined.
type Person struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Identities []Identity `json:"identities"`
	// Mode is how the person came to the incident; Modes every way that
	// applies, Mode first.
	Mode  string   `json:"mode"`
	Modes []string `json:"modes"`
	// PresentFrom and PresentUntil span the person's acts inside the
	// incident's span.
	PresentFrom         time.Time  `json:"present_from"`
	PresentUntil        time.Time  `json:"present_until"`
	FirstNotifiedAt     *time.Time `json:"first_notified_at"`
	FirstAcknowledgedAt *time.Time `json:"first_acknowledged_at"`
	FirstSpokeAt        *time.Time `json:"first_spoke_at"`
	JoinedChannelAt     *time.Time `json:"joined_channel_at"`
	// EscalationLevel is the level the person was paged at.
	EscalationLevel *int `json:"escalation_level"`
	// TimeZone is the person's own zone as a chat profile or the pager
	// reports it; nil when neither does (local classes then use the
	// company's zone).
	TimeZone      *string        `json:"time_zone"`
	Interruptions []Interruption `json:"interruptions"`
	// EmailNotifications were sent but do not interrupt.
	EmailNotifications int         `json:"email_notifications"`
	Roles              []Role      `json:"roles"`
	RecentLoad         *RecentLoad `json:"recent_load"`
	EventIDs           []string    `json:"event_ids"`
}

// Interruption is one or more notifications to one person within 60 s
// (push, SMS, phone; email does not interrupt).
type Interruption struct {
	At       time.Time `json:"at"`
	Channels []string  `json:"channels"`
	// LocalTime is At in Zone; LocalClass is working, evening or night by
	// review.local_hours.
	LocalTime  string   `json:"local_time"`
	Zone       string   `json:"zone"`
	LocalClass string   `json:"local_class"`
	Weekend    bool     `json:"weekend"`
	EventIDs   []string `json:"event_ids"`
}

// Role is a role the data shows a person in.
type Role struct {
	Role     string    `json:"role"`
	At       time.Time `json:"at"`
	Basis    string    `json:"basis"`
	EventIDs []string  `json:"event_ids"`
}

// RecentLoad is a person's load in the 7 days before the incident, as the
// source counted it; a count it could not tell is nil.
type RecentLoad struct {
	Since         *time.Time `json:"since"`
	Until         *time.Time `json:"until"`
	Incidents     *int       `json:"incidents"`
	Interruptions *int       `json:"interruptions"`
	EventIDs      []string   `json:"event_ids"`
}

// OtherActive is a person who acted in the window but did not respond.
type OtherActive struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Identities []Identity `json:"identities"`
	// Activities are the kinds of their acts.
	Activities []string `json:"activities"`
	EventIDs   []string `json:"event_ids"`
}

// PeopleSummary is People in a few numbers, in the incident's summary.
type PeopleSummary struct {
	Responders    int            `json:"responders"`
	ByMode        map[string]int `json:"by_mode"`
	Interruptions map[string]int `json:"interruptions_by_local_class"`
	OthersActive  int            `json:"others_active"`
	Ignored       int            `json:"ignored"`
}

func (p People) summary() PeopleSummary {
	s := PeopleSummary{Responders: len(p.Responders), ByMode: map[string]int{},
		Interruptions: map[string]int{LocalWorking: 0, LocalEvening: 0, LocalNight: 0},
		OthersActive:  len(p.OthersActive), Ignored: p.Ignored}
	for _, r := range p.Responders {
		s.ByMode[r.Mode]++
		for _, in := range r.Interruptions {
			s.Interruptions[in.LocalClass]++
		}
	}
	return s
}

// Roles of a reference to a person in an event.
const (
	roleActor    = "actor"
	roleNotified = "notified"
	roleAssigned = "assigned"
)

// personRef is a person as one event names them.
type personRef struct {
	source, id, name, email, tz string
	role                        string
}

func (r personRef) keys() []string {
	var k []string
	if r.id != "" {
		k = append(k, "i\x00"+r.source+"\x00"+strings.ToLower(r.id))
	}
	if r.email != "" {
		k = append(k, "e\x00"+strings.ToLower(r.email))
	}
	return k
}

// refsOf returns the people an event names: its actor (unless a bot, or
// the sender of a notification), the person notified and the assignees.
func refsOf(e *Event) []personRef {
	if strings.HasPrefix(e.Kind, "alert.") || strings.HasPrefix(e.Kind, "ci.") {
		return nil
	}
	var out []personRef
	if a := e.Actor; a != nil && !a.Bot && (a.ID != "" || a.Email != "") && e.Kind != KindPageNotified {
		out = append(out, personRef{source: e.Source, id: a.ID, name: a.Name, email: a.Email, tz: a.TimeZone, role: roleActor})
	}
	obj := func(m map[string]string, role string) {
		if m["id"] == "" && m["email"] == "" {
			return
		}
		out = append(out, personRef{source: e.Source, id: m["id"], name: m["name"], email: m["email"], tz: m["time_zone"], role: role})
	}
	if e.Kind == KindPageNotified {
		obj(detailMap(e.Details, DetailNotifiedPerson), roleNotified)
	}
	if v, ok := e.Details[DetailAssignees]; ok {
		for _, m := range detailMaps(v) {
			obj(m, roleAssigned)
		}
	}
	return out
}

// personGroup is one person: every identity the timeline and the aliases
// join.
type personGroup struct {
	id         string
	name       string
	identities []Identity
	tz         *time.Location
	tzName     string
	ignored    bool
	acts       []personAct
}

type personAct struct {
	ref personRef
	e   *Event
}

func (g *personGroup) ref() PersonRef { return PersonRef{PersonID: g.id, Name: g.name} }

// personIndex maps each event's people to their groups.
type personIndex struct {
	byKey  map[string]*personGroup
	groups []*personGroup
}

var (
	locMu    sync.Mutex
	locCache = map[string]*time.Location{}
)

// loadLocation loads an IANA zone once per process; nil when unknown.
func loadLocation(name string) *time.Location {
	if name == "" {
		return nil
	}
	locMu.Lock()
	defer locMu.Unlock()
	if l, ok := locCache[name]; ok {
		return l
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = nil
	}
	locCache[name] = l
	return l
}

func indexPeople(events []Event, cfg ReviewConfig) *personIndex {
	parent := map[string]string{}
	var find func(string) string
	find = func(k string) string {
		p, ok := parent[k]
		if !ok {
			parent[k] = k
			return k
		}
		if p == k {
			return k
		}
		r := find(p)
		parent[k] = r
		return r
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra != rb {
			if rb < ra {
				ra, rb = rb, ra
			}
			parent[rb] = ra
		}
	}
	type evRefs struct {
		e    *Event
		refs []personRef
	}
	var all []evRefs
	for i := range events {
		refs := refsOf(&events[i])
		if len(refs) == 0 {
			continue
		}
		all = append(all, evRefs{&events[i], refs})
		for _, r := range refs {
			ks := r.keys()
			for _, k := range ks[1:] {
				union(ks[0], k)
			}
			find(ks[0])
		}
	}
	aliasOf := map[string]PersonAlias{}
	for _, al := range cfg.People {
		var ks []string
		for _, id := range al.Identities {
			if id.ID != "" {
				ks = append(ks, "i\x00"+id.Source+"\x00"+strings.ToLower(id.ID))
			}
		}
		if al.Email != "" {
			ks = append(ks, "e\x00"+strings.ToLower(al.Email))
		}
		for _, k := range ks {
			union(ks[0], k)
		}
		for _, k := range ks {
			aliasOf[k] = al
		}
	}
	ignore := map[string]bool{}
	for _, s := range cfg.IgnoreActors {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			ignore[s] = true
		}
	}

	idx := &personIndex{byKey: map[string]*personGroup{}}
	byRoot := map[string]*personGroup{}
	type build struct {
		ids        map[Identity]bool
		spaced     string
		plain      string
		alias      string
		pagerTZ    string
		otherTZ    string
		firstEmail string
	}
	builds := map[*personGroup]*build{}
	for _, er := range all {
		for _, r := range er.refs {
			root := find(r.keys()[0])
			g := byRoot[root]
			if g == nil {
				g = &personGroup{}
				byRoot[root] = g
				builds[g] = &build{ids: map[Identity]bool{}}
				idx.groups = append(idx.groups, g)
			}
			b := builds[g]
			for _, k := range r.keys() {
				idx.byKey[k] = g
				if al, ok := aliasOf[k]; ok && al.Name != "" && b.alias == "" {
					b.alias = al.Name
				}
			}
			g.acts = append(g.acts, personAct{ref: r, e: er.e})
			if r.id != "" {
				b.ids[Identity{Source: r.source, ID: r.id}] = true
			}
			b.firstEmail = cmp.Or(b.firstEmail, strings.ToLower(r.email))
			if strings.Contains(strings.TrimSpace(r.name), " ") && b.spaced == "" {
				b.spaced = r.name
			}
			if r.name != "" && b.plain == "" {
				b.plain = r.name
			}
			if r.tz != "" && loadLocation(r.tz) != nil {
				if r.role == roleNotified || r.role == roleAssigned {
					b.pagerTZ = cmp.Or(b.pagerTZ, r.tz)
				} else {
					b.otherTZ = cmp.Or(b.otherTZ, r.tz)
				}
			}
			if ignore[strings.ToLower(r.id)] || (r.email != "" && ignore[strings.ToLower(r.email)]) {
				g.ignored = true
			}
		}
	}
	for _, g := range idx.groups {
		b := builds[g]
		for id := range b.ids {
			g.identities = append(g.identities, id)
		}
		slices.SortFunc(g.identities, func(x, y Identity) int {
			return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.ID, y.ID))
		})
		switch {
		case len(g.identities) > 0:
			g.id = g.identities[0].Source + ":" + g.identities[0].ID
		default:
			g.id = "email:" + b.firstEmail
		}
		g.name = cmp.Or(b.alias, b.spaced, b.plain)
		if g.name == "" && len(g.identities) > 0 {
			g.name = g.identities[0].ID
		}
		g.tzName = cmp.Or(b.pagerTZ, b.otherTZ)
		g.tz = loadLocation(g.tzName)
	}
	slices.SortFunc(idx.groups, func(x, y *personGroup) int { return cmp.Compare(x.id, y.id) })
	return idx
}

// group returns the group of e's first person of role, nil when none or
// when that person is ignored.
func (x *personIndex) group(e *Event, role string) *personGroup {
	for _, r := range refsOf(e) {
		if r.role == role {
			if g := x.byKey[r.keys()[0]]; g != nil && !g.ignored {
				return g
			}
			return nil
		}
	}
	return nil
}

// groupsOf returns the groups of every person of role in e, ignored ones
// left out.
func (x *personIndex) groupsOf(e *Event, role string) []*personGroup {
	var out []*personGroup
	for _, r := range refsOf(e) {
		if r.role != role {
			continue
		}
		if g := x.byKey[r.keys()[0]]; g != nil && !g.ignored && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func (x *personIndex) actorGroup(e *Event) *personGroup { return x.group(e, roleActor) }

var icRE = regexp.MustCompile(`(?i)\b(i'?m|i am|i'll be|i will be|taking( over)?( as)?|acting as)\s+(the\s+)?(ic|incident commander|incident lead)\b`)

// respondsBy reports whether an act inside the span makes its person a
// responder: a page, a page action, a chat message or join, a production
// deployment. Commits and merges alone do not.
func (a *analysis) respondsBy(act personAct) bool {
	e := act.e
	switch {
	case act.ref.role != roleActor:
		return true
	case strings.HasPrefix(e.Kind, "page.") || strings.HasPrefix(e.Kind, "incident.") || isChat(e.Kind):
		return true
	case strings.HasPrefix(e.Kind, "deploy."):
		return a.cfg.isProduction(detailString(e.Details, DetailEnvironment))
	}
	return false
}

// people builds GET /people.
func (a *analysis) people() People {
	out := People{Responders: []Person{}, OthersActive: []OtherActive{}}
	for _, g := range a.idx.groups {
		if g.ignored {
			out.Ignored++
			continue
		}
		var inSpan []personAct
		responds := false
		for _, act := range g.acts {
			if a.inSpan(act.e.OccurredAt) {
				inSpan = append(inSpan, act)
				responds = responds || a.respondsBy(act)
			}
		}
		if !responds {
			o := OtherActive{ID: g.id, Name: g.name, Identities: g.identities, Activities: []string{}, EventIDs: []string{}}
			seen := map[string]bool{}
			for _, act := range g.acts {
				if !slices.Contains(o.Activities, act.e.Kind) {
					o.Activities = append(o.Activities, act.e.Kind)
				}
				if !seen[act.e.ID] {
					seen[act.e.ID] = true
					o.EventIDs = append(o.EventIDs, act.e.ID)
				}
			}
			slices.Sort(o.Activities)
			out.OthersActive = append(out.OthersActive, o)
			continue
		}
		out.Responders = append(out.Responders, a.person(g, inSpan))
	}
	slices.SortStableFunc(out.Responders, func(x, y Person) int {
		return cmp.Or(x.PresentFrom.Compare(y.PresentFrom), cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	slices.SortStableFunc(out.OthersActive, func(x, y OtherActive) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	return out
}

func (a *analysis) person(g *personGroup, acts []personAct) Person {
	p := Person{ID: g.id, Name: g.name, Identities: g.identities, Modes: []string{}, Interruptions: []Interruption{},
		Roles: []Role{}, EventIDs: []string{}}
	cite := func(e *Event) {
		if !slices.Contains(p.EventIDs, e.ID) {
			p.EventIDs = append(p.EventIDs, e.ID)
		}
	}
	setFirst := func(dst **time.Time, e *Event) {
		if *dst == nil {
			t := e.OccurredAt.UTC()
			*dst = &t
			cite(e)
		}
	}
	p.PresentFrom, p.PresentUntil = acts[0].e.OccurredAt.UTC(), acts[len(acts)-1].e.OccurredAt.UTC()
	if g.tzName != "" {
		tz := g.tzName
		p.TimeZone = &tz
	}
	var pageAt *time.Time
	if a.page != nil {
		pageAt = &a.page.OccurredAt
	}
	spokeBefore, acted, joined := false, false, false
	for _, act := range acts {
		e := act.e
		switch {
		case act.ref.role == roleNotified:
			setFirst(&p.FirstNotifiedAt, e)
		case act.ref.role == roleAssigned:
		case e.Kind == KindPageAcknowledged:
			setFirst(&p.FirstAcknowledgedAt, e)
			acted = true
		case e.Kind == KindChatJoined:
			setFirst(&p.JoinedChannelAt, e)
			joined = true
		case isChat(e.Kind):
			setFirst(&p.FirstSpokeAt, e)
			if pageAt != nil && e.OccurredAt.Before(*pageAt) {
				spokeBefore = true
			} else {
				acted = true
			}
			if icRE.MatchString(e.Text) && !slices.ContainsFunc(p.Roles, func(r Role) bool { return r.Role == RoleIncidentCommander }) {
				p.Roles = append(p.Roles, Role{Role: RoleIncidentCommander, At: e.OccurredAt.UTC(), Basis: "declared in chat", EventIDs: []string{e.ID}})
				cite(e)
			}
		case e.Kind == KindPageReassigned:
			p.Roles = append(p.Roles, Role{Role: RoleHandedOver, At: e.OccurredAt.UTC(), Basis: "reassigned the page", EventIDs: []string{e.ID}})
			cite(e)
			acted = true
		default:
			if a.respondsBy(act) {
				acted = true
			}
		}
	}
	if as, ok := a.pager.assigned[g]; ok {
		p.Modes = append(p.Modes, as.cause)
		lvl := as.level
		p.EscalationLevel = &lvl
		cite(as.event)
		if as.cause == ModeAddedByReassignment {
			p.Roles = append(p.Roles, Role{Role: RoleAssignedByReassignment, At: as.at.UTC(), Basis: "the pager's reassignment", EventIDs: []string{as.event.ID}})
		}
	}
	if spokeBefore {
		p.Modes = append(p.Modes, ModePresentBeforePage)
	}
	if len(p.Modes) == 0 {
		switch {
		case acted:
			p.Modes = append(p.Modes, ModeSelfJoined)
		case joined:
			p.Modes = append(p.Modes, ModeObserver)
		default:
			p.Modes = append(p.Modes, ModeSelfJoined)
		}
	}
	p.Mode = p.Modes[0]
	slices.SortStableFunc(p.Roles, func(x, y Role) int { return x.At.Compare(y.At) })

	loc := g.tz
	if loc == nil {
		loc = a.cfg.Location
	}
	for _, e := range a.pager.notified[g] {
		if !a.inSpan(e.OccurredAt) {
			continue
		}
		ch := strings.ToLower(detailString(e.Details, DetailNotifyChannel))
		if ch == NotifyEmail {
			p.EmailNotifications++
			continue
		}
		if ch == "" {
			ch = "unknown"
		}
		if n := len(p.Interruptions); n > 0 && e.OccurredAt.Sub(p.Interruptions[n-1].At) < interruptionWindow {
			last := &p.Interruptions[n-1]
			if !slices.Contains(last.Channels, ch) {
				last.Channels = append(last.Channels, ch)
			}
			last.EventIDs = append(last.EventIDs, e.ID)
			continue
		}
		lt := e.OccurredAt.In(loc)
		wd := lt.Weekday()
		p.Interruptions = append(p.Interruptions, Interruption{At: e.OccurredAt.UTC(), Channels: []string{ch},
			LocalTime: lt.Format(time.RFC3339), Zone: loc.String(), LocalClass: a.cfg.LocalHours.class(lt.Hour()*60 + lt.Minute()),
			Weekend: wd == time.Saturday || wd == time.Sunday, EventIDs: []string{e.ID}})
	}
	p.RecentLoad = recentLoad(a.pager.notified[g])
	return p
}

// recentLoad reads the latest DetailRecentLoad among a person's
// notifications.
func recentLoad(notified []*Event) *RecentLoad {
	var last *Event
	for _, e := range notified {
		if _, ok := e.Details[DetailRecentLoad]; ok {
			last = e
		}
	}
	if last == nil {
		return nil
	}
	m := detailMap(last.Details, DetailRecentLoad)
	rl := &RecentLoad{EventIDs: []string{last.ID}}
	for key, dst := range map[string]**time.Time{LoadSince: &rl.Since, LoadUntil: &rl.Until} {
		if t, err := time.Parse(time.RFC3339Nano, m[key]); err == nil {
			t = t.UTC()
			*dst = &t
		}
	}
	for key, dst := range map[string]**int{LoadIncidents: &rl.Incidents, LoadInterruptions: &rl.Interruptions} {
		if n, ok := detailInt(map[string]any{"v": m[key]}, "v"); ok {
			v := int(n)
			*dst = &v
		}
	}
	return rl
}

// responders is the legacy view of the responders.
func (a *analysis) responders(people People) []Responder {
	byID := map[string]*personGroup{}
	for _, g := range a.idx.groups {
		byID[g.id] = g
	}
	out := make([]Responder, 0, len(people.Responders))
	for _, p := range people.Responders {
		g := byID[p.ID]
		r := Responder{Name: p.Name, Identities: p.Identities, Counts: map[string]int{}, EventIDs: []string{}}
		first := true
		seen := map[string]bool{}
		for _, act := range g.acts {
			if !a.inSpan(act.e.OccurredAt) {
				continue
			}
			if first {
				r.FirstActivityAt, first = act.e.OccurredAt.UTC(), false
			}
			r.LastActivityAt = act.e.OccurredAt.UTC()
			if seen[act.e.ID] {
				continue
			}
			seen[act.e.ID] = true
			r.Counts[act.e.Kind]++
			r.EventIDs = append(r.EventIDs, act.e.ID)
		}
		if notified := a.pager.notified[g]; len(notified) > 0 {
			loc := g.tz
			if loc == nil {
				loc = a.cfg.Location
			}
			outside := false
			for _, e := range notified {
				outside = outside || a.cfg.outsideBusinessHoursIn(e.OccurredAt, loc)
			}
			r.PagedOutsideBusinessHours = &outside
		}
		switch {
		case p.RecentLoad != nil && p.RecentLoad.Interruptions != nil:
			n := *p.RecentLoad.Interruptions
			r.PagesInPrior7Days = &n
		case a.in.PriorPages != nil:
			n := 0
			for _, id := range p.Identities {
				n += a.in.PriorPages[id.ID]
			}
			if n > 0 {
				r.PagesInPrior7Days = &n
			}
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(x, y Responder) int {
		return cmp.Or(x.FirstActivityAt.Compare(y.FirstActivityAt), cmp.Compare(x.Name, y.Name),
			cmp.Compare(firstIdentity(x), firstIdentity(y)))
	})
	return out
}

func firstIdentity(r Responder) string {
	if len(r.Identities) == 0 {
		return ""
	}
	return r.Identities[0].Source + ":" + r.Identities[0].ID
}

// Notification is one notification to a person: when, and by which channel
// (DetailNotifyChannel; empty when unknown).
type Notification struct {
	At      time.Time
	Channel string
}

// CountInterruptions counts notifications as interruptions, as pagers
// count them: push, SMS and phone (and unknown channels) to one person
// within 60 s of the interruption's first are one; email is none.
func CountInterruptions(ns []Notification) int {
	ns = slices.Clone(ns)
	slices.SortFunc(ns, func(x, y Notification) int { return x.At.Compare(y.At) })
	n := 0
	var start time.Time
	for _, x := range ns {
		if strings.EqualFold(x.Channel, NotifyEmail) {
			continue
		}
		if n == 0 || x.At.Sub(start) >= interruptionWindow {
			n++
			start = x.At
		}
	}
	return n
}

package timeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The review (summary, people, changes) is derived from an incident's
// timeline by a pure function, Prepare: the store finds the inputs, Prepare
// reads nothing else. Everything it reports rests on events it can cite;
// what the timeline does not show is null or empty, never guessed.
//
// It knows no vendor. The collectors' normalisers mark what it needs in the
// event model, with the keys below:
//
//   - Actor.Bot marks an actor that is not a person (a bot, an integration,
//     a service, an automation); such actors are never people.
//   - Actor.Email (compared case-insensitively) and the review's People
//     aliases join one person's identities across tools; Actor.TimeZone is
//     the person's own zone where the upstream reports it.
//   - page.notified: DetailNotifiedPerson is the person notified, an object
//     {"id", "name", "email", "time_zone"} (the event's Actor is whatever
//     sent it); DetailNotifyChannel how (push, sms, phone, email);
//     DetailRecentLoad that person's load before the incident.
//   - page.triggered, page.escalated, page.reassigned: DetailAssignees lists
//     the people assigned by it (objects as above); DetailEscalationLevel
//     the level escalated to; DetailEscalationReason why (timeout, manual).
//   - any page.* event: DetailUrgency is the urgency it set (high, low).
//   - chat.*: DetailChatChannel is the channel (one human lane per channel).
//   - deploy.*: DetailDeploymentID (string or number) groups the statuses of
//     one deployment; DetailRepo ("owner/name", else read from the event id),
//     DetailEnvironment, DetailSHA and DetailRef say what went where;
//     DetailRollback (bool, or "true") marks a declared rollback;
//     DetailPreviousSHA is what was live before (from the upstream's
//     deployment history), DetailShippedPulls the pull requests the
//     deployment shipped ([{"number", "title"}], from a comparison of the
//     two) and DetailShippedCommits how many commits. A status without
//     DetailDeploymentID is a deployment of its own.
//   - change.merged: DetailRepo and DetailNumber; change.release: DetailRepo
//     and DetailTag.

// Detail keys the review reads (see above).
const (
	DetailNotifiedPerson   = "user"
	DetailNotifyChannel    = "notification_type"
	DetailRecentLoad       = "recent_load"
	DetailAssignees        = "assignees"
	DetailEscalationLevel  = "escalation_level"
	DetailEscalationReason = "escalation_reason"
	DetailUrgency          = "urgency"
	DetailChatChannel      = "channel"
	DetailDeploymentID     = "deployment_id"
	DetailRepo             = "repo"
	DetailEnvironment      = "environment"
	DetailSHA              = "sha"
	DetailRef              = "ref"
	DetailRollback         = "rollback"
	DetailPreviousSHA      = "previous_sha"
	DetailShippedPulls     = "shipped_pulls"
	DetailShippedCommits   = "shipped_commits"
	DetailNumber           = "number"
	DetailTag              = "tag"
)

// Notification channels (DetailNotifyChannel values). Email does not
// interrupt; the others do.
const (
	NotifyPush  = "push"
	NotifySMS   = "sms"
	NotifyPhone = "phone"
	NotifyEmail = "email"
)

// Escalation reasons (DetailEscalationReason values).
const (
	EscalationTimeout = "timeout"
	EscalationManual  = "manual"
)

// Recent load keys: DetailRecentLoad is an object {"since", "until" (RFC
// 3339), "incidents", "interruptions" (integers)} counted by the source over
// the 7 days before the incident, leaving the incident itself out.
const (
	LoadSince         = "since"
	LoadUntil         = "until"
	LoadIncidents     = "incidents"
	LoadInterruptions = "interruptions"
)

// ReviewConfig is the `review:` section of the configuration, with the
// people aliases and ignored actors.
type ReviewConfig struct {
	// Location is the company's time zone business hours are local to; nil
	// is UTC.
	Location *time.Location
	// BusinessStart and BusinessEnd are minutes since local midnight; a
	// moment is inside business hours when its local time of day t is
	// BusinessStart <= t < BusinessEnd on Monday to Friday. Both zero means
	// the default, 09:00-18:00. See ParseBusinessHours.
	BusinessStart int
	BusinessEnd   int
	// QuietGap is the shortest stretch without events that is called out
	// as a gap (a stretch must be longer than it); zero means 15 minutes.
	QuietGap time.Duration
	// LocalHours classes each interruption in the person's own time zone;
	// the zero value means DefaultLocalHours.
	LocalHours LocalHours
	// ProductionEnvironments are the deployment environments that count as
	// production (compared case-insensitively); nil means production and
	// prod.
	ProductionEnvironments []string
	// People joins identities that no email joins: each alias is one person.
	People []PersonAlias
	// IgnoreActors are ids, logins or emails (case-insensitive) of actors
	// that are never people in the review (test users, shared accounts).
	IgnoreActors []string
	// Calendar holds the entries (offsites, freezes, launches, holidays)
	// the context lists when they overlap the incident.
	Calendar []CalendarEntry
}

// PersonAlias names one person's identities in several tools.
type PersonAlias struct {
	Name       string
	Email      string
	Identities []Identity
}

// CalendarEntry is one entry of review.calendar.
type CalendarEntry struct {
	Title string    `json:"title"`
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// LocalHours are the boundaries of the local classes of a moment, in
// minutes since local midnight: working from WorkingStart to EveningStart,
// evening from EveningStart to NightStart, night from NightStart to
// WorkingStart (across midnight).
type LocalHours struct {
	WorkingStart int
	EveningStart int
	NightStart   int
}

// Local classes of a moment (Interruption.LocalClass).
const (
	LocalWorking = "working"
	LocalEvening = "evening"
	LocalNight   = "night"
)

// DefaultLocalHours is working 08:00-19:00, evening 19:00-23:00, night
// 23:00-08:00.
func DefaultLocalHours() LocalHours {
	return LocalHours{WorkingStart: 8 * 60, EveningStart: 19 * 60, NightStart: 23 * 60}
}

// Validate reports the first thing wrong with h.
func (h LocalHours) Validate() error {
	if h.WorkingStart < 0 || h.WorkingStart >= h.EveningStart || h.EveningStart > h.NightStart || h.NightStart > 24*60 {
		return fmt.Errorf("review.local_hours: want working, evening and night to follow each other around the clock "+
			"(working starts %s, evening %s, night %s)", clock(h.WorkingStart), clock(h.EveningStart), clock(h.NightStart))
	}
	return nil
}

// class returns the local class of a local time of day m (minutes).
func (h LocalHours) class(m int) string {
	switch {
	case m >= h.WorkingStart && m < h.EveningStart:
		return LocalWorking
	case m >= h.EveningStart && m < h.NightStart:
		return LocalEvening
	}
	return LocalNight
}

// DefaultReviewConfig returns the defaults: UTC, 09:00-18:00, 15 minutes,
// DefaultLocalHours, production environments production and prod.
func DefaultReviewConfig() ReviewConfig {
	return ReviewConfig{Location: time.UTC, BusinessStart: 9 * 60, BusinessEnd: 18 * 60, QuietGap: 15 * time.Minute,
		LocalHours: DefaultLocalHours(), ProductionEnvironments: []string{"production", "prod"}}
}

// Validate reports the first thing wrong with c, naming the setting.
func (c ReviewConfig) Validate() error {
	switch {
	case c.BusinessStart < 0 || c.BusinessStart >= 24*60:
		return fmt.Errorf("review.business_hours: start %d is not a minute of the day", c.BusinessStart)
	case c.BusinessEnd <= 0 || c.BusinessEnd > 24*60:
		return fmt.Errorf("review.business_hours: end %d is not a minute of the day", c.BusinessEnd)
	case c.BusinessStart >= c.BusinessEnd:
		return fmt.Errorf("review.business_hours: start %s is not before end %s", clock(c.BusinessStart), clock(c.BusinessEnd))
	case c.QuietGap < 0:
		return fmt.Errorf("review.quiet_gap: %s is negative", c.QuietGap)
	}
	if c.LocalHours != (LocalHours{}) {
		if err := c.LocalHours.Validate(); err != nil {
			return err
		}
	}
	for i, e := range c.Calendar {
		if e.End.Before(e.Start) {
			return fmt.Errorf("review.calendar[%d]: %q ends before it starts", i, e.Title)
		}
	}
	return nil
}

func (c ReviewConfig) withDefaults() ReviewConfig {
	d := DefaultReviewConfig()
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.BusinessStart == 0 && c.BusinessEnd == 0 {
		c.BusinessStart, c.BusinessEnd = d.BusinessStart, d.BusinessEnd
	}
	if c.QuietGap == 0 {
		c.QuietGap = d.QuietGap
	}
	if c.LocalHours == (LocalHours{}) {
		c.LocalHours = d.LocalHours
	}
	if c.ProductionEnvironments == nil {
		c.ProductionEnvironments = d.ProductionEnvironments
	}
	return c
}

// isProduction reports whether env is one of the production environments.
func (c ReviewConfig) isProduction(env string) bool {
	for _, p := range c.ProductionEnvironments {
		if strings.EqualFold(strings.TrimSpace(p), strings.TrimSpace(env)) {
			return true
		}
	}
	return false
}

// outsideBusinessHours reports whether t falls outside business hours in
// c.Location. Saturdays and Sundays (local) are outside all day. The instant
// is converted with t.In, so daylight saving time is applied as the zone's
// rules say for that instant.
func (c ReviewConfig) outsideBusinessHours(t time.Time) bool {
	return c.outsideBusinessHoursIn(t, c.Location)
}

func (c ReviewConfig) outsideBusinessHoursIn(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return true
	}
	m := l.Hour()*60 + l.Minute()
	return m < c.BusinessStart || m >= c.BusinessEnd
}

// ParseBusinessHours parses "HH:MM-HH:MM" (24-hour clock, local time) into
// minutes since midnight. The end may be "24:00"; the start must be before
// the end (ranges across midnight are not supported).
func ParseBusinessHours(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("business hours %q: want HH:MM-HH:MM", s)
	}
	start, err = parseClock(strings.TrimSpace(a), false)
	if err != nil {
		return 0, 0, fmt.Errorf("business hours %q: start: %w", s, err)
	}
	end, err = parseClock(strings.TrimSpace(b), true)
	if err != nil {
		return 0, 0, fmt.Errorf("business hours %q: end: %w", s, err)
	}
	if start >= end {
		return 0, 0, fmt.Errorf("business hours %q: start %s is not before end %s", s, clock(start), clock(end))
	}
	return start, end, nil
}

// ParseClockRange parses "HH:MM-HH:MM" into minutes since midnight; unlike
// ParseBusinessHours the range may run across midnight ("23:00-08:00").
func ParseClockRange(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	if start, err = parseClock(strings.TrimSpace(a), false); err != nil {
		return 0, 0, fmt.Errorf("%q: start: %w", s, err)
	}
	if end, err = parseClock(strings.TrimSpace(b), true); err != nil {
		return 0, 0, fmt.Errorf("%q: end: %w", s, err)
	}
	if start == end {
		return 0, 0, fmt.Errorf("%q: start and end are the same", s)
	}
	return start, end, nil
}

func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if m > 59 {
		return 0, fmt.Errorf("minute %02d of %q is out of range 00-59", m, s)
	}
	if h > 23 && !(end && h == 24 && m == 0) {
		return 0, fmt.Errorf("hour %02d of %q is out of range 00-23", h, s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/groundwork-dev/groundwork/timeline"
)

// PersonConfig is one entry of people: a person's name and email and their
// id in each source, keyed by the source's name, such as
// {name: Tomás Ortega, email: tomas@acme.example, github: tortega,
// slack: U0TOMAS01, pagerduty: PORTTOM}.
type PersonConfig map[string]string

// LocalHoursConfig is review.local_hours: three ranges that follow each
// other around the clock.
type LocalHoursConfig struct {
	Working string `yaml:"working"`
	Evening string `yaml:"evening"`
	Night   string `yaml:"night"`
}

// CalendarItem is one item of review.calendar: an entry written inline
// ({title, kind, start, end}) or an iCalendar file ({ical: path}) whose
// events are entries. Times are RFC 3339, or dates (YYYY-MM-DD) for whole
// days in review.timezone (an end date is included).
type CalendarItem struct {
	Title string `yaml:"title"`
	Kind  string `yaml:"kind"`
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	ICal  string `yaml:"ical"`
}

// defaultLocalHours is review.local_hours unless the file says otherwise.
func defaultLocalHours() LocalHoursConfig {
	return LocalHoursConfig{Working: "08:00-19:00", Evening: "19:00-23:00", Night: "23:00-08:00"}
}

// localHours parses review.local_hours.
func (c LocalHoursConfig) localHours() (timeline.LocalHours, error) {
	var b [3][2]int
	for i, r := range []struct{ key, v string }{{"working", c.Working}, {"evening", c.Evening}, {"night", c.Night}} {
		s, e, err := timeline.ParseClockRange(r.v)
		if err != nil {
			return timeline.LocalHours{}, fmt.Errorf("review.local_hours.%s: %w", r.key, err)
		}
		b[i] = [2]int{s, e}
	}
	if b[0][1] != b[1][0] || b[1][1] != b[2][0] || b[2][1] != b[0][0] {
		return timeline.LocalHours{}, fmt.Errorf("review.local_hours: working, evening and night must follow each other around the clock (%s, %s, %s)",
			c.Working, c.Evening, c.Night)
	}
	h := timeline.LocalHours{WorkingStart: b[0][0], EveningStart: b[1][0], NightStart: b[2][0]}
	if err := h.Validate(); err != nil {
		return timeline.LocalHours{}, err
	}
	return h, nil
}

// checkPeople validates people and ignore_actors.
func checkPeople(people []PersonConfig, ignore []string) error {
	var errs []error
	for i, p := range people {
		key := fmt.Sprintf("people[%d]", i)
		ids := 0
		for k, v := range p {
			switch {
			case k == "name" || k == "email":
			case validSourceName(k):
				if strings.TrimSpace(v) == "" {
					errs = append(errs, fmt.Errorf("%s.%s: is empty", key, k))
				}
				ids++
			default:
				errs = append(errs, fmt.Errorf("%s.%s: unknown key (name, email or a source: %s)", key, k, strings.Join(pluginNames(), ", ")))
			}
		}
		if p["email"] != "" && !strings.Contains(p["email"], "@") {
			errs = append(errs, fmt.Errorf("%s.email: %q is not an email address", key, p["email"]))
		}
		if ids+btoi(p["email"] != "") < 2 {
			errs = append(errs, fmt.Errorf("%s: names fewer than two identities; an alias joins at least two (an email and source ids)", key))
		}
	}
	for i, s := range ignore {
		if strings.TrimSpace(s) == "" {
			errs = append(errs, fmt.Errorf("ignore_actors[%d]: is empty", i))
		}
	}
	return errors.Join(errs...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// validSourceName reports whether s names a listed source (sourceList).
func validSourceName(s string) bool { return slices.Contains(pluginNames(), s) }

// aliases turns people into the review's aliases.
func aliases(people []PersonConfig) []timeline.PersonAlias {
	out := make([]timeline.PersonAlias, 0, len(people))
	for _, p := range people {
		al := timeline.PersonAlias{Name: p["name"], Email: p["email"]}
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if validSourceName(k) {
				al.Identities = append(al.Identities, timeline.Identity{Source: k, ID: p[k]})
			}
		}
		out = append(out, al)
	}
	return out
}

// calendar reads review.calendar: inline entries and iCalendar files.
func calendar(items []CalendarItem, loc *time.Location) ([]timeline.CalendarEntry, error) {
	var out []timeline.CalendarEntry
	for i, it := range items {
		key := fmt.Sprintf("review.calendar[%d]", i)
		if it.ICal != "" {
			if it.Title != "" || it.Start != "" || it.End != "" {
				return nil, fmt.Errorf("%s: an item is either an entry (title, kind, start, end) or an ical file, not both", key)
			}
			es, err := readICal(it.ICal, it.Kind, loc)
			if err != nil {
				return nil, fmt.Errorf("%s.ical: %w", key, err)
			}
			out = append(out, es...)
			continue
		}
		if it.Title == "" {
			return nil, fmt.Errorf("%s.title: must not be empty", key)
		}
		start, err := calendarTime(it.Start, loc, false)
		if err != nil {
			return nil, fmt.Errorf("%s.start: %w", key, err)
		}
		end := start
		if it.End != "" {
			if end, err = calendarTime(it.End, loc, true); err != nil {
				return nil, fmt.Errorf("%s.end: %w", key, err)
			}
		} else if len(strings.TrimSpace(it.Start)) == len("2006-01-02") {
			end = start.AddDate(0, 0, 1)
		}
		if end.Before(start) {
			return nil, fmt.Errorf("%s: ends (%s) before it starts (%s)", key, it.End, it.Start)
		}
		out = append(out, timeline.CalendarEntry{Title: it.Title, Kind: it.Kind, Start: start.UTC(), End: end.UTC()})
	}
	return out, nil
}

// calendarTime reads an RFC 3339 time or a date; an end date means the end
// of that day.
func calendarTime(s string, loc *time.Location, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// readICal reads the events of an iCalendar file as entries; kind is the
// item's kind, else each event's CATEGORIES. Dates without a time are whole
// days in loc.
func readICal(path, kind string, loc *time.Location) ([]timeline.CalendarEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cal, err := ics.ParseCalendar(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []timeline.CalendarEntry
	for _, ev := range cal.Events() {
		title := ""
		if p := ev.GetProperty(ics.ComponentPropertySummary); p != nil {
			title = p.Value
		}
		k := kind
		if p := ev.GetProperty(ics.ComponentPropertyCategories); p != nil && k == "" {
			k = strings.ToLower(p.Value)
		}
		start, allDay, err := icalTime(ev, ics.ComponentPropertyDtStart, loc)
		if err != nil {
			return nil, fmt.Errorf("%s: event %q: DTSTART: %w", path, title, err)
		}
		end := start
		if ev.GetProperty(ics.ComponentPropertyDtEnd) != nil {
			if end, _, err = icalTime(ev, ics.ComponentPropertyDtEnd, loc); err != nil {
				return nil, fmt.Errorf("%s: event %q: DTEND: %w", path, title, err)
			}
		} else if allDay {
			end = start.AddDate(0, 0, 1)
		}
		out = append(out, timeline.CalendarEntry{Title: title, Kind: k, Start: start.UTC(), End: end.UTC()})
	}
	return out, nil
}

// icalTime reads a DTSTART or DTEND; a date (VALUE=DATE, or no time part)
// is midnight in loc.
func icalTime(ev *ics.VEvent, prop ics.ComponentProperty, loc *time.Location) (time.Time, bool, error) {
	p := ev.GetProperty(prop)
	if p == nil {
		return time.Time{}, false, errors.New("missing")
	}
	if v := strings.TrimSpace(p.Value); len(v) == len("20060102") {
		d, err := time.ParseInLocation("20060102", v, loc)
		return d, true, err
	}
	var t time.Time
	var err error
	if prop == ics.ComponentPropertyDtEnd {
		t, err = ev.GetEndAt()
	} else {
		t, err = ev.GetStartAt()
	}
	return t, false, err
}

package pagerduty

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/groundwork-dev/groundwork/timeline"
)

// LoadWindow is how far before an incident's start a person's recent load
// is counted.
const LoadWindow = 7 * 24 * time.Hour

// userLoad is one user's load before the incident.
type userLoad struct {
	since, until  time.Time
	incidents     map[string]bool
	notifications []timeline.Notification
}

// recentLoad reads the account's log entries over the LoadWindow before
// the incident started (GET /log_entries?since&until, paged, the range
// split in halves where it holds more than offset paging reaches) and
// counts, per notified user, the other incidents they were notified in and
// their interruptions (timeline.CountInterruptions). The incident's own
// entries are left out.
func (r *run) recentLoad(ctx context.Context) (map[string]*userLoad, error) {
	inc, err := r.c.describe(ctx, r.incidentID)
	if err != nil {
		return nil, err
	}
	until := inc.StartedAt.UTC().Truncate(time.Second)
	since := until.Add(-LoadWindow)
	r.loadSince, r.loadUntil = since, until
	out := map[string]*userLoad{}
	add := func(le pd.LogEntry) {
		if SkipLogEntry(le) {
			return
		}
		if kind, _ := LogEntryKind(le.Type); kind != timeline.KindPageNotified || le.User.ID == "" || le.Incident.ID == r.incidentID {
			return
		}
		at, err := parseTime(le.CreatedAt)
		if err != nil || at.Before(since) || !at.Before(until) {
			return
		}
		u := out[le.User.ID]
		if u == nil {
			u = &userLoad{since: since, until: until, incidents: map[string]bool{}}
			out[le.User.ID] = u
		}
		if le.Incident.ID != "" {
			u.incidents[le.Incident.ID] = true
		}
		u.notifications = append(u.notifications, timeline.Notification{At: at, Channel: notificationType(le.Channel)})
	}
	seen := map[string]bool{}
	var list func(from, to time.Time) error
	list = func(from, to time.Time) error {
		for offset := 0; ; {
			opts := pd.ListLogEntriesOptions{Limit: PageLimit, Offset: uint(offset), Total: offset == 0,
				Since: from.Format(time.RFC3339), Until: to.Format(time.RFC3339), Includes: []string{"channels"}}
			var page *pd.ListLogEntryResponse
			err := r.c.call(ctx, "listing the account's log entries "+opts.Since+".."+opts.Until, "GET /log_entries", func(ctx context.Context) (err error) {
				page, err = r.c.client.ListLogEntriesWithContext(ctx, opts)
				return err
			})
			if err != nil {
				return err
			}
			if page.LogEntries == nil {
				return fmt.Errorf("listing the account's log entries: %w", wrongShape("GET /log_entries", `no "log_entries" list`))
			}
			if offset == 0 && int(page.Total) > maxOffset && to.Sub(from) > time.Second {
				mid := from.Add(to.Sub(from) / 2).Truncate(time.Second)
				if err := list(from, mid); err != nil {
					return err
				}
				return list(mid, to)
			}
			for _, le := range page.LogEntries {
				if !seen[le.ID] {
					seen[le.ID] = true
					add(le)
				}
			}
			if !page.More || len(page.LogEntries) == 0 {
				return nil
			}
			offset += PageLimit
			if offset+PageLimit > maxOffset {
				return fmt.Errorf("more than %d log entries in %s..%s; the load cannot be counted", maxOffset, opts.Since, opts.Until)
			}
		}
	}
	if err := list(since, until); err != nil {
		return nil, err
	}
	return out, nil
}

// loadDetail is the timeline.DetailRecentLoad of a user.
func loadDetail(u *userLoad, since, until time.Time) map[string]any {
	m := map[string]any{timeline.LoadSince: since.Format(time.RFC3339), timeline.LoadUntil: until.Format(time.RFC3339),
		timeline.LoadIncidents: 0, timeline.LoadInterruptions: 0}
	if u != nil {
		m[timeline.LoadIncidents] = len(u.incidents)
		m[timeline.LoadInterruptions] = timeline.CountInterruptions(u.notifications)
	}
	return m
}

// withLoad adds the notified user's recent load to a notify event.
func withLoad(e timeline.Event, loads map[string]*userLoad, since, until time.Time) timeline.Event {
	if e.Kind != timeline.KindPageNotified || loads == nil {
		return e
	}
	u, ok := e.Details[timeline.DetailNotifiedPerson].(map[string]any)
	if !ok {
		return e
	}
	id, _ := u["id"].(string)
	if id == "" {
		return e
	}
	e.Details[timeline.DetailRecentLoad] = loadDetail(loads[id], since, until)
	return e
}

// sortedUsers lists the users of loads, for logs.
func sortedUsers(loads map[string]*userLoad) string {
	ids := make([]string, 0, len(loads))
	for id := range loads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

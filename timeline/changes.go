package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ChangesTitle and ChangesNote head GET /v1/incidents/{id}/changes.
const (
	ChangesTitle = "Changes in flight"
	ChangesNote  = "Production changes from the window's start to the resolution. Proximity is not cause: " +
		"a change listed here shipped near the incident, which says nothing about whether it played a part."
)

// Changes is GET /v1/incidents/{id}/changes: each production deployment
// from the window's start to the resolution, as one change.
type Changes struct {
	Title string `json:"title"`
	Note  string `json:"note"`
	// From and Until bound the deployments listed (Until is nil while the
	// incident is open).
	From    *time.Time `json:"from"`
	Until   *time.Time `json:"until"`
	Changes []Change   `json:"changes"`
	// NotListed counts what is left out of the list.
	NotListed NotListed `json:"not_listed"`
}

// NotListed counts non-production deployments and merges that no listed
// change shipped (nil when a listed change's pull requests are unknown).
type NotListed struct {
	NonProductionDeploys  int  `json:"non_production_deploys"`
	MergesShippingNothing *int `json:"merges_shipping_nothing"`
}

// Change is one production deployment.
type Change struct {
	Repo        string `json:"repo"`
	Environment string `json:"environment"`
	Ref         string `json:"ref"`
	SHA         string `json:"sha"`
	// PreviousSHA is what was live in that environment before; nil when
	// neither the source nor the timeline says.
	PreviousSHA *string `json:"previous_sha"`
	// State is live, failed, in_progress or queued.
	State     string     `json:"state"`
	QueuedAt  *time.Time `json:"queued_at"`
	StartedAt *time.Time `json:"started_at"`
	LiveAt    *time.Time `json:"live_at"`
	FailedAt  *time.Time `json:"failed_at"`
	// RelationToPage reads like "live 7m50s before the page";
	// SecondsToPage is negative after it. Both nil without a page.
	RelationToPage *string `json:"relation_to_page"`
	SecondsToPage  *int64  `json:"seconds_to_page"`
	// PullRequests are what the deployment shipped; nil when unknown.
	PullRequests []ShippedPull `json:"pull_requests"`
	// Commits is how many commits it shipped; nil when unknown.
	Commits *int64      `json:"commits"`
	Release *ReleaseRef `json:"release"`
	// Rollback marks a deployment that put back an earlier version;
	// RolledBack one that a later rollback undid.
	Rollback   bool `json:"rollback"`
	RolledBack bool `json:"rolled_back"`
	// Author is who deployed; only filled on request (proximity is not
	// cause), see WithAuthors.
	Author   *string  `json:"author,omitempty"`
	EventIDs []string `json:"event_ids"`

	author string
}

// ShippedPull is a pull request a deployment shipped.
type ShippedPull struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	URL    string `json:"url"`
	// EventIDs is the merge's event when the timeline has it.
	EventIDs []string `json:"event_ids"`
}

// ReleaseRef is the release a deployment shipped.
type ReleaseRef struct {
	Tag      string   `json:"tag"`
	Title    string   `json:"title"`
	EventIDs []string `json:"event_ids"`
}

// ChangesSummary is Changes in a few numbers, in the incident's summary.
type ChangesSummary struct {
	ProductionDeploys     int  `json:"production_deploys"`
	Failed                int  `json:"failed"`
	RolledBack            int  `json:"rolled_back"`
	NonProductionDeploys  int  `json:"non_production_deploys"`
	MergesShippingNothing *int `json:"merges_shipping_nothing"`
}

func (c Changes) summary() ChangesSummary {
	s := ChangesSummary{ProductionDeploys: len(c.Changes), NonProductionDeploys: c.NotListed.NonProductionDeploys,
		MergesShippingNothing: c.NotListed.MergesShippingNothing}
	for _, ch := range c.Changes {
		if ch.State == "failed" {
			s.Failed++
		}
		if ch.RolledBack {
			s.RolledBack++
		}
	}
	return s
}

// WithAuthors returns c with each change's Author filled in.
func (c Changes) WithAuthors() Changes {
	out := c
	out.Changes = slices.Clone(c.Changes)
	for i := range out.Changes {
		if a := out.Changes[i].author; a != "" {
			out.Changes[i].Author = &a
		}
	}
	return out
}

func (a *analysis) changes() Changes {
	out := Changes{Title: ChangesTitle, Note: ChangesNote, Changes: []Change{}}
	from := a.in.Incident.WindowStart
	if !from.IsZero() {
		f := from.UTC()
		out.From = &f
	}
	if a.resolvedAt != nil {
		u := a.resolvedAt.UTC()
		out.Until = &u
	}
	in := func(t time.Time) bool {
		return (from.IsZero() || !t.Before(from)) && (a.resolvedAt == nil || !t.After(*a.resolvedAt))
	}
	all := deployments(a.events, true)
	isRollback := rollbacks(all)
	releases := map[string]*Event{} // repo, tag
	merges := map[string]*Event{}   // repo, number
	var mergeList []*Event
	for i := range a.events {
		e := &a.events[i]
		repo := cmp.Or(detailString(e.Details, DetailRepo), repoFromID(e.ID))
		switch e.Kind {
		case KindChangeRelease:
			if tag := detailString(e.Details, DetailTag); tag != "" {
				releases[repo+"\x00"+tag] = e
			}
		case KindChangeMerged:
			if n := detailString(e.Details, DetailNumber); n != "" {
				merges[repo+"\x00"+n] = e
			}
			if in(e.OccurredAt) {
				mergeList = append(mergeList, e)
			}
		}
	}
	// What was live before each deployment, from the timeline: the last
	// earlier successful deployment to the same place.
	lastLive := map[string]string{}
	prevFromTimeline := map[*deployment]string{}
	for _, d := range all {
		place := d.repo + "\x00" + strings.ToLower(d.env)
		prevFromTimeline[d] = lastLive[place]
		if d.succeeded() && d.sha != "" {
			lastLive[place] = d.sha
		}
	}
	shipped := map[string]bool{}
	allKnown := true
	var listed []*deployment
	for _, d := range all {
		if !slices.ContainsFunc(d.statuses, func(e *Event) bool { return in(e.OccurredAt) }) {
			continue
		}
		if !a.cfg.isProduction(d.env) {
			out.NotListed.NonProductionDeploys++
			continue
		}
		listed = append(listed, d)
		c := Change{Repo: d.repo, Environment: d.env, Ref: d.ref, SHA: d.sha, Rollback: isRollback[d],
			EventIDs: d.eventIDs(), author: d.creator, Commits: d.shippedCommits}
		if p := cmp.Or(d.previousSHA, prevFromTimeline[d]); p != "" {
			c.PreviousSHA = &p
		}
		at := func(e *Event) *time.Time {
			if e == nil {
				return nil
			}
			t := e.OccurredAt.UTC()
			return &t
		}
		c.QueuedAt, c.StartedAt = at(d.queued), at(d.started)
		var verb string
		var when time.Time
		switch {
		case d.succeeded():
			c.State, c.LiveAt, verb, when = "live", at(d.terminal), "live", d.terminal.OccurredAt
		case d.terminal != nil:
			c.State, c.FailedAt, verb, when = "failed", at(d.terminal), "failed", d.terminal.OccurredAt
		case d.started != nil:
			c.State, verb, when = "in_progress", "started", d.started.OccurredAt
		default:
			c.State, verb, when = "queued", "queued", d.first()
		}
		if a.page != nil {
			delta := a.page.OccurredAt.Sub(when).Round(time.Second)
			c.SecondsToPage = seconds(delta)
			rel := verb + " " + relation(delta)
			c.RelationToPage = &rel
		}
		if d.shippedKnown {
			c.PullRequests = []ShippedPull{}
			for _, m := range d.shipped {
				n, err := strconv.Atoi(m["number"])
				if err != nil {
					continue
				}
				sp := ShippedPull{Number: n, Title: m["title"], URL: m["url"], EventIDs: []string{}}
				if e := merges[d.repo+"\x00"+m["number"]]; e != nil {
					sp.EventIDs = append(sp.EventIDs, e.ID)
					sp.URL = cmp.Or(sp.URL, e.URL)
					if sp.Title == "" {
						sp.Title = e.Title
					}
				}
				shipped[d.repo+"\x00"+m["number"]] = true
				c.PullRequests = append(c.PullRequests, sp)
			}
		} else {
			allKnown = false
		}
		if r := releases[d.repo+"\x00"+d.ref]; r != nil && d.ref != "" {
			c.Release = &ReleaseRef{Tag: d.ref, Title: titleOf(r), EventIDs: []string{r.ID}}
		}
		out.Changes = append(out.Changes, c)
	}
	// A change is rolled back when a later successful rollback to the same
	// place put back what was live before it.
	for i, d := range listed {
		if !d.succeeded() {
			continue
		}
		for _, later := range all {
			if later == d || !later.succeeded() || !isRollback[later] || !later.at().After(d.at()) ||
				later.repo != d.repo || !strings.EqualFold(later.env, d.env) {
				continue
			}
			prev := out.Changes[i].PreviousSHA
			if prev == nil || later.sha == "" || later.sha == *prev {
				out.Changes[i].RolledBack = true
				break
			}
		}
	}
	if allKnown {
		n := 0
		for _, m := range mergeList {
			repo := cmp.Or(detailString(m.Details, DetailRepo), repoFromID(m.ID))
			if !shipped[repo+"\x00"+detailString(m.Details, DetailNumber)] {
				n++
			}
		}
		out.NotListed.MergesShippingNothing = &n
	}
	return out
}

// relation reads a duration to the page: "7m50s before the page", "36m
// after the page", "at the page".
func relation(toPage time.Duration) string {
	switch {
	case toPage > 0:
		return fmt.Sprintf("%s before the page", toPage)
	case toPage < 0:
		return fmt.Sprintf("%s after the page", -toPage)
	}
	return "at the page"
}

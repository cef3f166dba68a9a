package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
)

// webhookAndCollectContract exercises the webhook receivers and the collect
// endpoint, on a server with a real delivery store and job queue, for every
// outcome they document: accepted, duplicate, ignored, Slack's challenge, a
// bad signature, a malformed body, an oversized body and an unavailable
// queue; each answer is validated against the document.
func webhookAndCollectContract(t *testing.T, c *contract) {
	t.Helper()
	wb := setupWebhooks(t)
	noQueue := setupWebhooks(t, func(s *api.Server) { s.Deliveries = nil })
	huge := bytes.Repeat([]byte("x"), 1<<20+1)
	{
		srv := wb.srv.URL
		// PagerDuty.
		resolved := testdata(t, "webhook_v3_incident_resolved.json")
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", resolved, pdHeaders(resolved, "d-1")...)
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", resolved, pdHeaders(resolved, "d-1")...) // duplicate
		triggered := realFile(t, "pagerduty/ADAPTED-reopened-Q1CHK5XX.json")
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", triggered, pdHeaders(triggered, "d-open")...) // opens
		c.call(t, srv, "GET", "/v1/incidents/Q1CHK5XX", readToken, nil)                                 // open
		other := testdata(t, "webhook_v3_incident_priority_updated_gopagerduty_testvector.json")
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", other, pdHeaders(other, "d-2")...) // ignored
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", resolved, "X-PagerDuty-Signature", "v1=00")
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", []byte(`{}`), pdHeaders([]byte(`{}`), "d-3")...)
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", huge, pdHeaders(huge, "d-4")...)
		c.call(t, srv, "POST", "/webhooks/pagerduty", "", resolved, append(pdHeaders(resolved, "d-5"), "Content-Type", "text/plain")...)

		// GitHub.
		for _, ev := range []struct{ event, file string }{
			{"deployment_status", "webhook_deployment_status.json"},
			{"push", "webhook_push.json"},
			{"workflow_run", "webhook_workflow_run_completed.json"},
		} {
			body := testdata(t, ev.file)
			c.call(t, srv, "POST", "/webhooks/github", "", body, ghHeaders(body, ev.event, "g-"+ev.event)...)
		}
		form := []byte("payload=" + url.QueryEscape(string(testdata(t, "webhook_push.json"))))
		c.call(t, srv, "POST", "/webhooks/github", "", form, append(ghHeaders(form, "push", "g-form"),
			"Content-Type", "application/x-www-form-urlencoded")...)
		c.call(t, srv, "POST", "/webhooks/github", "", form, append(ghHeaders(form, "push", "g-text"), "Content-Type", "text/plain")...)
		ping := []byte(`{"zen":"Keep it logically awesome."}`)
		c.call(t, srv, "POST", "/webhooks/github", "", ping, ghHeaders(ping, "ping", "g-ping")...)
		c.call(t, srv, "POST", "/webhooks/github", "", ping, "X-Hub-Signature-256", "sha256=00", "X-GitHub-Event", "ping")
		c.call(t, srv, "POST", "/webhooks/github", "", []byte(`[`), ghHeaders([]byte(`[`), "push", "g-bad")...)

		// Slack.
		verify := testdata(t, "events_api_url_verification.json")
		c.call(t, srv, "POST", "/webhooks/slack", "", verify, wb.slackHeaders(verify)...)
		msg := testdata(t, "events_api_message_channels.json")
		c.call(t, srv, "POST", "/webhooks/slack", "", msg, wb.slackHeaders(msg)...)
		c.call(t, srv, "POST", "/webhooks/slack", "", msg, "X-Slack-Request-Timestamp", strconv.FormatInt(wb.now.Unix(), 10), "X-Slack-Signature", "v0=00")
		c.call(t, srv, "POST", "/webhooks/slack", "", []byte(`nope`), wb.slackHeaders([]byte(`nope`))...)
		c.call(t, srv, "POST", "/webhooks/slack", "", msg, append(wb.slackHeaders(msg), "Content-Type", "text/plain")...)

		// The generic hook.
		hook := []byte(`{"id":"INC-42","title":"Checkout down","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T10:00:00Z","github_repos":["acme/checkout-api"]}`)
		c.call(t, srv, "POST", "/webhooks/incident", "", hook, genericHeaders(hook)...)
		c.call(t, srv, "POST", "/webhooks/incident", "", hook, genericHeaders(hook)...) // duplicate
		c.call(t, srv, "POST", "/webhooks/incident", "", hook, "X-Groundwork-Signature", "sha256=00")
		opened := []byte(`{"id":"INC-45","title":"Checkout slow","started_at":"2026-11-20T09:00:00Z"}`)
		c.call(t, srv, "POST", "/webhooks/incident", "", opened, genericHeaders(opened)...) // opens, queues nothing
		unknown := []byte(`{"id":"INC-43","started_at":"2026-11-20T09:00:00Z","severity":"sev1"}`)
		c.call(t, srv, "POST", "/webhooks/incident", "", unknown, genericHeaders(unknown)...)
		c.call(t, srv, "POST", "/webhooks/incident", "", huge, genericHeaders(huge)...)
		c.call(t, srv, "POST", "/webhooks/incident", "", hook, append(genericHeaders(hook), "Content-Type", "application/x-www-form-urlencoded")...)
		c.call(t, srv, "POST", "/webhooks/incident", "", []byte(`{"id":"../x","started_at":"2026-11-20T09:00:00Z"}`),
			genericHeaders([]byte(`{"id":"../x","started_at":"2026-11-20T09:00:00Z"}`))...)

		// A plug-in source's receiver, mounted through the generic path.
		plug := setupWebhooks(t, func(s *api.Server) { s.Receivers = []collectors.WebhookReceiver{beacon{token: beaconToken}} }).srv.URL
		auth := []string{"Authorization", "Bearer " + beaconToken}
		declare := []byte(`{"declare":{"id":"BEACON-1","service":"PSVC003","started_at":"2026-11-20T10:00:00Z"}}`)
		c.call(t, plug, "POST", "/webhooks/beacon", "", declare, auth...)
		c.call(t, plug, "POST", "/webhooks/beacon", "", declare, auth...)      // duplicate
		c.call(t, plug, "POST", "/webhooks/beacon", "", []byte(`{}`), auth...) // ignored
		c.call(t, plug, "POST", "/webhooks/beacon", "", declare, "Authorization", "Bearer nope")
		c.call(t, plug, "POST", "/webhooks/beacon", "", []byte(`{"signals":[{"at":"x"}]}`), auth...)
		c.call(t, plug, "POST", "/webhooks/beacon", "", huge, auth...)
		c.call(t, plug, "POST", "/webhooks/beacon", "", declare, append(auth, "Content-Type", "text/plain")...)
		c.call(t, plug, "POST", "/webhooks/beacon", "", []byte(`{"fault":true}`), auth...)
		c.call(t, plug, "POST", "/webhooks/nope", "", declare, auth...)

		// Collect.
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken, nil)
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken,
			[]byte(`{"started_at":"2026-11-20T09:00:00Z","github_repos":["acme/infra"],"slack_channels":["C0OPS"],"title":"Checkout"}`))
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken, []byte(`{"github_repos":["not a repo"]}`))
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken, []byte(`{"severity":1}`))
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken, huge)
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken, []byte(`{"title":"x"}`), "Content-Type", "text/plain")
		c.call(t, srv, "POST", "/v1/incidents/bad'id/collect", writeToken, nil)
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", readToken, nil)
		c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", "", nil)
		// The incident of a queued collection is shown before it is
		// planned, and so is a failure to plan it.
		if status, raw := c.call(t, srv, "GET", "/v1/incidents/PCHECKOUT", readToken, nil); status != 200 {
			t.Errorf("GET a queued incident: %d %s, want 200", status, raw)
		}
		now := wb.now
		if err := wb.store.SetSourceStatus(context.Background(), timeline.SourceStatus{IncidentID: "PCHECKOUT", Source: jobs.PlanSource,
			State: timeline.StateFailed, Error: "reading incident PCHECKOUT from pagerduty: 500", FinishedAt: &now}); err != nil {
			t.Fatal(err)
		}
		status, raw := c.call(t, srv, "GET", "/v1/incidents/PCHECKOUT", readToken, nil)
		var detail api.IncidentDetailJSON
		_ = json.Unmarshal(raw, &detail)
		planned := false
		for _, st := range detail.Collection {
			planned = planned || st.Source == jobs.PlanSource && st.State == timeline.StateFailed && st.Error != nil
		}
		if status != 200 || !planned {
			t.Errorf("GET an incident that failed to plan: %d %s, want 200 with the plan failure", status, raw)
		}
	}

	// Without a job queue, deliveries cannot be recorded: 503.
	srv := noQueue.srv.URL
	resolved := testdata(t, "webhook_v3_incident_resolved.json")
	c.call(t, srv, "POST", "/webhooks/pagerduty", "", resolved, pdHeaders(resolved, "n-1")...)
	hook := []byte(`{"id":"INC-44","started_at":"2026-11-20T09:00:00Z"}`)
	c.call(t, srv, "POST", "/webhooks/incident", "", hook, genericHeaders(hook)...)
	c.call(t, srv, "POST", "/v1/incidents/PCHECKOUT/collect", writeToken, nil)
	push := testdata(t, "webhook_push.json")
	c.call(t, srv, "POST", "/webhooks/github", "", push, ghHeaders(push, "push", "n-2")...)
	msg := testdata(t, "events_api_message_channels.json")
	c.call(t, srv, "POST", "/webhooks/slack", "", msg, noQueue.slackHeaders(msg)...)
	plugNoQueue := setupWebhooks(t, func(s *api.Server) {
		s.Deliveries = nil
		s.Receivers = []collectors.WebhookReceiver{beacon{token: beaconToken}}
	})
	c.call(t, plugNoQueue.srv.URL, "POST", "/webhooks/beacon", "", []byte(`{"declare":{"id":"BEACON-2","started_at":"2026-11-20T10:00:00Z"}}`),
		"Authorization", "Bearer "+beaconToken)
}

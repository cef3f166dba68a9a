package github

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v66/github"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// ReceiverName is the receiver of GitHub's webhooks: POST /webhooks/github.
const ReceiverName = Name

// Receiver receives GitHub deliveries, JSON or form-encoded: deployment
// statuses, completed workflow runs, pushed commits, merged pull requests
// and published releases are captured live, under the ids the collector
// gives them (built from GitHub's repository.full_name), for every incident
// whose repositories (in any case) and window they fall in. Other events
// are acknowledged and ignored.
type Receiver struct {
	cfg *Config
}

var _ collectors.WebhookReceiver = (*Receiver)(nil)

// NewReceiver returns the receiver of cfg.
func NewReceiver(cfg *Config) *Receiver { return &Receiver{cfg: cfg} }

// Name implements collectors.WebhookReceiver.
func (r *Receiver) Name() string { return ReceiverName }

// Receive implements collectors.WebhookReceiver. It takes only the SHA-256
// signature: never the SHA-1 one, never an unsigned delivery.
func (r *Receiver) Receive(_ context.Context, req *http.Request, body []byte) (collectors.Delivery, error) {
	if r.cfg.WebhookSecret == "" {
		return collectors.Delivery{}, collectors.NotConfigured(ReceiverName, "sources.github.webhook_secret")
	}
	if err := collectors.VerifyHubSignature("X-Hub-Signature-256", req.Header.Get("X-Hub-Signature-256"), r.cfg.WebhookSecret, body); err != nil {
		return collectors.Delivery{}, err
	}
	kind := req.Header.Get("X-GitHub-Event")
	if kind == "" {
		return collectors.Delivery{}, collectors.Malformed("the X-GitHub-Event header is missing")
	}
	body, err := payload(req.Header.Get("Content-Type"), body)
	if err != nil {
		return collectors.Delivery{}, err
	}
	var repo string
	var events []timeline.Event
	switch kind {
	case "deployment_status":
		var ev gh.DeploymentStatusEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return collectors.Delivery{}, collectors.Malformed("the body is not a deployment_status event: %v", err)
		}
		if ev.Deployment == nil || ev.DeploymentStatus == nil {
			return collectors.Delivery{}, collectors.Malformed("deployment and deployment_status are required")
		}
		repo = ev.GetRepo().GetFullName()
		if e := NormalizeDeploymentStatus(repo, ev.Deployment, ev.DeploymentStatus); e.Kind != "" {
			events = append(events, e)
		}
	case "workflow_run":
		var ev gh.WorkflowRunEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return collectors.Delivery{}, collectors.Malformed("the body is not a workflow_run event: %v", err)
		}
		if ev.WorkflowRun == nil {
			return collectors.Delivery{}, collectors.Malformed("workflow_run is required")
		}
		// By the run's status, as the collector lists runs: a run that
		// needs approval is completed (action_required) when requested.
		if st := ev.WorkflowRun.GetStatus(); st != "completed" {
			return collectors.Delivery{Ignored: "workflow_run " + ev.GetAction() + ": the run is " + st + ", not completed"}, nil
		}
		repo = ev.GetRepo().GetFullName()
		events = append(events, NormalizeWorkflowRun(repo, ev.WorkflowRun))
	case "push":
		var ev gh.PushEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return collectors.Delivery{}, collectors.Malformed("the body is not a push event: %v", err)
		}
		repo = ev.GetRepo().GetFullName()
		for _, c := range ev.Commits {
			if c != nil {
				events = append(events, NormalizePushCommit(repo, c))
			}
		}
	case "pull_request":
		var ev gh.PullRequestEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return collectors.Delivery{}, collectors.Malformed("the body is not a pull_request event: %v", err)
		}
		if ev.GetAction() != "closed" || ev.PullRequest == nil || ev.PullRequest.MergedAt == nil {
			return collectors.Delivery{Ignored: "pull_request " + ev.GetAction() + " is not a merge"}, nil
		}
		repo = ev.GetRepo().GetFullName()
		events = append(events, NormalizePull(repo, ev.PullRequest))
	case "release":
		var ev gh.ReleaseEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return collectors.Delivery{}, collectors.Malformed("the body is not a release event: %v", err)
		}
		switch ev.GetAction() {
		case "published", "released", "edited":
		default:
			return collectors.Delivery{Ignored: "release " + ev.GetAction() + " is not captured"}, nil
		}
		if ev.Release == nil || ev.Release.PublishedAt == nil {
			return collectors.Delivery{Ignored: "the release is not published"}, nil
		}
		repo = ev.GetRepo().GetFullName()
		events = append(events, NormalizeRelease(repo, ev.Release))
	default:
		return collectors.Delivery{Ignored: kind + " events are not captured"}, nil
	}
	if repo == "" {
		return collectors.Delivery{}, collectors.Malformed("repository.full_name is missing")
	}
	return collectors.Delivery{ID: req.Header.Get("X-GitHub-Delivery"), Scope: timeline.LiveScope{Repo: repo}, Live: events}, nil
}

// payload returns the JSON of a GitHub delivery, whichever of the two
// content types the webhook's settings chose: application/json is the body
// itself; application/x-www-form-urlencoded carries it in the payload field.
// Anything else is refused (415), saying what to choose.
func payload(contentType string, body []byte) ([]byte, error) {
	if contentType == "" {
		return body, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")):
		return body, nil
	case err == nil && mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, collectors.Malformed("the form-encoded body cannot be decoded: %v", err)
		}
		p := form.Get("payload")
		if p == "" {
			return nil, collectors.Malformed("the form-encoded body has no payload field")
		}
		return []byte(p), nil
	}
	return nil, collectors.Refuse(collectors.ErrUnsupportedMediaType,
		"Content-Type %q is not a GitHub webhook format: in the webhook's settings on GitHub, choose Content type application/json", contentType)
}

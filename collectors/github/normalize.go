package github

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v66/github"

	"github.com/groundwork-dev/groundwork/timeline"
)

// titleLen is the longest title, in runes.
const titleLen = 120

// Every Normalize function returns its event through timeline.MakeStorable:
// NUL characters and invalid UTF-8 that the upstream sent are replaced, so
// that one message can never make a write fail.

// Event types, the second part of every GitHub event id.
const (
	typeCommit           = "commit"
	typePull             = "pull"
	typeDeploymentStatus = "deployment_status"
	typeRelease          = "release"
	typeWorkflowRun      = "workflow_run"
)

// CommitID, PullID, DeploymentStatusID, ReleaseID and WorkflowRunID build the
// event ids of PRODUCT.md §3; repo is "owner/name".
func CommitID(repo, sha string) string {
	return timeline.EventID(Name, typeCommit, repo, sha)
}

// PullID is the id of a merged pull request's event.
func PullID(repo string, number int) string {
	return timeline.EventID(Name, typePull, repo, fmt.Sprint(number))
}

// DeploymentStatusID is the id of a deployment status's event.
func DeploymentStatusID(repo string, statusID int64) string {
	return timeline.EventID(Name, typeDeploymentStatus, repo, fmt.Sprint(statusID))
}

// ReleaseID is the id of a release's event.
func ReleaseID(repo string, releaseID int64) string {
	return timeline.EventID(Name, typeRelease, repo, fmt.Sprint(releaseID))
}

// WorkflowRunID is the id of a completed workflow run's event.
func WorkflowRunID(repo string, runID int64) string {
	return timeline.EventID(Name, typeWorkflowRun, repo, fmt.Sprint(runID))
}

// NormalizeCommit turns a commit of the list-commits API into a
// change.commit event. occurred_at is the committer date (PRODUCT.md §3),
// falling back to the author date. The actor's id is the GitHub login of
// the author, or the git author name when GitHub matched no account; its
// name is the git author name (the display name the commit carries, in the
// push webhook too) and its email the git author email, so that the person
// can be joined across tools.
func NormalizeCommit(repo string, c *gh.RepositoryCommit) timeline.Event {
	gc := c.GetCommit()
	at := gc.GetCommitter().GetDate().Time
	if at.IsZero() {
		at = gc.GetAuthor().GetDate().Time
	}
	return commitEvent(repo, commitFacts{
		sha:           c.GetSHA(),
		message:       gc.GetMessage(),
		at:            at,
		url:           c.GetHTMLURL(),
		login:         c.GetAuthor().GetLogin(),
		authorName:    gc.GetAuthor().GetName(),
		authorEmail:   gc.GetAuthor().GetEmail(),
		committerName: gc.GetCommitter().GetName(),
	})
}

// NormalizePushCommit turns a commit of a push webhook (an element of
// "commits", or "head_commit") into the same change.commit event that
// NormalizeCommit makes of the same commit collected later.
//
// The fields line up as follows (webhook_push.json against
// commits_list.json): id = sha; url = html_url; message = commit.message;
// author.name/email = commit.author.name/email; author.username = author.login
// (GitHub's account for the author email); committer.name =
// commit.committer.name. So the id, kind, title, text, url, actor and
// details are identical. The push payload carries a single "timestamp" and
// no committer date; GitHub fills it with the git author date. For a commit
// pushed as it was made, the author and committer dates are the same
// second, so occurred_at is identical too. For a commit whose committer date
// differs (rebased, cherry-picked, amended), the live event lands at the
// author date and a later collection, which finds it under the same id,
// updates it in place to the committer date that PRODUCT.md §3 names.
func NormalizePushCommit(repo string, c *gh.HeadCommit) timeline.Event {
	sha := c.GetID()
	if sha == "" {
		sha = c.GetSHA()
	}
	return commitEvent(repo, commitFacts{
		sha:           sha,
		message:       c.GetMessage(),
		at:            c.GetTimestamp().Time,
		url:           c.GetURL(),
		login:         c.GetAuthor().GetLogin(),
		authorName:    c.GetAuthor().GetName(),
		authorEmail:   c.GetAuthor().GetEmail(),
		committerName: c.GetCommitter().GetName(),
	})
}

type commitFacts struct {
	sha, message, url              string
	at                             time.Time
	login, authorName, authorEmail string
	committerName                  string
}

func commitEvent(repo string, f commitFacts) timeline.Event {
	var actor *timeline.Actor
	if id := firstNonEmpty(f.login, f.authorName, f.authorEmail); id != "" {
		actor = &timeline.Actor{ID: id, Name: firstNonEmpty(f.authorName, id), Email: f.authorEmail, Bot: isBotLogin(f.login)}
	}
	details := map[string]any{"repo": repo, "sha": f.sha}
	putString(details, "author_name", f.authorName)
	putString(details, "committer_name", f.committerName)
	return timeline.MakeStorable(timeline.Event{
		ID:         CommitID(repo, f.sha),
		Source:     Name,
		Kind:       timeline.KindChangeCommit,
		OccurredAt: f.at.UTC(),
		Actor:      actor,
		Title:      timeline.Truncate(strings.TrimSpace(f.message), titleLen),
		Text:       f.message,
		URL:        f.url,
		Details:    details,
	})
}

// NormalizePull turns a merged pull request into a change.merged event at
// its merged_at. The actor is merged_by when the payload has it (the
// single-pull API and the pull_request webhook do; the list API does not),
// else the author of the pull request.
func NormalizePull(repo string, p *gh.PullRequest) timeline.Event {
	login := p.GetMergedBy().GetLogin()
	if login == "" {
		login = p.GetUser().GetLogin()
	}
	details := map[string]any{
		"repo":   repo,
		"number": p.GetNumber(),
	}
	putString(details, "base", p.GetBase().GetRef())
	putString(details, "head", p.GetHead().GetRef())
	putString(details, "merge_commit_sha", p.GetMergeCommitSHA())
	putString(details, "author", p.GetUser().GetLogin())
	return timeline.MakeStorable(timeline.Event{
		ID:         PullID(repo, p.GetNumber()),
		Source:     Name,
		Kind:       timeline.KindChangeMerged,
		OccurredAt: p.GetMergedAt().Time.UTC(),
		Actor:      loginActor(login),
		Title:      timeline.Truncate(fmt.Sprintf("Merged #%d: %s", p.GetNumber(), p.GetTitle()), titleLen),
		Text:       p.GetBody(),
		URL:        p.GetHTMLURL(),
		Details:    details,
	})
}

// DeployKind maps a deployment status state to its kind; ok is false for a
// state outside GitHub's documented set.
func DeployKind(state string) (kind string, ok bool) {
	switch state {
	case "queued":
		return timeline.KindDeployQueued, true
	case "in_progress":
		return timeline.KindDeployStarted, true
	case "success":
		return timeline.KindDeploySucceeded, true
	case "failure", "error":
		return timeline.KindDeployFailed, true
	case "inactive":
		return timeline.KindDeployInactive, true
	case "pending":
		return timeline.KindDeployPending, true
	}
	return "", false
}

// IsRollback reports whether a deployment is a rollback. The rule is simple
// and uses only the deployment itself, so that an event captured live from a
// deployment_status webhook gets the same answer as the collected one (a
// rule comparing with earlier deployments, such as "this sha was deployed
// before", would need history the webhook does not carry). A deployment is a
// rollback when any of these holds:
//   - its task mentions "rollback" (GitHub's convention is "deploy:rollback");
//   - its description mentions "rollback", "roll back", "rolled back" or
//     "revert" (any case);
//   - its payload is a JSON object with "rollback": true (or "true").
func IsRollback(d *gh.Deployment) bool {
	if strings.Contains(strings.ToLower(d.GetTask()), "rollback") {
		return true
	}
	desc := strings.ToLower(d.GetDescription())
	for _, w := range []string{"rollback", "roll back", "rolled back", "revert"} {
		if strings.Contains(desc, w) {
			return true
		}
	}
	if len(d.Payload) > 0 {
		var p map[string]any
		if json.Unmarshal(d.Payload, &p) == nil {
			switch v := p["rollback"].(type) {
			case bool:
				return v
			case string:
				return strings.EqualFold(v, "true")
			}
		}
	}
	return false
}

// NormalizeDeploymentStatus turns one status of a deployment into a deploy.*
// event at the status's created_at. Kind is empty when the state is not one
// GitHub documents (see DeployKind); callers skip such statuses. The actor is
// the status creator; details name the deployment's creator, environment,
// sha, ref and task, and carry "rollback": true when IsRollback holds. The
// url is the status's target_url, else its API url: both appear in the list
// API and in the deployment_status webhook alike.
func NormalizeDeploymentStatus(repo string, d *gh.Deployment, s *gh.DeploymentStatus) timeline.Event {
	kind, _ := DeployKind(s.GetState())
	env := firstNonEmpty(s.GetEnvironment(), d.GetEnvironment())
	rollback := IsRollback(d)
	details := map[string]any{
		"repo":          repo,
		"deployment_id": d.GetID(),
		"state":         s.GetState(),
	}
	putString(details, "environment", env)
	putString(details, "sha", d.GetSHA())
	putString(details, "ref", d.GetRef())
	putString(details, "task", d.GetTask())
	putString(details, "description", s.GetDescription())
	putString(details, "creator", d.GetCreator().GetLogin())
	if rollback {
		details["rollback"] = true
	}
	verb := "Deploy"
	if rollback {
		verb = "Rollback"
	}
	what := shortSHA(d.GetSHA())
	if ref := d.GetRef(); ref != "" && ref != d.GetSHA() {
		what = ref + "@" + what
	}
	title := fmt.Sprintf("%s %s to %s: %s", verb, what, firstNonEmpty(env, "unknown environment"), s.GetState())
	return timeline.MakeStorable(timeline.Event{
		ID:         DeploymentStatusID(repo, s.GetID()),
		Source:     Name,
		Kind:       kind,
		OccurredAt: s.GetCreatedAt().Time.UTC(),
		Actor:      loginActor(s.GetCreator().GetLogin()),
		Title:      timeline.Truncate(title, titleLen),
		Text:       s.GetDescription(),
		URL:        firstNonEmpty(s.GetLogURL(), s.GetTargetURL(), deploymentsPage(s.GetURL(), repo)),
		Details:    details,
	})
}

// NormalizeRelease turns a published release into a change.release event at
// its published_at.
func NormalizeRelease(repo string, r *gh.RepositoryRelease) timeline.Event {
	details := map[string]any{"repo": repo, "release_id": r.GetID()}
	putString(details, "tag", r.GetTagName())
	putString(details, "name", r.GetName())
	putString(details, "target_commitish", r.GetTargetCommitish())
	if r.GetPrerelease() {
		details["prerelease"] = true
	}
	return timeline.MakeStorable(timeline.Event{
		ID:         ReleaseID(repo, r.GetID()),
		Source:     Name,
		Kind:       timeline.KindChangeRelease,
		OccurredAt: r.GetPublishedAt().Time.UTC(),
		Actor:      loginActor(r.GetAuthor().GetLogin()),
		Title:      timeline.Truncate("Released "+firstNonEmpty(r.GetName(), r.GetTagName()), titleLen),
		Text:       r.GetBody(),
		URL:        r.GetHTMLURL(),
		Details:    details,
	})
}

// NormalizeWorkflowRun turns a completed workflow run (from the list API or
// the workflow_run webhook) into a ci.completed event at its updated_at. The
// actor is the triggering actor (who started this attempt), else the actor.
func NormalizeWorkflowRun(repo string, r *gh.WorkflowRun) timeline.Event {
	login := r.GetTriggeringActor().GetLogin()
	if login == "" {
		login = r.GetActor().GetLogin()
	}
	details := map[string]any{
		"repo":       repo,
		"run_number": r.GetRunNumber(),
	}
	putString(details, "conclusion", r.GetConclusion())
	putString(details, "name", r.GetName())
	putString(details, "head_sha", r.GetHeadSHA())
	putString(details, "head_branch", r.GetHeadBranch())
	putString(details, "event", r.GetEvent())
	if a := r.GetRunAttempt(); a > 1 {
		details["run_attempt"] = a
	}
	name := firstNonEmpty(r.GetName(), r.GetPath(), "Workflow")
	title := fmt.Sprintf("%s #%d %s", name, r.GetRunNumber(), firstNonEmpty(r.GetConclusion(), r.GetStatus()))
	if b := r.GetHeadBranch(); b != "" {
		title += " on " + b
	}
	return timeline.MakeStorable(timeline.Event{
		ID:         WorkflowRunID(repo, r.GetID()),
		Source:     Name,
		Kind:       timeline.KindCICompleted,
		OccurredAt: r.GetUpdatedAt().Time.UTC(),
		Actor:      loginActor(login),
		Title:      timeline.Truncate(title, titleLen),
		Text:       r.GetDisplayTitle(),
		URL:        r.GetHTMLURL(),
		Details:    details,
	})
}

func loginActor(login string) *timeline.Actor {
	if login == "" {
		return nil
	}
	return &timeline.Actor{ID: login, Name: login, Bot: isBotLogin(login)}
}

// isBotLogin reports whether a login is a GitHub App's or a bot account's
// ("dependabot[bot]", "github-actions[bot]").
func isBotLogin(login string) bool { return strings.HasSuffix(login, "[bot]") }

func putString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// deploymentsPage is the web page of a repository's deployments, derived
// from a status's API URL (statuses have no html_url): github.com for
// api.github.com, https://HOST/ for GitHub Enterprise's https://HOST/api/v3/.
// Any other API (a test server) keeps the API URL.
func deploymentsPage(apiURL, repo string) string {
	u, err := url.Parse(apiURL)
	if err != nil || apiURL == "" {
		return apiURL
	}
	switch {
	case u.Host == "api.github.com":
		return "https://github.com/" + repo + "/deployments"
	case strings.HasPrefix(u.Path, "/api/v3/"):
		return u.Scheme + "://" + u.Host + "/" + repo + "/deployments"
	}
	return apiURL
}

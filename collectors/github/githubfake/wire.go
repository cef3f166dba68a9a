package githubfake

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
)

// The JSON shapes below follow GitHub's REST API examples field for field
// (simple-user, public-user, repository, commit, pull-request-simple,
// deployment, deployment-status, release, workflow-run), in the same order,
// with null where GitHub writes null.

// stamp marshals as GitHub does: RFC 3339 in UTC, whole seconds, or null.
type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + tt.UTC().Truncate(time.Second).Format(time.RFC3339) + `"`), nil
}

func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%02d:%s%d", len(kind), kind, id))
}

// optString is nil (null) for an empty string.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// renderUser is a simple-user, or nil (null) for no login.
func (s *Server) renderUser(login string) any {
	if login == "" {
		return nil
	}
	return s.simpleUser(login)
}

func (s *Server) simpleUser(login string) fakeapi.Object {
	u := s.user(login)
	api := s.apiBase + "/users/" + login
	typ := "User"
	if u.Bot {
		typ = "Bot"
	}
	return fakeapi.Obj(
		"login", login, "id", u.ID, "node_id", nodeID("User", u.ID),
		"avatar_url", fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID), "gravatar_id", "",
		"url", api, "html_url", s.htmlBase+"/"+login,
		"followers_url", api+"/followers", "following_url", api+"/following{/other_user}",
		"gists_url", api+"/gists{/gist_id}", "starred_url", api+"/starred{/owner}{/repo}",
		"subscriptions_url", api+"/subscriptions", "organizations_url", api+"/orgs",
		"repos_url", api+"/repos", "events_url", api+"/events{/privacy}", "received_events_url", api+"/received_events",
		"type", typ, "site_admin", false)
}

// publicUser is GET /users/{login}.
func (s *Server) publicUser(u *User) fakeapi.Object {
	joined := stamp(time.Date(2011, 1, 25, 18, 44, 36, 0, time.UTC))
	return s.simpleUser(u.Login).With(
		"name", optString(u.Name), "company", nil, "blog", "", "location", nil, "email", optString(u.Email),
		"hireable", nil, "bio", nil, "public_repos", 0, "public_gists", 0, "followers", 0, "following", 0,
		"created_at", joined, "updated_at", joined)
}

func (s *Server) renderRepo(r *repo) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	return fakeapi.Obj(
		"id", r.id, "node_id", nodeID("Repository", r.id), "name", r.name, "full_name", r.full,
		"owner", s.renderUser(r.owner), "private", true, "html_url", s.htmlBase+"/"+r.full, "description", nil,
		"fork", false, "url", api, "archive_url", api+"/{archive_format}{/ref}", "branches_url", api+"/branches{/branch}",
		"commits_url", api+"/commits{/sha}", "deployments_url", api+"/deployments", "pulls_url", api+"/pulls{/number}",
		"releases_url", api+"/releases{/id}", "statuses_url", api+"/statuses/{sha}",
		"default_branch", r.defaultBranch, "visibility", "private")
}

func ref(url, sha string) fakeapi.Object { return fakeapi.Obj("url", url, "sha", sha) }

func (s *Server) renderCommit(r *repo, c *commit) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	parents := make([]fakeapi.Object, 0, len(c.Parents))
	for _, p := range c.Parents {
		parents = append(parents, ref(api+"/commits/"+p, p))
	}
	actor := func(name, email string, at time.Time) fakeapi.Object {
		return fakeapi.Obj("name", name, "email", email, "date", stamp(at))
	}
	return fakeapi.Obj(
		"url", api+"/commits/"+c.SHA, "sha", c.SHA, "node_id", base64.StdEncoding.EncodeToString([]byte("06:Commit"+c.SHA)),
		"html_url", s.htmlBase+"/"+r.full+"/commit/"+c.SHA, "comments_url", api+"/commits/"+c.SHA+"/comments",
		"commit", fakeapi.Obj(
			"url", api+"/git/commits/"+c.SHA,
			"author", actor(c.AuthorName, c.AuthorEmail, c.AuthorDate),
			"committer", actor(c.CommitterName, c.CommitterEmail, c.CommitterDate),
			"message", c.Message, "tree", ref(api+"/git/trees/"+c.tree, c.tree), "comment_count", 0,
			"verification", fakeapi.Obj("verified", false, "reason", "unsigned", "signature", nil, "payload", nil, "verified_at", nil)),
		"author", s.renderUser(c.AuthorLogin), "committer", s.renderUser(c.CommitterLogin), "parents", parents)
}

func href(u string) fakeapi.Object { return fakeapi.Obj("href", u) }

func (s *Server) renderPull(r *repo, p *pull) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/pulls/%d", api, p.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", s.htmlBase, r.full, p.Number)
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	wr := s.renderRepo(r)
	branch := func(name, sha string) fakeapi.Object {
		return fakeapi.Obj("label", r.owner+":"+name, "ref", name, "sha", sha, "user", s.renderUser(r.owner), "repo", wr)
	}
	return fakeapi.Obj(
		"url", self, "id", p.id, "node_id", nodeID("PullRequest", p.id), "html_url", html,
		"diff_url", html+".diff", "patch_url", html+".patch", "issue_url", issue, "commits_url", self+"/commits",
		"review_comments_url", self+"/comments", "review_comment_url", api+"/pulls/comments{/number}",
		"comments_url", issue+"/comments", "statuses_url", api+"/statuses/"+p.HeadSHA,
		"number", p.Number, "state", p.State, "locked", false, "title", p.Title, "user", s.renderUser(p.User),
		"body", optString(p.Body), "labels", []any{}, "milestone", nil, "active_lock_reason", nil,
		"created_at", stamp(p.CreatedAt), "updated_at", stamp(p.UpdatedAt), "closed_at", stamp(p.ClosedAt),
		"merged_at", stamp(p.MergedAt), "merge_commit_sha", optString(p.MergeCommitSHA),
		"assignee", nil, "assignees", []any{}, "requested_reviewers", []any{}, "requested_teams", []any{},
		"head", branch(p.Head, p.HeadSHA), "base", branch(p.Base, p.baseSHA),
		"_links", fakeapi.Obj(
			"self", href(self), "html", href(html), "issue", href(issue), "comments", href(issue+"/comments"),
			"review_comments", href(self+"/comments"), "review_comment", href(api+"/pulls/comments{/number}"),
			"commits", href(self+"/commits"), "statuses", href(api+"/statuses/"+p.HeadSHA)),
		"author_association", "MEMBER", "auto_merge", nil, "draft", p.Draft)
}

func (s *Server) renderDeployment(r *repo, d *deployment) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/deployments/%d", api, d.ID)
	return fakeapi.Obj(
		"url", self, "id", d.ID, "node_id", nodeID("Deployment", d.ID), "sha", d.SHA, "ref", d.Ref, "task", d.Task,
		"payload", d.payload, "original_environment", d.Environment, "environment", d.Environment,
		"description", optString(d.Description), "creator", s.renderUser(d.Creator),
		"created_at", stamp(d.CreatedAt), "updated_at", stamp(d.updatedAt),
		"statuses_url", self+"/statuses", "repository_url", api,
		"transient_environment", d.TransientEnvironment, "production_environment", d.ProductionEnvironment)
}

func (s *Server) renderStatus(r *repo, d *deployment, st *deploymentStatus) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	dep := fmt.Sprintf("%s/deployments/%d", api, d.ID)
	return fakeapi.Obj(
		"url", fmt.Sprintf("%s/statuses/%d", dep, st.ID), "id", st.ID, "node_id", nodeID("DeploymentStatus", st.ID),
		"state", st.State, "creator", s.renderUser(st.Creator), "description", st.Description,
		"environment", st.Environment, "target_url", st.TargetURL,
		"created_at", stamp(st.CreatedAt), "updated_at", stamp(st.CreatedAt),
		"deployment_url", dep, "repository_url", api, "environment_url", st.EnvironmentURL, "log_url", st.LogURL)
}

func (s *Server) renderRelease(r *repo, rel *release) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/releases/%d", api, rel.ID)
	uploadHost := strings.Replace(s.apiBase, "://api.", "://uploads.", 1)
	var tarball, zipball *string
	if !rel.Draft {
		t, z := api+"/tarball/"+rel.TagName, api+"/zipball/"+rel.TagName
		tarball, zipball = &t, &z
	}
	return fakeapi.Obj(
		"url", self, "html_url", s.htmlBase+"/"+r.full+"/releases/tag/"+rel.TagName, "assets_url", self+"/assets",
		"upload_url", fmt.Sprintf("%s/repos/%s/releases/%d/assets{?name,label}", uploadHost, r.full, rel.ID),
		"tarball_url", tarball, "zipball_url", zipball, "id", rel.ID, "node_id", nodeID("Release", rel.ID),
		"tag_name", rel.TagName, "target_commitish", rel.TargetCommitish, "name", optString(rel.Name),
		"body", optString(rel.Body), "draft", rel.Draft, "prerelease", rel.Prerelease, "immutable", false,
		"created_at", stamp(rel.CreatedAt), "published_at", stamp(rel.PublishedAt),
		"author", s.renderUser(rel.Author), "assets", []any{})
}

func (s *Server) renderRun(r *repo, run *workflowRun) fakeapi.Object {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/actions/runs/%d", api, run.ID)
	person := func(name, email string) fakeapi.Object { return fakeapi.Obj("name", name, "email", email) }
	tree, message, at := treeOf(run.HeadSHA), run.DisplayTitle, run.CreatedAt
	author, committer := person("", ""), person("", "")
	if c, ok := r.commitBySHA[run.HeadSHA]; ok {
		tree, message, at = c.tree, c.Message, c.AuthorDate
		author, committer = person(c.AuthorName, c.AuthorEmail), person(c.CommitterName, c.CommitterEmail)
	}
	wr := s.renderRepo(r)
	return fakeapi.Obj(
		"id", run.ID, "name", run.Name, "node_id", nodeID("WorkflowRun", run.ID),
		"check_suite_id", run.checkSuiteID, "check_suite_node_id", nodeID("CheckSuite", run.checkSuiteID),
		"head_branch", run.HeadBranch, "head_sha", run.HeadSHA, "path", run.Path, "run_number", run.RunNumber,
		"event", run.Event, "display_title", run.DisplayTitle, "status", run.Status,
		"conclusion", optString(run.Conclusion), "workflow_id", run.WorkflowID,
		"url", self, "html_url", fmt.Sprintf("%s/%s/actions/runs/%d", s.htmlBase, r.full, run.ID),
		"pull_requests", []any{}, "created_at", stamp(run.CreatedAt), "updated_at", stamp(run.UpdatedAt),
		"actor", s.renderUser(run.Actor), "run_attempt", run.RunAttempt, "run_started_at", stamp(run.RunStartedAt),
		"triggering_actor", s.renderUser(run.TriggeringActor),
		"jobs_url", self+"/jobs", "logs_url", self+"/logs",
		"check_suite_url", fmt.Sprintf("%s/check-suites/%d", api, run.checkSuiteID),
		"artifacts_url", self+"/artifacts", "cancel_url", self+"/cancel", "rerun_url", self+"/rerun",
		"workflow_url", fmt.Sprintf("%s/actions/workflows/%d", api, run.WorkflowID),
		"head_commit", fakeapi.Obj("id", run.HeadSHA, "tree_id", tree, "message", message, "timestamp", stamp(at),
			"author", author, "committer", committer),
		"repository", wr, "head_repository", wr)
}

package githubfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The JSON shapes below follow GitHub's REST API examples field for field
// (simple-user, commit, pull-request-simple, deployment, deployment-status,
// release, workflow-run), in the same order, with null where GitHub writes
// null.

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

type wireUser struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	SiteAdmin         bool   `json:"site_admin"`
}

// wireFullUser is the public-user shape of GET /users/{login}.
type wireFullUser struct {
	wireUser
	Name        *string `json:"name"`
	Company     *string `json:"company"`
	Blog        string  `json:"blog"`
	Location    *string `json:"location"`
	Email       *string `json:"email"`
	Hireable    *bool   `json:"hireable"`
	Bio         *string `json:"bio"`
	PublicRepos int     `json:"public_repos"`
	PublicGists int     `json:"public_gists"`
	Followers   int     `json:"followers"`
	Following   int     `json:"following"`
	CreatedAt   stamp   `json:"created_at"`
	UpdatedAt   stamp   `json:"updated_at"`
}

func (s *Server) renderUser(login string) *wireUser {
	if login == "" {
		return nil
	}
	u := s.user(login)
	api := s.apiBase + "/users/" + login
	typ := "User"
	if u.Bot {
		typ = "Bot"
	}
	return &wireUser{
		Login:             login,
		ID:                u.ID,
		NodeID:            nodeID("User", u.ID),
		AvatarURL:         fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID),
		GravatarID:        "",
		URL:               api,
		HTMLURL:           s.htmlBase + "/" + login,
		FollowersURL:      api + "/followers",
		FollowingURL:      api + "/following{/other_user}",
		GistsURL:          api + "/gists{/gist_id}",
		StarredURL:        api + "/starred{/owner}{/repo}",
		SubscriptionsURL:  api + "/subscriptions",
		OrganizationsURL:  api + "/orgs",
		ReposURL:          api + "/repos",
		EventsURL:         api + "/events{/privacy}",
		ReceivedEventsURL: api + "/received_events",
		Type:              typ,
		SiteAdmin:         false,
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type wireRepo struct {
	ID             int64     `json:"id"`
	NodeID         string    `json:"node_id"`
	Name           string    `json:"name"`
	FullName       string    `json:"full_name"`
	Owner          *wireUser `json:"owner"`
	Private        bool      `json:"private"`
	HTMLURL        string    `json:"html_url"`
	Description    *string   `json:"description"`
	Fork           bool      `json:"fork"`
	URL            string    `json:"url"`
	ArchiveURL     string    `json:"archive_url"`
	BranchesURL    string    `json:"branches_url"`
	CommitsURL     string    `json:"commits_url"`
	DeploymentsURL string    `json:"deployments_url"`
	PullsURL       string    `json:"pulls_url"`
	ReleasesURL    string    `json:"releases_url"`
	StatusesURL    string    `json:"statuses_url"`
	DefaultBranch  string    `json:"default_branch,omitempty"`
	Visibility     string    `json:"visibility,omitempty"`
}

func (s *Server) renderRepo(r *repo) *wireRepo {
	api := s.apiBase + "/repos/" + r.full
	return &wireRepo{
		ID:             r.id,
		NodeID:         nodeID("Repository", r.id),
		Name:           r.name,
		FullName:       r.full,
		Owner:          s.renderUser(r.owner),
		HTMLURL:        s.htmlBase + "/" + r.full,
		Description:    nil,
		URL:            api,
		ArchiveURL:     api + "/{archive_format}{/ref}",
		BranchesURL:    api + "/branches{/branch}",
		CommitsURL:     api + "/commits{/sha}",
		DeploymentsURL: api + "/deployments",
		PullsURL:       api + "/pulls{/number}",
		ReleasesURL:    api + "/releases{/id}",
		StatusesURL:    api + "/statuses/{sha}",
		DefaultBranch:  r.defaultBranch,
		Visibility:     "private",
		Private:        true,
	}
}

type wireGitActor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  stamp  `json:"date"`
}

type wireRef struct {
	URL string `json:"url"`
	SHA string `json:"sha"`
}

type wireVerification struct {
	Verified   bool    `json:"verified"`
	Reason     string  `json:"reason"`
	Signature  *string `json:"signature"`
	Payload    *string `json:"payload"`
	VerifiedAt *string `json:"verified_at"`
}

type wireGitCommit struct {
	URL          string           `json:"url"`
	Author       wireGitActor     `json:"author"`
	Committer    wireGitActor     `json:"committer"`
	Message      string           `json:"message"`
	Tree         wireRef          `json:"tree"`
	CommentCount int              `json:"comment_count"`
	Verification wireVerification `json:"verification"`
}

type wireCommit struct {
	URL         string        `json:"url"`
	SHA         string        `json:"sha"`
	NodeID      string        `json:"node_id"`
	HTMLURL     string        `json:"html_url"`
	CommentsURL string        `json:"comments_url"`
	Commit      wireGitCommit `json:"commit"`
	Author      *wireUser     `json:"author"`
	Committer   *wireUser     `json:"committer"`
	Parents     []wireRef     `json:"parents"`
}

func (s *Server) renderCommit(r *repo, c *commit) wireCommit {
	api := s.apiBase + "/repos/" + r.full
	parents := make([]wireRef, 0, len(c.Parents))
	for _, p := range c.Parents {
		parents = append(parents, wireRef{URL: api + "/commits/" + p, SHA: p})
	}
	return wireCommit{
		URL:         api + "/commits/" + c.SHA,
		SHA:         c.SHA,
		NodeID:      base64.StdEncoding.EncodeToString([]byte("06:Commit" + c.SHA)),
		HTMLURL:     s.htmlBase + "/" + r.full + "/commit/" + c.SHA,
		CommentsURL: api + "/commits/" + c.SHA + "/comments",
		Commit: wireGitCommit{
			URL:          api + "/git/commits/" + c.SHA,
			Author:       wireGitActor{Name: c.AuthorName, Email: c.AuthorEmail, Date: stamp(c.AuthorDate)},
			Committer:    wireGitActor{Name: c.CommitterName, Email: c.CommitterEmail, Date: stamp(c.CommitterDate)},
			Message:      c.Message,
			Tree:         wireRef{URL: api + "/git/trees/" + c.tree, SHA: c.tree},
			CommentCount: 0,
			Verification: wireVerification{Verified: false, Reason: "unsigned"},
		},
		Author:    s.renderUser(c.AuthorLogin),
		Committer: s.renderUser(c.CommitterLogin),
		Parents:   parents,
	}
}

type wireHref struct {
	Href string `json:"href"`
}

type wirePullLinks struct {
	Self           wireHref `json:"self"`
	HTML           wireHref `json:"html"`
	Issue          wireHref `json:"issue"`
	Comments       wireHref `json:"comments"`
	ReviewComments wireHref `json:"review_comments"`
	ReviewComment  wireHref `json:"review_comment"`
	Commits        wireHref `json:"commits"`
	Statuses       wireHref `json:"statuses"`
}

type wireBranch struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha"`
	User  *wireUser `json:"user"`
	Repo  *wireRepo `json:"repo"`
}

type wirePull struct {
	URL                string        `json:"url"`
	ID                 int64         `json:"id"`
	NodeID             string        `json:"node_id"`
	HTMLURL            string        `json:"html_url"`
	DiffURL            string        `json:"diff_url"`
	PatchURL           string        `json:"patch_url"`
	IssueURL           string        `json:"issue_url"`
	CommitsURL         string        `json:"commits_url"`
	ReviewCommentsURL  string        `json:"review_comments_url"`
	ReviewCommentURL   string        `json:"review_comment_url"`
	CommentsURL        string        `json:"comments_url"`
	StatusesURL        string        `json:"statuses_url"`
	Number             int           `json:"number"`
	State              string        `json:"state"`
	Locked             bool          `json:"locked"`
	Title              string        `json:"title"`
	User               *wireUser     `json:"user"`
	Body               *string       `json:"body"`
	Labels             []any         `json:"labels"`
	Milestone          any           `json:"milestone"`
	ActiveLockReason   *string       `json:"active_lock_reason"`
	CreatedAt          stamp         `json:"created_at"`
	UpdatedAt          stamp         `json:"updated_at"`
	ClosedAt           stamp         `json:"closed_at"`
	MergedAt           stamp         `json:"merged_at"`
	MergeCommitSHA     *string       `json:"merge_commit_sha"`
	Assignee           *wireUser     `json:"assignee"`
	Assignees          []*wireUser   `json:"assignees"`
	RequestedReviewers []*wireUser   `json:"requested_reviewers"`
	RequestedTeams     []any         `json:"requested_teams"`
	Head               wireBranch    `json:"head"`
	Base               wireBranch    `json:"base"`
	Links              wirePullLinks `json:"_links"`
	AuthorAssociation  string        `json:"author_association"`
	AutoMerge          any           `json:"auto_merge"`
	Draft              bool          `json:"draft"`
}

func (s *Server) renderPull(r *repo, p *pull) wirePull {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/pulls/%d", api, p.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", s.htmlBase, r.full, p.Number)
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	wr := s.renderRepo(r)
	return wirePull{
		URL:                self,
		ID:                 p.id,
		NodeID:             nodeID("PullRequest", p.id),
		HTMLURL:            html,
		DiffURL:            html + ".diff",
		PatchURL:           html + ".patch",
		IssueURL:           issue,
		CommitsURL:         self + "/commits",
		ReviewCommentsURL:  self + "/comments",
		ReviewCommentURL:   api + "/pulls/comments{/number}",
		CommentsURL:        issue + "/comments",
		StatusesURL:        api + "/statuses/" + p.HeadSHA,
		Number:             p.Number,
		State:              p.State,
		Title:              p.Title,
		User:               s.renderUser(p.User),
		Body:               optString(p.Body),
		Labels:             []any{},
		Assignees:          []*wireUser{},
		RequestedReviewers: []*wireUser{},
		RequestedTeams:     []any{},
		CreatedAt:          stamp(p.CreatedAt),
		UpdatedAt:          stamp(p.UpdatedAt),
		ClosedAt:           stamp(p.ClosedAt),
		MergedAt:           stamp(p.MergedAt),
		MergeCommitSHA:     optString(p.MergeCommitSHA),
		Head:               wireBranch{Label: r.owner + ":" + p.Head, Ref: p.Head, SHA: p.HeadSHA, User: s.renderUser(r.owner), Repo: wr},
		Base:               wireBranch{Label: r.owner + ":" + p.Base, Ref: p.Base, SHA: p.baseSHA, User: s.renderUser(r.owner), Repo: wr},
		Links: wirePullLinks{
			Self: wireHref{self}, HTML: wireHref{html}, Issue: wireHref{issue},
			Comments: wireHref{issue + "/comments"}, ReviewComments: wireHref{self + "/comments"},
			ReviewComment: wireHref{api + "/pulls/comments{/number}"}, Commits: wireHref{self + "/commits"},
			Statuses: wireHref{api + "/statuses/" + p.HeadSHA},
		},
		AuthorAssociation: "MEMBER",
		Draft:             p.Draft,
	}
}

type wireDeployment struct {
	URL                   string          `json:"url"`
	ID                    int64           `json:"id"`
	NodeID                string          `json:"node_id"`
	SHA                   string          `json:"sha"`
	Ref                   string          `json:"ref"`
	Task                  string          `json:"task"`
	Payload               json.RawMessage `json:"payload"`
	OriginalEnvironment   string          `json:"original_environment"`
	Environment           string          `json:"environment"`
	Description           *string         `json:"description"`
	Creator               *wireUser       `json:"creator"`
	CreatedAt             stamp           `json:"created_at"`
	UpdatedAt             stamp           `json:"updated_at"`
	StatusesURL           string          `json:"statuses_url"`
	RepositoryURL         string          `json:"repository_url"`
	TransientEnvironment  bool            `json:"transient_environment"`
	ProductionEnvironment bool            `json:"production_environment"`
}

func (s *Server) renderDeployment(r *repo, d *deployment) wireDeployment {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/deployments/%d", api, d.ID)
	return wireDeployment{
		URL:                   self,
		ID:                    d.ID,
		NodeID:                nodeID("Deployment", d.ID),
		SHA:                   d.SHA,
		Ref:                   d.Ref,
		Task:                  d.Task,
		Payload:               d.payload,
		OriginalEnvironment:   d.Environment,
		Environment:           d.Environment,
		Description:           optString(d.Description),
		Creator:               s.renderUser(d.Creator),
		CreatedAt:             stamp(d.CreatedAt),
		UpdatedAt:             stamp(d.updatedAt),
		StatusesURL:           self + "/statuses",
		RepositoryURL:         api,
		TransientEnvironment:  d.TransientEnvironment,
		ProductionEnvironment: d.ProductionEnvironment,
	}
}

type wireDeploymentStatus struct {
	URL            string    `json:"url"`
	ID             int64     `json:"id"`
	NodeID         string    `json:"node_id"`
	State          string    `json:"state"`
	Creator        *wireUser `json:"creator"`
	Description    string    `json:"description"`
	Environment    string    `json:"environment"`
	TargetURL      string    `json:"target_url"`
	CreatedAt      stamp     `json:"created_at"`
	UpdatedAt      stamp     `json:"updated_at"`
	DeploymentURL  string    `json:"deployment_url"`
	RepositoryURL  string    `json:"repository_url"`
	EnvironmentURL string    `json:"environment_url"`
	LogURL         string    `json:"log_url"`
}

func (s *Server) renderStatus(r *repo, d *deployment, st *deploymentStatus) wireDeploymentStatus {
	api := s.apiBase + "/repos/" + r.full
	dep := fmt.Sprintf("%s/deployments/%d", api, d.ID)
	return wireDeploymentStatus{
		URL:            fmt.Sprintf("%s/statuses/%d", dep, st.ID),
		ID:             st.ID,
		NodeID:         nodeID("DeploymentStatus", st.ID),
		State:          st.State,
		Creator:        s.renderUser(st.Creator),
		Description:    st.Description,
		Environment:    st.Environment,
		TargetURL:      st.TargetURL,
		CreatedAt:      stamp(st.CreatedAt),
		UpdatedAt:      stamp(st.CreatedAt),
		DeploymentURL:  dep,
		RepositoryURL:  api,
		EnvironmentURL: st.EnvironmentURL,
		LogURL:         st.LogURL,
	}
}

type wireRelease struct {
	URL             string    `json:"url"`
	HTMLURL         string    `json:"html_url"`
	AssetsURL       string    `json:"assets_url"`
	UploadURL       string    `json:"upload_url"`
	TarballURL      *string   `json:"tarball_url"`
	ZipballURL      *string   `json:"zipball_url"`
	ID              int64     `json:"id"`
	NodeID          string    `json:"node_id"`
	TagName         string    `json:"tag_name"`
	TargetCommitish string    `json:"target_commitish"`
	Name            *string   `json:"name"`
	Body            *string   `json:"body"`
	Draft           bool      `json:"draft"`
	Prerelease      bool      `json:"prerelease"`
	Immutable       bool      `json:"immutable"`
	CreatedAt       stamp     `json:"created_at"`
	PublishedAt     stamp     `json:"published_at"`
	Author          *wireUser `json:"author"`
	Assets          []any     `json:"assets"`
}

func (s *Server) renderRelease(r *repo, rel *release) wireRelease {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/releases/%d", api, rel.ID)
	uploadHost := strings.Replace(s.apiBase, "://api.", "://uploads.", 1)
	var tarball, zipball *string
	if !rel.Draft {
		t, z := api+"/tarball/"+rel.TagName, api+"/zipball/"+rel.TagName
		tarball, zipball = &t, &z
	}
	return wireRelease{
		URL:             self,
		HTMLURL:         s.htmlBase + "/" + r.full + "/releases/tag/" + rel.TagName,
		AssetsURL:       self + "/assets",
		UploadURL:       fmt.Sprintf("%s/repos/%s/releases/%d/assets{?name,label}", uploadHost, r.full, rel.ID),
		TarballURL:      tarball,
		ZipballURL:      zipball,
		ID:              rel.ID,
		NodeID:          nodeID("Release", rel.ID),
		TagName:         rel.TagName,
		TargetCommitish: rel.TargetCommitish,
		Name:            optString(rel.Name),
		Body:            optString(rel.Body),
		Draft:           rel.Draft,
		Prerelease:      rel.Prerelease,
		CreatedAt:       stamp(rel.CreatedAt),
		PublishedAt:     stamp(rel.PublishedAt),
		Author:          s.renderUser(rel.Author),
		Assets:          []any{},
	}
}

type wireHeadCommit struct {
	ID        string        `json:"id"`
	TreeID    string        `json:"tree_id"`
	Message   string        `json:"message"`
	Timestamp stamp         `json:"timestamp"`
	Author    wireNameEmail `json:"author"`
	Committer wireNameEmail `json:"committer"`
}

type wireNameEmail struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type wireRun struct {
	ID               int64          `json:"id"`
	Name             string         `json:"name"`
	NodeID           string         `json:"node_id"`
	CheckSuiteID     int64          `json:"check_suite_id"`
	CheckSuiteNodeID string         `json:"check_suite_node_id"`
	HeadBranch       string         `json:"head_branch"`
	HeadSHA          string         `json:"head_sha"`
	Path             string         `json:"path"`
	RunNumber        int            `json:"run_number"`
	Event            string         `json:"event"`
	DisplayTitle     string         `json:"display_title"`
	Status           string         `json:"status"`
	Conclusion       *string        `json:"conclusion"`
	WorkflowID       int64          `json:"workflow_id"`
	URL              string         `json:"url"`
	HTMLURL          string         `json:"html_url"`
	PullRequests     []any          `json:"pull_requests"`
	CreatedAt        stamp          `json:"created_at"`
	UpdatedAt        stamp          `json:"updated_at"`
	Actor            *wireUser      `json:"actor"`
	RunAttempt       int            `json:"run_attempt"`
	RunStartedAt     stamp          `json:"run_started_at"`
	TriggeringActor  *wireUser      `json:"triggering_actor"`
	JobsURL          string         `json:"jobs_url"`
	LogsURL          string         `json:"logs_url"`
	CheckSuiteURL    string         `json:"check_suite_url"`
	ArtifactsURL     string         `json:"artifacts_url"`
	CancelURL        string         `json:"cancel_url"`
	RerunURL         string         `json:"rerun_url"`
	WorkflowURL      string         `json:"workflow_url"`
	HeadCommit       wireHeadCommit `json:"head_commit"`
	Repository       *wireRepo      `json:"repository"`
	HeadRepository   *wireRepo      `json:"head_repository"`
}

func (s *Server) renderRun(r *repo, run *workflowRun) wireRun {
	api := s.apiBase + "/repos/" + r.full
	self := fmt.Sprintf("%s/actions/runs/%d", api, run.ID)
	hc := wireHeadCommit{ID: run.HeadSHA, TreeID: treeOf(run.HeadSHA), Message: run.DisplayTitle,
		Timestamp: stamp(run.CreatedAt)}
	if c, ok := r.commitBySHA[run.HeadSHA]; ok {
		hc.TreeID, hc.Message, hc.Timestamp = c.tree, c.Message, stamp(c.AuthorDate)
		hc.Author = wireNameEmail{c.AuthorName, c.AuthorEmail}
		hc.Committer = wireNameEmail{c.CommitterName, c.CommitterEmail}
	}
	wr := s.renderRepo(r)
	return wireRun{
		ID:               run.ID,
		Name:             run.Name,
		NodeID:           nodeID("WorkflowRun", run.ID),
		CheckSuiteID:     run.checkSuiteID,
		CheckSuiteNodeID: nodeID("CheckSuite", run.checkSuiteID),
		HeadBranch:       run.HeadBranch,
		HeadSHA:          run.HeadSHA,
		Path:             run.Path,
		RunNumber:        run.RunNumber,
		Event:            run.Event,
		DisplayTitle:     run.DisplayTitle,
		Status:           run.Status,
		Conclusion:       optString(run.Conclusion),
		WorkflowID:       run.WorkflowID,
		URL:              self,
		HTMLURL:          fmt.Sprintf("%s/%s/actions/runs/%d", s.htmlBase, r.full, run.ID),
		PullRequests:     []any{},
		CreatedAt:        stamp(run.CreatedAt),
		UpdatedAt:        stamp(run.UpdatedAt),
		Actor:            s.renderUser(run.Actor),
		RunAttempt:       run.RunAttempt,
		RunStartedAt:     stamp(run.RunStartedAt),
		TriggeringActor:  s.renderUser(run.TriggeringActor),
		JobsURL:          self + "/jobs",
		LogsURL:          self + "/logs",
		CheckSuiteURL:    fmt.Sprintf("%s/check-suites/%d", api, run.checkSuiteID),
		ArtifactsURL:     self + "/artifacts",
		CancelURL:        self + "/cancel",
		RerunURL:         self + "/rerun",
		WorkflowURL:      fmt.Sprintf("%s/actions/workflows/%d", api, run.WorkflowID),
		HeadCommit:       hc,
		Repository:       wr,
		HeadRepository:   wr,
	}
}

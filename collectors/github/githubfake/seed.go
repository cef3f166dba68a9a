package githubfake

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// User is a GitHub account. Accounts named by other objects are created on
// the fly; AddUser sets a display name and public email.
type User struct {
	Login string
	Name  string
	Email string
	// Bot marks an app account (type "Bot").
	Bot bool
	// ID is assigned when zero.
	ID int64
}

// Commit is a commit to seed. Times are kept to the second, as GitHub does.
type Commit struct {
	// SHA is generated when empty.
	SHA     string
	Message string
	// AuthorLogin is the GitHub account matched to the author email; empty
	// renders "author": null, as GitHub does for unknown emails.
	AuthorLogin, AuthorName, AuthorEmail string
	AuthorDate                           time.Time
	// Committer fields default to the author's.
	CommitterLogin, CommitterName, CommitterEmail string
	CommitterDate                                 time.Time
	Parents                                       []string
}

// Pull is a pull request to seed.
type Pull struct {
	// Number is assigned (next in the repository) when zero.
	Number int
	Title  string
	Body   string
	User   string
	// State is "open" or "closed"; by default "closed" when ClosedAt or
	// MergedAt is set.
	State string
	Draft bool
	// Base and Head are branch names (default "main" and "feature-N").
	Base, Head     string
	HeadSHA        string
	MergeCommitSHA string
	CreatedAt      time.Time
	// UpdatedAt defaults to the latest of the other times.
	UpdatedAt time.Time
	ClosedAt  time.Time
	// MergedAt zero means not merged; ClosedAt defaults to it.
	MergedAt time.Time
}

// Deployment is a deployment to seed. Its updated_at follows its statuses.
type Deployment struct {
	// ID is assigned when zero.
	ID          int64
	SHA         string
	Ref         string
	Task        string // default "deploy"
	Environment string // default "production"
	Description string
	Creator     string
	// Payload is rendered as a JSON object ({} when nil).
	Payload               map[string]any
	CreatedAt             time.Time
	TransientEnvironment  bool
	ProductionEnvironment bool
}

// DeploymentStatus is a status of a deployment to seed.
type DeploymentStatus struct {
	// ID is assigned when zero.
	ID int64
	// State: error, failure, inactive, in_progress, queued, pending, success.
	State       string
	Creator     string // default: the deployment's creator
	Description string
	Environment string // default: the deployment's environment
	TargetURL   string
	LogURL      string
	// EnvironmentURL is where the deployed environment can be reached.
	EnvironmentURL string
	CreatedAt      time.Time
}

// Release is a release to seed.
type Release struct {
	// ID is assigned when zero.
	ID              int64
	TagName         string
	Name            string
	Body            string
	TargetCommitish string // default "main"
	Author          string
	Draft           bool
	Prerelease      bool
	CreatedAt       time.Time
	// PublishedAt zero (or Draft) renders null.
	PublishedAt time.Time
}

// WorkflowRun is a GitHub Actions workflow run to seed.
type WorkflowRun struct {
	// ID is assigned when zero.
	ID           int64
	Name         string
	Path         string // default ".github/workflows/<name>.yml"
	DisplayTitle string // default: the head commit's first line, else Name
	HeadBranch   string // default "main"
	HeadSHA      string
	Event        string // default "push"
	// Status defaults to "completed"; Conclusion to "success" when completed.
	Status          string
	Conclusion      string
	RunNumber       int // assigned (next in the repository) when zero
	RunAttempt      int // default 1
	WorkflowID      int64
	Actor           string
	TriggeringActor string // default: Actor
	CreatedAt       time.Time
	// UpdatedAt defaults to CreatedAt; RunStartedAt too.
	UpdatedAt    time.Time
	RunStartedAt time.Time
}

type commit struct {
	Commit
	tree string
}

type pull struct {
	Pull
	id      int64
	baseSHA string
}

type deployment struct {
	Deployment
	payload   json.RawMessage
	updatedAt time.Time
	statuses  []*deploymentStatus // newest first
}

type deploymentStatus struct {
	DeploymentStatus
}

type release struct {
	Release
}

type workflowRun struct {
	WorkflowRun
	checkSuiteID int64
}

func sec(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func fakeSHA(parts ...any) string {
	h := sha1.New()
	fmt.Fprint(h, parts...)
	return hex.EncodeToString(h.Sum(nil))
}

func treeOf(sha string) string { return fakeSHA("tree", sha) }

// AddUser adds or updates an account and returns its id.
func (s *Server) AddUser(u User) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.user(u.Login)
	if u.ID != 0 {
		have.ID = u.ID
	}
	have.Name, have.Email, have.Bot = u.Name, u.Email, u.Bot
	return have.ID
}

// user returns the account named login, creating it. s.mu is held.
func (s *Server) user(login string) *User {
	if u, ok := s.users[login]; ok {
		return u
	}
	u := &User{Login: login, ID: s.id()}
	s.users[login] = u
	return u
}

// id returns a fresh id. s.mu is held.
func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// AddRepo creates an empty repository ("owner/name"). Adding any object
// creates its repository too; a repository never added answers 404.
func (s *Server) AddRepo(full string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(full)
}

// repo returns the repository, creating it. s.mu is held.
func (s *Server) repo(full string) *repo {
	if r, ok := s.repos[strings.ToLower(full)]; ok {
		return r
	}
	owner, name, _ := strings.Cut(full, "/")
	r := &repo{
		id: s.id(), full: full, owner: owner, name: name, defaultBranch: "main",
		commitBySHA:    map[string]*commit{},
		deploymentByID: map[int64]*deployment{},
		pullNumbers:    map[int]bool{},
	}
	s.repos[strings.ToLower(full)] = r
	return r
}

// AddCommit adds a commit to repo and returns its sha.
func (s *Server) AddCommit(repo string, c Commit) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	c.AuthorDate = sec(c.AuthorDate)
	if c.CommitterDate.IsZero() {
		c.CommitterDate = c.AuthorDate
	}
	c.CommitterDate = sec(c.CommitterDate)
	if c.CommitterName == "" && c.CommitterEmail == "" && c.CommitterLogin == "" {
		c.CommitterName, c.CommitterEmail, c.CommitterLogin = c.AuthorName, c.AuthorEmail, c.AuthorLogin
	}
	if c.SHA == "" {
		c.SHA = fakeSHA(repo, c.Message, c.AuthorDate.UnixNano(), s.id())
	}
	if c.AuthorLogin != "" {
		s.user(c.AuthorLogin)
	}
	if c.CommitterLogin != "" {
		s.user(c.CommitterLogin)
	}
	cm := &commit{Commit: c, tree: treeOf(c.SHA)}
	if old, ok := r.commitBySHA[c.SHA]; ok {
		*old = *cm
	} else {
		r.commits = append(r.commits, cm)
		r.commitBySHA[c.SHA] = cm
	}
	r.commitsSorted = false
	return c.SHA
}

// AddPull adds a pull request to repo and returns its number.
func (s *Server) AddPull(repo string, p Pull) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	if p.Number == 0 {
		r.lastPull++
		for r.pullNumbers[r.lastPull] {
			r.lastPull++
		}
		p.Number = r.lastPull
	}
	r.lastPull = max(r.lastPull, p.Number)
	p.CreatedAt, p.ClosedAt, p.MergedAt = sec(p.CreatedAt), sec(p.ClosedAt), sec(p.MergedAt)
	if p.ClosedAt.IsZero() && !p.MergedAt.IsZero() {
		p.ClosedAt = p.MergedAt
	}
	if p.State == "" {
		p.State = "open"
		if !p.ClosedAt.IsZero() {
			p.State = "closed"
		}
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
		for _, t := range []time.Time{p.ClosedAt, p.MergedAt} {
			if t.After(p.UpdatedAt) {
				p.UpdatedAt = t
			}
		}
	}
	p.UpdatedAt = sec(p.UpdatedAt)
	p.Base = cmp.Or(p.Base, r.defaultBranch)
	p.Head = cmp.Or(p.Head, fmt.Sprintf("feature-%d", p.Number))
	p.HeadSHA = cmp.Or(p.HeadSHA, fakeSHA(repo, "head", p.Number))
	if p.MergeCommitSHA == "" && !p.MergedAt.IsZero() {
		p.MergeCommitSHA = fakeSHA(repo, "merge", p.Number)
	}
	if p.User != "" {
		s.user(p.User)
	}
	r.pulls = append(r.pulls, &pull{Pull: p, id: s.id(), baseSHA: fakeSHA(repo, "base", p.Number)})
	r.pullNumbers[p.Number] = true
	r.pullViews = nil
	return p.Number
}

// AddDeployment adds a deployment to repo and returns its id.
func (s *Server) AddDeployment(repo string, d Deployment) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	if d.ID == 0 {
		d.ID = s.id()
	}
	d.Task = cmp.Or(d.Task, "deploy")
	d.Environment = cmp.Or(d.Environment, "production")
	d.Ref = cmp.Or(d.Ref, r.defaultBranch)
	d.SHA = cmp.Or(d.SHA, fakeSHA(repo, "deploy", d.ID))
	d.CreatedAt = sec(d.CreatedAt)
	payload := json.RawMessage("{}")
	if d.Payload != nil {
		b, err := json.Marshal(d.Payload)
		if err != nil {
			panic("githubfake: deployment payload: " + err.Error())
		}
		payload = b
	}
	if d.Creator != "" {
		s.user(d.Creator)
	}
	dep := &deployment{Deployment: d, payload: payload, updatedAt: d.CreatedAt}
	if old, ok := r.deploymentByID[d.ID]; ok {
		dep.statuses, dep.updatedAt = old.statuses, old.updatedAt
		*old = *dep
	} else {
		r.deployments = append(r.deployments, dep)
		r.deploymentByID[d.ID] = dep
	}
	r.deploymentsSorted = false
	return d.ID
}

// AddDeploymentStatus adds a status to a deployment of repo and returns its
// id. The deployment's updated_at moves to the status's created_at, as on
// GitHub. It returns an error when the deployment does not exist.
func (s *Server) AddDeploymentStatus(repo string, deploymentID int64, st DeploymentStatus) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[strings.ToLower(repo)]
	if !ok {
		return 0, fmt.Errorf("githubfake: no repository %s", repo)
	}
	d, ok := r.deploymentByID[deploymentID]
	if !ok {
		return 0, fmt.Errorf("githubfake: no deployment %d in %s", deploymentID, repo)
	}
	if st.ID == 0 {
		st.ID = s.id()
	}
	st.Creator = cmp.Or(st.Creator, d.Creator)
	st.Environment = cmp.Or(st.Environment, d.Environment)
	st.CreatedAt = sec(st.CreatedAt)
	if st.Creator != "" {
		s.user(st.Creator)
	}
	ds := &deploymentStatus{DeploymentStatus: st}
	// Keep newest first (by time, then id), as GitHub lists them.
	i := 0
	for i < len(d.statuses) && (d.statuses[i].CreatedAt.After(st.CreatedAt) ||
		d.statuses[i].CreatedAt.Equal(st.CreatedAt) && d.statuses[i].ID > st.ID) {
		i++
	}
	d.statuses = append(d.statuses, nil)
	copy(d.statuses[i+1:], d.statuses[i:])
	d.statuses[i] = ds
	if st.CreatedAt.After(d.updatedAt) {
		d.updatedAt = st.CreatedAt
	}
	return st.ID, nil
}

// AddRelease adds a release to repo and returns its id.
func (s *Server) AddRelease(repo string, rel Release) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	if rel.ID == 0 {
		rel.ID = s.id()
	}
	rel.TargetCommitish = cmp.Or(rel.TargetCommitish, r.defaultBranch)
	rel.TagName = cmp.Or(rel.TagName, fmt.Sprintf("v0.0.%d", rel.ID))
	rel.CreatedAt, rel.PublishedAt = sec(rel.CreatedAt), sec(rel.PublishedAt)
	if rel.Draft {
		rel.PublishedAt = time.Time{}
	}
	if rel.Author != "" {
		s.user(rel.Author)
	}
	r.releases = append(r.releases, &release{Release: rel})
	r.releasesSorted = false
	return rel.ID
}

// AddWorkflowRun adds a workflow run to repo and returns its id.
func (s *Server) AddWorkflowRun(repo string, run WorkflowRun) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	if run.ID == 0 {
		run.ID = s.id()
	}
	run.Name = cmp.Or(run.Name, "CI")
	run.Path = cmp.Or(run.Path, ".github/workflows/"+strings.ToLower(strings.ReplaceAll(run.Name, " ", "-"))+".yml")
	if run.WorkflowID == 0 {
		h := fnv.New32a()
		h.Write([]byte(repo + run.Path))
		run.WorkflowID = int64(h.Sum32() % 10000000)
	}
	run.HeadBranch = cmp.Or(run.HeadBranch, r.defaultBranch)
	run.HeadSHA = cmp.Or(run.HeadSHA, fakeSHA(repo, "run", run.ID))
	run.Event = cmp.Or(run.Event, "push")
	run.Status = cmp.Or(run.Status, "completed")
	if run.Conclusion == "" && run.Status == "completed" {
		run.Conclusion = "success"
	}
	if run.RunNumber == 0 {
		r.lastRunNumber++
		run.RunNumber = r.lastRunNumber
	}
	r.lastRunNumber = max(r.lastRunNumber, run.RunNumber)
	run.RunAttempt = cmp.Or(run.RunAttempt, 1)
	run.TriggeringActor = cmp.Or(run.TriggeringActor, run.Actor)
	run.CreatedAt = sec(run.CreatedAt)
	if run.UpdatedAt.IsZero() {
		run.UpdatedAt = run.CreatedAt
	}
	run.UpdatedAt = sec(run.UpdatedAt)
	if run.RunStartedAt.IsZero() {
		run.RunStartedAt = run.CreatedAt
	}
	run.RunStartedAt = sec(run.RunStartedAt)
	if run.DisplayTitle == "" {
		run.DisplayTitle = run.Name
		if c, ok := r.commitBySHA[run.HeadSHA]; ok {
			run.DisplayTitle, _, _ = strings.Cut(c.Message, "\n")
		}
	}
	for _, l := range []string{run.Actor, run.TriggeringActor} {
		if l != "" {
			s.user(l)
		}
	}
	r.runs = append(r.runs, &workflowRun{WorkflowRun: run, checkSuiteID: s.id()})
	r.runsSorted = false
	return run.ID
}

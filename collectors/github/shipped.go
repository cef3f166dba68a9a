package github

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v66/github"

	"github.com/groundwork-dev/groundwork/timeline"
)

// A deployment's history: what was live before it in its environment, and
// what it shipped. The deployments listing runs newest first, so the
// deployments of the window are gathered with their statuses, the one
// listed just before the window (where the listing stops) is kept as a
// possible base, and then each deployment is compared with its base, one
// compare call per deployment.

// listedDeployment is one deployment of the listing and its events.
type listedDeployment struct {
	d      *gh.Deployment
	events []timeline.Event
	// failed is true when every terminal status it had was a failure.
	failed bool
}

var (
	mergePullRE  = regexp.MustCompile(`^Merge pull request #(\d+) from \S+`)
	squashPullRE = regexp.MustCompile(`\(#(\d+)\)\s*$`)
)

// pullOfCommit reads the pull request a commit on the default branch came
// from, by GitHub's merge and squash messages, with its title.
func pullOfCommit(message string) (int, string, bool) {
	subject, body, _ := strings.Cut(strings.TrimSpace(message), "\n")
	if m := mergePullRE.FindStringSubmatch(subject); m != nil {
		n, _ := strconv.Atoi(m[1])
		title := strings.TrimSpace(strings.SplitN(strings.TrimSpace(body), "\n", 2)[0])
		return n, title, true
	}
	if m := squashPullRE.FindStringSubmatch(subject); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, strings.TrimSpace(squashPullRE.ReplaceAllString(subject, "")), true
	}
	return 0, "", false
}

// baseOf returns the sha that was live in d's environment before d: the
// next older listed deployment there that did not fail.
func baseOf(list []*listedDeployment, i int) string {
	d := list[i].d
	for _, o := range list[i+1:] {
		if o.d.GetEnvironment() == d.GetEnvironment() && !o.failed && o.d.GetSHA() != "" {
			return o.d.GetSHA()
		}
	}
	return ""
}

// shipped compares base...head and returns the details that say what the
// deployment shipped; nil when the comparison cannot be made (an unknown
// base is no error: the review then says it does not know).
func (c *Collector) shipped(ctx context.Context, r repoRef, base, head string) (map[string]any, error) {
	if base == "" || head == "" {
		return nil, nil
	}
	out := map[string]any{timeline.DetailPreviousSHA: base}
	if base == head {
		out[timeline.DetailShippedPulls] = []any{}
		out[timeline.DetailShippedCommits] = 0
		return out, nil
	}
	cmp, resp, err := c.client.Repositories.CompareCommits(ctx, r.owner, r.name, base, head, &gh.ListOptions{PerPage: perPage})
	if err != nil {
		if resp != nil && resp.StatusCode == 404 {
			return out, nil // a base GitHub no longer has: what shipped is unknown
		}
		return nil, answerErr(resp, err)
	}
	pulls := []any{}
	seen := map[int]bool{}
	for _, rc := range cmp.Commits {
		if n, title, ok := pullOfCommit(rc.GetCommit().GetMessage()); ok && !seen[n] {
			seen[n] = true
			pulls = append(pulls, map[string]any{"number": n, "title": title})
		}
	}
	out[timeline.DetailShippedPulls] = pulls
	out[timeline.DetailShippedCommits] = cmp.GetTotalCommits()
	return out, nil
}

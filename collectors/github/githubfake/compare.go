package githubfake

import (
	"net/http"
	"sort"
	"strings"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
)

// compareCommits answers GET /repos/{owner}/{repo}/compare/{base}...{head}
// as GitHub does: the commits reachable from head and not from base, oldest
// first (at most 250), with status, ahead_by, behind_by and total_commits.
func (s *Server) compareCommits(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	base, head, ok := strings.Cut(r.PathValue("basehead"), "...")
	bc, hc := rp.commitBySHA[base], rp.commitBySHA[head]
	if !ok || bc == nil || hc == nil {
		return errBody(http.StatusNotFound, "Not Found")
	}
	reach := func(from string) map[string]bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			sha := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[sha] {
				continue
			}
			seen[sha] = true
			if c := rp.commitBySHA[sha]; c != nil {
				stack = append(stack, c.Parents...)
			}
		}
		return seen
	}
	fromBase, fromHead := reach(base), reach(head)
	var ahead []*commit
	for sha := range fromHead {
		if !fromBase[sha] && rp.commitBySHA[sha] != nil {
			ahead = append(ahead, rp.commitBySHA[sha])
		}
	}
	behind := 0
	for sha := range fromBase {
		if !fromHead[sha] {
			behind++
		}
	}
	sort.Slice(ahead, func(i, j int) bool {
		a, b := ahead[i], ahead[j]
		if !a.CommitterDate.Equal(b.CommitterDate) {
			return a.CommitterDate.Before(b.CommitterDate)
		}
		return a.SHA < b.SHA
	})
	status := "ahead"
	switch {
	case len(ahead) == 0 && behind == 0:
		status = "identical"
	case len(ahead) == 0:
		status = "behind"
	case behind > 0:
		status = "diverged"
	}
	total := len(ahead)
	if len(ahead) > 250 {
		ahead = ahead[:250]
	}
	commits := make([]fakeapi.Object, 0, len(ahead))
	for _, c := range ahead {
		commits = append(commits, s.renderCommit(rp, c))
	}
	return http.StatusOK, map[string]any{
		"url":           s.apiBase + "/repos/" + rp.full + "/compare/" + base + "..." + head,
		"html_url":      s.htmlBase + "/" + rp.full + "/compare/" + base + "..." + head,
		"permalink_url": s.htmlBase + "/" + rp.full + "/compare/" + rp.owner + ":" + base + "..." + rp.owner + ":" + head,
		"base_commit":   s.renderCommit(rp, bc),
		"status":        status, "ahead_by": total, "behind_by": behind, "total_commits": total,
		"commits": commits, "files": []any{},
	}
}

package fakeapi_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFakesStayOutOfProduction: no production package (the collectors, the
// api, the timeline and its store, the jobs) depends on a fake, and the
// binary, which holds the fakes for the demo (through fakeworld), holds
// neither testing nor httptest.
func TestFakesStayOutOfProduction(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`,
		"github.com/groundwork-dev/groundwork/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	isFake := func(p string) bool {
		return strings.HasSuffix(p, "fake") || strings.Contains(p, "/fakeworld") ||
			strings.Contains(p, "/collectors/internal/fake") || strings.Contains(p, "/collectors/internal/faults")
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, "github.com/groundwork-dev/groundwork/") {
			continue
		}
		depList := strings.Fields(deps)
		switch {
		case strings.HasSuffix(pkg, "/cmd/groundwork"):
			for _, d := range depList {
				if d == "testing" || d == "net/http/httptest" {
					t.Errorf("the binary depends on %s", d)
				}
			}
		case isFake(pkg) || strings.Contains(pkg, "/pgtest"):
		default:
			checked++
			for _, d := range depList {
				if isFake(d) {
					t.Errorf("production package %s depends on %s", pkg, d)
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("checked %d production packages; go list found too few", checked)
	}
}

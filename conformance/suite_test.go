package conformance

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
)

func runAgainst(t *testing.T, url string, groups ...string) Subject {
	t.Helper()
	sub, err := RunServer(context.Background(), ServerSubject{Name: "test", URL: url}, Options{Groups: groups, ReadLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// failedGroups lists the groups with a fail or a timeout, and the cases.
func failedGroups(sub Subject) (groups []string, cases []string) {
	for _, c := range sub.Cases {
		if c.Outcome == Fail || c.Outcome == Timeout {
			if !slices.Contains(groups, c.Group) {
				groups = append(groups, c.Group)
			}
			cases = append(cases, c.ID+" "+string(c.Outcome)+": "+c.Reason)
		}
	}
	sort.Strings(groups)
	return groups, cases
}

// TestStrictServerPasses plays every server-side case against a strict
// echo server: nothing may fail or time out.
func TestStrictServerPasses(t *testing.T) {
	srv := startEchoServer(t, true)
	sub := runAgainst(t, srv.url())
	groups, cases := failedGroups(sub)
	if len(groups) > 0 {
		t.Errorf("strict server failed in %v:\n%s", groups, strings.Join(cases, "\n"))
	}
	n, _ := Select(nil, nil, ServerSide)
	if len(sub.Cases) != len(n) {
		t.Errorf("%d cases played, want %d", len(sub.Cases), len(n))
	}
	if sub.Total()[Pass] < 150 {
		t.Errorf("only %d passes: %v", sub.Total()[Pass], sub.Total())
	}
}

// TestSloppyServerFlagged plays the suite against a server that skips the
// UTF-8 checks and accepts reserved bits: exactly the utf8 and rsv groups
// fail, and in the close group only the invalid-UTF-8 reasons.
func TestSloppyServerFlagged(t *testing.T) {
	srv := startEchoServer(t, false)
	sub := runAgainst(t, srv.url())
	groups, cases := failedGroups(sub)
	if want := []string{"close", "rsv", "utf8"}; !slices.Equal(groups, want) {
		t.Errorf("failed groups %v, want %v:\n%s", groups, want, strings.Join(cases, "\n"))
	}
	for _, c := range sub.Cases {
		info := byID(c.ID)
		switch {
		case c.Group == "rsv" && c.Outcome != Fail:
			t.Errorf("%s (%s): %s %s, want fail", c.ID, info.Title, c.Outcome, c.Reason)
		case c.Group == "close" && strings.Contains(info.Title, "close reason") && c.Outcome != Fail:
			t.Errorf("%s (%s): %s, want fail", c.ID, info.Title, c.Outcome)
		case c.Group == "close" && !strings.Contains(info.Title, "close reason") && c.Outcome == Fail:
			t.Errorf("%s (%s) failed: %s", c.ID, info.Title, c.Reason)
		case c.Group == "utf8" && strings.HasPrefix(info.Title, "invalid text:") && c.Outcome != Fail:
			t.Errorf("%s (%s): %s, want fail", c.ID, info.Title, c.Outcome)
		case c.Group == "utf8" && strings.HasPrefix(info.Requirement, reqUTF8Valid) && c.Outcome != Pass:
			t.Errorf("%s (%s): %s %s, want pass", c.ID, info.Title, c.Outcome, c.Reason)
		}
	}
}

func byID(id string) Case {
	for _, c := range All() {
		if c.ID == id {
			return c
		}
	}
	return Case{}
}

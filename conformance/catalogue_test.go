package conformance

import (
	"strings"
	"testing"
)

// TestCatalogue checks the catalogue's shape: at least 200 cases, every
// group present, unique IDs, and every case stating its requirement.
func TestCatalogue(t *testing.T) {
	all := All()
	if len(all) < 200 {
		t.Errorf("%d cases, want at least 200", len(all))
	}
	seen := map[string]bool{}
	perGroup := map[string]int{}
	server, client := 0, 0
	for _, c := range all {
		if seen[c.ID] {
			t.Errorf("duplicate id %s", c.ID)
		}
		seen[c.ID] = true
		perGroup[c.Group]++
		if !strings.Contains(c.Requirement, "§") || !strings.Contains(c.Requirement, "Pass") {
			t.Errorf("%s: requirement lacks its section or what passes: %q", c.ID, c.Requirement)
		}
		if c.Play == nil && c.ServerRaw == nil && c.ClientRaw == nil {
			t.Errorf("%s plays nothing", c.ID)
		}
		if c.Sides&ServerSide != 0 {
			server++
		}
		if c.Sides&ClientSide != 0 {
			client++
		}
	}
	for _, g := range Groups {
		if perGroup[g] == 0 {
			t.Errorf("group %s has no cases", g)
		}
	}
	t.Logf("%d cases (%d server side, %d client side): %v", len(all), server, client, perGroup)
}

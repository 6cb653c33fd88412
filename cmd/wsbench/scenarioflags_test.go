package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/scenarios"
)

// TestScenarioHelpListsItsOwnOptions: `run --scenario X --help` ends with
// exactly X's declared options, each with its default and meaning, and
// without the options of scenarios X is not.
func TestScenarioHelpListsItsOwnOptions(t *testing.T) {
	for _, name := range scenarios.Names() {
		sc, _ := scenarios.Lookup(name)
		_, _, help := wsbench(t, "run", "--scenario", name, "--help")
		_, own, ok := strings.Cut(help, "Options of the "+name+" scenario")
		if !ok {
			t.Errorf("%s: help has no section of the scenario's options:\n%s", name, help)
			continue
		}
		mine := map[string]bool{}
		for _, o := range scenarios.OptionsOf(sc) {
			mine[o.Name] = true
			line := "--" + o.Name + " " + o.Syntax()
			if o.Default != "" {
				line += " (default " + o.Default + ")"
			}
			if !strings.Contains(own, line+"\n      "+o.Usage+"\n") {
				t.Errorf("%s: help lacks %q with its meaning:\n%s", name, line, own)
			}
		}
		for _, o := range scenarios.AllOptions() {
			if !mine[o.Name] && strings.Contains(own, "--"+o.Name+" ") {
				t.Errorf("%s: help lists --%s, an option of %v only", name, o.Name, scenarios.OptionScenarios(o.Name))
			}
		}
	}
	_, _, help := wsbench(t, "run", "--help")
	if strings.Contains(help, "Options of the") || !strings.Contains(help, "--scenario NAME --help") {
		t.Errorf("run --help without --scenario should point to the per-scenario help:\n%s", help)
	}
}

// TestListShowsEachScenarioItsOptions: under each scenario `wsbench list`
// names its declared options and no one else's.
func TestListShowsEachScenarioItsOptions(t *testing.T) {
	_, out, _ := wsbench(t, "list")
	_, sec, _ := strings.Cut(out, "\nSCENARIOS\n")
	sec, _, _ = strings.Cut(sec, "\nPRESETS")
	blocks := map[string]string{}
	var cur string
	for _, line := range strings.Split(sec, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
			cur = f[0]
		}
		blocks[cur] += line + "\n"
	}
	for _, name := range scenarios.Names() {
		sc, _ := scenarios.Lookup(name)
		for _, o := range scenarios.AllOptions() {
			declared := slices.ContainsFunc(scenarios.OptionsOf(sc), func(x scenarios.Option) bool { return x.Name == o.Name })
			if listed := strings.Contains(blocks[name], "--"+o.Name+" "); listed != declared {
				t.Errorf("list: %s shows --%s: %v, declares it: %v\n%s", name, o.Name, listed, declared, blocks[name])
			}
		}
	}
}

// TestREADMEOptionTableMatchesDeclarations: every declared scenario option
// has a row in the README's flag table whose meaning begins with exactly
// the scenarios that declare it, and whose default is the declared one.
func TestREADMEOptionTableMatchesDeclarations(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile("`([^`]*)`")
	rows := map[string][2]string{} // flag → default, meaning
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(strings.TrimPrefix(line, "|"), "|")
		if !strings.HasPrefix(line, "| `--") || len(cells) < 3 {
			continue
		}
		flags := code.FindAllStringSubmatch(cells[0], -1)
		defaults := code.FindAllStringSubmatch(cells[1], -1)
		for i, f := range flags {
			def := ""
			if len(defaults) == len(flags) {
				def = defaults[i][1]
			}
			rows[strings.TrimPrefix(f[1], "--")] = [2]string{def, strings.TrimSpace(strings.Join(cells[2:], "|"))}
		}
	}
	for _, o := range scenarios.AllOptions() {
		row, ok := rows[o.Name]
		if !ok {
			t.Errorf("README: no row for --%s", o.Name)
			continue
		}
		if o.Default != "" && row[0] != o.Default {
			t.Errorf("README: --%s default %q, declared %q", o.Name, row[0], o.Default)
		}
		head, _, _ := strings.Cut(row[1], ":")
		words := strings.FieldsFunc(head, func(r rune) bool { return r == ' ' || r == ',' })
		applies := scenarios.OptionScenarios(o.Name)
		for _, sc := range scenarios.Names() {
			if slices.Contains(words, sc) != slices.Contains(applies, sc) {
				t.Errorf("README: --%s meaning begins %q, but the option is declared by %v", o.Name, head, applies)
				break
			}
		}
	}
}

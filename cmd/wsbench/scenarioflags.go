package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/scenarios"
)

// The flags of `wsbench run` that belong to some scenarios only come from
// the scenarios' own declarations (scenarios.Option): this file turns
// them into flags, help and the "does not apply" refusal, and names no
// scenario itself.

// scenarioOptionFlags registers a flag for every declared scenario
// option, its usage headed by the scenarios it applies to (the refusal
// names the same ones), and returns how to read each flag's value, by
// name. An integer option is an int flag, so help and a malformed value
// read as for any other int flag.
func scenarioOptionFlags(fs *flag.FlagSet) map[string]func() string {
	values := map[string]func() string{}
	for _, o := range scenarios.AllOptions() {
		usage := strings.Join(scenarios.OptionScenarios(o.Name), ", ") + ": " + o.Usage
		if n, err := strconv.Atoi(o.Default); o.Kind == scenarios.KindInt && err == nil {
			v := fs.Int(o.Name, n, usage)
			values[o.Name] = func() string { return strconv.Itoa(*v) }
			continue
		}
		v := fs.String(o.Name, o.Default, usage)
		values[o.Name] = func() string { return *v }
	}
	return values
}

// openLoopScenarios names the scenarios that offer load at a --rate, in
// alphabetical order: those --rate and --slo apply to.
func openLoopScenarios() []string {
	var out []string
	for _, n := range scenarios.Names() {
		if s, _ := scenarios.Lookup(n); scenarios.OpenLoop(s) {
			out = append(out, n)
		}
	}
	return out
}

// scenarioFlags names the run flags that apply to some scenarios only,
// with those scenarios: every declared option, and --rate and --slo for
// the open-loop scenarios.
func scenarioFlags() map[string][]string {
	m := map[string][]string{"rate": openLoopScenarios(), "slo": openLoopScenarios()}
	for _, o := range scenarios.AllOptions() {
		m[o.Name] = scenarios.OptionScenarios(o.Name)
	}
	return m
}

// rateUsage is --rate's help: the scenarios it applies to, and the rate
// of those that have one of their own without it.
func rateUsage() string {
	var defaults []string
	for _, n := range openLoopScenarios() {
		s, _ := scenarios.Lookup(n)
		if d, ok := s.(scenarios.DefaultRater); ok {
			defaults = append(defaults, n+" default "+d.DefaultRate())
		}
	}
	u := strings.Join(openLoopScenarios(), ", ") + ": messages per second across all connections on a fixed schedule, more than zero " +
		"(without --rate a scenario runs its closed loop, or at its own rate"
	if len(defaults) > 0 {
		u += ": " + strings.Join(defaults, ", ")
	}
	return u + ")"
}

// printScenarioOptions writes the options of scenario s with their
// defaults and meanings (`wsbench run --scenario X --help`, `wsbench
// list`), each line indented by indent.
func printScenarioOptions(w io.Writer, s scenarios.Scenario, indent string) {
	opts := scenarios.OptionsOf(s)
	if scenarios.OpenLoop(s) {
		fmt.Fprintf(w, "%s--rate N | START:END:STEP, --slo OBJECTIVE (shared by %s)\n", indent, strings.Join(openLoopScenarios(), ", "))
	}
	if len(opts) == 0 && !scenarios.OpenLoop(s) {
		fmt.Fprintf(w, "%s(no options of its own)\n", indent)
	}
	for _, o := range opts {
		def := ""
		if o.Default != "" {
			def = " (default " + o.Default + ")"
		}
		fmt.Fprintf(w, "%s--%s %s%s\n%s    %s\n", indent, o.Name, o.Syntax(), def, indent, o.Usage)
	}
}

// scenarioHelp is the part of `wsbench run --scenario X --help` that
// lists X's own options.
func scenarioHelp(w io.Writer, name string) {
	s, err := scenarios.Lookup(name)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "\nOptions of the %s scenario (%s):\n", name, s.Description())
	printScenarioOptions(w, s, "  ")
}

// checkScenarioFlags refuses a flag given on the command line that the
// scenario does not use, and warns about (and drops) one a preset file set,
// naming the file and line: a preset's other keys may still be meant for
// the scenario it names, which the command line may have changed. When the
// preset chose the scenario, a command-line flag that does not apply is
// warned about and dropped too: one command line may serve several presets.
func checkScenarioFlags(scenario string, setOnCLI map[string]bool, preset string, fromPreset map[string]presetSetting,
	reset func(name string), stderr io.Writer) error {
	flags := scenarioFlags()
	names := make([]string, 0, len(flags))
	for name := range flags {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		applies := flags[name]
		if slices.Contains(applies, scenario) {
			continue
		}
		if setOnCLI[name] && preset != "" && !setOnCLI["scenario"] {
			fmt.Fprintf(stderr, "wsbench run: warning: --%s does not apply to the %s scenario of %s (only to %s); ignored\n",
				name, scenario, preset, strings.Join(applies, ", "))
			reset(name)
			continue
		}
		if setOnCLI[name] {
			return usagef("--%s does not apply to the %s scenario (only to %s)", name, scenario, strings.Join(applies, ", "))
		}
		if ps, ok := fromPreset[name]; ok {
			fmt.Fprintf(stderr, "wsbench run: warning: %s:%d: %s does not apply to the %s scenario (only to %s); ignored\n",
				preset, ps.line, ps.key, scenario, strings.Join(applies, ", "))
			reset(name)
		}
	}
	return nil
}

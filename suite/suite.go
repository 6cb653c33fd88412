// Package suite owns `wsbench suite`: the standard comparison declared in
// one embedded file (suite.yaml, readable and copyable), its execution
// part by part with the whole suite's remaining time, the edition it
// writes (a folder: every result file, summary.md, report.html,
// machine.json, command.txt) and the summary, which is rendered from the
// edition's files alone so `wsbench report DIR` reproduces it byte for
// byte. It runs nothing itself: the command line hands it the functions
// that run and estimate one wsbench command.
package suite

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed suite.yaml
var builtin []byte

// Builtin is the embedded suite file, as a user would copy it.
func Builtin() []byte { return slices.Clone(builtin) }

// Suite is a parsed suite file.
type Suite struct {
	Description string `yaml:"description"`
	Parts       []Part `yaml:"parts"`
}

// Part is one wsbench command of the suite.
type Part struct {
	// Name is the part's result file's stem (PART.json) and its label.
	Name string `yaml:"name"`
	// Question is the summary table the part feeds.
	Question string `yaml:"question"`
	// Command is the wsbench verb: run or conformance.
	Command string `yaml:"command"`
	// Args are the command's flags; Quick are added after them for a
	// quick suite (a flag given twice takes the later value).
	Args  []string `yaml:"args"`
	Quick []string `yaml:"quick"`
	// Metrics are what the summary shows of the part (report metric
	// names); the first decides the winner. Empty for parts with tables
	// of their own (bad clients, conformance).
	Metrics []string `yaml:"metrics"`
}

// Commands are the wsbench verbs a part may use.
var Commands = []string{"run", "conformance"}

// Parse reads a suite file, checking every part names a command, a
// question and a unique name that is safe as a file name.
func Parse(data []byte) (Suite, error) {
	var s Suite
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("suite file: %w", err)
	}
	if len(s.Parts) == 0 {
		return s, errors.New("suite file: no parts")
	}
	seen := map[string]bool{}
	for i, p := range s.Parts {
		switch {
		case p.Name == "" || strings.ContainsAny(p.Name, `/\ .`) || seen[p.Name]:
			return s, fmt.Errorf("suite file: part %d: name %q: want a unique name without spaces, dots or slashes", i+1, p.Name)
		case !slices.Contains(Commands, p.Command):
			return s, fmt.Errorf("suite file: part %s: command %q: want %s", p.Name, p.Command, strings.Join(Commands, " or "))
		case p.Question == "":
			return s, fmt.Errorf("suite file: part %s: no question (the summary table it feeds)", p.Name)
		}
		seen[p.Name] = true
	}
	return s, nil
}

// ArgsFor are the part's flags for a full or quick suite.
func (p Part) ArgsFor(quick bool) []string {
	args := slices.Clone(p.Args)
	if quick {
		args = append(args, p.Quick...)
	}
	return args
}

// Questions are the suite's questions in the order their first part
// appears.
func (s Suite) Questions() []string {
	var out []string
	for _, p := range s.Parts {
		if !slices.Contains(out, p.Question) {
			out = append(out, p.Question)
		}
	}
	return out
}

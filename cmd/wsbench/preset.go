package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wsbench/wsbench/scenarios"
)

// presetSetting is a flag a preset set, and where.
type presetSetting struct {
	key  string // as written in the file
	line int
}

// applyPreset sets the flags named in a preset, by file path or built-in
// name, except those set on the command line. Its keys are the names of
// every `wsbench run` flag (ping_interval or ping-interval); a repeatable
// flag (threshold, header, subprotocol…) may be a list. Every mistake is
// reported with the file, line and key at fault. It returns the preset's name and what it set, by flag name.
func applyPreset(fset *flag.FlagSet, setOnCLI map[string]bool, ref string) (string, map[string]presetSetting, error) {
	set := map[string]presetSetting{}
	name, err := applyPresetTo(fset, setOnCLI, ref, set)
	return name, set, err
}

func applyPresetTo(fset *flag.FlagSet, setOnCLI map[string]bool, ref string, set map[string]presetSetting) (string, error) {
	data, err := os.ReadFile(ref)
	name := ref
	if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(ref, "/.") {
		var ok bool
		if data, ok = scenarios.Preset(ref); ok {
			name, err = "preset "+ref, nil
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return name, usagef("%s: no such preset file, and no built-in preset of that name (built in: %s)",
				ref, strings.Join(scenarios.PresetNames(), ", "))
		}
		return name, usagef("read preset: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return name, usagef("%s:%d: %s", name, yamlErrorLine(data, err), yamlErrorText(err))
	}
	if len(doc.Content) == 0 {
		return name, usagef("%s: empty preset", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return name, usagef("%s:%d: a preset is a mapping of flag names to values", name, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := strings.ReplaceAll(k.Value, "_", "-")
		if key == "description" {
			continue
		}
		if fset.Lookup(key) == nil {
			var known []string
			fset.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
			return name, usagef("%s:%d: unknown field %q (known: description, %s)", name, k.Line, k.Value, strings.Join(known, ", "))
		}
		values := []*yaml.Node{v}
		if _, repeatable := fset.Lookup(key).Value.(*listFlag); repeatable && v.Kind == yaml.SequenceNode {
			values = v.Content // threshold, header, subprotocol…: a list
		}
		if setOnCLI[key] {
			continue // the command line wins
		}
		for _, v := range values {
			if v.Kind != yaml.ScalarNode {
				return name, usagef("%s:%d: %s: want a single value", name, v.Line, k.Value)
			}
			if err := checkPresetValue(key, v.Value); err != nil {
				return name, usagef("%s:%d: %s: %v", name, v.Line, k.Value, err)
			}
			if err := fset.Set(key, v.Value); err != nil {
				return name, usagef("%s:%d: %s: %q is not a valid value", name, v.Line, k.Value, v.Value)
			}
		}
		set[key] = presetSetting{key: k.Value, line: k.Line}
	}
	return name, nil
}

// yamlErrorText is a YAML error without its "yaml: line N:" prefix.
func yamlErrorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			return after
		}
	}
	return msg
}

// yamlErrorLine is the line of a YAML syntax error. The parser sometimes
// names the line before the one at fault (an unclosed [ on line 2 is
// reported on line 1), so the first line whose inclusion makes the text
// fail with the same message is taken when it comes later.
func yamlErrorLine(data []byte, err error) int {
	reported := 0
	if m := regexp.MustCompile(`line (\d+):`).FindStringSubmatch(err.Error()); m != nil {
		reported, _ = strconv.Atoi(m[1])
	}
	want := yamlErrorText(err)
	lines := strings.SplitAfter(string(data), "\n")
	for k := 1; k <= len(lines); k++ {
		var n yaml.Node
		if e := yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n); e != nil && yamlErrorText(e) == want {
			return max(k, reported)
		}
	}
	return max(reported, 1)
}

// checkPresetValue checks values whose flags are plain strings, so a bad
// one is reported at its line rather than later under the flag's name.
func checkPresetValue(key, value string) error {
	var err error
	switch key {
	case "duration":
		_, err = parseDuration(key, value, false)
	case "warmup":
		_, err = parseDuration(key, value, true)
	case "payload":
		_, err = parseSize(key, value)
	case "rate":
		if strings.Contains(value, ":") {
			_, err = parseRateSteps(value)
		} else {
			_, err = parseOpenLoopRate(value, "")
		}
	case "connect-rate":
		_, err = parseConnectRate(value)
	case "conns":
		_, err = parseConns(value)
	default:
		err = scenarios.CheckOption(key, value) // a scenario's own option, on its own
	}
	if err != nil {
		// The parse errors name the flag; here the line says where.
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, ": "); ok {
			msg = after
		}
		return fmt.Errorf("%q: %s", value, msg)
	}
	return nil
}

// presetDescription is a preset's description line, for `wsbench list`.
func presetDescription(data []byte) string {
	var p struct {
		Description string `yaml:"description"`
		Scenario    string `yaml:"scenario"`
	}
	if yaml.Unmarshal(data, &p) != nil {
		return ""
	}
	return p.Description
}

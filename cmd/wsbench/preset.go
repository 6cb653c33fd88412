package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wsbench/wsbench/scenarios"
)

// presetKeys are the run flags a preset may set.
var presetKeys = []string{"scenario", "servers", "driver", "conns", "duration", "warmup", "payload", "text", "compression",
	"runs", "connect-rate", "publishers", "rate", "ping-interval", "pong-timeout"}

// applyPreset sets the flags named in a preset, by file path or built-in
// name, except those set on the command line. Every mistake is reported
// with the file, line and key at fault.
func applyPreset(fset *flag.FlagSet, setOnCLI map[string]bool, ref string) error {
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
			return usagef("%s: no such preset file, and no built-in preset of that name (built in: %s)",
				ref, strings.Join(scenarios.PresetNames(), ", "))
		}
		return usagef("read preset: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return usagef("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return usagef("%s: empty preset", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return usagef("%s:%d: a preset is a mapping of flag names to values", name, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := strings.ReplaceAll(k.Value, "_", "-")
		if key == "description" {
			continue
		}
		if !slices.Contains(presetKeys, key) {
			return usagef("%s:%d: unknown field %q (known: description, %s)", name, k.Line, k.Value, strings.Join(presetKeys, ", "))
		}
		if v.Kind != yaml.ScalarNode {
			return usagef("%s:%d: %s: want a single value", name, v.Line, k.Value)
		}
		if setOnCLI[key] {
			continue // the command line wins
		}
		if err := checkPresetValue(key, v.Value); err != nil {
			return usagef("%s:%d: %s: %v", name, v.Line, k.Value, err)
		}
		if err := fset.Set(key, v.Value); err != nil {
			return usagef("%s:%d: %s: %q is not a valid value", name, v.Line, k.Value, v.Value)
		}
	}
	return nil
}

// checkPresetValue checks values whose flags are plain strings, so a bad
// one is reported at its line rather than later under the flag's name.
func checkPresetValue(key, value string) error {
	var err error
	switch key {
	case "duration", "ping-interval", "pong-timeout":
		_, err = parseDuration(key, value, false)
	case "warmup":
		_, err = parseDuration(key, value, true)
	case "payload":
		_, err = parseSize(key, value)
	case "rate", "connect-rate":
		_, err = parseRate(key, value)
	case "conns":
		_, err = parseConns(value)
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

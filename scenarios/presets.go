package scenarios

import (
	"embed"
	"sort"
	"strings"
)

// The built-in presets: YAML files beside this one, embedded so `wsbench run
// chat` works from any folder, and readable in the repository so a user can
// copy one and edit it. Their keys are `wsbench run` flag names (with _ or -).
//
//go:embed *.yaml
var presetFiles embed.FS

// PresetNames lists the built-in presets.
func PresetNames() []string {
	entries, _ := presetFiles.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Preset returns the YAML text of a built-in preset.
func Preset(name string) ([]byte, bool) {
	data, err := presetFiles.ReadFile(name + ".yaml")
	return data, err == nil
}

package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A scenario's own options are declared next to its code (k6's executors
// own their configs the same way): the command line's flags, preset keys,
// `wsbench run --scenario X --help`, `wsbench list`, the "does not apply to
// this scenario" refusal and the README's option table are all read from
// these declarations, so a new scenario with options touches its own file
// and its test, and nothing outside scenarios/ names it.

// OptionKind is the type of an option's value, for help and the README.
type OptionKind string

// The kinds of option values.
const (
	KindDuration OptionKind = "duration"
	KindInt      OptionKind = "int"
	KindString   OptionKind = "string"
	KindChoice   OptionKind = "choice"
)

// Option declares one option of a scenario.
type Option struct {
	// Name is the flag's name ("fault-at"); a preset key is the same, or
	// with underscores (fault_at).
	Name string
	Kind OptionKind
	// Choices are the values a KindChoice option takes.
	Choices []string
	// Default is the value taken when the option is not given, as it
	// would be written on the command line; "" for none.
	Default string
	// Usage is the one-line meaning shown by --help and `wsbench list`.
	Usage string
	// Apply checks value (validation naming the flag) and sets it in
	// p.Own, the scenario's options struct. It is called for every option
	// of the running scenario with the value given or the default, in
	// declaration order, so an option may read one declared before it.
	Apply func(value string, p *Params) error
}

// Optioned is a scenario with options of its own.
type Optioned interface {
	// Options are the scenario's options, in the order they apply. An
	// option shared by several scenarios is the same declaration listed
	// by each (pingOptions).
	Options() []Option
	// NewOptions is a new options struct (a pointer) for Params.Own,
	// which the options' Apply fill in.
	NewOptions() any
}

// OptionContext is what a scenario's options may depend on besides each
// other: the invocation around them.
type OptionContext struct {
	// Target is set for a run against a --target (no reference servers).
	Target bool
	// Given names the flags given (command line or preset), not
	// defaulted: the scenario's options and the shared ones (duration).
	Given map[string]bool
}

// Resolver is a scenario whose options depend on each other or on the
// invocation: Resolve is called once all options are applied, for the
// scenario that runs only.
type Resolver interface {
	Resolve(p *Params, c OptionContext) error
}

// DefaultRater is a scenario that runs at a rate of its own when --rate
// is not given.
type DefaultRater interface {
	DefaultRate() string
}

// Unshardable is a scenario that cannot be split over shards; the reason
// says why, for the refusal.
type Unshardable interface {
	Unshardable() string
}

// OptionsOf are the options of scenario s (none when it declares none).
func OptionsOf(s Scenario) []Option {
	if o, ok := s.(Optioned); ok {
		return o.Options()
	}
	return nil
}

// AllOptions are every registered scenario's options, each once, in the
// order of the scenarios' names and then of their declarations.
func AllOptions() []Option {
	var out []Option
	seen := map[string]bool{}
	for _, n := range Names() {
		s, _ := Lookup(n)
		for _, o := range OptionsOf(s) {
			if !seen[o.Name] {
				seen[o.Name] = true
				out = append(out, o)
			}
		}
	}
	return out
}

// OptionScenarios names the scenarios that declare the option name, in
// alphabetical order.
func OptionScenarios(name string) []string {
	var out []string
	for _, n := range Names() {
		s, _ := Lookup(n)
		if slices.ContainsFunc(OptionsOf(s), func(o Option) bool { return o.Name == name }) {
			out = append(out, n)
		}
	}
	return out
}

// OpenLoop reports whether s offers load at a --rate (and so takes --rate
// and --slo).
func OpenLoop(s Scenario) bool { return s.Mode(Params{Rate: 1}) == "open-loop" }

// ApplyOptions gives p a new options struct of s (Params.Own) and
// applies s's options to it, each with its value in values or else its
// default, then lets s resolve them. Values for other scenarios' options
// are ignored: the caller has refused any given for them.
func ApplyOptions(s Scenario, p *Params, values map[string]string, c OptionContext) error {
	p.Own = nil
	if o, ok := s.(Optioned); ok {
		p.Own = o.NewOptions()
	}
	for _, o := range OptionsOf(s) {
		v, ok := values[o.Name]
		if !ok {
			v = o.Default
		}
		if err := o.Apply(v, p); err != nil {
			return err
		}
	}
	if r, ok := s.(Resolver); ok {
		return r.Resolve(p, c)
	}
	return nil
}

// CheckOption checks value for the option name on its own (not against
// the others), as the first scenario declaring it would apply it: a
// preset's value is refused at its line. nil for a name no scenario
// declares.
func CheckOption(name, value string) error {
	for _, n := range OptionScenarios(name) {
		s, _ := Lookup(n)
		for _, o := range OptionsOf(s) {
			if o.Name == name {
				p := Params{Own: s.(Optioned).NewOptions()}
				return o.Apply(value, &p)
			}
		}
	}
	return nil
}

// ownOf is p's options struct of type T, for the scenario that declares
// T: a zero one (options not applied) when p carries another or none.
func ownOf[T any](p Params) *T {
	if o, ok := p.Own.(*T); ok {
		return o
	}
	return new(T)
}

// OwnKey is the scenario's own options as one string, the same for equal
// options: part of a cell's identity across shards (runner's cellID).
// "" when the scenario has none.
func OwnKey(p Params) string {
	if p.Own == nil {
		return ""
	}
	return fmt.Sprintf("%+v", p.Own)
}

// ParseDuration reads an option's duration such as 500ms, 10s or 2m:
// more than zero, or zero or more with allowZero. The message names the
// flag and says which range it accepts.
func ParseDuration(flagName, s string, allowZero bool) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want a duration such as 500ms, 10s or 2m", flagName, s)
	}
	switch {
	case allowZero && d < 0:
		return 0, fmt.Errorf("--%s %s: must be zero or more", flagName, s)
	case !allowZero && d <= 0:
		return 0, fmt.Errorf("--%s %s: must be more than zero", flagName, s)
	}
	return d, nil
}

// durationOption declares a duration option that sets *field(p).
func durationOption(name, def, usage string, allowZero bool, field func(p *Params) *time.Duration) Option {
	return Option{Name: name, Kind: KindDuration, Default: def, Usage: usage, Apply: func(v string, p *Params) error {
		d, err := ParseDuration(name, v, allowZero)
		if err != nil {
			return err
		}
		*field(p) = d
		return nil
	}}
}

// intOption declares an integer option that sets *field(p); its range is
// the scenario's Validate's to check, against the other parameters.
func intOption(name, def, usage string, field func(p *Params) *int) Option {
	return Option{Name: name, Kind: KindInt, Default: def, Usage: usage, Apply: func(v string, p *Params) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("--%s %q: want a whole number", name, v)
		}
		*field(p) = n
		return nil
	}}
}

// choiceOption declares an option that takes one of choices ("" allowed
// when it is the default: not given) and sets *field(p).
func choiceOption(name, def, usage string, choices []string, field func(p *Params) *string) Option {
	return Option{Name: name, Kind: KindChoice, Choices: choices, Default: def, Usage: usage, Apply: func(v string, p *Params) error {
		if v != "" && !slices.Contains(choices, v) || v == "" && def != "" {
			return fmt.Errorf("--%s %q: want %s", name, v, orList(choices))
		}
		*field(p) = v
		return nil
	}}
}

// orList is "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Syntax is how the option's value is written, for help: its choices,
// or its kind.
func (o Option) Syntax() string {
	if len(o.Choices) > 0 {
		return strings.Join(o.Choices, "|")
	}
	return string(o.Kind)
}

package scenarios

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOptionsAreDeclaredOnceAndBelongWhereDeclared: a shared option is one
// declaration listed by the scenarios that ping; each option belongs to
// exactly the scenarios that list it.
func TestOptionsAreDeclaredOnceAndBelongWhereDeclared(t *testing.T) {
	var names []string
	for _, o := range AllOptions() {
		if slices.Contains(names, o.Name) {
			t.Errorf("--%s listed twice by AllOptions", o.Name)
		}
		names = append(names, o.Name)
	}
	for name, want := range map[string][]string{
		"ping-interval": {"heartbeat", "reconnect"}, "pong-timeout": {"heartbeat", "reconnect"},
		"publishers": {"broadcast"}, "fault": {"reconnect"}, "backoff-cap": {"reconnect"},
	} {
		if got := OptionScenarios(name); !slices.Equal(got, want) {
			t.Errorf("--%s belongs to %v, want %v", name, got, want)
		}
	}
	if got := OptionScenarios("rate"); got != nil {
		t.Errorf("--rate is shared by every open-loop scenario, not declared by %v", got)
	}
}

// TestOptionDefaultsAreValidAndBadValuesNamed: every declared default
// passes its own check, and a malformed value is refused naming the flag.
func TestOptionDefaultsAreValidAndBadValuesNamed(t *testing.T) {
	for _, name := range Names() {
		s, _ := Lookup(name)
		for _, o := range OptionsOf(s) {
			p := Params{Own: s.(Optioned).NewOptions()}
			if err := o.Apply(o.Default, &p); err != nil {
				t.Errorf("%s --%s default %q refused: %v", name, o.Name, o.Default, err)
			}
			if o.Kind == KindString || o.Name == "fault" { // free text; fault is checked against the invocation (Resolve)
				continue
			}
			err := o.Apply("bogus", &p)
			if err == nil || !strings.HasPrefix(err.Error(), "--"+o.Name+" ") {
				t.Errorf("%s --%s bogus: %v, want an error naming --%s", name, o.Name, err, o.Name)
			}
		}
	}
}

// TestReconnectOptionsResolve: reconnect's options against each other and
// the invocation, through the same path the command line takes.
func TestReconnectOptionsResolve(t *testing.T) {
	sc, _ := Lookup("reconnect")
	for _, c := range []struct {
		name   string
		values map[string]string
		ctx    OptionContext
		want   string        // error substring, or ""
		dur    time.Duration // resulting window
		check  func(p Params) bool
	}{
		{name: "defaults fit the window", values: map[string]string{"fault": "kill"}, dur: 17 * time.Second,
			check: func(p Params) bool {
				o := reconnectOf(p)
				return o.Fault.Kind == "kill" && o.Fault.At == 2*time.Second && o.Backoff.Policy == "full-jitter" && o.Ping.Timeout == time.Second
			}},
		{name: "restart has no outage", values: map[string]string{"fault": "restart", "backoff-cap": "1s"}, dur: 10 * time.Second,
			check: func(p Params) bool { return FaultOf(p).For == 0 }},
		{name: "a given window is kept", values: map[string]string{"fault": "term"}, ctx: OptionContext{Given: map[string]bool{"duration": true}}, dur: 5 * time.Second},
		{name: "a target's command", values: map[string]string{"fault-cmd": "true", "fault-cmd-timeout": "7s"},
			ctx: OptionContext{Target: true, Given: map[string]bool{"fault-cmd-timeout": true}}, dur: 17 * time.Second,
			check: func(p Params) bool { return FaultOf(p).Kind == "cmd" && FaultOf(p).CmdTimeout == 7*time.Second }},
		{name: "cmd needs a target", values: map[string]string{"fault-cmd": "true"}, want: "plays the fault of a --target"},
		{name: "cmd or fault", values: map[string]string{"fault-cmd": "true", "fault": "kill"}, ctx: OptionContext{Target: true}, want: "exclude each other"},
		{name: "a target takes no runner fault", values: map[string]string{"fault": "kill"}, ctx: OptionContext{Target: true}, want: "acts on a reference server"},
		{name: "unknown fault", values: map[string]string{"fault": "nuke"}, want: `--fault "nuke": want term, kill, stop or restart`},
		{name: "timeout without cmd", values: map[string]string{"fault": "kill", "fault-cmd-timeout": "5s"},
			ctx: OptionContext{Given: map[string]bool{"fault-cmd-timeout": true}}, want: "bounds --fault-cmd"},
		{name: "bad backoff", values: map[string]string{"backoff": "linear"}, want: `--backoff "linear": want none, exponential or full-jitter`},
	} {
		p := Params{Duration: 5 * time.Second}
		err := ApplyOptions(sc, &p, c.values, c.ctx)
		switch {
		case c.want != "":
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.name, err, c.want)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case p.Duration != c.dur:
			t.Errorf("%s: window %s, want %s", c.name, p.Duration, c.dur)
		case c.check != nil && !c.check(p):
			t.Errorf("%s: params %+v, own %s", c.name, p, OwnKey(p))
		}
	}
}

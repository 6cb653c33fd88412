package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// Schema names the conformance result format; change it whenever a field
// changes meaning.
const Schema = "wsbench-conformance/1"

// Result is one `wsbench conformance` invocation: the case catalogue once,
// and every subject's outcomes.
type Result struct {
	Schema  string    `json:"schema"`
	Started time.Time `json:"started"`
	// DurationS is the whole invocation's wall time in seconds.
	DurationS   float64            `json:"duration_s"`
	Command     []string           `json:"command"`
	Environment report.Environment `json:"environment"`
	// ServerSettings are what every reference server ran with (the read
	// limit the limit cases depend on, compression accepted).
	ServerSettings servers.Settings `json:"server_settings"`
	// DriverSettings are what every driver dialled with.
	DriverSettings DriverSettings `json:"driver_settings"`
	// Cases is the catalogue of the cases played: what each sends and the
	// RFC requirement it checks.
	Cases []CaseInfo `json:"cases"`
	// Subjects are the servers and drivers tested, in order.
	Subjects []Subject `json:"subjects"`
}

// DriverSettings are the dial options of the client side.
type DriverSettings struct {
	ReadLimit          int64 `json:"read_limit_bytes"`
	HandshakeTimeoutNs int64 `json:"handshake_timeout_ns"`
	// Compression: every driver offers permessage-deflate; the raw server
	// accepts only in the deflate cases.
	Compression bool `json:"compression"`
}

// CaseInfo describes a case in the catalogue.
type CaseInfo struct {
	ID          string `json:"id"`
	Group       string `json:"group"`
	Title       string `json:"title"`
	Requirement string `json:"requirement"`
	Setting     string `json:"setting,omitempty"`
	Sides       string `json:"sides"`
	Probe       bool   `json:"probe,omitempty"`
}

// Info is the case's catalogue entry.
func (c Case) Info() CaseInfo {
	return CaseInfo{ID: c.ID, Group: c.Group, Title: c.Title, Requirement: c.Requirement, Setting: c.Setting, Sides: c.Sides.String(), Probe: c.Probe}
}

// Subject is one library on one side: a reference server (or --target)
// played by the raw client, or a driver played by the raw server.
type Subject struct {
	// Name is the library ("gorilla"), or the URL for --target.
	Name string `json:"name"`
	// Side is "server" or "client".
	Side    string `json:"side"`
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
	// Target is the URL played against, for --target.
	Target string `json:"target,omitempty"`
	// Restarts counts server processes restarted after a case crashed one
	// or passed the memory cap.
	Restarts  int     `json:"restarts,omitempty"`
	DurationS float64 `json:"duration_s"`
	// Error is set when the subject could not be played at all (its server
	// would not start).
	Error string `json:"error,omitempty"`
	// Summary counts outcomes per group.
	Summary map[string]map[Outcome]int `json:"summary"`
	Cases   []CaseResult               `json:"cases"`
}

// CaseResult is one case's outcome for one subject.
type CaseResult struct {
	ID      string  `json:"id"`
	Group   string  `json:"group"`
	Outcome Outcome `json:"outcome"`
	// Reason says in words what the peer did.
	Reason string `json:"reason"`
	// FramesSent describes the frames the raw peer sent (the first 24).
	FramesSent []string `json:"frames_sent"`
	// FirstBytes are the first bytes the peer sent after the handshake, in
	// hex (at most 64).
	FirstBytes string  `json:"first_bytes_received"`
	BytesSent  int64   `json:"bytes_sent"`
	DurationMs float64 `json:"duration_ms"`
	// Cost is measured for safety probes.
	Cost *Cost `json:"cost,omitempty"`
}

// Cost is what a safety probe cost the peer.
type Cost struct {
	// GiveUpMs is the time from the probe's first byte to the peer giving
	// up (closing, dropping, or answering), in milliseconds.
	GiveUpMs float64 `json:"give_up_ms"`
	// RSSBeforeBytes and RSSPeakBytes are the server process's resident
	// memory before the probe and its peak during it (from /proc).
	RSSBeforeBytes uint64 `json:"rss_before_bytes,omitempty"`
	RSSPeakBytes   uint64 `json:"rss_peak_bytes,omitempty"`
	// AllocatedBytes is what the process playing a driver allocated while
	// the driver handled the probe (the raw server's own reading
	// included); HeapGrowthBytes is its peak heap in use above the level
	// before the probe, after a collection.
	AllocatedBytes  uint64 `json:"allocated_bytes,omitempty"`
	HeapGrowthBytes uint64 `json:"heap_growth_bytes,omitempty"`
}

// summarize fills s.Summary from its cases.
func (s *Subject) summarize() {
	s.Summary = map[string]map[Outcome]int{}
	for _, c := range s.Cases {
		if s.Summary[c.Group] == nil {
			s.Summary[c.Group] = map[Outcome]int{}
		}
		s.Summary[c.Group][c.Outcome]++
	}
}

// Total counts a subject's outcomes over every group.
func (s Subject) Total() map[Outcome]int {
	t := map[Outcome]int{}
	for _, g := range s.Summary {
		for o, n := range g {
			t[o] += n
		}
	}
	return t
}

// Label is "gorilla (server)".
func (s Subject) Label() string { return s.Name + " (" + s.Side + ")" }

// Save writes r as indented JSON to path, atomically (a temporary file
// renamed), creating its directory.
func Save(path string, r *Result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// Load reads a conformance result file.
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("load %s: schema %q, want %q", path, r.Schema, Schema)
	}
	return &r, nil
}

// Breach is a case whose outcome the gate fails on.
type Breach struct {
	Subject string
	Case    CaseResult
	// Was is the baseline's outcome ("" when the baseline lacks the case).
	Was Outcome
}

// Gate lists the cases whose outcome is one of failOn; with a baseline,
// only those whose outcome differs from the baseline's for the same
// subject and case (new ones), so a CI fails on a new fail only.
func Gate(r *Result, failOn []Outcome, baseline *Result) []Breach {
	was := map[string]Outcome{}
	if baseline != nil {
		for _, s := range baseline.Subjects {
			for _, c := range s.Cases {
				was[s.Label()+" "+c.ID] = c.Outcome
			}
		}
	}
	var out []Breach
	for _, s := range r.Subjects {
		for _, c := range s.Cases {
			if !slices.Contains(failOn, c.Outcome) {
				continue
			}
			prev := was[s.Label()+" "+c.ID]
			if baseline != nil && prev == c.Outcome {
				continue
			}
			out = append(out, Breach{Subject: s.Label(), Case: c, Was: prev})
		}
	}
	return out
}

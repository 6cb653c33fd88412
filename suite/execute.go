package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Env is what executing a suite needs from the command line.
type Env struct {
	// Run runs one wsbench command with args (the suite has added --out
	// and, for run parts, --pin) and returns its exit code.
	Run func(ctx context.Context, command string, args []string) (int, error)
	// Estimate is how long the command will take; an error means it
	// cannot run in this build (a flag or verb it does not have yet): the
	// part is recorded as missing and the suite goes on.
	Estimate func(command string, args []string) (time.Duration, error)
	// Progress receives one line as each part starts and ends.
	Progress io.Writer
	// Pin adds --pin to run parts (a machine with two CPUs or more).
	Pin bool
}

// Manifest is parts.json: what the edition holds, part by part, so the
// summary can be rendered again from the files alone.
type Manifest struct {
	Description string       `json:"description"`
	Quick       bool         `json:"quick"`
	Parts       []PartRecord `json:"parts"`
}

// PartRecord is one part of an edition: its command as run and how it
// ended.
type PartRecord struct {
	Part
	// File is the result file (PART.json), "" when the part did not run.
	File string `json:"file,omitempty"`
	// Command line as run, without the edition's folder.
	Line string `json:"line"`
	// Status is ok, missing (this build cannot run it: Reason says why),
	// failed (exit code and Reason), or not run (interrupted before it).
	Status string `json:"status"`
	Exit   int    `json:"exit,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// The part statuses of a manifest.
const (
	StatusOK      = "ok"
	StatusMissing = "missing"
	StatusFailed  = "failed"
	StatusNotRun  = "not run"
)

// ManifestFile is the name of the manifest in an edition.
const ManifestFile = "parts.json"

// Execute runs every part of s into dir, a new or empty folder, writing
// the manifest after each part so an interrupted suite keeps what it
// measured. A part this build cannot run is recorded as missing; a part
// that fails is recorded with its exit code; neither stops the suite.
func Execute(ctx context.Context, s Suite, dir string, quick bool, env Env) (Manifest, error) {
	m := Manifest{Description: s.Description, Quick: quick}
	if err := newEdition(dir); err != nil {
		return m, err
	}
	est := make([]time.Duration, len(s.Parts))
	for i, p := range s.Parts {
		args := p.ArgsFor(quick)
		rec := PartRecord{Part: p, Line: strings.TrimSpace("wsbench " + p.Command + " " + ShellJoin(args)), Status: StatusNotRun}
		d, err := env.Estimate(p.Command, args)
		if err != nil {
			rec.Status, rec.Reason = StatusMissing, err.Error()
		}
		est[i] = d
		m.Parts = append(m.Parts, rec)
	}
	start := time.Now()
	var spent, planned time.Duration // of the parts done: actual and estimated
	for i := range m.Parts {
		rec := &m.Parts[i]
		if rec.Status == StatusMissing {
			fmt.Fprintf(env.Progress, "suite: part %d/%d %s missing: %s\n", i+1, len(m.Parts), rec.Name, rec.Reason)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(env.Progress, "suite: part %d/%d %s (%s), about %s left in the suite\n", i+1, len(m.Parts), rec.Name, rec.Question,
			remaining(est[i:], m.Parts[i:], spent, planned).Round(time.Second))
		rec.File = rec.Name + ".json"
		args := append(rec.ArgsFor(quick), "--out", filepath.Join(dir, rec.File))
		if env.Pin && rec.Command == "run" {
			args = append(args, "--pin")
		}
		t0 := time.Now()
		code, err := env.Run(ctx, rec.Command, args)
		spent, planned = spent+time.Since(t0), planned+est[i]
		rec.Status, rec.Exit = StatusOK, code
		switch {
		case err != nil:
			rec.Status, rec.Reason = StatusFailed, err.Error()
		case code != 0 && code != 3: // 3: a degraded cell, which the summary shows
			rec.Status, rec.Reason = StatusFailed, fmt.Sprintf("exit %d", code)
		}
		if _, statErr := os.Stat(filepath.Join(dir, rec.File)); statErr != nil {
			rec.File = ""
		}
		if err := writeJSON(filepath.Join(dir, ManifestFile), m); err != nil {
			return m, err
		}
	}
	fmt.Fprintf(env.Progress, "suite: done in %s\n", time.Since(start).Round(time.Second))
	return m, writeJSON(filepath.Join(dir, ManifestFile), m)
}

// remaining is the time the parts from here on should take: their
// estimates scaled by how the parts done so far compared with theirs.
func remaining(est []time.Duration, parts []PartRecord, spent, planned time.Duration) time.Duration {
	var left time.Duration
	for i, d := range est {
		if parts[i].Status != StatusMissing {
			left += d
		}
	}
	if planned > 0 {
		left = time.Duration(float64(left) * float64(spent) / float64(planned))
	}
	return left
}

// newEdition makes dir, refusing one that already holds an edition.
func newEdition(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return fmt.Errorf("%s already holds an edition (%s); give a new folder", dir, ManifestFile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("edition folder: %w", err)
	}
	return nil
}

// ReadManifest reads an edition's parts.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("%s is not a wsbench edition: no %s", dir, ManifestFile)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ShellJoin quotes args for a command line a user can paste.
func ShellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$&|;<>*?()[]{}\\`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

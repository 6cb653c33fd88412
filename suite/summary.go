package suite

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/wsbench/wsbench/report"
)

// Files of an edition besides the parts' result files.
const (
	SummaryFile = "summary.md"
	MachineFile = "machine.json"
	CommandFile = "command.txt"
	ReportFile  = "report.html"
)

// minRunsForWinner is the fewest runs per server for a winner to be named:
// with fewer, a spread says nothing of the next run.
const minRunsForWinner = 3

// PartRenderer renders the summary table of a part whose command is not
// run (conformance), from its result file; registered by the command line.
type PartRenderer func(path string) (string, error)

// notes say, per question, what its numbers do and do not say.
var notes = map[string]string{
	"throughput per CPU":              "Closed loop: each connection sends its next message when the last reply is back, so msgs/s is a ceiling of this machine and load generator, and the servers are ranked by the CPU they spend per million messages. A row marked client-bound measured the generator as much as the server.",
	"tail latency under a fixed load": "Open loop at a fixed rate, latency corrected for coordinated omission (from each message's scheduled send). Tail latency under a load every server carries; it says nothing of the most load each can carry.",
	"memory per idle connection":      "Idle connections pinging every few seconds; memory per connection from the server's steady RSS and live heap after a GC, divided by the connections. The slope over connection counts is in report.html.",
	"fan-out":                         "Publishers send at a fixed rate; latency is publish→receipt at every subscriber. Says how a server's broadcast path holds up, not how it scales past this fan-out.",
	"connect storm":                   "Connections opened as fast as 64 dialers go; the handshake time from each dial's scheduled start. Loopback: no network latency, only the server's accept and upgrade path.",
	"recovery":                        "The server is stopped (term: graceful, close 1001) or killed and restarted at once; seconds from the fault until 50% and 99% of the connections are back, under a full-jitter backoff.",
	"behaviour with bad clients":      "Each bad cell against the clean cells of its pair: the good clients' p99 and throughput as ratios, how the server dropped the bad clients, and what each cost it. A verdict comes from the library and from the reference server's settings below it.",
	"compression":                     "The same echo with permessage-deflate offered and accepted: what compression costs each server per message, on a compressible filler.",
	"conformance":                     "RFC 6455/7692 cases played against every reference server (and every driver) by a raw-frame peer: pass, non-strict, fail, timeout, unsupported.",
}

// Summary renders an edition's summary.md from its files alone: the
// manifest, the machine, the command and each part's result file.
func Summary(dir string, renderers map[string]PartRenderer) (string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# wsbench edition %s\n\n", filepath.Base(filepath.Clean(dir)))
	if m.Description != "" {
		fmt.Fprintf(&b, "%s.", upperFirst(m.Description))
	}
	if m.Quick {
		b.WriteString(" A **quick** edition (`--quick`): fewer runs and shorter windows than the full suite, so spreads are wide and few winners are named.")
	}
	b.WriteString("\n\n")
	writeMachine(&b, dir)
	byQuestion := map[string][]PartRecord{}
	var questions []string
	for _, p := range m.Parts {
		if !slices.Contains(questions, p.Question) {
			questions = append(questions, p.Question)
		}
		byQuestion[p.Question] = append(byQuestion[p.Question], p)
	}
	for _, q := range questions {
		fmt.Fprintf(&b, "## %s\n\n", upperFirst(q))
		if n := notes[q]; n != "" {
			fmt.Fprintf(&b, "%s\n\n", n)
		}
		for _, p := range byQuestion[q] {
			if err := writePart(&b, dir, p, renderers); err != nil {
				return "", fmt.Errorf("part %s: %w", p.Name, err)
			}
		}
	}
	return b.String(), nil
}

// writeMachine writes the machine and the command the edition came from.
func writeMachine(b *strings.Builder, dir string) {
	var env report.Environment
	if data, err := os.ReadFile(filepath.Join(dir, MachineFile)); err == nil && json.Unmarshal(data, &env) == nil {
		fmt.Fprintf(b, "Machine: %s, %d cores, Linux %s, %s %s/%s", env.CPUModel, env.Cores, env.Kernel, env.GoVersion, env.GOOS, env.GOARCH)
		if env.WsbenchCommit != "" {
			fmt.Fprintf(b, "; wsbench %s", shortCommit(env.WsbenchCommit))
		}
		b.WriteString(".\n")
		var libs []string
		for _, mod := range slices.Sorted(maps.Keys(env.Libraries)) {
			libs = append(libs, mod+" "+env.Libraries[mod])
		}
		if len(libs) > 0 {
			fmt.Fprintf(b, "Libraries: %s.\n", strings.Join(libs, ", "))
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, CommandFile)); err == nil {
		fmt.Fprintf(b, "\nMade by `%s`; every part's own command is under its table.\n", strings.TrimSpace(string(data)))
	}
	b.WriteString("\n")
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// writePart writes one part's table: its metrics per server with median
// and spread, and the winner where the spread allows.
func writePart(b *strings.Builder, dir string, p PartRecord, renderers map[string]PartRenderer) error {
	fmt.Fprintf(b, "### %s\n\n", p.Name)
	switch {
	case p.Status == StatusMissing:
		fmt.Fprintf(b, "Not in this edition: this build cannot run it yet (%s).\n\n", p.Reason)
		return nil
	case p.File == "":
		fmt.Fprintf(b, "No result: %s%s.\n\n", p.Status, prefixed(": ", p.Reason))
		return nil
	}
	defer fmt.Fprintf(b, "`%s`%s\n\n", p.Line, prefixed(" — ", statusNote(p)))
	path := filepath.Join(dir, p.File)
	if p.Command != "run" {
		r, ok := renderers[p.Command]
		if !ok {
			return fmt.Errorf("no renderer for %s results", p.Command)
		}
		t, err := r(path)
		if err != nil {
			return err
		}
		b.WriteString(t + "\n")
		return nil
	}
	res, err := report.Load(path)
	if err != nil {
		return err
	}
	if len(p.Metrics) == 0 { // a part with a table of its own: bad clients
		var t strings.Builder
		if err := report.RenderBadVerdicts(&t, res, true); err != nil {
			return err
		}
		b.WriteString(strings.TrimLeft(t.String(), "\n") + "\n")
		return nil
	}
	return writeMetrics(b, res, p.Metrics)
}

func statusNote(p PartRecord) string {
	if p.Status == StatusOK {
		return ""
	}
	return p.Status + prefixed(": ", p.Reason)
}

func prefixed(pre, s string) string {
	if s == "" {
		return ""
	}
	return pre + s
}

// series is one server's values of one metric over the runs.
type series struct {
	server string
	values []float64
	bound  bool // a run was client-bound
	failed int  // runs that did not measure (failed cells)
}

// writeMetrics writes the median (min–max) of each metric per server,
// best first by the first metric, and the winner where the spreads allow.
func writeMetrics(b *strings.Builder, res *report.Result, names []string) error {
	var metrics []report.Metric
	for _, n := range names {
		m, ok := report.LookupMetric(n)
		if !ok {
			return fmt.Errorf("unknown metric %q", n)
		}
		metrics = append(metrics, m)
	}
	// One table per connection count (a --conns list is one part).
	counts := map[int]bool{}
	for _, r := range res.Records {
		counts[r.Conns] = true
	}
	for _, conns := range slices.Sorted(maps.Keys(counts)) {
		per := make([]map[string]*series, len(metrics))
		var servers []string
		for i, m := range metrics {
			per[i] = map[string]*series{}
			for _, r := range res.Records {
				if r.Conns != conns {
					continue
				}
				name := r.ServerLabel()
				if name == "" {
					name = r.Target
				}
				s := per[i][name]
				if s == nil {
					s = &series{server: name}
					per[i][name] = s
					if i == 0 {
						servers = append(servers, name)
					}
				}
				if v, ok := m.Value(r); ok && r.Usable() {
					s.values = append(s.values, v)
					s.bound = s.bound || (r.Client != nil && r.Client.Bound)
				} else if !r.Usable() {
					s.failed++
				}
			}
		}
		lead := metrics[0]
		sort.SliceStable(servers, func(i, j int) bool {
			a, c := per[0][servers[i]], per[0][servers[j]]
			if len(a.values) == 0 || len(c.values) == 0 {
				return len(a.values) > len(c.values)
			}
			if lead.HigherIsBetter {
				return report.Median(a.values) > report.Median(c.values)
			}
			return report.Median(a.values) < report.Median(c.values)
		})
		if len(counts) > 1 {
			fmt.Fprintf(b, "%d connections:\n\n", conns)
		}
		b.WriteString("| server |")
		for _, m := range metrics {
			fmt.Fprintf(b, " %s (median, min–max) |", m.Name)
		}
		b.WriteString(" runs |\n|---|")
		for range metrics {
			b.WriteString("---:|")
		}
		b.WriteString("---:|\n")
		for _, srv := range servers {
			fmt.Fprintf(b, "| %s |", srv)
			for i, m := range metrics {
				fmt.Fprintf(b, " %s |", spread(m, per[i][srv].values))
			}
			s := per[0][srv]
			runs := fmt.Sprint(len(s.values))
			if s.failed > 0 {
				runs += fmt.Sprintf(" (+%d failed)", s.failed)
			}
			if s.bound {
				runs += " · client-bound"
			}
			fmt.Fprintf(b, " %s |\n", runs)
		}
		fmt.Fprintf(b, "\n%s\n\n", winner(lead, servers, per[0]))
	}
	return nil
}

// winner names the best server by the lead metric when it has enough runs
// and its range does not overlap the runner-up's; otherwise says why not.
func winner(m report.Metric, servers []string, per map[string]*series) string {
	var ok []string
	for _, s := range servers {
		if len(per[s].values) > 0 {
			ok = append(ok, s)
		}
	}
	switch {
	case len(ok) == 0:
		return "No winner: nothing measured."
	case len(ok) == 1:
		return fmt.Sprintf("Only %s measured.", ok[0])
	}
	best, next := per[ok[0]], per[ok[1]]
	if n := min(len(best.values), len(next.values)); n < minRunsForWinner {
		return fmt.Sprintf("No winner named: %d run(s) each, fewer than %d; best median %s.", n, minRunsForWinner, best.server)
	}
	bLo, bHi := minMax(best.values)
	nLo, nHi := minMax(next.values)
	separate := bHi < nLo || nHi < bLo
	if !separate {
		return fmt.Sprintf("No winner: %s and %s overlap on %s (best median %s).", best.server, next.server, m.Name, best.server)
	}
	return fmt.Sprintf("Winner on %s: **%s**, every run of it beyond every run of %s.", m.Name, best.server, next.server)
}

func spread(m report.Metric, v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	lo, hi := minMax(v)
	if len(v) == 1 {
		return report.FormatMetric(m.Unit, v[0])
	}
	return fmt.Sprintf("%s (%s–%s)", report.FormatMetric(m.Unit, report.Median(v)), report.FormatMetric(m.Unit, lo), report.FormatMetric(m.Unit, hi))
}

func minMax(v []float64) (float64, float64) {
	return slices.Min(v), slices.Max(v)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

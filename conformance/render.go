package conformance

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// outcomeMark is the short form the case matrix uses.
var outcomeMark = map[Outcome]string{Pass: "pass", NonStrict: "non-strict", Fail: "FAIL", Timeout: "timeout", Unsupported: "–"}

// counts is "pass / non-strict / fail / timeout / unsupported" for a group.
func countsText(m map[Outcome]int) string {
	parts := make([]string, 0, len(Outcomes))
	for _, o := range Outcomes {
		parts = append(parts, fmt.Sprint(m[o]))
	}
	return strings.Join(parts, "/")
}

// Disagreement is a case whose outcome differs between subjects (those
// that played it and negotiated what it needs).
type Disagreement struct {
	Case     CaseInfo
	Outcomes map[string]Outcome // subject label → outcome
}

// Disagreements lists the cases on which the subjects of r differ, leaving
// unsupported out: a library that did not negotiate compression does not
// disagree with one that did.
func Disagreements(r *Result) []Disagreement {
	var out []Disagreement
	for _, info := range r.Cases {
		d := Disagreement{Case: info, Outcomes: map[string]Outcome{}}
		seen := map[Outcome]bool{}
		for _, s := range r.Subjects {
			for _, c := range s.Cases {
				if c.ID == info.ID && c.Outcome != Unsupported {
					d.Outcomes[s.Label()] = c.Outcome
					seen[c.Outcome] = true
				}
			}
		}
		if len(seen) > 1 {
			out = append(out, d)
		}
	}
	return out
}

// caseResult finds a subject's result for a case.
func (s Subject) caseResult(id string) (CaseResult, bool) {
	for _, c := range s.Cases {
		if c.ID == id {
			return c, true
		}
	}
	return CaseResult{}, false
}

// RenderText writes the terminal summary: one line per subject and group
// counts, the cases that failed or timed out, and the safety costs.
func RenderText(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "CONFORMANCE: %d cases; each cell counts pass/non-strict/fail/timeout/unsupported\n", len(r.Cases))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "library\tall\t%s\t\n", strings.Join(Groups, "\t"))
	for _, s := range r.Subjects {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t\n", s.Label(), "not played: "+s.Error)
			continue
		}
		row := []string{s.Label(), countsText(s.Total())}
		for _, g := range Groups {
			if m, ok := s.Summary[g]; ok {
				row = append(row, countsText(m))
			} else {
				row = append(row, "")
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Subjects {
		var bad []string
		for _, c := range s.Cases {
			if c.Outcome == Fail || c.Outcome == Timeout {
				bad = append(bad, fmt.Sprintf("  %-16s %-8s %s — %s", c.ID, c.Outcome, r.title(c.ID), c.Reason))
			}
		}
		if len(bad) > 0 {
			fmt.Fprintf(w, "\n%s: %d failed or timed out\n%s\n", s.Label(), len(bad), strings.Join(bad, "\n"))
		}
	}
	fmt.Fprintln(w)
	return renderSafety(w, r, false)
}

func (r *Result) title(id string) string {
	for _, c := range r.Cases {
		if c.ID == id {
			return c.Title
		}
	}
	return ""
}

// costText is a probe's cost in one cell.
func costText(c *Cost) string {
	if c == nil {
		return ""
	}
	parts := []string{fmt.Sprintf("gave up after %.1f ms", c.GiveUpMs)}
	if c.RSSPeakBytes > 0 {
		parts = append(parts, fmt.Sprintf("RSS %s → peak %s", mib(c.RSSBeforeBytes), mib(c.RSSPeakBytes)))
	}
	if c.AllocatedBytes > 0 {
		parts = append(parts, fmt.Sprintf("allocated %s, heap grew %s", mib(c.AllocatedBytes), mib(c.HeapGrowthBytes)))
	}
	return strings.Join(parts, "; ")
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// renderSafety writes the safety probes' outcomes and costs per subject.
func renderSafety(w io.Writer, r *Result, markdown bool) error {
	var probes []CaseInfo
	for _, c := range r.Cases {
		if c.Probe {
			probes = append(probes, c)
		}
	}
	if len(probes) == 0 {
		return nil
	}
	if markdown {
		fmt.Fprintf(w, "## Safety probes and their cost\n\n| library | probe | outcome | cost | reason |\n|---|---|---|---|---|\n")
	} else {
		fmt.Fprintln(w, "SAFETY PROBES")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range r.Subjects {
		for _, p := range probes {
			c, ok := s.caseResult(p.ID)
			if !ok {
				continue
			}
			if markdown {
				fmt.Fprintf(w, "| %s | %s %s | %s | %s | %s |\n", s.Label(), p.ID, mdEscape(p.Title), c.Outcome, costText(c.Cost), mdEscape(c.Reason))
			} else {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", s.Label(), p.ID, c.Outcome, costText(c.Cost))
			}
		}
	}
	if markdown {
		fmt.Fprintln(w)
		return nil
	}
	return tw.Flush()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// RenderMarkdown writes the report: the summary, a table per library
// (groups × outcomes), the per-case matrix across libraries, the cases
// where libraries disagree with the RFC's requirement, and the safety
// probes' costs.
func RenderMarkdown(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "# WebSocket conformance\n\n%d cases from RFC 6455 and RFC 7692; outcomes are pass / non-strict / fail / timeout / unsupported.\n\n", len(r.Cases))
	fmt.Fprintf(w, "## Summary\n\n| library | side | pass | non-strict | fail | timeout | unsupported |\n|---|---|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Subjects {
		t := s.Total()
		if s.Error != "" {
			fmt.Fprintf(w, "| %s | %s | not played: %s |||||\n", s.Name, s.Side, mdEscape(s.Error))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d |\n", s.Name, s.Side, t[Pass], t[NonStrict], t[Fail], t[Timeout], t[Unsupported])
	}
	fmt.Fprintln(w)
	for _, s := range r.Subjects {
		if s.Error != "" {
			continue
		}
		fmt.Fprintf(w, "## %s\n\n", s.Label())
		if s.Version != "" {
			fmt.Fprintf(w, "%s %s\n\n", s.Module, s.Version)
		}
		fmt.Fprintf(w, "| group | pass | non-strict | fail | timeout | unsupported |\n|---|--:|--:|--:|--:|--:|\n")
		for _, g := range Groups {
			m, ok := s.Summary[g]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d |\n", g, m[Pass], m[NonStrict], m[Fail], m[Timeout], m[Unsupported])
		}
		fmt.Fprintln(w)
	}
	if d := Disagreements(r); len(d) > 0 {
		fmt.Fprintf(w, "## Where libraries disagree\n\n")
		for _, x := range d {
			setting := ""
			if x.Case.Setting != "" {
				setting = " *Setting: " + mdEscape(x.Case.Setting) + "*"
			}
			fmt.Fprintf(w, "- **%s** %s — %s%s\n", x.Case.ID, mdEscape(x.Case.Title), mdEscape(x.Case.Requirement), setting)
			labels := make([]string, 0, len(x.Outcomes))
			for l := range x.Outcomes {
				labels = append(labels, l)
			}
			slices.Sort(labels)
			for _, l := range labels {
				fmt.Fprintf(w, "  %s: %s;", l, x.Outcomes[l])
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	if err := renderSafety(w, r, true); err != nil {
		return err
	}
	fmt.Fprintf(w, "## Every case\n\n| case | title |")
	for _, s := range r.Subjects {
		fmt.Fprintf(w, " %s |", s.Label())
	}
	fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---|", len(r.Subjects)))
	for _, c := range r.Cases {
		fmt.Fprintf(w, "| %s | %s |", c.ID, mdEscape(c.Title))
		for _, s := range r.Subjects {
			res, ok := s.caseResult(c.ID)
			mark := ""
			if ok {
				mark = outcomeMark[res.Outcome]
			}
			fmt.Fprintf(w, " %s |", mark)
		}
		fmt.Fprintln(w)
	}
	return nil
}

package report

import (
	"fmt"
	"slices"
	"strings"
)

// shardLines say under a table how to read its shards and merged rows:
// a shard's server figures are the whole server's (it loaded the server
// with the other shards), and a merged row's client columns add up N
// generators, or name the one they show. paras are paragraphs; items
// list each merged row's generators, shard by shard.
func shardLines(rs []Record) (paras, items []string) {
	var shards []string
	count := 0
	for _, r := range rs {
		if r.Sharded() {
			shards = append(shards, fmt.Sprint(r.Shard.Index))
			count = r.Shard.Count
		}
	}
	if len(shards) > 0 {
		slices.Sort(shards)
		shards = slices.Compact(shards)
		who := "This is shard " + shards[0]
		if len(shards) > 1 {
			who = "These are shards " + strings.Join(shards, ", ")
		}
		unit := singularOf(rs[0])
		paras = append(paras, fmt.Sprintf("%s (of 0–%d): one share of the load %d generators put on one server together. "+
			"Server CPU and RSS are that whole server's over this shard's window, so no CPU per %s is shown: "+
			"this shard's own count would charge it the other shards' work. wsbench merge of all %d shards' files "+
			"divides the server's CPU by every shard's.", who, count-1, count, unit, count))
	}
	var merged []Record
	for _, r := range rs {
		if r.Merged != nil && len(r.Merged.Clients) > 1 {
			merged = append(merged, r)
		}
	}
	if len(merged) == 0 {
		return paras, nil
	}
	n := merged[0].Merged.Shards
	unit := singularOf(merged[0])
	paras = append(paras, fmt.Sprintf("Merged from %d shards, %d load generators against one server: server CPU and RSS are that "+
		"server's, as shard 0 read them, and CPU per %s divides its CPU by every shard's. Client CPU %% is the busiest generator's share of its own CPUs "+
		"(shares of several machines do not add up; each is below); client sched p99 pools every generator's delays, and client "+
		"heap/conn and client CPU per %s are every generator's totals over every connection and %s. Client-bound names the "+
		"shards whose generator was the limit.", n, n, unit, unit, unit))
	for _, r := range merged {
		var parts []string
		for _, c := range r.Merged.Clients {
			s := fmt.Sprintf("shard %d %.0f%% of %d", c.Index, 100*c.CPUUtil, c.CPUs)
			if c.SchedP99Us > 0 {
				s += ", sched p99 " + fmtUs(c.SchedP99Us)
			}
			if len(c.Rules) > 0 {
				names := make([]string, len(c.Rules))
				for i, x := range c.Rules {
					names[i] = string(x)
				}
				s += ", bound (" + strings.Join(names, "+") + ")"
			}
			parts = append(parts, s)
		}
		items = append(items, fmt.Sprintf("%s generators: %s", rowName(r), strings.Join(parts, "; ")))
	}
	return paras, items
}

// singularOf names one of r's scenario's units of work ("message").
func singularOf(r Record) string {
	if p := ProfileOf(r); p.PerMillion != "" {
		return singular(p.PerMillion)
	}
	return "message"
}

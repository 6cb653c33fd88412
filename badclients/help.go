package badclients

import (
	"fmt"
	"strings"
)

// Help is the text of `wsbench run --bad-clients help`: the syntax, every
// kind with what it does on the wire, its ARG and default and what is
// measured, and what a bad cell reports. It is generated from the same
// table Parse reads, so the two agree.
func Help() string {
	var b strings.Builder
	b.WriteString(`--bad-clients KIND=COUNT|PERCENT[:ARG],...

Adds misbehaving connections beside the scenario's good ones. COUNT is a
number of clients; PERCENT (such as 1%) is a share of the good connections,
rounded to the nearest client (halves up) and never below 1 (1% of 1000 is
10). Each kind may be given once. Examples:
  non-reader=1%
  trickle=20,stalled-upgrade=200
  slow-reader=5%:1KiB/s,idle-tcp=500

Kinds:
`)
	for _, ki := range kinds {
		head := string(ki.kind)
		switch ki.arg {
		case argRate:
			head += "[:BYTES/s]"
		case argInterval:
			head += "[:INTERVAL]"
		}
		if ki.def != "" {
			head += fmt.Sprintf("  (default %s)", ki.def)
		}
		fmt.Fprintf(&b, "  %s\n", head)
		wrap(&b, "on the wire: "+ki.wire, "      ")
		wrap(&b, "measured: "+ki.measured, "      ")
	}
	b.WriteString(`
Every bad-clients cell runs beside a clean cell of the same good clients
(labelled bad_clients: none), interleaved with --runs. Its headline latency
and throughput are the good clients' only, shown as a ratio to the clean
cell. Per bad client: how the server ended its connection (close code,
reset, EOF without close, or never) and the time from its misbehaviour
starting to that end, as a distribution per kind. The verdict per kind:
unaffected, degraded (by how much), stalled or killed.
`)
	return b.String()
}

// wrap writes s in lines of at most 78 columns, each starting with indent.
func wrap(b *strings.Builder, s, indent string) {
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(w) > 78 {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
}

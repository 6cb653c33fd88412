package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

func listCmd(stdout io.Writer) error {
	versions := runner.ModuleVersions()
	version := func(mod string) string {
		if v := versions[mod]; v != "" {
			return v
		}
		return "(version unknown)"
	}
	// One row per library, whichever sides it has: a library without a
	// client side is measured as a server only, and says so here.
	names := append(servers.Names(), drivers.Names()...)
	slices.Sort(names)
	names = slices.Compact(names)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIBRARIES\tmodule\tversion\tserver\tdriver")
	for _, n := range names {
		var mod, srv, drv string
		srv, drv = "-", "- (server only)"
		if d, err := drivers.Lookup(n); err == nil {
			mod, drv = d.Module(), "yes"
			if n == drivers.Default {
				drv = "yes (default)"
			}
			if drivers.LacksOf(d).Compression != "" {
				drv += " (no compression)"
			}
		}
		if s, err := servers.Lookup(n); err == nil {
			mod, srv = s.Module(), "yes"
			if _, ok := s.(servers.Engine); ok {
				srv = "yes (runs its own listener)"
			}
		} else {
			drv += " (no reference server)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", n, mod, version(mod), srv, drv)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// What keeps each driver's cost per message down with --inflight.
	fmt.Fprintln(stdout, "\nBATCHED WRITES (several messages in one write with --inflight)")
	for _, n := range drivers.Names() {
		d, _ := drivers.Lookup(n)
		yes, why := drivers.BatchedWrites(d)
		answer := "no"
		if yes {
			answer = "yes"
		}
		fmt.Fprintf(stdout, "  %-9s batched writes: %s (%s)\n", n, answer, why)
	}
	var held []string
	for _, n := range drivers.Names() {
		if d, _ := drivers.Lookup(n); drivers.HoldsIdle(d) {
			held = append(held, n)
		}
	}
	if len(held) == 0 {
		held = []string{"none here"}
	}
	fmt.Fprintf(stdout, "\nIDLE CONNECTIONS WITHOUT A GOROUTINE EACH (heartbeat; ws:// only): %s; the other drivers read each with its own\n", strings.Join(held, ", "))
	fmt.Fprintln(stdout, "\nSETTINGS A SERVER CANNOT APPLY (the rest of the fairness manifest, servers/manifest.go, applies to all)")
	none := true
	for _, n := range servers.Names() {
		s, _ := servers.Lookup(n)
		for _, e := range s.Exceptions() {
			fmt.Fprintf(stdout, "  %-9s %s\n", n, e)
			none = false
		}
	}
	if none {
		fmt.Fprintln(stdout, "  none")
	}
	fmt.Fprintln(stdout, "\nSCENARIOS")
	for _, n := range scenarios.Names() {
		s, _ := scenarios.Lookup(n)
		fmt.Fprintf(stdout, "  %-10s %s\n", n, s.Description())
		printScenarioOptions(stdout, s, "      ")
	}
	fmt.Fprintln(stdout, "\nPRESETS (wsbench run NAME, or copy scenarios/NAME.yaml and edit it)")
	for _, n := range scenarios.PresetNames() {
		data, _ := scenarios.Preset(n)
		fmt.Fprintf(stdout, "  %-10s %s\n", n, presetDescription(data))
	}
	var formats []string
	for _, f := range report.Formats {
		formats = append(formats, string(f))
	}
	fmt.Fprintf(stdout, "\nFORMATS\n  %s\n", strings.Join(formats, ", "))
	return nil
}

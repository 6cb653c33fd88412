package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

func listCmd(stdout io.Writer) error {
	versions := scenarios.ModuleVersions()
	version := func(mod string) string {
		if v := versions[mod]; v != "" {
			return v
		}
		return "(version unknown)"
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVERS\tlibrary\tversion\tcannot apply")
	for _, n := range servers.Names() {
		s, _ := servers.Lookup(n)
		exc := strings.Join(s.Exceptions(), "; ")
		if exc == "" {
			exc = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n, s.Module(), version(s.Module()), exc)
	}
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintf(tw, "DRIVERS\tlibrary\tversion\t\n")
	for _, n := range drivers.Names() {
		d, _ := drivers.Lookup(n)
		def := ""
		if n == drivers.Default {
			def = "default"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n, d.Module(), version(d.Module()), def)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nSCENARIOS")
	for _, n := range scenarios.Names() {
		s, _ := scenarios.Lookup(n)
		fmt.Fprintf(stdout, "  %-10s %s\n", n, s.Description())
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

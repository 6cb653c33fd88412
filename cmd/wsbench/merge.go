package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wsbench/wsbench/report"
)

// mergeCmd is `wsbench merge`: the shards' files into one result file.
func mergeCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	outFile := fs.String("o", "", "write the merged result file here (required)")
	formatS := fs.String("format", "table", "also print the merged result: table, markdown, csv, json, benchfmt, hgrm, or none")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench merge SHARD.json... -o MERGED.json\n\n"+
			"Adds the shards of every cell (wsbench run --shard i/n) into one record: histograms\n"+
			"added exactly, counts and rates summed, a scenario's figures as its profile declares,\n"+
			"series and timelines aligned by wall-clock time. What has no exact merge is left out\n"+
			"and named. Missing shards are named, shards of different plans refused.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(files) == 0 || *outFile == "" {
		return usagef("name the shards' files and -o MERGED.json")
	}
	if err := distinctFiles(files); err != nil {
		return usagef("%v", err)
	}
	results, _, err := loadResults(files)
	if err != nil {
		return err
	}
	// The paths as given name the files in merge's refusals: shards often
	// share a base name in folders of their own (/results/3/result.json).
	merged, err := report.Merge(results, files)
	if err != nil {
		return usagef("%v", err)
	}
	if err := report.Save(*outFile, merged); err != nil {
		return err
	}
	if *formatS != "none" {
		format, err := report.ParseFormat(*formatS)
		if err != nil {
			return usagef("--format: %v", err)
		}
		if err := report.Render(stdout, merged, format); err != nil {
			return err
		}
	}
	var first, last time.Time
	for _, res := range results {
		for _, r := range res.Records {
			if s := r.Shard; s != nil && !s.OpenedAt.IsZero() {
				if first.IsZero() || s.OpenedAt.Before(first) {
					first = s.OpenedAt
				}
				if s.OpenedAt.After(last) {
					last = s.OpenedAt
				}
			}
		}
	}
	fmt.Fprintf(stderr, "merged %d files into %s", len(files), *outFile)
	if !first.IsZero() {
		fmt.Fprintf(stderr, " (the shards' windows opened within %s of each other, by their own clocks)", last.Sub(first).Round(time.Microsecond))
	}
	fmt.Fprintln(stderr)
	return nil
}

// distinctFiles refuses a file named twice, by whatever path: its records
// would be added to themselves.
func distinctFiles(files []string) error {
	infos := make([]os.FileInfo, len(files))
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		for j := range i {
			switch {
			case !os.SameFile(infos[j], fi):
			case f == files[j]:
				return fmt.Errorf("%s is given twice: each shard's file once", f)
			default:
				return fmt.Errorf("%s and %s are one file given twice: each shard's file once", files[j], f)
			}
		}
		infos[i] = fi
	}
	return nil
}

package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/wsbench/wsbench/report"
)

// serveCmd is the command that runs `wsbench serve` with args for a cell:
// the variant's own binary, with its extra arguments after the runner's
// (so they win), or Plan.Serve when the run is not A/B.
func (p *Plan) serveCmd(variant string, args []string) *exec.Cmd {
	for _, v := range p.Variants {
		if v.Name == variant {
			full := append(append([]string{"serve"}, args...), v.Args...)
			return exec.Command(v.Binary, full...)
		}
	}
	return p.Serve(args)
}

// probeTimeout bounds each question CheckVariant asks a binary.
const probeTimeout = 20 * time.Second

// CheckVariant asks v's binary what it is (`version --json`) and whether
// its `serve` takes v.Args, and fills v.Build. A binary that speaks another
// result schema or serve protocol than self is refused, both versions
// named: its servers would be misread, not measured.
func CheckVariant(ctx context.Context, v *report.Variant, self report.BuildInfo) error {
	name := v.Name + "=" + v.Binary
	out, err := probe(ctx, v.Binary, "version", "--json")
	if err != nil {
		return fmt.Errorf("%s: cannot tell which wsbench it is (`version --json`: %w); build it from a wsbench that has `wsbench version`", name, err)
	}
	var b report.BuildInfo
	if err := json.Unmarshal(out, &b); err != nil || b.Schema == "" || b.ServeProtocol == "" {
		return fmt.Errorf("%s: `version --json` did not say its schema and serve protocol (%q)", name, firstLine(out))
	}
	if b.Schema != self.Schema || b.ServeProtocol != self.ServeProtocol {
		return fmt.Errorf("%s is wsbench %s with result schema %s and serve protocol %s; this wsbench %s has %s and %s: build both from the same wsbench version",
			name, describe(b), b.Schema, b.ServeProtocol, describe(self), self.Schema, self.ServeProtocol)
	}
	v.Build = b
	// Flags parse in order, so -h after the variant's arguments is reached
	// (exit 0) only when every one of them is a serve flag with a good value.
	args := append(append([]string{"serve"}, v.Args...), "-h")
	if _, err := probe(ctx, v.Binary, args...); err != nil {
		return fmt.Errorf("%s: its serve does not take %s: %w", name, strings.Join(v.Args, " "), err)
	}
	return nil
}

// probe runs binary with args and returns its standard output; an error
// carries the first line of its standard error.
func probe(ctx context.Context, binary string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if msg := errorLine(stderr.Bytes()); msg != "" {
				return nil, fmt.Errorf("%w: %s", err, msg)
			}
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

func describe(b report.BuildInfo) string {
	if b.WsbenchCommit != "" {
		return b.WsbenchVersion + " (" + b.WsbenchCommit + ")"
	}
	return b.WsbenchVersion
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// errorLine picks the line of a failed command's stderr that says why: one
// naming a flag or a value (a flag error comes before the usage text), else
// the last.
func errorLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines {
		if strings.Contains(l, "flag") || strings.Contains(l, "invalid") || strings.HasPrefix(l, "wsbench") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

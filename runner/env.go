package runner

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

func numCPU() int { return runtime.NumCPU() }

// Environment describes this machine and build for the result file; modules
// are the library modules whose versions to report.
func Environment(modules []string) report.Environment {
	env := report.Environment{
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		CPUModel:   cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Libraries:  map[string]string{},
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env.Kernel = strings.TrimSpace(string(b))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		env.OpenFileLimit = lim.Cur
	}
	versions := ModuleVersions()
	for _, m := range modules {
		env.Libraries[m] = versions[m]
		if env.Libraries[m] == "" {
			env.Libraries[m] = "unknown"
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		env.WsbenchVersion = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				env.WsbenchCommit = s.Value
			}
		}
	}
	if env.WsbenchCommit == "" {
		env.WsbenchCommit = gitCommit()
	}
	return env
}

// Build is what this binary says of itself to `wsbench version --json`:
// the wsbench version, the result schema and serve protocol it speaks, its
// Go version and build tags, and the versions of the library modules
// given. An A/B run compares it with the other binaries'.
func Build(modules []string) report.BuildInfo {
	env := Environment(modules)
	b := report.BuildInfo{WsbenchVersion: env.WsbenchVersion, WsbenchCommit: env.WsbenchCommit, Schema: report.Schema,
		ServeProtocol: servers.Protocol, GoVersion: env.GoVersion, Libraries: env.Libraries}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-tags" {
				b.Tags = s.Value
			}
		}
	}
	return b
}

// ModuleVersions maps every dependency module of this binary to its version,
// from the build info the Go toolchain embeds.
func ModuleVersions() map[string]string {
	out := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	for _, d := range bi.Deps {
		out[d.Path] = moduleVersion(d)
	}
	return out
}

// moduleVersion is a dependency's version as a reader needs it: the
// version, the version it was replaced by, or, replaced by a directory
// (a checkout of the library, as an A/B run of a pull request builds),
// that directory.
func moduleVersion(d *debug.Module) string {
	r := d.Replace
	switch {
	case r == nil:
		return d.Version
	case r.Version == "" || r.Version == "(devel)":
		return "=> " + r.Path
	}
	return r.Version + " (replaced)"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// gitCommit asks git for the commit of the working tree, for `go run` builds
// that carry no VCS stamp; empty when git or a repository is absent.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

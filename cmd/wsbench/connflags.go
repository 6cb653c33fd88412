package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/secret"
	"github.com/wsbench/wsbench/runner"
)

// redacted stands for a header value wherever wsbench would otherwise
// print or store it.
const redacted = secret.Shown

// connOptions are the flags that shape every connection's upgrade request,
// whatever the scenario: what a real service asks of its clients. Header
// values are secrets (tokens, cookies): they reach the drivers and nothing
// else. No error, result file, report or progress line shows one.
type connOptions struct {
	headers      listFlag // --header 'Name: value', repeatable
	headerFiles  listFlag // --header-file FILE, repeatable
	subprotocols listFlag // --subprotocol NAME, repeatable
	origin       string
}

// register adds the connection flags to fs. Their Set never fails: the flag
// package would quote a refused value in its error, and a value may be a
// secret; apply checks them, naming headers by name only.
func (c *connOptions) register(fs *flag.FlagSet) {
	fs.Var(&c.headers, "header", "add the header `'Name: value'` to every upgrade request (repeatable); $VAR or ${VAR} in the value is read from the environment ($$ for a $); values never reach a file or the output")
	fs.Var(&c.headerFiles, "header-file", "add the headers in `FILE`, one 'Name: value' a line, # comments and blank lines skipped (repeatable); keeps tokens out of shell history")
	fs.Var(&c.subprotocols, "subprotocol", "offer the WebSocket subprotocol `NAME` (repeatable, in order of preference); a server that chooses none of them, or another, fails the connection")
	fs.StringVar(&c.origin, "origin", "", "send `URL` as the Origin header, as a browser would (e.g. https://app.example.com)")
}

// apply reads the connection flags into the plan and checks, before any
// connection opens, that the plan's driver can send them. Subprotocols are
// a --target's: the reference servers choose none, so every connection
// would fail.
func (c connOptions) apply(plan *runner.Plan, target bool) error {
	if len(c.subprotocols) > 0 && !target {
		return usagef("--subprotocol applies to a --target: the reference servers speak no subprotocol, so every connection would be refused")
	}
	h := http.Header{}
	for i, line := range c.headers {
		if err := addHeader(h, line, fmt.Sprintf("--header #%d", i+1)); err != nil {
			return err
		}
	}
	for _, file := range c.headerFiles {
		if err := readHeaderFile(h, file); err != nil {
			return err
		}
	}
	if c.origin != "" {
		if h.Get("Origin") != "" {
			return usagef("--origin and a header Origin: give it once")
		}
		if u, err := url.Parse(c.origin); err != nil || u.Scheme == "" || u.Host == "" {
			return usagef("--origin %q: want an origin such as https://app.example.com", c.origin)
		}
		h.Set("Origin", c.origin)
	}
	if err := drivers.CheckRequest(plan.Driver, h, c.subprotocols); err != nil {
		return usagef("%v", err)
	}
	if len(h) > 0 {
		plan.Header = h
	}
	for name, values := range h {
		if name != "Origin" { // a page's address, shown as given
			for _, v := range values {
				secrets(plan).Add(v)
			}
		}
	}
	plan.Subprotocols = c.subprotocols
	return nil
}

// secrets is the plan's set of secret values, made on first use.
func secrets(plan *runner.Plan) *secret.Set {
	if plan.Secrets == nil {
		plan.Secrets = &secret.Set{}
	}
	return plan.Secrets
}

// addHeader parses one 'Name: value' line into h, expanding $VAR in the
// value. where names the line in errors ("--header #2", "h.txt:3"); the
// line itself is never quoted, since it may hold a secret.
func addHeader(h http.Header, line, where string) error {
	name, value, ok := strings.Cut(line, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return usagef("%s: want 'Name: value'", where)
	}
	value, err := expandEnv(strings.TrimSpace(value))
	if err != nil {
		return usagef("%s: header %s: %v", where, http.CanonicalHeaderKey(name), err)
	}
	h.Add(name, value)
	return nil
}

// expandEnv replaces $VAR and ${VAR} with the environment's values; $$ is a
// dollar sign. An unset variable is an error naming it: an empty token sent
// to a service reads as a 401 far from its cause.
func expandEnv(s string) (string, error) {
	var missing []string
	out := os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, "$"+name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%s is not set in the environment", strings.Join(missing, ", "))
	}
	return out, nil
}

// readHeaderFile adds the headers of file to h: one 'Name: value' a line,
// blank lines and lines starting with # skipped. Errors name file:line.
func readHeaderFile(h http.Header, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return usagef("--header-file: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := addHeader(h, line, fmt.Sprintf("%s:%d", file, n)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return usagef("--header-file %s: %v", file, err)
	}
	return nil
}

// redactArgs is a command line as it may be stored and shown: every
// --header value replaced by [redacted], its name kept.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		flagName, value, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || flagName != "header" {
			continue
		}
		if inline {
			out[i] = a[:len(a)-len(value)] + redactHeader(value)
		} else if i+1 < len(out) {
			i++
			out[i] = redactHeader(out[i])
		}
	}
	return out
}

// redactHeader keeps the name of a 'Name: value' header and hides the value.
func redactHeader(h string) string {
	name, _, ok := strings.Cut(h, ":")
	if !ok {
		return redacted
	}
	return name + ": " + redacted
}

// requestRefusal explains a preflight dial the target refused for what the
// upgrade request carried, or lacked: an HTTP status instead of 101 (a wish
// for credentials is not a missing endpoint), or a subprotocol answer that
// was not one offered. Other errors give nil.
func requestRefusal(plan runner.Plan, err error) error {
	var hs *drivers.HandshakeStatusError
	var sp *drivers.SubprotocolError
	switch {
	case errors.As(err, &hs):
		return handshakeRefusal(plan.Target, hs.Status, plan)
	case errors.As(err, &sp):
		return usagef("target %s upgraded, but %v: give the subprotocol it speaks with --subprotocol", plan.Target, sp)
	}
	return nil
}

// handshakeRefusal explains a target's refused upgrade by its status.
func handshakeRefusal(target string, status int, plan runner.Plan) error {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		sent := "no credentials were sent: give them with --header 'Authorization: Bearer $TOKEN' or --header-file FILE"
		if len(plan.Header) > 0 {
			sent = "the headers sent (" + strings.Join(headerNames(plan.Header), ", ") + ") were not accepted"
		}
		return usagef("target %s answered HTTP %d %s (want 101 Switching Protocols): %s", target, status, http.StatusText(status), sent)
	}
	return usagef("target %s answered HTTP %d (want 101 Switching Protocols): a web server, but no WebSocket endpoint at this URL", target, status)
}

// headerNames lists h's names, sorted, for messages that must not show
// values.
func headerNames(h http.Header) []string {
	var names []string
	for k := range h {
		names = append(names, http.CanonicalHeaderKey(k))
	}
	slices.Sort(names)
	return names
}

package badclients

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/bytesize"
)

// Kind names one way of misbehaving; the names are the ones
// `--bad-clients` takes.
type Kind string

// The kinds of bad client.
const (
	NonReader      Kind = "non-reader"
	SlowReader     Kind = "slow-reader"
	Trickle        Kind = "trickle"
	StalledUpgrade Kind = "stalled-upgrade"
	IdleTCP        Kind = "idle-tcp"
	Oversize       Kind = "oversize"
	PingFlood      Kind = "ping-flood"
	DeflateBomb    Kind = "deflate-bomb"
	Vanish         Kind = "vanish"
)

// argKind is what a kind's optional ARG is.
type argKind int

const (
	argNone     argKind = iota
	argRate             // bytes per second, bytesize syntax with an optional "/s"
	argInterval         // time.ParseDuration
)

// kindInfo declares a kind once: its ARG, the ARG's default, and the
// sentences Help prints, so the parser and the help cannot disagree.
type kindInfo struct {
	kind     Kind
	arg      argKind
	def      string // the ARG's default, as the user would write it
	wire     string // what it does on the wire
	measured string // what tells how the server dealt with it
}

// kinds is the fixed table of kinds, in the order help lists them.
var kinds = []kindInfo{
	{NonReader, argNone, "",
		"completes the handshake, then never reads; its receive buffer is set small (SO_RCVBUF 4 KiB) so its TCP window closes after a few KiB and the server's writes to it block or queue",
		"when the server's FIN or RST reaches it, from its TCP state looked at every 100 ms (a FIN queued behind unread data is only found when the fleet stops: counted as seen at the end, without a time)"},
	{SlowReader, argRate, "1KiB/s",
		"completes the handshake, then reads at most ARG bytes per second (in 100 ms steps)",
		"when the server's close frame (its code), FIN or RST arrives"},
	{Trickle, argInterval, "1s",
		"completes the handshake, then sends valid masked 16-byte binary messages (an echo server answers them) one byte per ARG, one message after another",
		"messages echoed back; when the server closes or resets"},
	{StalledUpgrade, argNone, "",
		"sends the first lines of an HTTP upgrade request (no blank line ending it) and nothing more",
		"when the server gives up (its handshake timeout): EOF or reset"},
	{IdleTCP, argNone, "",
		"opens a TCP connection and sends nothing",
		"when the server gives up (its handshake or idle timeout): EOF or reset"},
	{Oversize, argInterval, "1s",
		"completes the handshake, announces a binary frame of 2^63-1 bytes, then sends its payload one byte per ARG",
		"the close code (1009 from a server with a read limit) or reset, and how fast"},
	{PingFlood, argNone, "",
		"completes the handshake, then writes empty pings as fast as the socket takes them and reads nothing",
		"pings sent; when the server closes or resets"},
	{DeflateBomb, argNone, "",
		"negotiates permessage-deflate and sends one message of about 1 MiB that inflates to just over 1 GiB (deflate cannot compress beyond about 1032:1); needs --compression",
		"the close code (1009 from a server with a read limit) or reset, and how fast"},
	{Vanish, argNone, "",
		"would disappear without FIN or RST, its link taken down in a network namespace of its own",
		"refused, with the reason: a client in another network namespace cannot reach a server on 127.0.0.1, and without namespaces there is no link to take down"},
}

func lookup(k Kind) (kindInfo, bool) {
	for _, ki := range kinds {
		if ki.kind == k {
			return ki, true
		}
	}
	return kindInfo{}, false
}

// Kinds lists every kind name, in help order.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, ki := range kinds {
		out[i] = ki.kind
	}
	return out
}

func kindList() string {
	names := make([]string, len(kinds))
	for i, ki := range kinds {
		names[i] = string(ki.kind)
	}
	return strings.Join(names, ", ")
}

// Entry is one kind of bad client in a spec, with its count resolved.
type Entry struct {
	// Kind is how these clients misbehave.
	Kind Kind `json:"kind"`
	// Count is how many of them the fleet starts.
	Count int `json:"count"`
	// Percent is the share of the good connections the user asked for, or
	// 0 when they gave a count.
	Percent float64 `json:"percent,omitempty"`
	// Rate is a slow-reader's bytes per second.
	Rate int64 `json:"rate,omitempty"`
	// Interval is the time between two bytes of a trickle or oversize
	// client.
	Interval time.Duration `json:"interval,omitempty"`
}

// Arg is the entry's ARG in canonical form ("" for a kind without one).
func (e Entry) Arg() string {
	ki, _ := lookup(e.Kind)
	switch ki.arg {
	case argRate:
		return bytesize.Format(e.Rate) + "/s"
	case argInterval:
		return e.Interval.String()
	}
	return ""
}

// String is the entry as `--bad-clients` reads it back, with the resolved
// count and the ARG always written out.
func (e Entry) String() string {
	s := string(e.Kind) + "=" + strconv.Itoa(e.Count)
	if a := e.Arg(); a != "" {
		s += ":" + a
	}
	return s
}

// Spec is the parsed `--bad-clients` value: at most one entry per kind, in
// the order given. The zero Spec has no bad clients (a clean cell).
type Spec struct {
	Entries []Entry `json:"entries,omitempty"`
}

// Total is the number of bad clients of every kind.
func (s Spec) Total() int {
	n := 0
	for _, e := range s.Entries {
		n += e.Count
	}
	return n
}

// String is the spec in canonical form, which Parse reads back to the same
// spec; "none" for a clean cell (the label its records carry).
func (s Spec) String() string {
	if len(s.Entries) == 0 {
		return "none"
	}
	parts := make([]string, len(s.Entries))
	for i, e := range s.Entries {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// maxCount bounds one entry: a count beyond it is a typo, not a test the
// generator could hold open.
const maxCount = 1_000_000

// ErrHelp is returned by Parse for the spec "help": the caller prints Help.
var ErrHelp = errors.New("badclients: help requested")

// Parse reads a `--bad-clients` value, KIND=COUNT|PERCENT[:ARG],... . A
// percentage is of goodConns, rounded to the nearest whole client (halves
// up) and never below 1: 1% of 1000 is 10, 0.01% of 1000 is 1. "" and
// "none" mean no bad clients. compression says whether the run negotiates
// permessage-deflate, which deflate-bomb needs. Every error names the
// entry it is about.
func Parse(spec string, goodConns int, compression bool) (Spec, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return Spec{}, nil
	}
	if spec == "help" {
		return Spec{}, ErrHelp
	}
	var out Spec
	seen := map[Kind]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		e, err := parseEntry(item, goodConns, compression)
		if err != nil {
			return Spec{}, fmt.Errorf("--bad-clients %q: %w", item, err)
		}
		if seen[e.Kind] {
			return Spec{}, fmt.Errorf("--bad-clients %q: %s given twice", item, e.Kind)
		}
		seen[e.Kind] = true
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

func parseEntry(item string, goodConns int, compression bool) (Entry, error) {
	name, rest, ok := strings.Cut(item, "=")
	if !ok || name == "" {
		return Entry{}, errors.New("want KIND=COUNT|PERCENT[:ARG], e.g. non-reader=1% or slow-reader=20:1KiB/s")
	}
	ki, ok := lookup(Kind(strings.TrimSpace(name)))
	if !ok {
		return Entry{}, fmt.Errorf("unknown kind %q; kinds: %s", name, kindList())
	}
	e := Entry{Kind: ki.kind}
	count, arg, hasArg := strings.Cut(rest, ":")
	if err := e.setCount(strings.TrimSpace(count), goodConns); err != nil {
		return Entry{}, err
	}
	if hasArg && ki.arg == argNone {
		return Entry{}, fmt.Errorf("%s takes no ARG (got %q)", ki.kind, arg)
	}
	if !hasArg {
		arg = ki.def
	}
	switch ki.arg {
	case argRate:
		n, err := bytesize.Parse(strings.TrimSuffix(strings.TrimSpace(arg), "/s"))
		if err != nil || n <= 0 {
			return Entry{}, fmt.Errorf("%s rate %q: want bytes per second above 0, such as 1KiB/s or 512/s", ki.kind, arg)
		}
		e.Rate = n
	case argInterval:
		d, err := time.ParseDuration(strings.TrimSpace(arg))
		if err != nil || d <= 0 {
			return Entry{}, fmt.Errorf("%s interval %q: want a duration above 0, such as 1s or 200ms", ki.kind, arg)
		}
		e.Interval = d
	}
	switch ki.kind {
	case DeflateBomb:
		if !compression {
			return Entry{}, errors.New("deflate-bomb needs compression on (--compression): without permessage-deflate there is nothing to inflate")
		}
	case Vanish:
		return Entry{}, VanishSupport()
	}
	return e, nil
}

// setCount reads COUNT or PERCENT% into e.
func (e *Entry) setCount(s string, goodConns int) error {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(pct) || pct <= 0 || pct > 1000 {
			return fmt.Errorf("percentage %q: want a number above 0 and at most 1000, such as 1%% or 0.5%%", s)
		}
		if goodConns <= 0 {
			return fmt.Errorf("percentage %q: a share of the good connections needs some (got %d); give a count instead", s, goodConns)
		}
		e.Percent = pct
		e.Count = max(1, int(math.Floor(pct*float64(goodConns)/100+0.5)))
	} else {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("count %q: want a whole number above 0 or a percentage such as 1%%", s)
		}
		e.Count = n
	}
	if e.Count > maxCount {
		return fmt.Errorf("count %d: at most %d bad clients of one kind", e.Count, maxCount)
	}
	return nil
}

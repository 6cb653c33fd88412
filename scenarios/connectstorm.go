package scenarios

import (
	"context"
	"errors"
	"time"

	"github.com/wsbench/wsbench/profile"
)

func init() { Register(connectStorm{}) }

// connectStorm measures connection setup and teardown: the runner opens the
// connections (at --connect-rate, or as fast as its dialers go), recording
// every handshake, then closes them all with a close handshake. The connect
// phase is the measured window; nothing else is sent.
type connectStorm struct{}

func (connectStorm) Name() string { return "connect" }
func (connectStorm) Description() string {
	return "connect storm: open --conns at --connect-rate, handshake latency, failures by class, clean closes"
}
func (connectStorm) Path() string                           { return "/echo" }
func (connectStorm) Mode(Params) string                     { return "connect" }
func (connectStorm) Validate(Params) error                  { return nil }
func (connectStorm) Measures() Measured                     { return Connecting }
func (connectStorm) ServerIdleTimeout(Params) time.Duration { return 0 }

// Profile: connections per second and the handshake, from each dial's
// scheduled time; the close handshakes are part of the work.
func (connectStorm) Profile() profile.Profile {
	return profile.Profile{
		Scenario:   "connect",
		Title:      "connect · {conns} conns {connect_pace}, then closed",
		Throughput: profile.Throughput{Label: "conns/s", Source: "connections"},
		Latency:    profile.Latency{Source: "handshake", Prefix: "handshake ", What: "handshake time"},
		Columns: []profile.Column{{Key: "established", Secondary: true}, {Key: "failed"}, {Key: "throughput"}, {Key: "latency"},
			{Key: "clean_closes"}, {Key: "abrupt_closes"}, {Key: "close_time", Secondary: true}, {Key: "errors"}},
		// The handshake from its scheduled time: as fast as possible,
		// 64 dials in flight make it the inverse of conns/s; at a
		// --connect-rate every server keeps up with, it is the queueing.
		Rank:               []string{"handshake_p99"},
		AbruptClosesMatter: true,
		Noun:               "sent",
		Unit:               "messages",
	}
}

func (connectStorm) Run(context.Context, *Env) (*Outcome, error) {
	return nil, errors.New("connect: the runner measures this scenario itself")
}

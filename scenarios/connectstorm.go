package scenarios

import (
	"context"
	"errors"

	"github.com/wsbench/wsbench/servers"
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
func (connectStorm) Path() string                                                 { return "/echo" }
func (connectStorm) Mode(Params) string                                           { return "connect" }
func (connectStorm) Validate(Params) error                                        { return nil }
func (connectStorm) ServerSettings(_ Params, s servers.Settings) servers.Settings { return s }
func (connectStorm) ConnectOnly() bool                                            { return true }

func (connectStorm) Run(context.Context, *Env) (*Outcome, error) {
	return nil, errors.New("connect: the runner measures this scenario itself")
}

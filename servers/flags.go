package servers

import (
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/wsbench/wsbench/internal/bytesize"
)

// ServeConfig is what the `wsbench serve` command line says: which server,
// where, with which settings. RegisterFlags fills it; Args writes it back,
// so the runner and the serve command cannot disagree on a flag.
type ServeConfig struct {
	Name   string
	Listen string
	// AllowRemote lets Listen be an address beyond loopback; /stats is
	// then read-only (no forced GC) and answers at most statsRemoteRate
	// requests a second.
	AllowRemote bool
	// ReusePort shares the port with other server processes (SO_REUSEPORT).
	ReusePort bool
	Settings  Settings
}

// RegisterFlags defines the serve flags on fs, with DefaultSettings as
// defaults; after fs.Parse, c holds the values and Check validates them.
func (c *ServeConfig) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultSettings()
	c.Settings = d
	fs.StringVar(&c.Name, "server", "", "reference server to run")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:0", "address to listen on (loopback unless --allow-remote)")
	fs.BoolVar(&c.ReusePort, "reuse-port", false, "share --listen's port with other wsbench serve processes (SO_REUSEPORT, Linux): together they hold more connections than one process's open-file limit allows")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow --listen beyond loopback (load generators on other machines); /stats is then read-only and rate-limited")
	bytesize.Var(fs, &c.Settings.ReadLimit, "read-limit", "largest message accepted, a size such as 1MiB (0: no limit)")
	bytesize.Var(fs, &c.Settings.ReadBufferSize, "read-buffer", "per-connection read buffer, a size such as 4KiB, where the library allows")
	bytesize.Var(fs, &c.Settings.WriteBufferSize, "write-buffer", "per-connection write buffer, a size such as 4KiB, where the library allows")
	fs.DurationVar(&c.Settings.HandshakeTimeout, "handshake-timeout", d.HandshakeTimeout, "time allowed to read the upgrade request")
	fs.DurationVar(&c.Settings.WriteTimeout, "write-timeout", d.WriteTimeout, "drop a client that takes no bytes of a message for this long (0: never)")
	fs.DurationVar(&c.Settings.IdleTimeout, "idle-timeout", d.IdleTimeout, "close a connection that sends nothing, not even a ping, for this long (0: never)")
	fs.BoolVar(&c.Settings.Compression, "compression", d.Compression, "accept permessage-deflate (no context takeover) when a client offers it")
	fs.IntVar(&c.Settings.CompressionLevel, "compression-level", d.CompressionLevel, "flate level 1 (fastest) to 9 (smallest), where the library allows")
	fs.IntVar(&c.Settings.BroadcastQueue, "broadcast-queue", d.BroadcastQueue, "messages a /broadcast subscriber may have queued before it is a slow consumer")
	fs.StringVar(&c.Settings.SlowConsumer, "slow-consumer", d.SlowConsumer, "what to do with a slow /broadcast subscriber: drop (skip messages) or disconnect (1008)")
	fs.IntVar(&c.Settings.GOMAXPROCS, "gomaxprocs", d.GOMAXPROCS, "runtime.GOMAXPROCS of the server process (0: Go's default)")
	fs.IntVar(&c.Settings.GOGC, "gogc", d.GOGC, "GC target percentage of the server process (negative: GC off)")
	bytesize.Var(fs, &c.Settings.GOMEMLIMIT, "gomemlimit", "soft memory limit of the server process, a size such as 1GiB (0: none)")
}

// Check validates the parsed values, naming the flag at fault.
func (c *ServeConfig) Check() error {
	if !c.AllowRemote && !loopbackListen(c.Listen) {
		return fmt.Errorf("--listen %s is beyond loopback: add --allow-remote to serve other machines", c.Listen)
	}
	return c.Settings.check()
}

// loopbackListen reports whether a listen address stays on this machine
// (127.0.0.0/8, ::1, localhost).
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Args is the command line that RegisterFlags reads back as c.
func (c ServeConfig) Args() []string {
	s := c.Settings
	return []string{
		"--server", c.Name,
		"--listen", c.Listen,
		"--allow-remote=" + strconv.FormatBool(c.AllowRemote),
		"--read-limit", strconv.FormatInt(s.ReadLimit, 10),
		"--read-buffer", strconv.Itoa(s.ReadBufferSize),
		"--write-buffer", strconv.Itoa(s.WriteBufferSize),
		"--handshake-timeout", s.HandshakeTimeout.String(),
		"--write-timeout", s.WriteTimeout.String(),
		"--idle-timeout", s.IdleTimeout.String(),
		"--compression=" + strconv.FormatBool(s.Compression),
		"--compression-level", strconv.Itoa(s.CompressionLevel),
		"--broadcast-queue", strconv.Itoa(s.BroadcastQueue),
		"--slow-consumer", s.SlowConsumer,
		"--gomaxprocs", strconv.Itoa(s.GOMAXPROCS),
		"--gogc", strconv.Itoa(s.GOGC),
		"--gomemlimit", strconv.FormatInt(s.GOMEMLIMIT, 10),
	}
}

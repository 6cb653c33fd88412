package runner

import (
	"context"
	"net/url"
	"time"

	"github.com/wsbench/wsbench/servers"
)

// remoteStats reads the /stats of a --target that is a `wsbench serve` (on
// this machine or another): its own CPU seconds and RSS fill the server
// columns a --target otherwise leaves unknown. It reports false for any
// other target.
func (c *cellRun) remoteStats() (servers.Stats, bool) {
	if c.plan.Target == "" || c.remote == "" {
		return servers.Stats{}, false
	}
	ctx, cancel := context.WithTimeout(c.ctx, time.Second)
	defer cancel()
	st, err := servers.FetchStats(ctx, c.remote, false)
	return st, err == nil && st.Server != ""
}

// probeRemote finds out whether the target answers /stats as a `wsbench
// serve` does, and measures the clock skew between the two machines: the
// server's time against the midpoint of the request.
func (c *cellRun) probeRemote() {
	u, err := url.Parse(c.plan.Target)
	if err != nil || u.Scheme != "ws" {
		return
	}
	c.remote = u.Host
	before := time.Now()
	st, ok := c.remoteStats()
	after := time.Now()
	if !ok {
		c.remote = ""
		return
	}
	skew := st.Time.Sub(before.Add(after.Sub(before) / 2)).Seconds()
	c.rec.ServerClockSkewS = &skew
	c.rec.RemoteServer = st.Server
	c.rec.ServerStats = toReportStats(st)
}

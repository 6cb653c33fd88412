// Package report owns the result schema (versioned JSON carrying every
// histogram losslessly), saving and loading result files, and the renderers
// that turn results into tables, markdown, CSV and JSON. Renderers only
// render: every number they show is already in the result.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wsbench/wsbench/measure"
)

// Schema identifies the version of the result format.
const Schema = "wsbench/v1"

// Record statuses.
const (
	StatusOK          = "ok"
	StatusDegraded    = "degraded"    // measured, with faults within the bounds of verdict.go; Reason lists them
	StatusFailed      = "failed"      // the cell could not be measured; Reason says why
	StatusInterrupted = "interrupted" // stopped early (Ctrl-C); numbers cover what ran
)

// Result is the content of one result file: one invocation of wsbench run.
type Result struct {
	// Schema is always "wsbench/v1" for this format.
	Schema string `json:"schema"`
	// CreatedAt is when the run started.
	CreatedAt time.Time `json:"created_at"`
	// Command is the command line that produced the file.
	Command []string `json:"command"`
	// Environment describes the machine and the software measured.
	Environment Environment `json:"environment"`
	// ServerSettings are the fairness settings every reference server was
	// given (absent for --target runs).
	ServerSettings map[string]any `json:"server_settings,omitempty"`
	// ServerExceptions lists, per server, the settings its library could not apply.
	ServerExceptions map[string][]string `json:"server_exceptions,omitempty"`
	// Pinning says which CPUs the servers and the load generator were
	// confined to, and their GOMAXPROCS (absent when not pinned).
	Pinning *Pinning `json:"pinning,omitempty"`
	// Records holds one record per (scenario, server, driver, conns, payload, run).
	Records []Record `json:"records"`
	// MemorySlopes fits server memory against the connection count for
	// every server measured at several counts (see Slopes).
	MemorySlopes []MemorySlope `json:"memory_slopes,omitempty"`
}

// Environment is recorded with every result so figures can be traced to the
// machine and the library versions that produced them.
type Environment struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUModel   string `json:"cpu_model"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Kernel     string `json:"kernel"`
	// OpenFileLimit is the load generator's RLIMIT_NOFILE, which caps the
	// connections one process can hold.
	OpenFileLimit uint64 `json:"open_file_limit"`
	// Libraries maps each WebSocket library module to its version, read
	// from the binary's build info.
	Libraries map[string]string `json:"libraries"`
	// WsbenchVersion and WsbenchCommit identify wsbench itself when known.
	WsbenchVersion string `json:"wsbench_version,omitempty"`
	WsbenchCommit  string `json:"wsbench_commit,omitempty"`
	// Variants are the builds an A/B run (--ab) started its servers from,
	// in the order given: the first is the base the others are judged
	// against. Each says what its binary reported of itself.
	Variants []Variant `json:"variants,omitempty"`
}

// Variant is one side of an A/B run: a wsbench binary (or one setting of
// it) whose `serve` runs the reference servers.
type Variant struct {
	Name   string `json:"name"`
	Binary string `json:"binary"`
	// Args are extra `serve` arguments (--gogc=400), after the runner's own.
	Args  []string  `json:"args,omitempty"`
	Build BuildInfo `json:"build"`
}

// BuildInfo is what `wsbench version --json` prints: which wsbench, which
// result schema and serve protocol it speaks, and the library versions it
// was built with. Two binaries can share an A/B run only when their Schema
// and ServeProtocol agree.
type BuildInfo struct {
	WsbenchVersion string `json:"wsbench_version"`
	WsbenchCommit  string `json:"wsbench_commit,omitempty"`
	Schema         string `json:"schema"`
	ServeProtocol  string `json:"serve_protocol"`
	GoVersion      string `json:"go_version"`
	// Tags are the build tags (-tags) the binary was built with.
	Tags string `json:"tags,omitempty"`
	// Libraries maps each WebSocket library module to its version.
	Libraries map[string]string `json:"libraries"`
}

// Record is the outcome of one cell of the matrix: one scenario against one
// server with one driver and one set of parameters, one run. Server-side
// fields are pointers: null means unknown (an external --target), never 0.
type Record struct {
	Scenario string `json:"scenario"`
	// Mode is "closed-loop" (each connection waits for its reply before
	// sending again, so latency and throughput are tied by Little's law).
	Mode   string `json:"mode"`
	Server string `json:"server"`
	// Variant names the build whose `serve` ran the server in an A/B run
	// (--ab NAME=BINARY): one of Environment.Variants.
	Variant string `json:"variant,omitempty"`
	// Target is the URL measured when it is an external server.
	Target       string `json:"target,omitempty"`
	Driver       string `json:"driver"`
	Conns        int    `json:"conns"`
	PayloadBytes int    `json:"payload_bytes"`
	Text         bool   `json:"text"`
	// Run numbers repeated runs of the same cell from 1.
	Run int `json:"run"`
	// File names the result file a record was read from when several are
	// shown together (set by Combine; empty in a file as written).
	File   string `json:"file,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`

	StartedAt time.Time `json:"started_at"`
	WarmupS   float64   `json:"warmup_s"`
	// DurationS is the length of the measured window in seconds.
	DurationS float64 `json:"duration_s"`
	// Messages is the number of round trips (deliveries, pongs) completed
	// inside the measured window: what msgs/s counts.
	Messages uint64 `json:"messages"`
	// DrainMessages completed after the window ended, while replies in
	// flight were awaited: kept apart, never added to throughput.
	DrainMessages      uint64  `json:"drain_messages"`
	ThroughputMsgsPerS float64 `json:"throughput_msgs_per_s"`
	// ThroughputBytesPerS is message bytes per second in one direction
	// (messages/s × payload); the echo carries as much again back.
	ThroughputBytesPerS float64 `json:"throughput_bytes_per_s"`

	// Errors counts failures by class: dial_refused, dial_timeout,
	// dial_handshake_status, dial_tls, dial_other, read, write, ...
	Errors map[string]uint64 `json:"errors"`
	// Integrity counts lost, duplicated, reordered and corrupt messages.
	Integrity measure.Integrity `json:"integrity"`

	// Latency is the round-trip time of each message in the measured
	// window; in open loop measured from when the message was due on its
	// schedule (coordinated-omission corrected, as wrk2 does).
	Latency Latency `json:"latency_us"`
	// LatencyLowerBounds counts values in Latency that are lower bounds:
	// messages due in the window that were never sent or never answered,
	// and pings whose pong never came, recorded at the age they had when
	// the cell stopped waiting for them (see Accounting.GaveUpAfterS, and
	// the pong timeout for pings). With any, the percentiles above them are
	// lower bounds too.
	LatencyLowerBounds uint64 `json:"latency_lower_bounds"`
	// Accounting says what became of every message due in the window.
	Accounting *Accounting `json:"accounting,omitempty"`
	// ServiceTime is, in open loop, from when each message actually left
	// to its reply: the uncorrected figure, kept for comparison.
	ServiceTime *Latency `json:"service_time_us,omitempty"`
	// Figures and Distributions are a scenario's own numbers and latency
	// distributions beyond the common fields, by the names its profile
	// declares (columns "figure.NAME" and "dist.NAME"), so a new scenario
	// needs no new field here.
	Figures       map[string]float64 `json:"figures,omitempty"`
	Distributions map[string]Latency `json:"distributions,omitempty"`
	// Labels are a scenario's own parameters ("backoff"), Timeline its
	// counts over time (with the server's CPU and RSS added by the runner).
	Labels   map[string]string `json:"labels,omitempty"`
	Timeline *measure.Timeline `json:"timeline,omitempty"`
	// CloseCodes counts the close frames the server sent before the close
	// phase, by code ("1001"), in every scenario.
	CloseCodes map[string]uint64 `json:"close_codes,omitempty"`
	// Fault is what the runner did to the server in the window (--fault).
	Fault *Fault `json:"fault,omitempty"`
	// RemoteServer names the `wsbench serve` a --target turned out to be:
	// its own /stats then filled the server CPU and RSS columns, and
	// ServerClockSkewS is its clock minus this machine's.
	RemoteServer     string   `json:"remote_server,omitempty"`
	ServerClockSkewS *float64 `json:"server_clock_skew_s,omitempty"`
	// Shard says this record is shard index of count (--shard); Merge
	// adds the shards of a cell into one record without it, and says so
	// in Merged.
	Shard  *Shard  `json:"shard,omitempty"`
	Merged *Merged `json:"merged,omitempty"`
	// OpenLoop holds the schedule figures of an open-loop echo.
	OpenLoop *OpenLoop `json:"open_loop,omitempty"`
	// Compression is set when permessage-deflate was offered: whether the
	// handshakes accepted it.
	Compression *Compression `json:"compression,omitempty"`
	// Request is set when the upgrade requests carried the user's headers
	// or offered subprotocols (--header, --origin, --subprotocol).
	Request *Request `json:"request,omitempty"`
	// BadClients is set in a run with --bad-clients: Spec "none" on the
	// clean cell of each pair, the misbehaving clients' fates on the bad
	// one. The headline figures are the good clients' either way.
	BadClients *BadClients `json:"bad_clients,omitempty"`
	// Handshake is TCP connect + (TLS) + HTTP upgrade time per connection.
	// With --connect-rate it runs from when the connection was due on the
	// rate's schedule, so a server (or dialer pool) that falls behind shows
	// its queueing; HandshakeService is then from when the dial began.
	Handshake        Latency  `json:"handshake_us"`
	HandshakeService *Latency `json:"handshake_service_us,omitempty"`
	Connect          Connect  `json:"connect"`
	Close            Close    `json:"close"`

	// ServerCPUS is the server process's CPU time over the measured window.
	ServerCPUS *float64 `json:"server_cpu_s"`
	// ServerCPUPerMillion is server CPU seconds per million messages.
	ServerCPUPerMillion *float64 `json:"server_cpu_s_per_million_msgs"`
	// ServerRSSPeakBytes and ServerRSSMeanBytes cover the measured window,
	// sampled from /proc every ServerSampleIntervalMs.
	ServerRSSPeakBytes *uint64 `json:"server_rss_peak_bytes"`
	ServerRSSMeanBytes *uint64 `json:"server_rss_mean_bytes"`
	// ServerRSSIdleBytes is RSS before any connection, ServerRSSConnected
	// after all connections are open and before any message.
	ServerRSSIdleBytes      *uint64 `json:"server_rss_idle_bytes"`
	ServerRSSConnectedBytes *uint64 `json:"server_rss_connected_bytes"`
	// ServerMemPerConnBytes is (connected RSS − idle RSS) / conns: a plain
	// division, labelled by ServerMemPerConnMethod.
	ServerMemPerConnBytes  *float64 `json:"server_mem_per_conn_bytes"`
	ServerMemPerConnMethod string   `json:"server_mem_per_conn_method,omitempty"`
	ServerSamples          int      `json:"server_samples"`
	ServerSampleIntervalMs int      `json:"server_sample_interval_ms,omitempty"`
	// ServerStats is the server's own view after connecting (after a forced GC).
	ServerStats *ServerStats `json:"server_stats,omitempty"`
	// ServerStatsEnd is the server's view after the drain: its broadcast
	// and idle-timeout counters cover the whole cell.
	ServerStatsEnd *ServerStats `json:"server_stats_end,omitempty"`

	// Steady-state cost per connection: the difference between a snapshot
	// taken right after the measured window and one taken before the first
	// connection (both after a forced GC), divided by the connections.
	ServerHeapPerConnBytes  *float64 `json:"server_heap_per_conn_bytes"`
	ServerGoroutinesPerConn *float64 `json:"server_goroutines_per_conn"`
	ClientMemPerConnBytes   float64  `json:"client_mem_per_conn_bytes"`
	ClientHeapPerConnBytes  float64  `json:"client_heap_per_conn_bytes"`
	ServerRSSPerConnSteady  *float64 `json:"server_rss_per_conn_steady_bytes"`
	// ServerRSSSteadyBytes and ServerHeapSteadyBytes are the absolute
	// figures of that snapshot: the points of the memory slope.
	ServerRSSSteadyBytes  *uint64 `json:"server_rss_steady_bytes"`
	ServerHeapSteadyBytes *uint64 `json:"server_heap_steady_bytes"`

	// SLO is set on the steps of a capacity search.
	SLO *SLOCheck `json:"slo,omitempty"`
	// Client is the load generator's self-check over the measured window.
	Client *ClientGuard `json:"client,omitempty"`
	// Series is the measured window second by second.
	Series []Second `json:"series,omitempty"`

	// Broadcast holds the fan-out figures of a broadcast cell.
	Broadcast *Broadcast `json:"broadcast,omitempty"`
	// Heartbeat holds the ping/pong figures of a heartbeat cell.
	Heartbeat *Heartbeat `json:"heartbeat,omitempty"`

	// ClientCPUS is the load generator's CPU time over the measured window;
	// ClientCPUUtil is that as a fraction of all cores (1 = every core busy).
	// In a merged record ClientCPUS is every shard's generators' sum and
	// ClientCPUUtil the busiest one's (each is in Merged.Clients).
	ClientCPUS    float64 `json:"client_cpu_s"`
	ClientCPUUtil float64 `json:"client_cpu_util"`
	// ClientCPUPerMillion is load-generator CPU seconds per million
	// messages: what the driver costs, comparable across drivers.
	ClientCPUPerMillion float64 `json:"client_cpu_s_per_million_msgs"`
}

// SLOCheck is one step of a capacity search judged against its objective.
type SLOCheck struct {
	Objective string  `json:"objective"`
	Rate      float64 `json:"rate"`
	LimitUs   int64   `json:"limit_us"`
	ValueUs   int64   `json:"value_us"`
	Pass      bool    `json:"pass"`
	// Reason says why a step did not pass.
	Reason string `json:"reason,omitempty"`
}

// TargetRate is the rate the record was asked to run at: open-loop sends or
// broadcast publishes per second (0 for a closed loop).
func (r Record) TargetRate() float64 {
	switch {
	case r.OpenLoop != nil:
		return r.OpenLoop.TargetRate
	case r.Broadcast != nil:
		return r.Broadcast.TargetRate
	}
	return 0
}

// AchievedRate is the rate the record actually ran at.
func (r Record) AchievedRate() float64 {
	switch {
	case r.OpenLoop != nil:
		return r.OpenLoop.AchievedRate
	case r.Broadcast != nil:
		return r.Broadcast.AchievedRate
	}
	return r.ThroughputMsgsPerS
}

// Pinning records how the processes were placed on CPUs.
type Pinning struct {
	ServerCPUs       string `json:"server_cpus"`
	ClientCPUs       string `json:"client_cpus"`
	ServerGOMAXPROCS int    `json:"server_gomaxprocs"`
	ClientGOMAXPROCS int    `json:"client_gomaxprocs"`
}

// Second is one second of the measured window.
type Second struct {
	// T is seconds since the measured window began, at the end of this second.
	T float64 `json:"t"`
	// Messages completed in this second (whichever phase they were sent
	// in), and their rate.
	Messages uint64  `json:"messages"`
	MsgsPerS float64 `json:"msgs_per_s"`
	// P99Us is the p99 of the latencies taken in this second (by the time
	// their reply came), read from a two-significant-digit histogram;
	// Latencies is how many there were.
	P99Us      int64  `json:"p99_us"`
	Latencies  uint64 `json:"latencies"`
	BrokenConn int    `json:"broken_conns"`
	// Server figures (null for a --target): RSS now, CPU used this second
	// as a fraction of one core.
	ServerRSSBytes *uint64  `json:"server_rss_bytes"`
	ServerCPUUtil  *float64 `json:"server_cpu_util"`
}

// ClientGuard is the load generator watching itself, so a run in which it,
// not the server, was the bottleneck is flagged rather than published.
type ClientGuard struct {
	// CPUs is how many CPUs the generator could run on; CPUUtil its CPU
	// time over the window as a fraction of those.
	CPUs    int     `json:"cpus"`
	CPUUtil float64 `json:"cpu_util"`
	// GCPauseS is the generator's stop-the-world GC pause total in the window.
	GCPauseS float64 `json:"gc_pause_s"`
	// SchedDelay is how late a 1 ms timer in the generator woke up.
	SchedDelay Latency `json:"sched_delay_us"`
	// Bound is set when the generator was saturated; Reasons say how.
	Bound   bool     `json:"client_bound"`
	Reasons []string `json:"reasons,omitempty"`
}

// Connect summarises the connect phase.
type Connect struct {
	Attempted   int     `json:"attempted"`
	Established int     `json:"established"`
	Failed      int     `json:"failed"`
	DurationS   float64 `json:"duration_s"`
	// RatePerS is established connections per second of the connect phase;
	// TargetRatePerS the --connect-rate asked for (0: as fast as possible).
	RatePerS       float64 `json:"rate_per_s"`
	TargetRatePerS float64 `json:"target_rate_per_s"`
	// CloseDurationS is how long closing every connection took.
	CloseDurationS float64 `json:"close_duration_s"`
}

// The sections a scenario fills are measure's: the report stores them as
// they are.
type (
	Accounting = measure.Accounting
	OpenLoop   = measure.OpenLoop
	Broadcast  = measure.Broadcast
	Heartbeat  = measure.Heartbeat
)

// BehindThreshold is how late a send may leave before it counts as behind
// schedule.
const BehindThreshold = measure.BehindThreshold

// Shard is one load generator's place among identical ones.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// StartAt is the instant every shard opened its measured window at
	// (--start-at); LateS how late this shard was for it (0: on time).
	StartAt time.Time `json:"start_at,omitzero"`
	LateS   float64   `json:"late_s,omitempty"`
	// OpenedAt is when this shard's measured window opened, by its clock.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// Cell names the cell of the plan this shard measured, the same on
	// every shard whatever became of it, so Merge finds a failed shard's
	// record (which lacks what only a measured cell fills in) among its
	// cell's and does not call it missing.
	Cell string `json:"cell,omitempty"`
}

// Merged says a record was added up from shards by Merge.
type Merged struct {
	Shards int `json:"shards"`
	// OpenedAt is when the first shard's window opened, by its clock:
	// the merged series and timeline count from it.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// Late lists the shards that opened their window after --start-at
	// ("shard 2 by 0.310s"); LateS is the latest of them.
	Late  []string `json:"late,omitempty"`
	LateS float64  `json:"late_s,omitempty"`
	// Dropped names what could not be merged exactly ("figure.x",
	// "timeline.handshake_p99_ms"): left out of the record rather than
	// taken from one shard.
	Dropped []string `json:"dropped,omitempty"`
	// Clients are the shards' load generators, by shard index: the merged
	// record's client CPU seconds, heap per connection and scheduling
	// delays add them up, but a share of CPUs does not add across
	// machines, so each one's is kept here (the record's client CPU
	// utilisation is the busiest one's).
	Clients []ShardClient `json:"clients,omitempty"`
}

// ShardClient is one shard's load generator, as its record measured it.
type ShardClient struct {
	Index int `json:"index"`
	// CPUs is how many CPUs it could run on, CPUUtil its CPU time over
	// the window as a fraction of those, CPUS that time in seconds.
	CPUs    int     `json:"cpus"`
	CPUUtil float64 `json:"cpu_util"`
	CPUS    float64 `json:"cpu_s"`
	// SchedP99Us is its scheduling delay p99 (0: not measured).
	SchedP99Us       int64   `json:"sched_delay_p99_us,omitempty"`
	HeapPerConnBytes float64 `json:"heap_per_conn_bytes"`
	// Bound is set when it limited its share, Rules the client-bound
	// rules that held for it (judged against its own latency).
	Bound bool        `json:"client_bound,omitempty"`
	Rules []BoundRule `json:"rules,omitempty"`
}

// Fault is what the runner did to the server: when, for how long, and
// how the server came back.
type Fault struct {
	Kind string `json:"kind"`
	// AtS is when the runner acted, in seconds after the window opened;
	// PlanAtS when it was asked to (--fault-at): titles show the plan, so
	// the servers of one run, each a few ms late by the clock, share one
	// table. ForS is how long the server was meant to stay down or frozen;
	// 0 for a user's command, which decides that itself (DownS is what it
	// took).
	AtS     float64 `json:"at_s"`
	PlanAtS float64 `json:"plan_at_s,omitempty"`
	ForS    float64 `json:"for_s"`
	// DownS is from the action until the server (started again or
	// resumed) was ready, or until the user's command returned; 0 when it
	// never was (a command killed at its bound included).
	DownS float64 `json:"down_s,omitempty"`
	// Cmd, CmdExit and CmdOutput are the user's command (--fault-cmd),
	// its exit code and the end of its output; CmdTimeoutS the bound
	// after which its process group is killed (--fault-cmd-timeout).
	Cmd         string  `json:"cmd,omitempty"`
	CmdExit     *int    `json:"cmd_exit,omitempty"`
	CmdOutput   string  `json:"cmd_output,omitempty"`
	CmdTimeoutS float64 `json:"cmd_timeout_s,omitempty"`
	// ranS is the measured run of the command across the records of one
	// table ("3.1s" or "3.1–3.4s"), for its title only (groups).
	ranS string
	// Error says what went wrong (the server did not come back, with its
	// stderr).
	Error string `json:"error,omitempty"`
	// ByShard0 is set on every shard but 0 of a sharded run: only shard 0
	// plays the fault (there is one server), and this shard recorded the
	// same instant, taken from the shards' common start.
	ByShard0 bool `json:"by_shard_0,omitempty"`
}

// Close summarises the close phase: clean closes ended with a close
// handshake answered with 1000; abrupt ones did not.
type Close struct {
	Clean  int `json:"clean"`
	Abrupt int `json:"abrupt"`
}

// ServerStats is what the server reported on its stats endpoint.
type ServerStats struct {
	Goroutines            int    `json:"goroutines"`
	HeapAllocBytes        uint64 `json:"heap_alloc_bytes"`
	HeapInuseBytes        uint64 `json:"heap_inuse_bytes"`
	NumGC                 uint32 `json:"num_gc"`
	BroadcastPublished    uint64 `json:"broadcast_published"`
	BroadcastEnqueued     uint64 `json:"broadcast_enqueued"`
	BroadcastDropped      uint64 `json:"broadcast_dropped"`
	BroadcastDisconnected uint64 `json:"broadcast_disconnected"`
	IdleClosed            uint64 `json:"idle_closed"`
	CompressedConns       uint64 `json:"compressed_conns"`
	// GOMAXPROCS, GOGC and GOMEMLIMIT are what the server's runtime ran
	// with, as it reports them: the manifest's runtime settings, applied.
	GOMAXPROCS int   `json:"gomaxprocs"`
	GOGC       int   `json:"gogc"`
	GOMEMLIMIT int64 `json:"gomemlimit_bytes"`
}

// Request is what a cell's upgrade requests carried beyond the handshake
// itself. Header values are secrets (tokens, cookies): only the names are
// kept, so a result file can be shared.
type Request struct {
	// Headers are the names of the headers sent, canonical and sorted.
	Headers []string `json:"headers,omitempty"`
	// Subprotocols are those offered, in order of preference.
	Subprotocols []string `json:"subprotocols_offered,omitempty"`
	// Subprotocol is the one the server chose, as the connections that
	// opened saw it (several, comma-separated, if they differed).
	Subprotocol string `json:"subprotocol,omitempty"`
}

// Compression is what a cell run with --compression negotiated.
type Compression struct {
	// Offered is set when every connection offered permessage-deflate.
	Offered bool `json:"offered"`
	// NegotiatedConns counts the connections whose handshake response
	// accepted it, as the driver read it from Sec-WebSocket-Extensions.
	NegotiatedConns int `json:"negotiated_conns"`
	// ServerCounted is the reference server's own count of connections it
	// accepted with compression (null for a --target).
	ServerCounted *uint64 `json:"server_counted,omitempty"`
}

// CompressionText is how tables show a cell's compression: "on" when every
// established connection negotiated permessage-deflate, "off" when none
// did, "k/n" in between; "" when it was not offered.
func (r Record) CompressionText() string {
	c := r.Compression
	if c == nil || !c.Offered {
		return ""
	}
	switch c.NegotiatedConns {
	case r.Connect.Established:
		return "on"
	case 0:
		return "off"
	}
	return fmt.Sprintf("%d/%d", c.NegotiatedConns, r.Connect.Established)
}

// batchStalls is echo's figure for pipelined batch waits its driver cut
// short (scenarios.BatchStalls): the replies of each were read late by
// the generator. A cell where that happened to BatchStallShare of its
// batches or more is marked, as when a publisher falls behind: the server
// answers only when sent more (it holds, drops or shortens replies). A few
// in a long run are a server or VM pausing mid-batch (measured here: 0 to
// 17 in 5-second cells of 50,000 to 73,000 batches against every
// reference server), which the latency shows as it is.
const (
	batchStalls     = "batch_stalls"
	BatchStallShare = 0.01
)

// stalledBatches is the cell's stalled batch waits, its batches (messages
// answered, over the messages in flight: one wait each), and whether
// the stalls reach BatchStallShare of them.
func (r Record) stalledBatches() (stalls, batches float64, many bool) {
	stalls = r.Figures[batchStalls]
	if stalls == 0 {
		return 0, 0, false
	}
	inflight, err := strconv.Atoi(r.Labels["inflight"])
	if err != nil || inflight < 1 {
		inflight = 1
	}
	batches = float64(r.Messages+r.DrainMessages) / float64(inflight)
	return stalls, batches, stalls >= BatchStallShare*max(batches, 1)
}

// Marked reports whether the record has anything a reader must not miss:
// failure, interruption, errors or integrity faults.
func (r Record) Marked() bool {
	if r.Client != nil && r.Client.Bound {
		return true
	}
	if r.SLO != nil && !r.SLO.Pass {
		return true
	}
	if r.Status != StatusOK || r.ErrorCount() > 0 || r.Integrity.Faults() > 0 {
		return true
	}
	if b := r.Broadcast; b != nil && (b.IncompleteFanouts > 0 || b.LateSends > 0 || (b.ServerDropped != nil && *b.ServerDropped > 0) ||
		(b.ServerDisconnected != nil && *b.ServerDisconnected > 0)) {
		return true
	}
	if h := r.Heartbeat; h != nil && (h.Missed > 0 || h.ClosedByServer > 0) {
		return true
	}
	if _, _, many := r.stalledBatches(); many {
		return true
	}
	if f := r.Fault; f != nil && (f.Error != "" || f.CmdExit != nil && *f.CmdExit != 0) {
		return true
	}
	if s := r.Shard; s != nil && s.LateS > 0.01 {
		return true
	}
	if m := r.Merged; m != nil && (m.LateS > 0.01 || len(m.Dropped) > 0) {
		return true
	}
	if r.Accounting.Missing() > 0 || r.LatencyLowerBounds > 0 || r.ConnectShortfall() {
		return true
	}
	return r.Close.Abrupt > 0 && ProfileOf(r).AbruptClosesMatter
}

// Sharded reports whether r is one shard of several (--shard I/N, N > 1).
// Its server figures are then the whole server's, serving every shard's
// connections, not this shard's part of them.
func (r Record) Sharded() bool { return r.Shard != nil && r.Shard.Count > 1 }

// serverCPUPerM is ServerCPUPerMillion where it means what it says: none
// for a shard, whose file may still carry the whole server's CPU divided
// by this shard's messages (as files did before shards left it out).
func serverCPUPerM(r Record) *float64 {
	if r.Sharded() {
		return nil
	}
	return r.ServerCPUPerMillion
}

// ConnectShortfall reports whether a paced connect phase established
// connections at under 95% of the --connect-rate asked for.
func (r Record) ConnectShortfall() bool {
	c := r.Connect
	return c.TargetRatePerS > 0 && c.Attempted > 1 && c.RatePerS < 0.95*c.TargetRatePerS
}

// ErrorCount is the total of all error classes.
func (r Record) ErrorCount() uint64 {
	var n uint64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Save writes res to path atomically: a temporary file in the same folder
// renamed over the target, so a reader never sees half a file. The file is
// 0644 (os.CreateTemp makes 0600): results are published and shared.
func Save(path string, res *Result) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	// A missing folder is an error, never created here: a mistyped path
	// must not leave folders behind (the CLI creates its default one).
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write result %s: %w", path, err)
	}
	if err := tmp.Chmod(OutputMode); err != nil {
		tmp.Close()
		return fmt.Errorf("write result %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write result %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write result %s: %w", path, err)
	}
	return nil
}

// OutputMode is the permission of every file wsbench writes (results,
// reports): readable by all, like any file a command writes with the
// usual umask, since they are meant to be published.
const OutputMode = 0o644

// Load reads a result file and checks its schema.
func Load(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%s is not a wsbench result file: %w", path, err)
	}
	if res.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, this wsbench reads %q", path, res.Schema, Schema)
	}
	return &res, nil
}

// Combine puts several results into one for rendering side by side: the
// records of all, each labelled with its file's name (names[i] for
// results[i]) so rows, notes and summaries keep the files apart, with the
// first file's environment and settings.
func Combine(results []*Result, names []string) *Result {
	if len(results) == 1 {
		return results[0]
	}
	out := *results[0]
	out.Records = nil
	out.MemorySlopes = nil
	for i, res := range results {
		name := fmt.Sprintf("file %d", i+1)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		for _, r := range res.Records {
			r.File = name
			out.Records = append(out.Records, r)
		}
	}
	return &out
}

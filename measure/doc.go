// Package measure owns the measurement primitives of the load generator: the
// wire format of benchmark messages (connection id, sequence, send time,
// checksum), per-connection integrity accounting (lost, duplicated,
// reordered, corrupt), latency recording into HdrHistogram and its lossless
// summaries (Latency), the fate of every message due (Accounting) and the
// per-mode summaries a scenario returns (OpenLoop, Broadcast, Heartbeat),
// precise pacing, and sampling of process CPU and memory from /proc. It knows
// nothing of WebSocket libraries; the report stores its summaries as they are.
package measure

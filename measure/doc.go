// Package measure owns the measurement primitives of the load generator: the
// wire format of benchmark messages (connection id, sequence, send time,
// checksum), per-connection integrity accounting (lost, duplicated,
// reordered, corrupt), latency recording into HdrHistogram, and sampling of
// process CPU and memory from /proc. It knows nothing of WebSocket libraries
// or scenarios.
package measure

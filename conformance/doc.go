// Package conformance owns `wsbench conformance`: cases written from RFC 6455
// and RFC 7692, grouped as the Autobahn|Testsuite groups them, the raw-frame
// client that plays them against a WebSocket server and the raw-frame server
// that plays them against a client driver, the runner that judges each case
// (pass, non-strict, fail, timeout, unsupported) and restarts a reference
// server that crashed, the safety probes' cost measurements, the result file
// schema and its renderers (tables per library, the per-case matrix in
// markdown and HTML).
//
// The raw peers are written here, not taken from a library, because a case
// has to send what no library sends: reserved bits, wrong masks, lengths
// beyond what follows, invalid UTF-8. Every case is played against an echo
// peer: a reference server's /echo, or a driver made to echo by the runner,
// so one script tests both sides.
package conformance

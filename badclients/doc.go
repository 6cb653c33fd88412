// Package badclients owns the misbehaving connections wsbench mixes into a
// scenario beside its good ones (`run --bad-clients`): the spec syntax and
// its help text, one raw-TCP client per kind that misbehaves byte by byte
// (non-reader, slow-reader, trickle, stalled-upgrade, idle-tcp, oversize,
// ping-flood, deflate-bomb), the Fleet that starts them and records how and
// when the server dropped each one, and the verdict that compares the good
// clients of a bad cell with those of its clean pair.
//
// The clients speak RFC 6455 through their own handshake bytes and frame
// writer rather than through the drivers: a driver is built to behave, and
// these need to stop halfway through a header, announce a length no server
// accepts, or leave a receive window full. Each costs the generator one
// goroutine with a small stack, a 512-byte read buffer and no goroutine per
// byte; the frames they write are built once per process and shared.
//
// The runner pairs each bad cell with a clean one; what the good clients
// measured there is judged by ServerVerdict. This package knows nothing of
// scenarios or libraries.
package badclients

//go:build !unix

package servers

import "net"

// smallReceiveBuffer is a plain dialer here: the slow-consumer test only
// needs more messages before the server's writes to a non-reader stall.
func smallReceiveBuffer() *net.Dialer { return &net.Dialer{} }

package drivers

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/gobwas/ws"
)

// gobwasHeld is a held gobwas connection's read state: it reads the socket
// itself, frame by frame, instead of through the frame reader's buffer.
type gobwasHeld struct {
	rc syscall.RawConn
	// part is an incomplete frame carried to the next read: a header, or a
	// control frame (at most 2+8+125 bytes; a data frame's payload is not
	// kept but counted down in skip).
	part []byte
	skip uint64 // payload bytes of a data frame still to drop
}

// errHeldProtocol is a frame no server may send (RFC 6455 §5.1, §5.5).
var errHeldProtocol = errors.New("protocol error: masked frame, or a control frame fragmented or longer than 125 bytes")

func (g *gobwasConn) rawConn() (syscall.RawConn, bool) {
	nc := g.nc
	if s, ok := nc.(*statusLineConn); ok {
		nc = s.Conn
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, false // TLS, or a wrapper: the socket's bytes are not frames
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}

func (g *gobwasConn) hold() bool {
	rc, ok := g.rawConn()
	if !ok {
		return false
	}
	// Bytes the handshake's reader already holds would have to be parsed
	// before the socket's: such a connection keeps its goroutine.
	if br, ok := g.rd.Source.(*bufio.Reader); ok && br.Buffered() > 0 {
		return false
	}
	// The Poller counts as the running reader, so a Close leaves the
	// peer's answer to it (closeWait) rather than reading beside it.
	old := g.rs.state.Or(rsReading)
	if old&rsReading != 0 {
		return false // a ReadMessage runs
	}
	if old&(rsDone|rsCloseWait|rsCloseSelf) != 0 {
		g.rs.state.And(^uint32(rsReading))
		return false
	}
	g.rd.Source, g.br = nil, nil // ensureSource makes a buffer again if the connection is released
	g.ping.held = true
	g.held = &gobwasHeld{rc: rc}
	return true
}

func (g *gobwasConn) release() {
	h := g.held
	if h == nil {
		return
	}
	g.held = nil
	g.ping.held = false
	g.ping.want.Store(0) // a held ping's pong is no longer awaited
	switch {
	case h.skip > 0:
		g.rs.fail(errors.New("gobwas: read: released in the middle of a data frame"))
	case len(h.part) > 0:
		g.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(h.part), g.nc), g.rsize)
		g.rd.Source = g.br
	}
	g.rs.state.And(^uint32(rsReading))
}

func (g *gobwasConn) pingHeld() error {
	p := g.ping.next()
	g.wmu.Lock()
	err := errGobwasCloseSent
	if !g.closeSent {
		err = g.writeFrameLocked(ws.OpPing, 0, p)
	}
	g.wmu.Unlock()
	if err != nil {
		g.ping.want.Store(0)
		return fmt.Errorf("gobwas: ping: %w", err)
	}
	return nil
}

func (g *gobwasConn) readHeld(scratch []byte) (pong bool, err error) {
	h := g.held
	select {
	case <-g.rs.done:
		return false, g.rs.err // closed or aborted meanwhile
	default:
	}
	for {
		carried := copy(scratch, h.part)
		var n int
		var rerr error
		if err := h.rc.Read(func(fd uintptr) bool {
			n, rerr = readNow(fd, scratch[carried:])
			return true // never wait: the Poller does
		}); err != nil {
			rerr = err
		}
		switch {
		case rerr == syscall.EAGAIN:
			return pong, nil
		case rerr == syscall.EINTR:
			continue
		case rerr != nil:
			return pong, g.rs.fail(fmt.Errorf("gobwas: read: %w", rerr))
		case n == 0:
			return pong, g.rs.fail(fmt.Errorf("gobwas: read: %w", io.EOF))
		}
		got, ferr := g.heldFrames(scratch[:carried+n])
		pong = pong || got
		if ferr != nil {
			return pong, g.rs.fail(ferr)
		}
		if carried+n < len(scratch) {
			return pong, nil // a short read took all there was
		}
	}
}

// heldFrames handles the complete frames at the front of data and keeps
// the incomplete rest in h.part.
func (g *gobwasConn) heldFrames(data []byte) (pong bool, err error) {
	h := g.held
	for len(data) > 0 {
		if h.skip > 0 {
			k := min(h.skip, uint64(len(data)))
			data, h.skip = data[k:], h.skip-k
			continue
		}
		if len(data) < 2 {
			break
		}
		if data[1]&0x80 != 0 {
			return pong, fmt.Errorf("gobwas: read: %w", errHeldProtocol)
		}
		need, length := 2, uint64(data[1]&0x7f)
		switch length {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if len(data) < need {
			break
		}
		switch length {
		case 126:
			length = uint64(binary.BigEndian.Uint16(data[2:4]))
		case 127:
			length = binary.BigEndian.Uint64(data[2:10])
		}
		op := ws.OpCode(data[0] & 0x0f)
		if !op.IsControl() {
			data, h.skip = data[need:], length // a data message: an idle connection drops it
			continue
		}
		if length > ws.MaxControlFramePayloadSize || data[0]&0x80 == 0 {
			return pong, fmt.Errorf("gobwas: read: %w", errHeldProtocol)
		}
		if uint64(len(data)-need) < length {
			break
		}
		got, cerr := g.controlFrame(op, data[need:need+int(length)])
		if cerr != nil {
			return pong, fmt.Errorf("gobwas: read: %w", cerr)
		}
		pong = pong || got
		data = data[need+int(length):]
	}
	h.part = append(h.part[:0], data...)
	return pong, nil
}

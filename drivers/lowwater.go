package drivers

import (
	"bufio"
	"syscall"
)

// lowWater is a gobwas connection's SO_RCVLOWAT state: want is what the
// reader asked for (SetReadLowWater), set what the socket holds now.
type lowWater struct {
	raw  syscall.RawConn // nil until the first SetReadLowWater; off when unusable
	off  bool
	want int
	set  int
}

// lowWaterSource is what the read buffer fills from: before each read of
// the socket it sets the socket's low-water mark to the bytes still
// missing from what the reader waits for, the frame bytes the buffer
// already holds taken off, so a wait never asks for bytes that are not
// coming.
type lowWaterSource struct{ g *gobwasConn }

func (s lowWaterSource) Read(p []byte) (int, error) {
	g := s.g
	if l := &g.low; l.raw != nil && (l.want > 1 || l.set > 1) {
		want := 1
		if l.want > 1 {
			want = max(l.want-g.br.Buffered(), 1)
		}
		if want != l.set && setRcvLowat(l.raw, want) {
			l.set = want
		}
	}
	if g.rio != nil {
		return g.rio.read(p)
	}
	return g.nc.Read(p)
}

func (g *gobwasConn) SetReadLowWater(bytes int) bool {
	l := &g.low
	if l.off {
		return false
	}
	if l.raw == nil {
		rc, ok := g.rawConn()
		if !ok || g.compressed {
			l.off = true // TLS, or deflated frames: sizes are not the wire's
			return false
		}
		l.raw = rc
	}
	l.want = bytes
	// One read should take the whole batch in: a buffer twice the mark
	// (at most 256 KiB), made anew only while it holds nothing (between
	// messages).
	if size := min(2*bytes, gobwasBatchBytes*4); size > g.rsize {
		if g.br == nil || g.br.Buffered() == 0 {
			g.rsize = size
			g.br = bufio.NewReaderSize(lowWaterSource{g}, g.rsize)
			g.rd.Source = g.br
		}
	}
	return true
}

var _ LowWater = (*gobwasConn)(nil)

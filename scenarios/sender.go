package scenarios

import (
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
)

// sender writes one connection's benchmark messages the cheapest way its
// driver offers: the frame prepared once and patched with each message's
// codec header (drivers.FramePreparer), several whole messages in one
// write (drivers.Batcher), or one WriteMessage each. Every way sends the
// same messages; only the generator's cost per message differs.
type sender struct {
	conn    drivers.Conn
	typ     drivers.MessageType
	codec   measure.Codec
	id      uint32
	prep    drivers.FramePreparer // nil: frames not prepared
	batcher drivers.Batcher       // nil: one write per message
	// heads are the codec headers of one batch (prepared frames); msgs
	// are whole messages, copies of the template: one per message of a
	// batch for a batcher, else a single one reused.
	heads [][]byte
	msgs  [][]byte
}

// newSender readies conn to send copies of tmpl stamped with the codec's
// header, up to most at once.
func newSender(conn drivers.Conn, typ drivers.MessageType, codec measure.Codec, id uint32, tmpl []byte, most int) *sender {
	s := &sender{conn: conn, typ: typ, codec: codec, id: id}
	most = max(most, 1)
	hs := codec.HeaderSize()
	if p, ok := conn.(drivers.FramePreparer); ok && p.PrepareFrames(typ, tmpl, hs) {
		s.prep = p
		s.heads = make([][]byte, most)
		backing := make([]byte, most*hs)
		for i := range s.heads {
			s.heads[i] = backing[i*hs : (i+1)*hs : (i+1)*hs]
		}
		return s
	}
	n := 1
	if b, ok := conn.(drivers.Batcher); ok && most > 1 {
		s.batcher, n = b, most
	}
	s.msgs = make([][]byte, n)
	for i := range s.msgs {
		s.msgs[i] = append([]byte(nil), tmpl...)
	}
	return s
}

// send sends k messages (at most newSender's most), sequence numbers from
// first, each stamped as sent at sent: they leave in one write, or back to
// back. It reports how many surely left before an error: none of a
// failed batch, whose write may have left any part of it.
func (s *sender) send(first uint64, k int, sent int64) (int, error) {
	h := measure.Header{Conn: s.id, Seq: first, SentNs: sent}
	switch {
	case s.prep != nil:
		for i := range k {
			h.Seq = first + uint64(i)
			s.codec.Stamp(s.heads[i], h)
		}
		if err := s.prep.WritePrepared(s.heads[:k]); err != nil {
			return 0, err
		}
		return k, nil
	case s.batcher != nil && k > 1:
		for i := range k {
			h.Seq = first + uint64(i)
			s.codec.Stamp(s.msgs[i], h)
		}
		if err := s.batcher.WriteMessages(s.typ, s.msgs[:k]); err != nil {
			return 0, err
		}
		return k, nil
	}
	for i := range k {
		h.Seq = first + uint64(i)
		s.codec.Stamp(s.msgs[0], h)
		if err := s.conn.WriteMessage(s.typ, s.msgs[0]); err != nil {
			return i, err
		}
	}
	return k, nil
}

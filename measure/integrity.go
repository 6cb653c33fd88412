package measure

// Integrity counts what happened to the messages of a run. Lost is derived:
// messages sent for which neither a valid nor a corrupt reply arrived.
type Integrity struct {
	Sent       uint64 `json:"sent"`
	Received   uint64 `json:"received"`
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	Reordered  uint64 `json:"reordered"`
	Corrupt    uint64 `json:"corrupt"`
	// TooOld counts messages that arrived more than 1024 sequence numbers
	// behind the newest: counted as received and reordered (the likely
	// story), though whether one duplicated an earlier message cannot be
	// told that far back.
	TooOld uint64 `json:"too_old,omitempty"`
}

// Add accumulates o into i.
func (i *Integrity) Add(o Integrity) {
	i.Sent += o.Sent
	i.Received += o.Received
	i.Lost += o.Lost
	i.Duplicated += o.Duplicated
	i.Reordered += o.Reordered
	i.Corrupt += o.Corrupt
	i.TooOld += o.TooOld
}

// Faults is the number of messages that were lost, duplicated, reordered or
// corrupted; a run with any is marked.
func (i Integrity) Faults() uint64 {
	return i.Lost + i.Duplicated + i.Reordered + i.Corrupt
}

// Arrival classifies a received sequence number.
type Arrival int

// The classes of arrival.
const (
	InOrder   Arrival = iota // the next new sequence number, or a later one
	Reordered                // new, but after a higher sequence number arrived
	Duplicate                // seen before
	TooOld                   // older than the tracking window: cannot tell
)

// seqWindow is how far below the highest sequence number seen a message may
// arrive and still be told apart as reordered or duplicate.
const seqWindow = 1024

// SeqTracker classifies the sequence numbers arriving on one connection,
// starting at 0. It remembers which of the last seqWindow numbers arrived, in
// a fixed bitmap, so it costs no allocation per message.
type SeqTracker struct {
	next uint64 // one past the highest sequence number seen
	seen [seqWindow / 64]uint64
}

// Observe records the arrival of seq and says how it arrived.
func (t *SeqTracker) Observe(seq uint64) Arrival {
	if seq >= t.next {
		// Clear the bits of the numbers skipped over (or all of them).
		for s, n := t.next, 0; s < seq && n < seqWindow; s, n = s+1, n+1 {
			t.clear(s)
		}
		t.set(seq)
		t.next = seq + 1
		return InOrder
	}
	if t.next-seq > seqWindow {
		return TooOld
	}
	if t.isSet(seq) {
		return Duplicate
	}
	t.set(seq)
	return Reordered
}

func (t *SeqTracker) set(s uint64)        { t.seen[(s/64)%(seqWindow/64)] |= 1 << (s % 64) }
func (t *SeqTracker) clear(s uint64)      { t.seen[(s/64)%(seqWindow/64)] &^= 1 << (s % 64) }
func (t *SeqTracker) isSet(s uint64) bool { return t.seen[(s/64)%(seqWindow/64)]&(1<<(s%64)) != 0 }

// Arrive classifies a valid message with sequence number seq through t and
// counts it: duplicated messages are counted and reported as not new; new
// ones, reordered or not, count as received. One too old to tell counts as
// received and reordered, and as TooOld: counting it as a duplicate would
// report a message that came back very late as duplicated and lost.
func (i *Integrity) Arrive(t *SeqTracker, seq uint64) (isNew bool) {
	switch t.Observe(seq) {
	case Duplicate:
		i.Duplicated++
		return false
	case TooOld:
		i.TooOld++
		i.Reordered++
	case Reordered:
		i.Reordered++
	}
	i.Received++
	return true
}

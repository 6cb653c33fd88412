package badclients

import (
	"bytes"
	"compress/flate"
	"sync"
)

// The frames the clients write are built once per process and shared
// read-only, so a client holds no frame of its own.
var (
	// frameKey masks the shared frames. RFC 6455 asks for an unpredictable
	// key per frame to protect intermediaries from cache poisoning; these
	// clients talk to a server under test directly, and a fixed key lets
	// thousands of them share one buffer.
	frameKey = [4]byte{0x5a, 0x17, 0xc3, 0x8e}

	// trickleMessage is what a trickle client sends, over and over: small,
	// binary, so an echo server answers it and no UTF-8 check applies.
	trickleMessage = []byte("wsbench-trickle!")
	trickleFrame   = appendFrame(nil, opBinary, trickleMessage, frameKey)

	// oversizeHeader announces a binary frame of 2^63-1 bytes, the largest
	// length RFC 6455 §5.2 allows; oversizePayload is one byte of it.
	oversizeHeader  = appendHeader(nil, true, false, opBinary, 1<<63-1, frameKey)
	oversizePayload = [1]byte{'x' ^ frameKey[0]}

	// pingBatch is pingsPerWrite empty masked pings, written in one call.
	pingBatch = func() []byte {
		var b []byte
		for range pingsPerWrite {
			b = appendFrame(b, opPing, nil, frameKey)
		}
		return b
	}()
)

const (
	pingsPerWrite = 64
	pingFrameLen  = 6 // 2 header bytes and the mask key
)

// syncTail is what every sync flush ends with; RFC 7692 §7.2.1 removes it
// from the end of each message and the receiver appends it again.
var syncTail = []byte{0x00, 0x00, 0xff, 0xff}

// Bomb sizes: the message inflates to bombCopies MiB of zeros, just past
// 1 GiB. Deflate cannot do better than about 1032:1 (a 258-byte match in
// two bits), so the message is about 1 MiB on the wire, not a few KiB.
const (
	bombChunkPlain = 1 << 20
	bombCopies     = 1025
)

// bombMessage is a deflate-bomb message: header (FIN, RSV1, binary, an
// all-zero mask key so the shared chunk needs no masking per client),
// then chunk written copies times, the last without the sync tail.
type bombMessage struct {
	header []byte
	chunk  []byte
	copies int
}

// Inflated is how many bytes the message inflates to.
func (b *bombMessage) inflated() int64 { return int64(b.copies) * bombChunkPlain }

var bomb = sync.OnceValue(func() *bombMessage { return buildBomb(bombCopies) })

// buildBomb deflates 1 MiB of zeros once, ending in a sync flush, so the
// compressed chunk stands alone (its back-references stay inside it) and
// copies of it in a row are one valid deflate stream of copies MiB.
func buildBomb(copies int) *bombMessage {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression) // level is valid
	_, _ = fw.Write(make([]byte, bombChunkPlain))         // writes to a bytes.Buffer do not fail
	_ = fw.Flush()
	chunk := buf.Bytes()
	total := uint64(copies*len(chunk) - len(syncTail))
	return &bombMessage{
		header: appendHeader(nil, true, true, opBinary, total, [4]byte{}),
		chunk:  chunk,
		copies: copies,
	}
}

// Package deflate owns the data path of permessage-deflate (RFC 7692) with no
// context takeover, for the libraries that negotiate the extension but leave
// compressing and inflating messages to the caller (gobwas/ws): it turns a
// whole message payload into its deflated form and back. Framing, the RSV1
// bit and negotiation stay with the caller.
//
// Without context takeover every message is compressed on its own, so the
// flate state is not tied to a connection: compressors and decompressors are
// pooled per process, as gorilla/websocket does, rather than held per
// connection (a flate compressor is hundreds of KiB).
package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// tail is what a sync flush ends with; RFC 7692 §7.2.1 strips it from each
// message and §7.2.2 appends it again before inflating.
var tail = []byte{0x00, 0x00, 0xff, 0xff}

// ErrTooLarge is returned by Decompress when the inflated message exceeds
// the limit: a small compressed message may inflate to any size.
var ErrTooLarge = errors.New("deflate: inflated message exceeds the read limit")

// writers pools compressors per level (index 0 unused).
var writers [flate.BestCompression + 1]sync.Pool

// Compress appends the deflated form of p to dst and returns it, at flate
// level (1 fastest … 9 smallest; other values mean 1).
func Compress(dst, p []byte, level int) ([]byte, error) {
	if level < flate.BestSpeed || level > flate.BestCompression {
		level = flate.BestSpeed
	}
	buf := bytes.NewBuffer(dst)
	fw, _ := writers[level].Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriter(buf, level); err != nil {
			return dst, fmt.Errorf("deflate: %w", err)
		}
	} else {
		fw.Reset(buf)
	}
	defer writers[level].Put(fw)
	if _, err := fw.Write(p); err != nil {
		return dst, fmt.Errorf("deflate: compress: %w", err)
	}
	if err := fw.Flush(); err != nil {
		return dst, fmt.Errorf("deflate: compress: %w", err)
	}
	out := buf.Bytes()
	if !bytes.HasSuffix(out, tail) {
		return dst, errors.New("deflate: compress: sync flush did not end with 00 00 ff ff")
	}
	return out[:len(out)-len(tail)], nil
}

// reader is a pooled decompressor with the source it reads from.
type reader struct {
	src  bytes.Reader
	tail bytes.Reader
	mr   io.Reader
	fr   io.ReadCloser
}

var readers = sync.Pool{New: func() any {
	r := &reader{}
	r.mr = io.MultiReader(&r.src, &r.tail)
	r.fr = flate.NewReader(r.mr)
	return r
}}

// Decompress appends the inflated form of the deflated message p to dst and
// returns it. A limit above zero bounds the inflated size (ErrTooLarge).
func Decompress(dst, p []byte, limit int64) ([]byte, error) {
	r := readers.Get().(*reader)
	defer readers.Put(r)
	r.src.Reset(p)
	r.tail.Reset(tail)
	// The MultiReader is spent once read to the end; a new one per message
	// costs one small allocation, which Reset on the flate reader needs.
	r.mr = io.MultiReader(&r.src, &r.tail)
	if err := r.fr.(flate.Resetter).Reset(r.mr, nil); err != nil {
		return dst, fmt.Errorf("deflate: %w", err)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.fr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if limit > 0 && int64(len(dst)) > limit {
			return dst, ErrTooLarge
		}
		if err == io.EOF || (err == io.ErrUnexpectedEOF && r.src.Len() == 0 && r.tail.Len() == 0) {
			// Without a final block the stream ends where the input
			// does: that is the end of the message (RFC 7692 §7.2.2).
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("deflate: inflate: %w", err)
		}
	}
}

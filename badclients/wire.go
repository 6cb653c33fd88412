package badclients

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// RFC 6455 opcodes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// readBufSize is each client's read buffer: enough for an upgrade response
// with extensions, small enough that 2,000 clients cost under 1 MiB.
const readBufSize = 512

// newKey returns a fresh Sec-WebSocket-Key.
func newKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:]) // crypto/rand.Read does not fail on Linux
	return base64.StdEncoding.EncodeToString(k[:])
}

// acceptFor is the Sec-WebSocket-Accept a server must answer key with.
func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// upgradeRequest is the client handshake for u, asking for
// permessage-deflate (without context takeover) when deflate is set.
func upgradeRequest(u *url.URL, key string, deflate bool) []byte {
	path := u.RequestURI()
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, u.Host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if deflate {
		b.WriteString("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// stalledRequest is the part of an upgrade request a stalled-upgrade
// client sends: the request line and some headers, never the blank line
// that would end it.
func stalledRequest(u *url.URL) []byte {
	req := upgradeRequest(u, newKey(), false)
	i := bytes.Index(req, []byte("Sec-WebSocket-Key"))
	return req[:i]
}

// errNoDeflate is a handshake whose response did not accept
// permessage-deflate.
var errNoDeflate = errors.New("server did not negotiate permessage-deflate")

// readUpgrade reads the server's handshake response into buf and checks it
// switches protocols with the right accept key (and deflate when asked).
// Bytes after the response (the server's first frames) are moved to the
// front of buf; it returns how many.
func readUpgrade(c net.Conn, buf []byte, key string, deflate bool) (int, error) {
	n := 0
	for {
		if n == len(buf) {
			return 0, fmt.Errorf("handshake response longer than %d bytes", len(buf))
		}
		m, err := c.Read(buf[n:])
		n += m
		if end := bytes.Index(buf[:n], []byte("\r\n\r\n")); end >= 0 {
			head := string(buf[:end])
			rest := copy(buf, buf[end+4:n])
			return rest, checkUpgrade(head, key, deflate)
		}
		if err != nil {
			return 0, fmt.Errorf("handshake: %w", err)
		}
	}
}

func checkUpgrade(head, key string, deflate bool) error {
	status, headers, _ := strings.Cut(head, "\r\n")
	if f := strings.Fields(status); len(f) < 2 || f[1] != "101" {
		return fmt.Errorf("handshake refused: %q", status)
	}
	var accept, ext string
	for _, line := range strings.Split(headers, "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sec-websocket-accept":
			accept = strings.TrimSpace(value)
		case "sec-websocket-extensions":
			ext += value
		}
	}
	if accept != acceptFor(key) {
		return fmt.Errorf("handshake: wrong Sec-WebSocket-Accept %q", accept)
	}
	if deflate && !strings.Contains(ext, "permessage-deflate") {
		return errNoDeflate
	}
	return nil
}

// appendHeader appends a masked client frame header announcing n payload
// bytes; the payload that follows must be masked with key.
func appendHeader(dst []byte, fin, rsv1 bool, op byte, n uint64, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case n < 126:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, n)
	}
	return append(dst, key[:]...)
}

// appendFrame appends a whole masked frame carrying payload.
func appendFrame(dst []byte, op byte, payload []byte, key [4]byte) []byte {
	dst = appendHeader(dst, true, false, op, uint64(len(payload)), key)
	for i, c := range payload {
		dst = append(dst, c^key[i%4])
	}
	return dst
}

// frameReader follows the server's frames through a byte stream, counting
// data messages and catching a close frame's status code, without keeping
// any payload: a slow or draining reader must not grow with what it reads.
type frameReader struct {
	hdr      [14]byte
	nhdr     int
	remain   uint64 // payload bytes of the current frame still to come
	op       byte
	code     [2]byte
	ncode    int
	messages uint64 // data frames with FIN seen
}

// feed consumes p; it returns the close code once a close frame has been
// read whole (1005 for one without a status), or 0.
func (r *frameReader) feed(p []byte) int {
	for len(p) > 0 {
		if r.nhdr >= 2 && r.nhdr == r.headerLen() {
			k := min(r.remain, uint64(len(p)))
			if r.op&0x0f == opClose {
				for _, c := range p[:k] {
					if r.ncode < 2 {
						r.code[r.ncode] = c
						r.ncode++
					}
				}
			}
			p = p[k:]
			r.remain -= k
			if r.remain == 0 {
				if code := r.frameDone(); code != 0 {
					return code
				}
			}
			continue
		}
		r.hdr[r.nhdr] = p[0]
		r.nhdr++
		p = p[1:]
		if r.nhdr >= 2 && r.nhdr == r.headerLen() {
			r.op = r.hdr[0]
			switch l := r.hdr[1] & 0x7f; l {
			case 126:
				r.remain = uint64(binary.BigEndian.Uint16(r.hdr[2:4]))
			case 127:
				r.remain = binary.BigEndian.Uint64(r.hdr[2:10])
			default:
				r.remain = uint64(l)
			}
			if r.remain == 0 {
				if code := r.frameDone(); code != 0 {
					return code
				}
			}
		}
	}
	return 0
}

// headerLen is the length of the header being read, once its second byte
// is known.
func (r *frameReader) headerLen() int {
	if r.nhdr < 2 {
		return 2
	}
	n := 2
	switch r.hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if r.hdr[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// frameDone ends the current frame: a close frame's code, or 0.
func (r *frameReader) frameDone() int {
	op := r.op & 0x0f
	r.nhdr = 0
	switch {
	case op == opClose:
		if r.ncode == 2 {
			return int(binary.BigEndian.Uint16(r.code[:]))
		}
		return 1005 // RFC 6455 §7.1.5: no status code present
	case op == opText || op == opBinary || op == 0:
		if r.op&0x80 != 0 {
			r.messages++
		}
	}
	return 0
}

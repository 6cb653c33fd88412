package conformance

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wsbench/wsbench/internal/deflate"
)

// limitSetting names the wsbench setting limit cases depend on.
const limitSetting = "read limit: wsbench sets 1 MiB on every reference server and driver (servers.DefaultSettings ReadLimit, drivers.DialOptions.ReadLimit); with --target the limit is unknown and either answer passes"

const (
	reqLimitEcho = "§10.4: an endpoint may limit frame and message sizes and, beyond its limit, close with 1009 (§7.4.1 \"a message that is too big for it to process\"). Within the limit the message is echoed. Pass: echoed within the limit, refused with 1009 beyond it. Non-strict: refused with another status or a drop. Fail: a message beyond the limit echoed, or one within it refused."
	reqSafety    = "§10.4: \"Implementations that have implementation- and/or platform-specific limitations regarding the frame size or total message size after reassembly from multiple frames MUST protect themselves against exceeding those limits.\""
)

// limitCase sends a message (in frames) whose size the read limit judges.
func limitCase(frames []Frame, want Msg) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		p.SendAsync(frames...)
		size := int64(len(want.Data))
		if p.ReadLimit > 0 && size > p.ReadLimit {
			v := p.awaitFail(nil, 1009)
			if v.Outcome == Fail {
				v.Reason += fmt.Sprintf(" (the read limit is %d bytes, the message %d)", p.ReadLimit, size)
			}
			return v
		}
		v := p.Echo(want)
		if p.ReadLimit == 0 && v.Outcome == Fail && strings.Contains(v.Reason, "closed with 1009") {
			return pass("refused with 1009: its own limit is below %d bytes", size)
		}
		return v
	}
}

func limitCases() []Case {
	var cs []Case
	for _, n := range []int{64 << 10, 256 << 10, 1 << 20, 1<<20 + 1, 4 << 20, 16 << 20} {
		cs = append(cs, Case{Title: fmt.Sprintf("binary message of %s", sizeText(n)), Requirement: reqLimitEcho, Setting: limitSetting, Timeout: 10 * time.Second,
			Play: limitCase([]Frame{binFrame(pattern(n))}, binMsg(pattern(n)))})
	}
	for _, n := range []int{256 << 10, 1 << 20, 1<<20 + 1} {
		cs = append(cs, Case{Title: fmt.Sprintf("text message of %s", sizeText(n)), Requirement: reqLimitEcho, Setting: limitSetting, Timeout: 10 * time.Second,
			Play: limitCase([]Frame{textB(letters(n))}, textMsgB(letters(n)))})
	}
	for _, c := range []struct{ size, frame int }{{1 << 20, 64 << 10}, {4 << 20, 64 << 10}, {16 << 20, 1 << 20}} {
		cs = append(cs, Case{Title: fmt.Sprintf("binary message of %s in %s frames", sizeText(c.size), sizeText(c.frame)), Requirement: reqLimitEcho + " The limit is on the message, reassembled.", Setting: limitSetting, Timeout: 10 * time.Second,
			Play: limitCase(fragments(OpBinary, pattern(c.size), c.frame), binMsg(pattern(c.size)))})
	}
	cs = append(cs,
		Case{Title: "text message in 10,000 fragments of 16 bytes", Requirement: reqLimitEcho, Setting: limitSetting, Timeout: 10 * time.Second,
			Play: limitCase(fragments(OpText, letters(160000), 16), textMsgB(letters(160000)))},
		Case{Title: "binary message of 1 MiB in 4096 fragments of 256 bytes", Requirement: reqLimitEcho, Setting: limitSetting, Timeout: 10 * time.Second,
			Play: limitCase(fragments(OpBinary, pattern(1<<20), 256), binMsg(pattern(1<<20)))},
		Case{Title: "1000 small messages in one write", Requirement: "§5.4/§6.2: messages are delivered in order, each whole. Pass: all 1000 echoed in order. Fail: one missing, changed or out of order.", Timeout: 10 * time.Second,
			Play: func(p *Peer) Verdict {
				var fs []Frame
				var want []Msg
				for i := range 1000 {
					m := fmt.Sprintf("message %d", i)
					fs, want = append(fs, text(m)), append(want, textMsg(m))
				}
				p.SendAsync(fs...)
				return p.Echo(want...)
			}},
	)
	return numbered("limits", cs)
}

func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n > 1<<20:
		return fmt.Sprintf("1 MiB + %d B", n-1<<20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// bomb is a permessage-deflate message that inflates to 64 MiB of zeros,
// compressed once per process (about 64 KiB on the wire).
var bomb = sync.OnceValue(func() []byte {
	out, err := deflate.Compress(nil, make([]byte, 64<<20), 9)
	if err != nil {
		panic(err)
	}
	return out
})

// gaveUp runs awaitFail and records the time from t0 to its answer.
func gaveUp(p *Peer, t0 time.Time, v Verdict) Verdict {
	v.Cost = &Cost{GiveUpMs: float64(time.Since(t0).Microseconds()) / 1000}
	return v
}

// announce sends a frame header announcing n payload bytes and only a few
// of them, then waits: a peer with a limit refuses at the header.
func announce(n uint64, sent int, want ...int) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		t0 := time.Now()
		_ = p.Send(Frame{Fin: true, Opcode: OpBinary, Payload: pattern(sent), Length: n, LengthSet: true})
		v := p.awaitFail(nil, want...)
		if v.Outcome == Timeout {
			v.Reason = fmt.Sprintf("still waiting for the %d announced bytes after %s: it did not refuse the length at the header", n, p.timeout)
		}
		return gaveUp(p, t0, v)
	}
}

func safetyCases() []Case {
	cs := []Case{
		{Title: "a frame announcing 2^63−1 bytes, 5 sent", Probe: true, Timeout: 3 * time.Second,
			Requirement: reqSafety + " (gorilla/websocket CVE-2020-27813 was an overflow here.) Pass: fails with 1009 or 1002, or drops, at the header. Timeout: waits for the bytes. Fail: a crash, or the memory cap.",
			Play:        announce(1<<63-1, 5, 1009, 1002)},
		{Title: "a frame announcing one byte more than the read limit, 1 KiB sent", Probe: true, Timeout: 3 * time.Second, Setting: limitSetting,
			Requirement: reqSafety + " Pass: closes with 1009 at the header. Non-strict: another status or a drop. Timeout: waits for the payload (it reads first, judges later).",
			Play: func(p *Peer) Verdict {
				limit := p.ReadLimit
				if limit == 0 {
					limit = 1 << 20
				}
				return announce(uint64(limit)+1, 1024, 1009)(p)
			}},
		{Title: "a frame announcing 1 GiB, 1 KiB sent", Probe: true, Timeout: 3 * time.Second, Setting: limitSetting,
			Requirement: reqSafety + " (gobwas/ws#223: no default frame limit, so make([]byte, length) takes what the header announces.) Pass: refuses at the header (1009, 1002 or a drop) without allocating the announced size. Timeout: waits for the bytes. Fail: a crash or the memory cap.",
			Play:        announce(1<<30, 1024, 1009, 1002)},
		{Title: "deflate bomb: 64 KiB on the wire inflating to 64 MiB", Probe: true, Deflate: true, Timeout: 5 * time.Second, Setting: limitSetting,
			Offer:       offerNoContext,
			Requirement: "RFC 7692 §8.1 and RFC 6455 §10.4: the read limit applies to the inflated message; an endpoint must stop inflating at it (gws PR #86 fixed this; nbio#421 reported it). Pass: closes with 1009 (or 1002/drop: non-strict) before inflating it all. Fail: echoes 64 MiB, crashes, or hits the memory cap.",
			Play: func(p *Peer) Verdict {
				t0 := time.Now()
				p.SendAsync(Frame{Fin: true, RSV: RSV1, Opcode: OpBinary, Payload: bomb()})
				return gaveUp(p, t0, p.awaitFail(nil, 1009))
			}},
		{Title: "100,000 one-byte fragments", Probe: true, Timeout: 10 * time.Second,
			Requirement: reqSafety + " 100,000 fragments make a 100 KB message, within every limit. Pass: echoed, or refused with 1009/1008 (a limit on fragments). Fail: a crash, or anything else.",
			Play: func(p *Peer) Verdict {
				t0 := time.Now()
				body := letters(100000)
				p.SendAsync(fragments(OpText, body, 1)...)
				v := p.Echo(textMsgB(body))
				if v.Outcome == Fail && (strings.Contains(v.Reason, "closed with 1009") || strings.Contains(v.Reason, "closed with 1008")) {
					v = pass("refused: %s", v.Reason)
				}
				return gaveUp(p, t0, v)
			}},
		{Title: "ping flood: 10,000 pings of 125 bytes in one burst", Probe: true, Timeout: 10 * time.Second,
			Requirement: "§5.5.2 and §10.4: each ping is answered (or only the latest, §5.5.3); an endpoint may also defend itself by closing (1008). Pass: still echoes a message after the flood, or closed with 1008. Fail: crashed or dropped. Timeout: no answer after the flood.",
			Play: func(p *Peer) Verdict {
				t0 := time.Now()
				var fs []Frame
				for range 10000 {
					fs = append(fs, ping(strings.Repeat("p", 125)))
				}
				fs = append(fs, text("alive?"))
				p.SendAsync(fs...)
				dl := p.deadline()
				pongs := 0
				for {
					m, end := p.readMessage(dl, true)
					switch {
					case end == nil:
						if string(m.Data) != "alive?" {
							return gaveUp(p, t0, fail("echoed %s", m))
						}
						return gaveUp(p, t0, pass("answered %d of 10,000 pings, then echoed the message", pongs))
					case end.pong != nil:
						pongs++
						continue
					case end.closeFrame != nil && CloseCode(end.closeFrame.Payload) == 1008:
						return gaveUp(p, t0, pass("closed with 1008 after %d pongs", pongs))
					case end.timeout:
						return gaveUp(p, t0, timedOut("%d pongs, no echo within %s", pongs, p.timeout))
					}
					return gaveUp(p, t0, fail("%s after %d pongs", end, pongs))
				}
			}},
		{Title: "an opening handshake that never finishes", Probe: true, Timeout: 8 * time.Second,
			Requirement: "RFC 6455 §4.1/§4.2 set no handshake deadline, but §10.4 asks an endpoint to protect itself: a peer that never finishes its handshake should not hold a connection for ever. Server side: half a request is sent; client side: the request is never answered. Pass: the connection is given up within 8 s (its cost is the time). Timeout: still open after 8 s.",
			ServerRaw:   halfHandshake,
			ClientRaw:   unansweredHandshake,
		},
	}
	return numbered("safety", cs)
}

// halfHandshake sends half an upgrade request and times how long the
// server keeps the connection.
func halfHandshake(ctx context.Context, url string, timeout time.Duration) Verdict {
	conn, u, err := dialTCP(ctx, url, true)
	if err != nil {
		return fail("could not connect: %v", err)
	}
	defer conn.Close()
	t0 := time.Now()
	if _, err := conn.Write([]byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\n")); err != nil {
		return fail("could not send: %v", err)
	}
	_ = conn.SetReadDeadline(t0.Add(timeout))
	n, err := io.Copy(io.Discard, conn)
	d := time.Since(t0)
	v := pass("closed the connection after %s", d.Round(time.Millisecond))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		v = timedOut("still open after %s", timeout)
	} else if n > 0 {
		v.Reason += fmt.Sprintf(" (sent %d bytes first)", n)
	}
	v.Cost = &Cost{GiveUpMs: float64(d.Microseconds()) / 1000}
	return v
}

// unansweredHandshake accepts the driver's connection, reads its request
// and never answers; it times how long the driver's dial waits.
func unansweredHandshake(ctx context.Context, srv *RawServer, dial func() error, timeout time.Duration) Verdict {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	dialed := make(chan error, 1)
	go func() { dialed <- dial() }()
	conn, err := srv.acceptTCP(ctx)
	if err != nil {
		return fail("the driver did not connect: %v", err)
	}
	defer conn.Close()
	go func() { _, _ = io.Copy(io.Discard, conn) }()
	select {
	case err := <-dialed:
		d := time.Since(t0)
		v := pass("its dial gave up after %s", d.Round(time.Millisecond))
		if err == nil {
			v = fail("its dial succeeded without an answer")
		}
		v.Cost = &Cost{GiveUpMs: float64(d.Microseconds()) / 1000}
		return v
	case <-ctx.Done():
		return Verdict{Outcome: Timeout, Reason: fmt.Sprintf("its dial still waits after %s", timeout), Cost: &Cost{GiveUpMs: float64(timeout.Milliseconds())}}
	}
}

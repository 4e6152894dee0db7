// Package faultproxy is a TCP proxy for fault-injection tests: it sits on
// a loopback port between a client (the cleaner) and a database server,
// forwards what passes, and on cue stalls the traffic, drops connections
// (before a statement reaches the server, after it did, or after the
// server answered but before the client hears it), refuses new
// connections, and holds a connection while the test does something to
// the server (terminates its backend, restarts it). It reads the
// server's greeting for the connection's id on the server (PostgreSQL's
// backend pid, MySQL's connection id), so a test can kill exactly the
// connection it caught.
package faultproxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol says how to read the server's greeting.
type Protocol int

const (
	// Postgres: the server id is the pid of BackendKeyData.
	Postgres Protocol = iota + 1
	// MySQL: the server id is the connection id of the handshake.
	MySQL
)

// Verdict is what happens to a client message a rule caught.
type Verdict int

const (
	// Forward passes the message on.
	Forward Verdict = iota
	// Drop closes the connection; the message never reaches the server.
	Drop
	// ForwardThenDrop passes the message on and closes the connection at
	// once: the server runs the statement, the client loses it midway.
	ForwardThenDrop
	// DropAnswer passes the message on, waits for the server's answer and
	// closes the connection instead of passing it on: for a COMMIT, the
	// server committed and the client cannot know.
	DropAnswer
)

// Conn is one proxied connection.
type Conn struct {
	// N numbers the proxy's connections from 1, in the order accepted.
	N              int
	client, server net.Conn
	serverID       atomic.Int64
	dropAnswer     atomic.Bool
	closeOnce      sync.Once
}

// ServerID is the connection's id on the server (0 until the server's
// greeting said it).
func (c *Conn) ServerID() int64 { return c.serverID.Load() }

// Close drops the connection, both sides.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		c.client.Close()
		c.server.Close()
	})
}

type rule struct {
	pattern []byte
	nth     int
	seen    int
	fn      func(*Conn) Verdict
}

// Proxy forwards connections from Addr to the target.
type Proxy struct {
	ln     net.Listener
	target string
	proto  Protocol

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	n       int
	rules   []*rule
	watches map[string][]time.Time
	refuse  bool
	pause   chan struct{} // non-nil while paused; closed on Resume
	closed  bool
	wg      sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target
// (host:port).
func Start(target string, proto Protocol) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, proto: proto, conns: map[*Conn]struct{}{}, watches: map[string][]time.Time{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is host:port to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the port of Addr.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening and drops every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	if p.pause != nil {
		close(p.pause)
		p.pause = nil
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}

// On calls fn when the nth client message (from 1) holding pattern
// (compared case-insensitively) arrives, before it is forwarded, and does
// what fn returns. fn runs on that connection's forwarding goroutine: the
// connection is held while it runs.
func (p *Proxy) On(pattern string, nth int, fn func(*Conn) Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &rule{pattern: bytes.ToLower([]byte(pattern)), nth: nth, fn: fn})
}

// Watch records when client messages holding pattern pass (compared
// case-insensitively); Seen returns the times.
func (p *Proxy) Watch(pattern string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watches[string(bytes.ToLower([]byte(pattern)))] = []time.Time{}
}

// Seen is when the watched pattern passed, oldest first.
func (p *Proxy) Seen(pattern string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.watches[string(bytes.ToLower([]byte(pattern)))]...)
}

// Pause stops forwarding on every connection, old and new, in both
// directions, until Resume: a network that stalls.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pause == nil && !p.closed {
		p.pause = make(chan struct{})
	}
}

// Resume ends a Pause.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pause != nil {
		close(p.pause)
		p.pause = nil
	}
}

// Refuse makes new connections close at once (on) or pass again (off).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// DropAll closes every connection now.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	conns := make([]*Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			// The server refused: reset the client's connection, as
			// near as a proxy that accepted it can come to a refusal.
			if tc, ok := client.(*net.TCPConn); ok {
				tc.SetLinger(0) //nolint:errcheck
			}
			client.Close()
			continue
		}
		p.mu.Lock()
		p.n++
		c := &Conn{N: p.n, client: client, server: server}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.fromClient(c)
		go p.fromServer(c)
	}
}

// wait blocks while the proxy is paused.
func (p *Proxy) wait() {
	for {
		p.mu.Lock()
		ch := p.pause
		p.mu.Unlock()
		if ch == nil {
			return
		}
		<-ch
	}
}

func (p *Proxy) forget(c *Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) fromClient(c *Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	buf := make([]byte, 64<<10)
	var tail []byte // the end of the previous read, for patterns cut in two
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.wait()
			verdict := p.match(c, tail, chunk)
			tail = append(tail[:0], lastBytes(chunk, 64)...)
			switch verdict {
			case Drop:
				return
			case DropAnswer:
				c.dropAnswer.Store(true)
			}
			if _, werr := c.server.Write(chunk); werr != nil {
				return
			}
			if verdict == ForwardThenDrop {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// match counts the rules' and watches' patterns in chunk (with the tail
// of the previous one, so a pattern cut by the read is still found once)
// and runs the first rule whose count it completes.
func (p *Proxy) match(c *Conn, tail, chunk []byte) Verdict {
	lower := bytes.ToLower(append(append([]byte(nil), tail...), chunk...))
	count := func(pat []byte) int {
		// Occurrences that end inside chunk (not wholly inside tail).
		n := 0
		for i := 0; ; {
			j := bytes.Index(lower[i:], pat)
			if j < 0 {
				return n
			}
			if i+j+len(pat) > len(tail) {
				n++
			}
			i += j + 1
		}
	}
	p.mu.Lock()
	now := time.Now()
	for pat, times := range p.watches {
		for k := count([]byte(pat)); k > 0; k-- {
			times = append(times, now)
		}
		p.watches[pat] = times
	}
	var fire *rule
	for _, r := range p.rules {
		k := count(r.pattern)
		if k == 0 {
			continue
		}
		before := r.seen
		r.seen += k
		if fire == nil && before < r.nth && r.seen >= r.nth {
			fire = r
		}
	}
	p.mu.Unlock()
	if fire == nil {
		return Forward
	}
	return fire.fn(c)
}

func (p *Proxy) fromServer(c *Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	greeting := &greetingReader{proto: p.proto, c: c}
	buf := make([]byte, 64<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			p.wait()
			greeting.feed(buf[:n])
			if c.dropAnswer.Load() {
				return
			}
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// A paused network carries no close either: the client
			// learns of it once the pause ends.
			p.wait()
			return
		}
	}
}

// greetingReader reads the connection's server id from what the server
// sends first.
type greetingReader struct {
	proto Protocol
	c     *Conn
	buf   []byte
	done  bool
}

func (g *greetingReader) feed(b []byte) {
	if g.done {
		return
	}
	g.buf = append(g.buf, b...)
	switch g.proto {
	case MySQL:
		// Packet header (3-byte length, sequence), protocol version 10,
		// the NUL-terminated server version, then the 4-byte id.
		if len(g.buf) < 5 {
			return
		}
		end := bytes.IndexByte(g.buf[5:], 0)
		if end < 0 || len(g.buf) < 5+end+1+4 {
			return
		}
		off := 5 + end + 1
		g.c.serverID.Store(int64(binary.LittleEndian.Uint32(g.buf[off : off+4])))
		g.done = true
	case Postgres:
		// Typed messages: type, 4-byte length (itself included), payload.
		// BackendKeyData ('K') holds the pid; ReadyForQuery ('Z') ends
		// the greeting.
		for len(g.buf) >= 5 {
			typ, size := g.buf[0], int(binary.BigEndian.Uint32(g.buf[1:5]))
			if size < 4 || len(g.buf) < 1+size {
				return
			}
			switch typ {
			case 'K':
				if size >= 12 {
					g.c.serverID.Store(int64(binary.BigEndian.Uint32(g.buf[5:9])))
				}
				g.done = true
			case 'Z', 'E':
				g.done = true
			}
			g.buf = g.buf[1+size:]
			if g.done {
				break
			}
		}
	default:
		g.done = true
	}
	if g.done {
		g.buf = nil
	}
}

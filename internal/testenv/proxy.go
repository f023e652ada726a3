package testenv

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a server, for tests that cut a
// connection (as a server restart would) or make the server unreachable.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// NewProxy forwards to the host of targetURL (ws://host:port/rpc, say);
// URL gives the same URL through the proxy. It stops when the test ends.
func NewProxy(t testing.TB, targetURL string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: u.Host}
	u.Host = ln.Addr().String()
	t.Cleanup(p.Stop)
	go p.serve()
	return p, u.String()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// Cut closes every connection made so far; new ones still go through.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Stop cuts every connection and refuses new ones.
func (p *Proxy) Stop() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		_ = p.ln.Close()
	}
	p.mu.Unlock()
	p.Cut()
}

package webhooktest

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy spreads TCP connections round-robin over backends, as a Service
// spreads them over webhook replicas. It passes TLS through untouched.
type Proxy struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	next     int
	counts   map[string]*atomic.Int64
	open     map[net.Conn]bool
	wg       sync.WaitGroup
}

// NewProxy listens on addr (host:port).
func NewProxy(addr string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy listen %s: %w", addr, err)
	}
	p := &Proxy{ln: ln, counts: map[string]*atomic.Int64{}, open: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// SetBackends replaces the backends (host:port each); open connections stay
// where they are.
func (p *Proxy) SetBackends(addrs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = addrs
	p.next = 0
	for _, a := range addrs {
		if p.counts[a] == nil {
			p.counts[a] = &atomic.Int64{}
		}
	}
}

// Connections returns how many connections went to addr.
func (p *Proxy) Connections(addr string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.counts[addr]; c != nil {
		return c.Load()
	}
	return 0
}

// CloseConnections closes every open connection, so that the API server's
// next calls, which would otherwise reuse a kept-alive connection to an
// earlier backend, reach the current ones. Call it only while no admission
// is in flight.
func (p *Proxy) CloseConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.open {
		_ = c.Close()
	}
}

// Close stops accepting and waits for the accept loop.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.backends) == 0 {
		return ""
	}
	b := p.backends[p.next%len(p.backends)]
	p.next++
	p.counts[b].Add(1)
	return b
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(client net.Conn) {
	p.mu.Lock()
	p.open[client] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.open, client)
		p.mu.Unlock()
		_ = client.Close()
	}()
	addr := p.pick()
	if addr == "" {
		return
	}
	backend, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(backend, client)
	go cp(client, backend)
	<-done
	<-done
}

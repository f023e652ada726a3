package surreal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Pool is cfg.PoolSize signed-in connections handed out round-robin. A
// WebSocket connection multiplexes concurrent requests, so a small pool
// spreads load over several server-side sessions without per-call setup.
// A connection found broken (IsConnError) is replaced with Replace, so a
// long-running process outlives a SurrealDB restart.
type Pool struct {
	cfg     config.Surreal
	log     *slog.Logger
	clients []atomic.Pointer[Client]
	next    atomic.Uint64
	mu      sync.Mutex // serialises Replace
}

// NewPool connects cfg.PoolSize clients; if any fails, none is kept.
func NewPool(ctx context.Context, cfg config.Surreal, log *slog.Logger) (*Pool, error) {
	n := max(cfg.PoolSize, 1)
	p := &Pool{cfg: cfg, log: log, clients: make([]atomic.Pointer[Client], n)}
	for i := range n {
		c, err := Connect(ctx, cfg, log)
		if err != nil {
			_ = p.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		p.clients[i].Store(c)
	}
	return p, nil
}

// Get returns the next client.
func (p *Pool) Get() *Client {
	return p.clients[(p.next.Add(1)-1)%uint64(len(p.clients))].Load()
}

// Size is the number of connections.
func (p *Pool) Size() int { return len(p.clients) }

// Replace swaps a broken client for a new connection and returns the
// client now in its place (another caller's replacement, if it was
// first).
func (p *Pool) Replace(ctx context.Context, broken *Client) (*Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.clients {
		if p.clients[i].Load() != broken {
			continue
		}
		if broken == nil {
			return nil, fmt.Errorf("%w: the SurrealDB pool is closed", net.ErrClosed)
		}
		c, err := Connect(ctx, p.cfg, p.log)
		if err != nil {
			return nil, err
		}
		p.clients[i].Store(c)
		_ = broken.Close(context.WithoutCancel(ctx))
		return c, nil
	}
	return p.Get(), nil
}

// Do runs fn with a client; when the connection turns out broken it
// reconnects that client and runs fn once more. fn's context is also
// cancelled the moment the client's connection dies, so a request sent
// on it does not wait for surreal.timeout.
func (p *Pool) Do(ctx context.Context, fn func(context.Context, *Client) error) error {
	cl := p.Get()
	if cl == nil {
		return fmt.Errorf("%w: the SurrealDB pool is closed", net.ErrClosed)
	}
	if isDead(cl) {
		// Known gone: reconnect first (the SDK must not be called on a
		// closed connection).
		fresh, err := p.Replace(ctx, cl)
		if err != nil {
			return fmt.Errorf("%w: reconnecting to SurrealDB: %v", net.ErrClosed, err)
		}
		cl = fresh
	}
	err := runWatched(ctx, cl, fn)
	if err == nil || ctx.Err() != nil || !(IsConnError(err) || isDead(cl)) {
		return err
	}
	fresh, rerr := p.Replace(ctx, cl)
	if rerr != nil {
		return err
	}
	return runWatched(ctx, fresh, fn)
}

// Watch returns a context that is also cancelled when the client's
// connection dies, so a request sent on a lost connection fails at once
// instead of waiting for surreal.timeout.
func (c *Client) Watch(ctx context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(ctx)
	if c.dead == nil {
		return wctx, cancel
	}
	go func() {
		select {
		case <-c.dead:
			cancel()
		case <-wctx.Done():
		}
	}()
	return wctx, cancel
}

// IsDead reports whether the client's connection is known to be gone.
func (c *Client) IsDead() bool { return isDead(c) }

// runWatched runs fn with a context cancelled when cl's connection dies.
func runWatched(ctx context.Context, cl *Client, fn func(context.Context, *Client) error) error {
	if cl.dead == nil {
		return fn(ctx, cl)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cl.dead:
			cancel()
		case <-wctx.Done():
		}
	}()
	err := fn(wctx, cl)
	if err != nil && isDead(cl) && ctx.Err() == nil {
		return fmt.Errorf("%w: the connection to SurrealDB was lost (%v)", net.ErrClosed, err)
	}
	return err
}

func isDead(cl *Client) bool {
	if cl.dead == nil {
		return false
	}
	select {
	case <-cl.dead:
		return true
	default:
		return false
	}
}

// Close closes every connection.
func (p *Pool) Close(ctx context.Context) error {
	var errs []error
	for i := range p.clients {
		if c := p.clients[i].Swap(nil); c != nil {
			errs = append(errs, c.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// IsConnError reports whether err means the connection to SurrealDB is
// gone (reconnect), rather than SurrealDB refusing a statement.
func IsConnError(err error) bool {
	var ne net.Error
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"closed pipe", "connection reset", "broken pipe", "use of closed network connection", "connection refused", "websocket: close"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

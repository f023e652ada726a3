package surreal

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Pool is cfg.PoolSize signed-in connections handed out round-robin. A
// WebSocket connection multiplexes concurrent requests, so a small pool
// spreads load over several server-side sessions without per-call setup.
type Pool struct {
	clients []*Client
	next    atomic.Uint64
}

// NewPool connects cfg.PoolSize clients; if any fails, none is kept.
func NewPool(ctx context.Context, cfg config.Surreal, log *slog.Logger) (*Pool, error) {
	n := max(cfg.PoolSize, 1)
	p := &Pool{}
	for range n {
		c, err := Connect(ctx, cfg, log)
		if err != nil {
			_ = p.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		p.clients = append(p.clients, c)
	}
	return p, nil
}

// Get returns the next client.
func (p *Pool) Get() *Client {
	return p.clients[(p.next.Add(1)-1)%uint64(len(p.clients))]
}

// Size is the number of connections.
func (p *Pool) Size() int { return len(p.clients) }

// Close closes every connection.
func (p *Pool) Close(ctx context.Context) error {
	var errs []error
	for _, c := range p.clients {
		errs = append(errs, c.Close(ctx))
	}
	p.clients = nil
	return errors.Join(errs...)
}

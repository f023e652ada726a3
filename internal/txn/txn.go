package txn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// DecisionTable is the SurrealDB table of decision records: one per
// global transaction id, written in the same SurrealDB transaction as the
// SurrealDB part (commit) or by the resolver (abort, the fence).
const DecisionTable = "_pgsurreal_tx"

// GIDPrefix starts the global id of every prepared transaction pgsurreal
// makes; the resolver touches no other.
const GIDPrefix = "pgsurreal:"

// Options configure a Coordinator.
type Options struct {
	PG      *pgxpool.Pool
	Surreal *surreal.Pool
	// Schema holds the coordinator table (pgsurreal).
	Schema string
	// Lease is how long the coordinator's lease lasts without renewal;
	// the resolver of another process rolls back this coordinator's
	// undecided transactions only after it expired. Default 10s.
	Lease time.Duration
	// MaxAttempts bounds the attempts of one transaction (serialization
	// failures, deadlocks, SurrealDB write conflicts); default 5.
	MaxAttempts int
	Log         *slog.Logger
	Metrics     *Metrics
}

// Coordinator runs distributed transactions under a lease of its own.
type Coordinator struct {
	o     Options
	id    string
	lease atomic.Int64 // unix nanos the lease is known to last until
	stop  context.CancelFunc
	done  chan struct{}
	// hook, set by tests, runs at each commit point.
	hook func(point string)
}

// Start registers a coordinator (a new id, its lease row) and keeps the
// lease renewed until Close.
func Start(ctx context.Context, o Options) (*Coordinator, error) {
	if o.Lease <= 0 {
		o.Lease = 10 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Schema == "" {
		o.Schema = "pgsurreal"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if err := ensureSchema(ctx, o.PG, o.Schema); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	c := &Coordinator{o: o, id: sanitize(host) + "-" + hex.EncodeToString(b), done: make(chan struct{})}
	if err := c.renew(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = cancel
	go c.keepLease(rctx)
	return c, nil
}

// ID is the coordinator's identity, part of every global id it makes.
func (c *Coordinator) ID() string { return c.id }

// Close stops renewing the lease and gives it up, so that a resolver may
// finish this coordinator's in-doubt transactions at once.
func (c *Coordinator) Close(ctx context.Context) error {
	c.stop()
	<-c.done
	_, err := c.o.PG.Exec(ctx, "UPDATE "+c.table()+" SET expires_at = now() WHERE id = $1", c.id)
	return err
}

func (c *Coordinator) table() string { return postgres.QualifiedIdent(c.o.Schema, "tx_coordinator") }

func (c *Coordinator) renew(ctx context.Context) error {
	began := time.Now()
	_, err := c.o.PG.Exec(ctx, "INSERT INTO "+c.table()+` (id, expires_at) VALUES ($1, now() + $2::interval)
ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at`, c.id, fmt.Sprintf("%d milliseconds", c.o.Lease.Milliseconds()))
	if err != nil {
		return fmt.Errorf("renewing the transaction coordinator's lease: %w", err)
	}
	// The lease is trusted for its length measured from before the write,
	// less a margin, on this clock.
	c.lease.Store(began.Add(c.o.Lease * 4 / 5).UnixNano())
	return nil
}

func (c *Coordinator) keepLease(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.o.Lease / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.renew(ctx); err != nil && ctx.Err() == nil {
				c.o.Log.Warn("cannot renew the transaction coordinator's lease; new transactions wait for it", "coordinator", c.id, "err", err)
			}
		}
	}
}

// leased reports whether the lease is still surely held: a coordinator
// that lost it must not commit (a resolver may be aborting its
// transactions).
func (c *Coordinator) leased() bool { return time.Now().UnixNano() < c.lease.Load() }

// newGID makes a global transaction id: pgsurreal:<coordinator>:<random>.
func (c *Coordinator) newGID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return GIDPrefix + c.id + ":" + hex.EncodeToString(b)
}

// coordinatorOf is the coordinator part of a global id ("" if not ours).
func coordinatorOf(gid string) string {
	rest, ok := strings.CutPrefix(gid, GIDPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return id
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "pgsurreal"
	}
	return b.String()
}

// retryable reports a failure a new attempt may not meet: a PostgreSQL
// serialization failure or deadlock, a SurrealDB write conflict.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *surrealError
	if errors.As(err, &se) {
		return strings.Contains(se.msg, "can be retried") || strings.Contains(strings.ToLower(se.msg), "conflict")
	}
	return false
}

// surrealError is a SurrealDB statement or commit failure.
type surrealError struct{ msg string }

func (e *surrealError) Error() string { return "SurrealDB: " + e.msg }

// isolation maps a level name to pgx's.
func isolation(level string) (pgx.TxIsoLevel, error) {
	switch strings.ToLower(strings.ReplaceAll(level, "_", " ")) {
	case "", "read committed":
		return pgx.ReadCommitted, nil
	case "repeatable read":
		return pgx.RepeatableRead, nil
	case "serializable":
		return pgx.Serializable, nil
	}
	return "", fmt.Errorf("isolation level %q is not read committed, repeatable read or serializable", level)
}

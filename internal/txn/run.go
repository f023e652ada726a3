package txn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// TxOptions are one transaction's choices.
type TxOptions struct {
	// Isolation is the PostgreSQL part's level: read committed (the
	// default), repeatable read or serializable.
	Isolation string
	// Timeout bounds the whole transaction, all attempts; default 30s.
	Timeout time.Duration
	// MaxAttempts overrides the coordinator's.
	MaxAttempts int
}

// Tx is one attempt of a distributed transaction: a PostgreSQL
// transaction and a SurrealDB interactive transaction, committed together
// or not at all.
type Tx struct {
	pg  *pgxpool.Conn
	sur *SurrealTx
}

// PG is the PostgreSQL part: statements run inside its transaction.
func (t *Tx) PG() PG { return t.pg }

// Surreal is the SurrealDB part.
func (t *Tx) Surreal() *SurrealTx { return t.sur }

// PG runs statements in the PostgreSQL part.
type PG interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SurrealTx is the SurrealDB part. Query runs statements at once, inside
// a SurrealDB interactive transaction begun on first use; Exec queues
// write statements whose results the caller does not need, to run at
// commit in the same SurrealDB transaction as the commit decision. A part
// made only of Exec statements costs one SurrealDB round trip in all.
type SurrealTx struct {
	cl    *surreal.Client
	tx    *surrealdb.Transaction // nil until the first Query
	queue []queued
}

type queued struct {
	sql  string
	vars map[string]any
}

// Query runs SurrealQL now (values in vars, never in the text) and
// returns each statement's result; a statement SurrealDB refused is an
// error.
func (s *SurrealTx) Query(ctx context.Context, sql string, vars map[string]any) ([]any, error) {
	ctx, cancel := s.cl.Watch(ctx)
	defer cancel()
	if s.tx == nil {
		tx, err := s.cl.DB.Begin(ctx)
		if err != nil {
			return nil, &surrealError{msg: "beginning a transaction: " + err.Error()}
		}
		s.tx = tx
	}
	res, err := surrealdb.Query[any](ctx, s.tx, sql, vars)
	if err != nil {
		return nil, &surrealError{msg: err.Error()}
	}
	out := make([]any, len(*res))
	for i, r := range *res {
		if r.Status != "OK" {
			return nil, &surrealError{msg: fmt.Sprintf("statement %d: %v", i+1, r.Result)}
		}
		out[i] = r.Result
	}
	return out, nil
}

// Exec queues SurrealQL to run at commit, atomically with the rest of
// the transaction. If it fails there, nothing of the transaction is
// applied. Parameter names are shared by all queued statements: the same
// name must mean the same value.
func (s *SurrealTx) Exec(sql string, vars map[string]any) error {
	for _, q := range s.queue {
		for k, v := range vars {
			if old, ok := q.vars[k]; ok && fmt.Sprint(old) != fmt.Sprint(v) {
				return fmt.Errorf("SurrealQL parameter $%s is given two values by queued statements: rename one of them", k)
			}
		}
	}
	s.queue = append(s.queue, queued{sql: sql, vars: vars})
	return nil
}

// cancel discards the interactive transaction, if any.
func (s *SurrealTx) cancel(ctx context.Context) {
	if s.tx != nil {
		_ = s.tx.Cancel(ctx)
	}
}

// RunTx runs fn as one transaction over both databases: both parts commit
// or neither does, even if this process, PostgreSQL or SurrealDB dies at
// any instant (the resolver finishes what was decided). fn may be run
// again (with a fresh Tx) after a serialization failure, a deadlock or a
// SurrealDB write conflict, up to MaxAttempts; it must not have effects
// outside the transaction.
func (c *Coordinator) RunTx(ctx context.Context, o TxOptions, fn func(ctx context.Context, tx *Tx) error) error {
	iso, err := isolation(o.Isolation)
	if err != nil {
		return err
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = c.o.MaxAttempts
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, iso, fn)
		if err == nil {
			c.o.Metrics.Committed.Inc()
			return nil
		}
		if !retryable(err) || attempt >= attempts || ctx.Err() != nil {
			c.o.Metrics.Aborted.Inc()
			if retryable(err) {
				return &gaveUpError{fmt.Errorf("transaction gave up after %d attempts (raise the attempts, or make the transactions conflict less): %w", attempt, err)}
			}
			return err
		}
		c.o.Metrics.Retried.Inc()
		pause := time.Duration(float64(10*time.Millisecond) * float64(uint(1)<<min(attempt-1, 6)) * (0.5 + rand.Float64()))
		select {
		case <-ctx.Done():
			c.o.Metrics.Aborted.Inc()
			return fmt.Errorf("transaction timed out while waiting to retry: %w", err)
		case <-time.After(pause):
		}
	}
}

// gaveUpError is a transaction that kept conflicting until MaxAttempts.
type gaveUpError struct{ err error }

func (e *gaveUpError) Error() string { return e.err.Error() }
func (e *gaveUpError) Unwrap() error { return e.err }

// GaveUp reports whether err is RunTx giving up after its attempts.
func GaveUp(err error) bool {
	var g *gaveUpError
	return errors.As(err, &g)
}

// attempt runs fn once and commits: PREPARE TRANSACTION in PostgreSQL,
// then the SurrealDB commit that also writes the commit decision (the
// commit point), then COMMIT PREPARED.
func (c *Coordinator) attempt(ctx context.Context, iso pgx.TxIsoLevel, fn func(context.Context, *Tx) error) (err error) {
	if !c.leased() {
		return errors.New("the transaction coordinator's lease is not renewed (is PostgreSQL reachable?): not starting a transaction it could not finish")
	}
	conn, err := c.o.PG.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL "+strings.ToUpper(string(iso))); err != nil {
		return err
	}
	sur := &SurrealTx{cl: c.o.Surreal.Get()}
	prepared := false
	defer func() {
		if err == nil || prepared {
			return
		}
		bg := context.WithoutCancel(ctx)
		sur.cancel(bg)
		_, _ = conn.Exec(bg, "ROLLBACK")
	}()
	if err := fn(ctx, &Tx{pg: conn, sur: sur}); err != nil {
		return err
	}
	gid := c.newGID()
	t := time.Now()
	if _, err := conn.Exec(ctx, "PREPARE TRANSACTION "+quoteLiteral(gid)); err != nil {
		return err
	}
	prepared = true
	c.o.Metrics.Phase.WithLabelValues("pg_prepare").Observe(time.Since(t).Seconds())
	c.at(FaultAfterPGPrepare)

	t = time.Now()
	if err := c.surrealCommit(ctx, sur, gid); err != nil {
		return c.afterFailedCommit(ctx, gid, err)
	}
	c.o.Metrics.Phase.WithLabelValues("surreal_commit").Observe(time.Since(t).Seconds())
	c.at(FaultAfterSurrealCommit)

	t = time.Now()
	c.at(FaultBeforeCommitPrepared)
	if _, err := c.o.PG.Exec(context.WithoutCancel(ctx), "COMMIT PREPARED "+quoteLiteral(gid)); err != nil && !strings.Contains(err.Error(), "does not exist") {
		// Committed all the same: the decision is recorded, and the
		// resolver finishes the PostgreSQL part.
		c.o.Log.Warn("COMMIT PREPARED failed after the commit point; the resolver will finish it", "gid", gid, "err", err)
		return nil
	}
	c.o.Metrics.Phase.WithLabelValues("pg_commit_prepared").Observe(time.Since(t).Seconds())
	return nil
}

// surrealCommit runs the queued statements and writes the commit
// decision in the SurrealDB transaction, and commits it: in the
// interactive transaction if Query opened one, else as one
// BEGIN ... COMMIT query. The decision is a CREATE: if the resolver has
// fenced the id with an abort record first, the CREATE (or the commit,
// if the fence lands in between) fails, and nothing of the SurrealDB part
// is applied.
func (c *Coordinator) surrealCommit(ctx context.Context, s *SurrealTx, gid string) error {
	if !c.leased() {
		s.cancel(context.WithoutCancel(ctx))
		return &definiteError{errors.New("the transaction coordinator's lease expired before the commit point")}
	}
	vars := map[string]any{"pgsurreal_tx_table": DecisionTable, "pgsurreal_tx_gid": gid}
	var b strings.Builder
	for _, q := range s.queue {
		b.WriteString(q.sql)
		b.WriteString(";\n")
		for k, v := range q.vars {
			vars[k] = v
		}
	}
	b.WriteString("CREATE type::record($pgsurreal_tx_table, $pgsurreal_tx_gid) SET decision = 'commit', at = time::now() RETURN NONE;")
	outer := ctx
	ctx, cancel := s.cl.Watch(ctx)
	defer cancel()
	if s.tx == nil {
		// One round trip: the statements, the decision and the commit.
		res, err := surrealdb.Query[any](ctx, s.cl.DB, "BEGIN;\n"+b.String()+"\nCOMMIT;", vars)
		if err != nil {
			if surreal.IsConnError(err) || ctx.Err() != nil || s.cl.IsDead() {
				return &surrealError{msg: "commit (outcome unknown): " + err.Error()}
			}
			return &definiteError{&surrealError{msg: "commit: " + err.Error()}}
		}
		for i, r := range *res {
			if r.Status != "OK" {
				return &definiteError{&surrealError{msg: fmt.Sprintf("commit: statement %d: %v", i+1, r.Result)}}
			}
		}
		c.at(pointDecisionWritten)
		return nil
	}
	res, err := surrealdb.Query[any](ctx, s.tx, b.String(), vars)
	if err == nil {
		for i, r := range *res {
			if r.Status != "OK" {
				err = fmt.Errorf("statement %d: %v", i+1, r.Result)
				break
			}
		}
	}
	if err != nil {
		s.cancel(context.WithoutCancel(ctx))
		return &definiteError{&surrealError{msg: "writing the commit decision: " + err.Error()}}
	}
	c.at(pointDecisionWritten)
	if err := s.tx.Commit(ctx); err != nil {
		if (strings.Contains(err.Error(), "conflict") || strings.Contains(err.Error(), "can be retried")) && outer.Err() == nil {
			return &definiteError{&surrealError{msg: "commit: " + err.Error()}}
		}
		return &surrealError{msg: "commit (outcome unknown): " + err.Error()}
	}
	return nil
}

// definiteError is a SurrealDB commit that surely did not happen.
type definiteError struct{ err error }

func (e *definiteError) Error() string { return e.err.Error() }
func (e *definiteError) Unwrap() error { return e.err }

// afterFailedCommit settles a transaction whose SurrealDB commit failed:
// rolled back when the commit surely did not happen, else decided as the
// resolver would (the decision record says; none means abort, fenced).
func (c *Coordinator) afterFailedCommit(ctx context.Context, gid string, cause error) error {
	bg := context.WithoutCancel(ctx)
	var de *definiteError
	if errors.As(cause, &de) {
		if _, err := c.o.PG.Exec(bg, "ROLLBACK PREPARED "+quoteLiteral(gid)); err != nil {
			c.o.Log.Warn("ROLLBACK PREPARED failed; the resolver will finish it", "gid", gid, "err", err)
		}
		return de.err
	}
	outcome, err := settle(bg, c.o, gid)
	if err != nil {
		return fmt.Errorf("%w; and settling its outcome failed (the resolver will retry): %v", cause, err)
	}
	if outcome == decisionCommit {
		return nil
	}
	return fmt.Errorf("transaction rolled back: %w", cause)
}

// quoteLiteral quotes a SQL string literal (global ids are pgsurreal's own
// hex and name characters; PREPARE TRANSACTION takes no parameters).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

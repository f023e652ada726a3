package demo

import (
	"context"
	"fmt"
	gosync "sync"
	"sync/atomic"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// pipeline is a replication pipeline (pgsync.Run or reverse.Run) running
// in a goroutine.
type pipeline struct {
	// name and into say which pipeline it is and where it writes, for
	// messages: "replication pipeline" into "SurrealDB".
	name, into string
	started    time.Time
	rows       atomic.Int64 // rows the snapshot copied so far
	cancel     context.CancelFunc
	done       chan struct{} // closed when Run returned; err is then set
	err        error
	once       gosync.Once
}

// startPipeline runs the replication of the demo database into the demo
// namespace until stop (or until ctx ends).
func (d *session) startPipeline(ctx context.Context) *pipeline {
	pl := &pipeline{name: "replication pipeline", into: "SurrealDB"}
	o := pgsync.Options{
		Postgres: d.o.demoPG(),
		Surreal:  d.o.demoSurreal(),
		Sync:     d.o.syncConfig(),
		Log:      d.o.Log,
		// The reverse step's writes are not sent back (the target is also
		// excluded from the tables).
		SkipOrigin: d.o.origin(),
		// Progress is reported, not drawn: the demo prints the total.
		Progress: func(tables []pgsync.TableProgress, _ bool) {
			var n int64
			for _, t := range tables {
				n += t.Rows
			}
			pl.rows.Store(n)
		},
	}
	pl.start(ctx, func(ctx context.Context) error { return pgsync.Run(ctx, o) })
	return pl
}

// start runs run in a goroutine until stop (or until ctx ends).
func (pl *pipeline) start(ctx context.Context, run func(context.Context) error) {
	pl.started, pl.done = time.Now(), make(chan struct{})
	pctx, cancel := context.WithCancel(ctx)
	pl.cancel = cancel
	go func() {
		defer close(pl.done)
		pl.err = run(pctx)
	}()
}

// stop ends the pipeline and returns its error, if it failed.
func (pl *pipeline) stop() error {
	pl.once.Do(pl.cancel)
	<-pl.done
	return pl.err
}

// failed returns the pipeline's error if it has stopped.
func (pl *pipeline) failed() (bool, error) {
	select {
	case <-pl.done:
		return true, pl.err
	default:
		return false, nil
	}
}

// stoppedError explains a pipeline that ended on its own.
func (pl *pipeline) stoppedError(err error) error {
	if err == nil {
		return fmt.Errorf("the %s stopped unexpectedly", pl.name)
	}
	return fmt.Errorf("the %s stopped: %w", pl.name, err)
}

// waitStreaming waits until the pipeline stored the "streaming" phase in
// SurrealDB, that is until the snapshot is complete.
func (d *session) waitStreaming(ctx context.Context, pl *pipeline) error {
	deadline := time.Now().Add(d.o.SnapshotTimeout)
	var lastErr error
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if stopped, err := pl.failed(); stopped {
			return pl.stoppedError(err)
		}
		phase, err := d.phase(ctx)
		switch {
		case err != nil && !isMissing(err):
			lastErr = err
		case phase == pgsync.PhaseStreaming:
			return nil
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("the snapshot did not finish within %s (%d rows copied so far, position phase %q)", d.o.SnapshotTimeout, pl.rows.Load(), phase)
			if lastErr != nil {
				msg += fmt.Sprintf("; last SurrealDB error: %v", lastErr)
			}
			return fmt.Errorf("%s: check `pgsurreal doctor` and the log (--log-level debug)", msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pl.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// phase reads the phase of the slot's stored position ("" if none yet).
func (d *session) phase(ctx context.Context) (string, error) {
	res, err := surrealdb.Query[[]string](ctx, d.sur.DB, "SELECT VALUE phase FROM type::record($t, $slot)",
		map[string]any{"t": sink.PositionTable, "slot": d.o.Slot})
	if err != nil {
		return "", err
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return "", nil
	}
	return (*res)[0].Result[0], nil
}

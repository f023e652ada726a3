package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// deadLetterOr handles a group SurrealDB refused. Without sync.dead_letter
// the pipeline stops: nothing is skipped. With it, each transaction of the
// group is applied on its own, the refused row's writes are parked in the
// dead-letter table in PostgreSQL, and the rest goes through.
func (a *applier) deadLetterOr(ctx context.Context, group []cdc.Txn, err error) error {
	var ae *sink.ApplyError
	if !errors.As(err, &ae) {
		return err
	}
	table := a.p.o.Sync.DeadLetter
	if table == "" {
		return &PermanentError{fmt.Errorf("%w\nreplication stopped so that no change is lost: fix the value or the SurrealDB schema and restart `pgsurreal sync`, or set sync.dead_letter to park such changes in a PostgreSQL table", err)}
	}
	if err := a.p.ensureDeadLetter(ctx, table); err != nil {
		return err
	}
	clear(a.counts) // the group is mapped again below, one transaction at a time
	for _, t := range group {
		ws, err := a.writes(t)
		if err != nil {
			return err
		}
		for {
			err := a.p.sink.Apply(ctx, ws, a.p.position(PhaseStreaming, t.End, t.CommitTime))
			if err == nil {
				break
			}
			if !errors.As(err, &ae) || ae.Source == "" {
				return err
			}
			var parked, kept []mapping.Write
			for _, w := range ws {
				if w.Source == ae.Source {
					parked = append(parked, w)
				} else {
					kept = append(kept, w)
				}
			}
			if err := a.p.park(ctx, table, t, ae, parked); err != nil {
				return err
			}
			a.p.o.Metrics.DeadLetters.Inc()
			a.p.log.Error("change parked in the dead-letter table", "table", table, "row", ae.Source, "lsn", t.End.String(), "err", ae.Msg)
			ws = kept
		}
		a.done([]cdc.Txn{t}, len(t.Changes), time.Now())
	}
	return nil
}

func (p *Pipeline) ensureDeadLetter(ctx context.Context, table string) error {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "public", table
	}
	q := fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %s;
CREATE TABLE IF NOT EXISTS %s (
  id bigserial PRIMARY KEY,
  parked_at timestamptz NOT NULL DEFAULT now(),
  source text NOT NULL,
  lsn pg_lsn NOT NULL,
  error text NOT NULL,
  writes jsonb NOT NULL)`, postgres.Ident(schema), postgres.QualifiedIdent(schema, name))
	if _, err := p.pool.Exec(ctx, q); err != nil {
		return fmt.Errorf("creating dead-letter table %s: %w", table, err)
	}
	return nil
}

func (p *Pipeline) park(ctx context.Context, table string, t cdc.Txn, ae *sink.ApplyError, ws []mapping.Write) error {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "public", table
	}
	doc, err := json.Marshal(ws)
	if err != nil {
		doc = []byte(fmt.Sprintf("%q", fmt.Sprint(ws)))
	}
	_, err = p.pool.Exec(ctx, "INSERT INTO "+postgres.QualifiedIdent(schema, name)+" (source, lsn, error, writes) VALUES ($1, $2::pg_lsn, $3, $4)",
		ae.Source, t.End.String(), ae.Msg, string(doc))
	if err != nil {
		return fmt.Errorf("parking a change in %s: %w", table, err)
	}
	return nil
}

// parkUnmappable handles a change the mapping cannot express in SurrealDB
// (a value SurrealDB cannot store unchanged): without sync.dead_letter the
// pipeline stops naming table, key and column; with it the change is
// parked and replication goes on.
func (a *applier) parkUnmappable(t cdc.Txn, ch cdc.Change, err error) error {
	table := a.p.o.Sync.DeadLetter
	if table == "" {
		return &PermanentError{fmt.Errorf("%w\nreplication stopped so that no change is lost: exclude or transform the column, or set sync.dead_letter to park such changes in a PostgreSQL table", err)}
	}
	ctx := a.ctx
	if err := a.p.ensureDeadLetter(ctx, table); err != nil {
		return err
	}
	src := "a truncate"
	if ch.Rel != nil {
		src = ch.Rel.QualifiedName() + " (" + ch.Op.String() + ")"
	}
	ae := &sink.ApplyError{Source: src, Msg: err.Error()}
	if perr := a.p.park(ctx, table, t, ae, nil); perr != nil {
		return perr
	}
	a.p.o.Metrics.DeadLetters.Inc()
	a.p.log.Error("change parked in the dead-letter table", "table", table, "row", src, "lsn", t.End.String(), "err", err)
	return nil
}

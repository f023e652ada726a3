package reverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// Two-way tables are written on both sides. sync carries PostgreSQL's
// writes to SurrealDB; this pipeline carries SurrealDB's to PostgreSQL.
// Each direction skips the other's echoes (see stream.go), and this
// pipeline, which sees SurrealDB's changes and sync's writes in one order
// (the changefeed), decides conflicts:
//
// A native SurrealDB change S is always applied to PostgreSQL, and the
// version it wrote is recorded in reverse_versions (SurrealDB time,
// deleted or not). When sync's echo of a PostgreSQL change P then shows
// up in the feed (after S), P was committed in PostgreSQL before S
// reached it, and S was committed in SurrealDB before P reached it: they
// are concurrent. That is detected from the PostgreSQL row: if its
// current version was written by this pipeline (its transaction carries
// the replication origin), or it is gone and reverse_versions says this
// pipeline deleted it after P committed, the two conflict. The table's
// policy picks the winner, the conflict is logged, and the losing side is
// repaired:
//
//   - PostgreSQL wins: P's content (the echo's record) is written into
//     PostgreSQL; SurrealDB already holds it.
//   - SurrealDB wins: PostgreSQL already holds S; SurrealDB is repaired by
//     rewriting the PostgreSQL row natively (a no-op UPDATE outside the
//     origin, queued in reverse_repairs and run after the commit), which
//     sync then replicates, or, when S deleted the row, by deleting the
//     record in SurrealDB (tagged as pgsurreal's own).
//
// last_writer_wins compares P's commit time (carried by sync's position
// record in the same SurrealDB transaction: the commit time of the last
// transaction of sync's group) with S's versionstamp time.

// twoWayTables are pgsurreal's PostgreSQL tables for two-way arbitration.
type twoWayTables struct {
	versions, conflicts, repairs string
}

func newTwoWayTables(schema string) twoWayTables {
	return twoWayTables{
		versions:  postgres.QualifiedIdent(schema, "reverse_versions"),
		conflicts: postgres.QualifiedIdent(schema, "conflict_log"),
		repairs:   postgres.QualifiedIdent(schema, "reverse_repairs"),
	}
}

func (w twoWayTables) create() []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + w.versions + ` (
  source        text NOT NULL,
  surreal_table text NOT NULL,
  key           text NOT NULL,
  surreal_time  timestamptz NOT NULL,
  deleted       boolean NOT NULL,
  written_at    timestamptz NOT NULL,
  PRIMARY KEY (source, surreal_table, key))`,
		"CREATE TABLE IF NOT EXISTS " + w.conflicts + ` (
  id             bigserial PRIMARY KEY,
  decided_at     timestamptz NOT NULL DEFAULT now(),
  surreal_table  text NOT NULL,
  target         text NOT NULL,
  key            text NOT NULL,
  postgres_value jsonb,
  surreal_value  jsonb,
  postgres_time  timestamptz,
  surreal_time   timestamptz,
  policy         text NOT NULL,
  winner         text NOT NULL)`,
		"CREATE TABLE IF NOT EXISTS " + w.repairs + ` (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  surreal_table text NOT NULL,
  key           text NOT NULL)`,
	}
}

// keyText is a key's stable text form (its values are text or nil).
func keyText(key []any) string {
	b, _ := json.Marshal(key)
	return string(b)
}

// keyWhere is the WHERE clause matching a row by key, parameters from
// $first on.
func keyWhere(t *table, first int) string {
	conds := make([]string, 0, len(t.shape.KeyColumns()))
	for i, c := range t.shape.KeyColumns() {
		conds = append(conds, fmt.Sprintf("%s = $%d", postgres.Ident(c), first+i))
	}
	return strings.Join(conds, " AND ")
}

// recordVersion queues the bookkeeping of a native SurrealDB change
// applied to a two-way table.
func (p *Pipeline) recordVersion(b *pgx.Batch, t *table, key []any, vs uint64, deleted bool) {
	b.Queue("INSERT INTO "+p.tw.versions+` (source, surreal_table, key, surreal_time, deleted, written_at)
VALUES ($1, $2, $3, $4, $5, clock_timestamp())
ON CONFLICT (source, surreal_table, key) DO UPDATE SET surreal_time = EXCLUDED.surreal_time, deleted = EXCLUDED.deleted, written_at = EXCLUDED.written_at`,
		p.source, t.cfg.Name, keyText(key), source.Time(vs), deleted)
}

// arbitrate handles sync's echo ch (of a PostgreSQL change committed at
// pgTime) to a two-way table, inside the apply transaction tx.
func (p *Pipeline) arbitrate(ctx context.Context, tx pgx.Tx, t *table, ch source.Change, pgTime time.Time) error {
	key, err := t.shape.Key(ch.ID)
	if err != nil {
		return &PermanentError{err}
	}
	kt := keyText(key)
	args := append([]any{p.originID}, key...)
	var byUs bool
	var current []byte
	// Written by us: by an earlier transaction of this pipeline (its
	// commit carries the origin), or by this very transaction (an earlier
	// change of the same group; its commit is not recorded yet).
	err = tx.QueryRow(ctx, "SELECT t.xmin = (txid_current() % 4294967296)::text::xid OR COALESCE((pg_xact_commit_timestamp_origin(t.xmin)).roident = $1::oid, false), to_jsonb(t) FROM "+t.target+" t WHERE "+keyWhere(t, 2)+" FOR UPDATE", args...).Scan(&byUs, &current)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.Contains(pe.Message, "track_commit_timestamp") {
			return &PermanentError{fmt.Errorf("two-way table %s needs commit timestamps: set track_commit_timestamp = on in PostgreSQL (restart required)", t.cfg.Name)}
		}
		return err
	}
	var sTime, writtenAt time.Time
	var deleted bool
	err = tx.QueryRow(ctx, "SELECT surreal_time, deleted, written_at FROM "+p.tw.versions+" WHERE source = $1 AND surreal_table = $2 AND key = $3",
		p.source, t.cfg.Name, kt).Scan(&sTime, &deleted, &writtenAt)
	known := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	conflict := (exists && byUs) || (!exists && known && deleted && pgTime.Before(writtenAt))
	if !conflict {
		return nil
	}
	policy := t.cfg.Conflict
	if policy == "" {
		policy = "last_writer_wins"
	}
	winner := policy
	if policy == "last_writer_wins" {
		winner = "surreal"
		if !pgTime.Before(sTime) {
			winner = "postgres"
		}
	}
	var pgValue any
	if ch.Op == source.Update {
		vals, err := t.shape.Row(ch.Record)
		if err != nil {
			return &PermanentError{err}
		}
		m := map[string]any{}
		for i, c := range t.shape.Columns() {
			m[c] = vals[i]
		}
		pgValue = m
	}
	var surValue any
	if exists {
		surValue = json.RawMessage(current)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+p.tw.conflicts+` (surreal_table, target, key, postgres_value, surreal_value, postgres_time, surreal_time, policy, winner)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.cfg.Name, t.shape.Schema()+"."+t.shape.Name(), kt, pgValue, surValue, nullTime(pgTime), nullTime(sTime), policy, winner); err != nil {
		return fmt.Errorf("logging a conflict: %w", err)
	}
	p.o.Metrics.Conflicts.WithLabelValues(t.cfg.Name, winner).Inc()
	if winner == "postgres" {
		// PostgreSQL's version goes back into PostgreSQL (SurrealDB has it).
		if ch.Op == source.Update {
			vals, _ := t.shape.Row(ch.Record)
			_, err = tx.Exec(ctx, t.upsert, vals...)
		} else {
			_, err = tx.Exec(ctx, t.del, key...)
		}
		if err != nil {
			return applyErr(err, fmt.Sprintf("table %s record %s", t.cfg.Name, recordName(ch.ID)), "the conflict resolution")
		}
		_, err = tx.Exec(ctx, "INSERT INTO "+p.tw.versions+` (source, surreal_table, key, surreal_time, deleted, written_at)
VALUES ($1, $2, $3, $4, $5, clock_timestamp())
ON CONFLICT (source, surreal_table, key) DO UPDATE SET surreal_time = EXCLUDED.surreal_time, deleted = EXCLUDED.deleted, written_at = EXCLUDED.written_at`,
			p.source, t.cfg.Name, kt, pgTime, ch.Op == source.Delete)
		return err
	}
	// SurrealDB's version wins: PostgreSQL has it; repair SurrealDB.
	if exists {
		_, err = tx.Exec(ctx, "INSERT INTO "+p.tw.repairs+" (source, surreal_table, key) VALUES ($1, $2, $3)", p.source, t.cfg.Name, kt)
		return err
	}
	tag, vars := sink.Tag("reverse", "repair")
	vars["rid"] = ch.ID
	if _, err := surrealdb.Query[any](ctx, p.cl.DB, "BEGIN;\nDELETE $rid RETURN NONE;\n"+tag+"COMMIT;", vars); err != nil {
		return fmt.Errorf("deleting %s in SurrealDB after a conflict SurrealDB won: %w", recordName(ch.ID), err)
	}
	return nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// repair runs the queued repairs: each rewrites a PostgreSQL row natively
// (outside the replication origin), so that sync sends its current
// version, SurrealDB's winning one, back to SurrealDB.
func (p *Pipeline) repair(ctx context.Context) error {
	if p.native == nil {
		return nil
	}
	rows, err := p.conn.Query(ctx, "SELECT id, surreal_table, key FROM "+p.tw.repairs+" WHERE source = $1 ORDER BY id", p.source)
	if err != nil {
		return err
	}
	type job struct {
		id         int64
		table, key string
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
		var j job
		return j, r.Scan(&j.id, &j.table, &j.key)
	})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		t := p.tables[j.table]
		var key []any
		if err := json.Unmarshal([]byte(j.key), &key); err != nil || t == nil {
			return fmt.Errorf("repair %d of %s: bad key %s", j.id, j.table, j.key)
		}
		first := postgres.Ident(t.shape.KeyColumns()[0])
		touched := false
		err := pgx.BeginFunc(ctx, p.native, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, "UPDATE "+t.target+" SET "+first+" = "+first+" WHERE "+keyWhere(t, 1), key...)
			if err != nil {
				return err
			}
			touched = tag.RowsAffected() > 0
			_, err = tx.Exec(ctx, "DELETE FROM "+p.tw.repairs+" WHERE id = $1", j.id)
			return err
		})
		if err != nil {
			return fmt.Errorf("repairing %s key %s: %w", j.table, j.key, err)
		}
		if touched { // a row deleted since needs no repair
			p.o.Metrics.Repairs.Inc()
		}
	}
	return nil
}

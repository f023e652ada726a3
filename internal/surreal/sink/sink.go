// Package sink applies mapped row changes to SurrealDB. Each call applies
// its writes and the replication position they bring the target to in one
// SurrealDB transaction, so after a crash the stored position says exactly
// which source transactions are already in SurrealDB (an exactly-once
// effect across restarts).
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// PositionTable holds one record per replication slot: its position.
const PositionTable = "_pgsurreal_position"

// Position is what the sink stores about a slot.
type Position struct {
	// Phase is "snapshot" while the initial copy runs, then "streaming".
	Phase string `json:"phase"`
	// LSN is the End of the last source transaction applied.
	LSN int64 `json:"lsn"`
	// System is the source cluster's system identifier (IDENTIFY_SYSTEM).
	System string `json:"system,omitempty"`
	// CommitTime is the commit time of the last source transaction
	// applied, in Unix microseconds (0: unknown). The reverse direction
	// reads it from the changefeed to order conflicting writes.
	CommitTime int64 `json:"commit_time,omitempty"`
	// Epoch is the leader epoch (fencing token) of the process that
	// wrote it, 0 without HA. A write carrying a lower epoch than the
	// stored one is refused (ErrFenced): a newer leader took over.
	Epoch int64 `json:"epoch,omitempty"`
}

// ErrFenced is the refusal of a write from a deposed leader.
var ErrFenced = errors.New("fenced")

// fencedMsg starts the error SurrealDB throws for a deposed leader's write.
const fencedMsg = "pgsurreal fenced: "

// Sink writes to one SurrealDB server over its own connection.
//
// Lifecycle: Open connects; on a connection error Apply returns an error
// that IsRetryable reports true for, and the caller calls Reconnect before
// retrying. Query errors (a value or statement SurrealDB rejects) are
// *ApplyError and not retryable.
type Sink struct {
	cfg  config.Surreal
	slot string
	log  *slog.Logger
	cl   *surreal.Client
	tx   *surrealdb.Transaction // open interactive transaction (large source txns)
	// perRow is set when a multi-row INSERT inside the open interactive
	// transaction failed: its replay writes one statement per row, so the
	// error (if it recurs) names the row. Cleared by the next commit.
	perRow bool
	// servers spreads writes over several SurrealDB servers (see Place
	// and servers.go); nil writes everything here.
	servers *servers
}

// Open connects the sink.
func Open(ctx context.Context, cfg config.Surreal, slot string, log *slog.Logger) (*Sink, error) {
	s := &Sink{cfg: cfg, slot: slot, log: log}
	return s, s.Reconnect(ctx)
}

// Reconnect replaces the connection (after a connection error), and those
// of the other servers.
func (s *Sink) Reconnect(ctx context.Context) error {
	for _, peer := range s.peers() {
		if err := peer.Reconnect(ctx); err != nil {
			return err
		}
	}
	if s.cl != nil {
		_ = s.cl.Close(ctx)
		s.cl = nil
	}
	s.tx = nil
	cl, err := surreal.Connect(ctx, s.cfg, s.log)
	if err != nil {
		var auth *surreal.AuthError
		if errors.As(err, &auth) {
			return err
		}
		return &retryable{err}
	}
	s.cl = cl
	return nil
}

// Close closes the connection, and those of the other servers.
func (s *Sink) Close(ctx context.Context) error {
	for _, peer := range s.peers() {
		_ = peer.Close(ctx)
	}
	if s.cl == nil {
		return nil
	}
	return s.cl.Close(ctx)
}

// Client exposes the connection for reads (verification, tests).
func (s *Sink) Client() *surreal.Client { return s.cl }

// ReadPosition returns the stored position of the slot, or nil. With
// several servers it is the oldest of theirs (see Place).
func (s *Sink) ReadPosition(ctx context.Context) (*Position, error) {
	if s.servers != nil {
		return s.servers.readPosition(ctx, s)
	}
	return s.readPosition(ctx)
}

func (s *Sink) readPosition(ctx context.Context) (*Position, error) {
	p, err := ReadPosition(ctx, s.cl.DB, s.slot)
	if err != nil {
		return nil, classify(nil, err, nil, false)
	}
	return p, nil
}

// ReadPosition returns the position the sync stored for slot, or nil
// when there is none (the table does not exist before the first one).
func ReadPosition(ctx context.Context, db *surrealdb.DB, slot string) (*Position, error) {
	res, err := surrealdb.Query[[]Position](ctx, db,
		"SELECT phase, lsn, system FROM type::record($t, $slot)", map[string]any{"t": PositionTable, "slot": slot})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, nil
		}
		return nil, err
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return nil, nil
	}
	p := (*res)[0].Result[0]
	return &p, nil
}

// WaitApplied polls read (the stored position; nil counts as 0) until it
// reaches target or timeout passes, and returns the last position read
// and whether target was reached.
func WaitApplied(ctx context.Context, read func(context.Context) (*Position, error), target cdc.LSN, timeout time.Duration) (cdc.LSN, bool, error) {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	var at cdc.LSN
	for {
		pos, err := read(ctx)
		if err != nil {
			return at, false, err
		}
		if pos != nil {
			at = cdc.LSN(pos.LSN)
		}
		if at >= target {
			return at, true, nil
		}
		if time.Now().After(deadline) {
			return at, false, nil
		}
		select {
		case <-ctx.Done():
			return at, false, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, 50*time.Millisecond)
	}
}

// Apply writes ws and stores pos in one transaction. When an interactive
// transaction is open (ApplyPart), the writes and the position join it and
// Apply commits it.
func (s *Sink) Apply(ctx context.Context, ws []mapping.Write, pos Position) error {
	if s.servers != nil {
		return s.servers.apply(ctx, s, ws, pos)
	}
	return s.apply(ctx, ws, pos)
}

func (s *Sink) apply(ctx context.Context, ws []mapping.Write, pos Position) error {
	ws, err := s.define(ctx, ws)
	if err != nil {
		return err
	}
	if s.tx != nil {
		if err := s.applyPart(ctx, ws); err != nil {
			return err
		}
		var b builder
		b.position(s.slot, pos)
		if res, err := surrealdb.Query[any](ctx, s.tx, b.sql.String(), b.vars); err != nil {
			s.cancel(ctx)
			return classify(res, err, b.sources, false)
		}
		tx := s.tx
		s.tx = nil
		if err := tx.Commit(ctx); err != nil {
			return classify(nil, err, nil, false)
		}
		s.perRow = false
		return nil
	}
	err = s.applyTxn(ctx, ws, pos, true)
	var ae *ApplyError
	if errors.As(err, &ae) && ae.bulk {
		// A multi-row INSERT failed (a record that already exists, or a
		// value SurrealDB rejects): one statement per row either succeeds
		// or names the row.
		err = s.applyTxn(ctx, ws, pos, false)
	}
	return err
}

// applyTxn writes ws and pos as one BEGIN ... COMMIT query.
func (s *Sink) applyTxn(ctx context.Context, ws []mapping.Write, pos Position, bulk bool) error {
	b := builder{bulk: bulk}
	b.begin()
	b.writes(ws, s.cfg)
	b.position(s.slot, pos)
	b.sql.WriteString("COMMIT;\n")
	res, err := surrealdb.Query[any](ctx, s.cl.DB, b.sql.String(), b.vars)
	return classify(res, err, b.sources, b.inserts > 0)
}

// Repair writes ws in one transaction tagged as pgsurreal's own (see
// Tag), without moving the stored position: verify's repair of records
// that drifted from PostgreSQL. The reverse direction does not copy these
// writes back, as for every other write the sync makes.
func (s *Sink) Repair(ctx context.Context, ws []mapping.Write, name string) error {
	if s.servers != nil {
		return s.servers.repair(ctx, s, ws, name)
	}
	return s.repair(ctx, ws, name)
}

func (s *Sink) repair(ctx context.Context, ws []mapping.Write, name string) error {
	b := builder{}
	b.begin()
	b.tag(s.slot, name)
	b.writes(ws, s.cfg)
	b.sql.WriteString("COMMIT;\n")
	res, err := surrealdb.Query[any](ctx, s.cl.DB, b.sql.String(), b.vars)
	return classify(res, err, b.sources, false)
}

// ApplyPart writes one part of a large source transaction inside an
// interactive SurrealDB transaction, opening it on the first part; Apply
// with the final part commits it.
//
// Inside a large transaction, rows are written with UPDATE and only the
// records UPDATE did not find are then written with UPSERT: SurrealDB
// 3.0's UPSERT of existing records slows down as the transaction grows
// (quadratically), UPDATE does not.
func (s *Sink) ApplyPart(ctx context.Context, ws []mapping.Write) error {
	if s.servers != nil {
		return s.servers.applyPart(ctx, s, ws)
	}
	return s.applyPart(ctx, ws)
}

func (s *Sink) applyPart(ctx context.Context, ws []mapping.Write) error {
	ws, err := s.define(ctx, ws)
	if err != nil {
		return err
	}
	if s.tx == nil {
		tx, err := s.cl.DB.Begin(ctx)
		if err != nil {
			return classify(nil, err, nil, false)
		}
		s.tx = tx
	}
	b := builder{update: true, bulk: !s.perRow}
	b.writes(ws, s.cfg)
	if b.sql.Len() == 0 {
		return nil
	}
	res, err := surrealdb.Query[any](ctx, s.tx, b.sql.String(), b.vars)
	if err != nil {
		s.cancel(ctx)
		err = classify(res, err, b.sources, b.inserts > 0)
		if ae := (*ApplyError)(nil); errors.As(err, &ae) && ae.bulk {
			// The transaction is gone; replaying it from the stored
			// position with one statement per row either succeeds or
			// names the row (see Apply).
			s.perRow = true
			return &retryable{fmt.Errorf("replaying the transaction with one statement per row after a multi-row INSERT failed: %v", err)}
		}
		return err
	}
	// Records UPDATE did not find are created now, in the same transaction.
	var missing builder
	for i, w := range b.updates {
		if i < len(*res) && isEmpty((*res)[i].Result) {
			missing.write(w, s.cfg)
		}
	}
	if missing.sql.Len() == 0 {
		return nil
	}
	if res, err := surrealdb.Query[any](ctx, s.tx, missing.sql.String(), missing.vars); err != nil {
		s.cancel(ctx)
		return classify(res, err, missing.sources, false)
	}
	return nil
}

// define runs the schema definitions among ws, each statement its own
// transaction: SurrealDB reports a write conflict when a transaction both
// redefines a table's fields and updates its records. Writes before a
// definition are applied first (in their own transaction, without the
// position), so records and definitions change in stream order. This
// splits the group's atomicity only around a schema change; everything
// is idempotent (OVERWRITE, IF EXISTS, UNSET, upserts by id) and the
// position is stored last, so a crash in between replays it all. It
// returns the writes after the last definition.
func (s *Sink) define(ctx context.Context, ws []mapping.Write) ([]mapping.Write, error) {
	last := -1
	for i := range ws {
		if ws[i].Kind == mapping.Define {
			last = i
		}
	}
	// Writes before a definition use one statement per row (below).
	if last < 0 {
		return ws, nil
	}
	start := 0
	for i := 0; i <= last; i++ {
		if ws[i].Kind != mapping.Define {
			continue
		}
		if i > start {
			if err := s.plain(ctx, ws[start:i]); err != nil {
				return nil, err
			}
		}
		var b builder
		b.write(&ws[i], s.cfg)
		if res, err := surrealdb.Query[any](ctx, s.cl.DB, b.sql.String(), b.vars); err != nil {
			return nil, classify(res, err, b.sources, false)
		}
		start = i + 1
	}
	return ws[last+1:], nil
}

// plain applies writes in one transaction without storing a position.
func (s *Sink) plain(ctx context.Context, ws []mapping.Write) error {
	if s.tx != nil {
		var b builder
		for i := range ws {
			b.write(&ws[i], s.cfg)
		}
		res, err := surrealdb.Query[any](ctx, s.tx, b.sql.String(), b.vars)
		if err != nil {
			s.cancel(ctx)
		}
		return classify(res, err, b.sources, false)
	}
	var b builder
	b.begin()
	for i := range ws {
		b.write(&ws[i], s.cfg)
	}
	b.tag(s.slot, "plain")
	b.sql.WriteString("COMMIT;\n")
	res, err := surrealdb.Query[any](ctx, s.cl.DB, b.sql.String(), b.vars)
	return classify(res, err, b.sources, false)
}

// Tag returns a statement (and its variables) that marks the SurrealDB
// transaction it runs in as pgsurreal's own: a write of a record in
// PositionTable, which the reverse direction reads the changefeed of, so
// it does not send these changes back to PostgreSQL. Every transaction
// the sink commits with data carries the position or such a tag; name
// keeps concurrent writers (snapshot workers) on records of their own.
func Tag(slot, name string) (string, map[string]any) {
	var b builder
	b.tag(slot, name)
	return b.sql.String(), b.vars
}

func (b *builder) tag(slot, name string) {
	b.stmt("", "UPSERT type::record(%s, %s) SET at = time::now() RETURN NONE", b.param(PositionTable), b.param([]any{slot, name}))
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

// Abort discards an open interactive transaction (before a retry).
func (s *Sink) Abort(ctx context.Context) {
	s.cancel(ctx)
	for _, peer := range s.peers() {
		peer.cancel(ctx)
	}
}

func (s *Sink) cancel(ctx context.Context) {
	if s.tx != nil {
		_ = s.tx.Cancel(ctx)
		s.tx = nil
	}
}

// Exec runs statements in one transaction (schema setup, clearing tables).
func (s *Sink) Exec(ctx context.Context, sql string, vars map[string]any) error {
	res, err := surrealdb.Query[any](ctx, s.cl.DB, sql, vars)
	return classify(res, err, nil, false)
}

// builder renders writes as SurrealQL with every value a parameter.
type builder struct {
	sql     strings.Builder
	vars    map[string]any
	sources []string // per statement, for errors
	n       int
	// update renders Upsert and Merge as UPDATE (see ApplyPart), and
	// updates maps each such statement's index to its write.
	update  bool
	updates map[int]*mapping.Write
	// bulk gathers the records of source INSERTs into multi-row INSERT
	// statements (see insertRun); pending holds the open runs by target.
	bulk    bool
	pending map[runKey]*insertRun
	order   []runKey
	inserts int // multi-row INSERT statements rendered
}

// writes renders ws, flushing the runs of inserts at the end.
func (b *builder) writes(ws []mapping.Write, def config.Surreal) {
	for i := range ws {
		b.write(&ws[i], def)
	}
	b.flush(def)
}

// insertBatch is the most records one INSERT statement carries: FACTS
// measured 100-200 rows per statement as the fastest.
const insertBatch = 200

// runKey names the target of a run of inserts.
type runKey struct{ ns, db, table string }

// insertRun is a run of records from source INSERTs into one table,
// written as one `INSERT INTO t $rows` (about 3x faster per row than one
// UPSERT each). Only writes to other records can come between the rows of
// a run, so gathering them keeps the transaction's effect; any write that
// is not such an insert flushes every run first.
type insertRun struct {
	rows    []map[string]any
	sources []string
}

func (b *builder) param(v any) string {
	if b.vars == nil {
		b.vars = map[string]any{}
	}
	name := "p" + strconv.Itoa(b.n)
	b.n++
	b.vars[name] = v
	return "$" + name
}

// begin opens the transaction of a query; BEGIN has a result entry of
// its own, so it takes a place in sources.
func (b *builder) begin() {
	b.sql.WriteString("BEGIN;\n")
	b.sources = append(b.sources, "")
}

func (b *builder) stmt(source, format string, args ...any) {
	fmt.Fprintf(&b.sql, format, args...)
	b.sql.WriteString(";\n")
	b.sources = append(b.sources, source)
}

func (b *builder) write(w *mapping.Write, def config.Surreal) {
	if b.bulk && w.Kind == mapping.Upsert && w.Insert {
		b.gather(w, def)
		return
	}
	b.flush(def)
	switched := w.Namespace != "" || w.Database != ""
	if switched {
		b.stmt(w.Source, "USE NS %s DB %s", surreal.Ident(or(w.Namespace, def.Namespace)), surreal.Ident(or(w.Database, def.Database)))
	}
	tb := surreal.Ident(w.Table)
	switch w.Kind {
	case mapping.Upsert, mapping.Merge:
		verb, clause := "UPSERT", "CONTENT"
		if w.Kind == mapping.Merge {
			clause = "MERGE"
		}
		ret := "RETURN NONE"
		if b.update && !w.Insert {
			verb, ret = "UPDATE", "RETURN VALUE id"
			if b.updates == nil {
				b.updates = map[int]*mapping.Write{}
			}
			b.updates[len(b.sources)] = w
		}
		b.stmt(w.Source, "%s type::record(%s, %s) %s %s %s", verb, b.param(w.Table), b.param(w.ID), clause, b.param(w.Doc), ret)
	case mapping.Delete:
		b.stmt(w.Source, "DELETE type::record(%s, %s) RETURN NONE", b.param(w.Table), b.param(w.ID))
	case mapping.DeleteTable:
		b.stmt(w.Source, "DELETE %s RETURN NONE", tb)
	case mapping.Relate:
		id := b.param(w.ID)
		t := b.param(w.Table)
		b.stmt(w.Source, "DELETE type::record(%s, %s) RETURN NONE", t, id)
		b.stmt(w.Source, "RELATE %s->(type::record(%s, %s))->%s CONTENT %s RETURN NONE", b.param(w.In), t, id, b.param(w.Out), b.param(w.Doc))
	case mapping.DeleteEdgesFrom:
		b.stmt(w.Source, "DELETE %s WHERE record::tb(in) = %s RETURN NONE", tb, b.param(w.FromTable))
	case mapping.Patch:
		b.stmt(w.Source, "UPDATE type::record(%s, %s) MERGE %s RETURN NONE", b.param(w.Table), b.param(w.ID), b.param(w.Doc))
	case mapping.UnsetField:
		b.stmt(w.Source, "UPDATE %s UNSET %s RETURN NONE", tb, surreal.Ident(w.Field))
	case mapping.RenameField:
		b.stmt(w.Source, "UPDATE %s SET %s = %s RETURN NONE", tb, surreal.Ident(w.Field), surreal.Ident(w.FromField))
		b.stmt(w.Source, "UPDATE %s UNSET %s RETURN NONE", tb, surreal.Ident(w.FromField))
	case mapping.Define:
		b.sql.WriteString(w.Statement)
		for range strings.Count(w.Statement, ";\n") {
			b.sources = append(b.sources, w.Source)
		}
	case mapping.SetMeta:
		b.stmt(w.Source, "UPSERT type::record(%s, %s) CONTENT %s RETURN NONE", b.param(w.Table), b.param(w.ID), b.param(w.Doc))
	}
	if switched {
		b.stmt(w.Source, "USE NS %s DB %s", surreal.Ident(def.Namespace), surreal.Ident(def.Database))
	}
}

// gather adds a source INSERT to the run of its table.
func (b *builder) gather(w *mapping.Write, def config.Surreal) {
	k := runKey{w.Namespace, w.Database, w.Table}
	r := b.pending[k]
	if r == nil {
		if b.pending == nil {
			b.pending = map[runKey]*insertRun{}
		}
		r = &insertRun{}
		b.pending[k] = r
		b.order = append(b.order, k)
	}
	row := make(map[string]any, len(w.Doc)+1)
	maps.Copy(row, w.Doc)
	row["id"] = w.ID
	r.rows = append(r.rows, row)
	r.sources = append(r.sources, w.Source)
	if len(r.rows) >= insertBatch {
		b.flushRun(k, r, def)
		r.rows, r.sources = nil, nil
	}
}

// flush writes every pending run of inserts.
func (b *builder) flush(def config.Surreal) {
	for _, k := range b.order {
		if r := b.pending[k]; len(r.rows) > 0 {
			b.flushRun(k, r, def)
		}
	}
	b.pending, b.order = nil, nil
}

func (b *builder) flushRun(k runKey, r *insertRun, def config.Surreal) {
	switched := k.ns != "" || k.db != ""
	if switched {
		b.stmt("", "USE NS %s DB %s", surreal.Ident(or(k.ns, def.Namespace)), surreal.Ident(or(k.db, def.Database)))
	}
	src := r.sources[0]
	if len(r.sources) > 1 {
		src = fmt.Sprintf("one of %d inserted rows (%s ... %s)", len(r.sources), r.sources[0], r.sources[len(r.sources)-1])
	}
	b.stmt(src, "INSERT INTO %s %s RETURN NONE", surreal.Ident(k.table), b.param(r.rows))
	b.inserts++
	if switched {
		b.stmt("", "USE NS %s DB %s", surreal.Ident(def.Namespace), surreal.Ident(def.Database))
	}
}

func (b *builder) position(slot string, pos Position) {
	content := map[string]any{"phase": pos.Phase, "lsn": pos.LSN, "system": pos.System, "commit_time": pos.CommitTime}
	if pos.Epoch > 0 {
		// The fencing check: a newer leader stored a higher epoch, so
		// this transaction (all its writes) fails.
		rec, epoch := "type::record("+b.param(PositionTable)+", "+b.param(slot)+")", b.param(pos.Epoch)
		b.stmt("the leader epoch", "IF (%s.epoch ?? 0) > %s { THROW %s + <string> %s.epoch + %s }", rec, epoch,
			b.param(fmt.Sprintf("%sanother pgsurreal process took over replication of slot %s (its leader epoch ", fencedMsg, slot)), rec,
			b.param(fmt.Sprintf(" is above this process's %d): this process stops writing", pos.Epoch)))
		content["epoch"] = pos.Epoch
	}
	b.stmt("the replication position", "UPSERT type::record(%s, %s) CONTENT %s RETURN NONE",
		b.param(PositionTable), b.param(slot), b.param(content))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ApplyError is a change SurrealDB refused: retrying cannot help.
type ApplyError struct {
	Source string // the PostgreSQL row, e.g. "public.orders key (7)"
	Msg    string
	bulk   bool // from a query with multi-row INSERTs
	// unplaced: no SurrealDB server takes the row (route), SurrealDB
	// was not asked.
	unplaced bool
}

func (e *ApplyError) Error() string {
	if e.unplaced {
		return fmt.Sprintf("no SurrealDB server takes the change to %s: %s", e.Source, e.Msg)
	}
	if e.Source == "" {
		return "SurrealDB refused the write: " + e.Msg
	}
	return fmt.Sprintf("SurrealDB refused the change to %s: %s", e.Source, e.Msg)
}

type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// IsRetryable reports whether err is a connection problem or a
// transaction conflict, which a retry (after Reconnect) can fix.
func IsRetryable(err error) bool {
	var r *retryable
	return errors.As(err, &r)
}

// arenaFull is SurrealKV's refusal of a transaction larger than its
// memtable: retrying cannot help.
const arenaFull = "Memtable arena is full"

// failedTxn is SurrealDB's message for the statements of a transaction
// that did not run because another statement failed.
const failedTxn = "not executed due to a failed transaction"

// classify turns an SDK error into *ApplyError (naming the row whose
// statement failed) or a retryable error.
//
// bulk says the query had multi-row INSERTs: an *ApplyError from it is
// marked so the caller can retry with one statement per row.
func classify(res *[]surrealdb.QueryResult[any], err error, sources []string, bulk bool) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), arenaFull) {
		return &ApplyError{Msg: err.Error() + ": the transaction is larger than SurrealDB's SurrealKV storage commits at once " +
			"(SurrealDB 3.0 caps one transaction at its ~100 MiB memtable). Run SurrealDB on RocksDB storage " +
			"(`surreal start rocksdb://...`; dev stack: dev.surreal_storage: rocksdb), or SurrealDB 3.1+ with " +
			"SURREAL_SURREALKV_MAX_MEMTABLE_SIZE raised, then restart the sync"}
	}
	var qe *surrealdb.QueryError
	if errors.As(err, &qe) {
		if res != nil {
			for i, r := range *res {
				if r.Error == nil || strings.Contains(r.Error.Message, failedTxn) {
					continue
				}
				if isConflict(r.Error.Message) {
					return &retryable{err}
				}
				if strings.Contains(r.Error.Message, fencedMsg) {
					return fmt.Errorf("%w: %s", ErrFenced, strings.TrimPrefix(r.Error.Message[strings.Index(r.Error.Message, fencedMsg):], fencedMsg))
				}
				src := ""
				if i < len(sources) {
					src = sources[i]
				}
				return &ApplyError{Source: src, Msg: r.Error.Message, bulk: bulk}
			}
		}
		if isConflict(err.Error()) {
			return &retryable{err}
		}
		return &ApplyError{Msg: err.Error(), bulk: bulk}
	}
	var re *surrealdb.RPCError
	if errors.As(err, &re) && strings.Contains(re.Message, "Parse error") {
		return &ApplyError{Msg: re.Message}
	}
	return &retryable{err}
}

func isConflict(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "conflict") || strings.Contains(m, "can be retried")
}

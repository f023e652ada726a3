package reverse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/internal/leader"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// checkedEvery is how often an idle pipeline records that it has read
// the feeds (checked_at), which the retention check relies on.
const checkedEvery = time.Second

// stream applies the changefeeds from p.pos until ctx ends or an error.
func (p *Pipeline) stream(ctx context.Context) error {
	// The marker table is read too: a marker write (source.Now) then
	// moves the position past it even when no replicated table changed,
	// so "applied up to now" can be waited for.
	// So is sync's position table: a transaction that wrote it is sync's
	// own (see sink.Tag), and its changes are echoes, not sent back.
	r := source.NewReader(p.cl, append(slices.Clone(p.names), source.MarkerTable, sink.PositionTable), p.o.Reverse.BatchSize)
	r.Settle = p.o.Reverse.Settle.Duration
	m := p.o.Metrics
	m.Position.Set(float64(p.pos))
	// Repairs a crash left queued.
	if err := p.repair(ctx); err != nil {
		return err
	}
	for {
		readAt := time.Now()
		txns, more, err := r.Read(ctx, p.pos)
		if err != nil {
			return err
		}
		// A definition change (a field added to a schemafull table, say)
		// reshapes the tables: what came before it is applied with the old
		// shapes, what follows with the new ones.
		for i, t := range txns {
			if !t.Defines || t.Versionstamp <= p.reloadedAt {
				continue
			}
			if i > 0 {
				if err := p.apply(ctx, txns[:i], source.Time(txns[i-1].Versionstamp)); err != nil {
					return err
				}
			}
			if err := p.reloadTables(ctx); err != nil {
				return err
			}
			p.reloadedAt = t.Versionstamp
			txns = txns[i:]
			break
		}
		if len(txns) > 0 {
			checked := readAt
			if more {
				checked = source.Time(txns[len(txns)-1].Versionstamp)
			}
			if err := p.apply(ctx, txns, checked); err != nil {
				return err
			}
		} else if time.Since(p.checked) >= checkedEvery {
			if _, err := p.conn.Exec(ctx, "UPDATE "+p.posTable+" SET checked_at = $1 WHERE source = $2", readAt, p.source); err != nil {
				return err
			}
			p.checked = readAt
		}
		if !more {
			if len(txns) == 0 {
				m.LagSeconds.Set(0)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(p.o.Reverse.PollInterval.Duration):
			}
		}
	}
}

// apply writes txns (whole SurrealDB transactions, in versionstamp order)
// and the position after them in one PostgreSQL transaction.
func (p *Pipeline) apply(ctx context.Context, txns []source.Txn, checked time.Time) error {
	start := time.Now()
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := leader.CheckEpoch(ctx, tx, p.o.Reverse.Schema, p.o.Lease, p.o.Epoch); err != nil {
		return err
	}
	// Statements are pipelined in batches; a batch is sent before any
	// statement that must read (two-way arbitration) and at the end.
	b := &pgx.Batch{}
	var what []string // per queued statement, for errors
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		br := tx.SendBatch(ctx, b)
		for i := range b.Len() {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return applyErr(err, what[i], "")
			}
		}
		b, what = &pgx.Batch{}, what[:0]
		return br.Close()
	}
	type applied struct{ table, op string }
	var done []applied
	echoes := 0
	for _, txn := range txns {
		echo := slices.Contains(txn.Tables, sink.PositionTable)
		pgTime := syncCommitTime(txn)
		for _, ch := range txn.Changes {
			t := p.tables[ch.Table]
			if t == nil || txn.Versionstamp <= t.start {
				continue
			}
			if echo {
				echoes++
				if t.cfg.TwoWay {
					if err := flush(); err != nil {
						return err
					}
					if err := p.arbitrate(ctx, tx, t, ch, pgTime); err != nil {
						return err
					}
				}
				continue
			}
			desc := fmt.Sprintf("table %s record %s (versionstamp %d)", ch.Table, recordName(ch.ID), txn.Versionstamp)
			key, err := t.shape.Key(ch.ID)
			if err != nil {
				return &PermanentError{fmt.Errorf("versionstamp %d: %w", txn.Versionstamp, err)}
			}
			if f := newField(t, ch); f != "" {
				// A field defined since the shape was decided (DEFINE FIELD
				// leaves nothing in the changefeed): start again, which
				// decides the shapes anew, and stops with the fix if
				// PostgreSQL has no column for it.
				return fmt.Errorf("SurrealDB table %s has a new field %s (record %s); reloading the table shapes", ch.Table, f, recordName(ch.ID))
			}
			switch ch.Op {
			case source.Update:
				vals, err := t.shape.Row(ch.Record)
				if err != nil {
					return &PermanentError{fmt.Errorf("versionstamp %d: %w", txn.Versionstamp, err)}
				}
				b.Queue(t.upsert, vals...)
			case source.Delete:
				b.Queue(t.del, key...)
			}
			what = append(what, desc)
			if t.cfg.TwoWay {
				p.recordVersion(b, t, key, txn.Versionstamp, ch.Op == source.Delete)
				what = append(what, "the version record of "+desc)
			}
			done = append(done, applied{ch.Table, ch.Op.String()})
		}
	}
	last := txns[len(txns)-1].Versionstamp
	b.Queue("UPDATE "+p.posTable+" SET versionstamp = $1::numeric, checked_at = $2 WHERE source = $3",
		strconv.FormatUint(last, 10), checked, p.source)
	what = append(what, "the reverse position")
	if err := flush(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	p.pos = last
	p.checked = checked
	if p.o.Changed != nil {
		var tables []string
		for _, txn := range txns {
			for _, t := range txn.Tables {
				if t != sink.PositionTable && !slices.Contains(tables, t) {
					tables = append(tables, t)
				}
			}
		}
		p.o.Changed(ctx, tables)
	}
	if err := p.repair(ctx); err != nil {
		return err
	}
	m := p.o.Metrics
	for _, a := range done {
		m.Changes.WithLabelValues(a.table, a.op).Inc()
	}
	m.Transactions.Add(float64(len(txns)))
	m.LoopsSuppressed.Add(float64(echoes))
	m.ApplySeconds.Observe(time.Since(start).Seconds())
	m.Position.Set(float64(last))
	m.LagSeconds.Set(max(0, time.Since(source.Time(last)).Seconds()))
	return nil
}

// syncCommitTime is the commit time sync's position record carries in
// txn (sync's own transaction), zero if none.
func syncCommitTime(txn source.Txn) time.Time {
	for _, ch := range txn.Changes {
		if ch.Table != sink.PositionTable || ch.Op != source.Update {
			continue
		}
		switch v := ch.Record["commit_time"].(type) {
		case uint64:
			return time.UnixMicro(int64(v))
		case int64:
			return time.UnixMicro(v)
		}
	}
	return time.Time{}
}

// newField returns a top-level field of ch's record that t's schemafull
// shape does not know, or "".
func newField(t *table, ch source.Change) string {
	if t.fields == nil || ch.Op != source.Update {
		return ""
	}
	for k := range ch.Record {
		if !t.fields[k] {
			return k
		}
	}
	return ""
}

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// The load's mix of record changes, in percent: the rest are deletes.
const (
	createPct = 50
	updatePct = 30
)

// writer is one SurrealDB connection writing records of a schemaless
// table. It creates records with ids of its own (from a counter shared
// by every writer) and updates and deletes only records it created, so
// the writers never touch the same record and every statement is one
// change in the table's changefeed.
type writer struct {
	db    *surrealdb.DB
	table string
	ids   *atomic.Int64
	rng   *rand.Rand
	live  []int64
	// retries counts transactions SurrealDB refused with a conflict and
	// that were sent again.
	retries int64
}

func newWriters(ctx context.Context, sur config.Surreal, table string, ids *atomic.Int64, n int) ([]*writer, error) {
	var out []*writer
	for i := range n {
		db, err := harness.Connect(ctx, sur)
		if err != nil {
			closeWriters(out)
			return nil, err
		}
		out = append(out, &writer{db: db, table: table, ids: ids, rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))})
	}
	return out, nil
}

func closeWriters(ws []*writer) {
	for _, w := range ws {
		_ = w.db.Close(context.Background())
	}
}

// doc is the content of a review record: a few scalar fields, a nested
// object, an array and the time the client wrote it.
func doc(id int64, at time.Time) map[string]any {
	return map[string]any{
		"seq":    id,
		"rating": id%5 + 1,
		"text":   fmt.Sprintf("review %d: fine, would buy again", id),
		"author": map[string]any{"name": fmt.Sprintf("author %d", id%100), "verified": id%3 == 0},
		"tags":   []any{fmt.Sprintf("t%d", id%7), "bench"},
		"at":     models.CustomDateTime{Time: at},
	}
}

// txn writes one transaction of n record changes (creates, updates and
// deletes in the load's mix; BEGIN ... COMMIT around them when n > 1)
// and returns when SurrealDB has committed it.
func (w *writer) txn(ctx context.Context, n int) error {
	for {
		var q strings.Builder
		vars := map[string]any{"tb": w.table}
		var created []int64
		var deleted []int64
		used := map[int64]bool{}
		now := time.Now()
		if n > 1 {
			q.WriteString("BEGIN;\n")
		}
		for k := range n {
			roll := w.rng.IntN(100)
			var id int64
			if roll >= createPct && len(w.live) > 0 {
				for range 3 {
					if c := w.live[w.rng.IntN(len(w.live))]; !used[c] {
						id = c
						break
					}
				}
			}
			switch {
			case id == 0:
				id = w.ids.Add(1)
				created = append(created, id)
				fmt.Fprintf(&q, "CREATE type::record($tb, $i%d) CONTENT $d%d RETURN NONE;\n", k, k)
				vars[fmt.Sprintf("d%d", k)] = doc(id, now)
			case roll < createPct+updatePct:
				fmt.Fprintf(&q, "UPDATE type::record($tb, $i%d) MERGE $d%d RETURN NONE;\n", k, k)
				vars[fmt.Sprintf("d%d", k)] = map[string]any{"rating": int64(w.rng.IntN(5) + 1), "text": "edited", "at": models.CustomDateTime{Time: now}}
			default:
				deleted = append(deleted, id)
				fmt.Fprintf(&q, "DELETE type::record($tb, $i%d) RETURN NONE;\n", k)
			}
			used[id] = true
			vars[fmt.Sprintf("i%d", k)] = id
		}
		if n > 1 {
			q.WriteString("COMMIT;\n")
		}
		err := check(surrealdb.Query[any](ctx, w.db, q.String(), vars))
		if err != nil && conflict(err) && ctx.Err() == nil {
			w.retries++
			continue
		}
		if err != nil {
			return fmt.Errorf("writing to SurrealDB: %w", err)
		}
		w.live = append(w.live, created...)
		for _, d := range deleted {
			w.forget(d)
		}
		return nil
	}
}

// create writes one record, id, in a transaction of its own.
func (w *writer) create(ctx context.Context, id int64, at time.Time) error {
	vars := map[string]any{"tb": w.table, "i": id, "d": doc(id, at)}
	if err := check(surrealdb.Query[any](ctx, w.db, "CREATE type::record($tb, $i) CONTENT $d RETURN NONE", vars)); err != nil {
		return fmt.Errorf("writing to SurrealDB: %w", err)
	}
	return nil
}

func (w *writer) forget(id int64) {
	for i, x := range w.live {
		if x == id {
			w.live[i] = w.live[len(w.live)-1]
			w.live = w.live[:len(w.live)-1]
			return
		}
	}
}

// conflict reports a transaction SurrealDB says can be retried.
func conflict(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "conflict") || strings.Contains(s, "can be retried")
}

// check turns a failed statement into an error.
func check(res *[]surrealdb.QueryResult[any], err error) error {
	if err != nil {
		return err
	}
	for _, r := range *res {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}

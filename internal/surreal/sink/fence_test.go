package sink_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestFencedWrites: once a leader with a higher epoch has stored the
// position, a transaction from a deposed leader (a lower epoch) fails as a
// whole with ErrFenced, and its writes are not in SurrealDB; the new
// leader's writes go on. Writes without an epoch (no HA) are not checked.
func TestFencedWrites(t *testing.T) {
	t.Parallel()
	cfg, cl := testenv.Get(t).NewSurrealClient(t)
	ctx := context.Background()
	open := func() *sink.Sink {
		s, err := sink.Open(ctx, cfg, "fence_slot", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(ctx) })
		return s
	}
	old, next := open(), open()
	write := func(id int, v string) []mapping.Write {
		return []mapping.Write{{Kind: mapping.Upsert, Table: "item", ID: id, Doc: map[string]any{"v": v}, Source: "public.item"}}
	}
	pos := func(lsn, epoch int64) sink.Position {
		return sink.Position{Phase: "streaming", LSN: lsn, Epoch: epoch}
	}
	if err := old.Apply(ctx, write(1, "old"), pos(100, 1)); err != nil {
		t.Fatalf("epoch 1 before any takeover: %v", err)
	}
	if err := next.Apply(ctx, write(2, "next"), pos(100, 2)); err != nil {
		t.Fatalf("epoch 2 takes over: %v", err)
	}
	err := old.Apply(ctx, write(3, "stale"), pos(200, 1))
	if !errors.Is(err, sink.ErrFenced) || !strings.Contains(err.Error(), "fence_slot") || !strings.Contains(err.Error(), "epoch") {
		t.Fatalf("the deposed leader's write: %v, want ErrFenced naming the slot and the epochs", err)
	}
	if err := next.Apply(ctx, write(4, "next"), pos(300, 2)); err != nil {
		t.Fatalf("the leader goes on: %v", err)
	}
	n, err := surrealdb.Query[int](ctx, cl.DB, "RETURN count(SELECT * FROM item WHERE v = 'stale')", nil)
	if err != nil {
		t.Fatal(err)
	}
	if (*n)[0].Result != 0 {
		t.Error("the fenced transaction's write is in SurrealDB")
	}
	p, err := next.ReadPosition(ctx)
	if err != nil || p == nil || p.LSN != 300 {
		t.Fatalf("position %+v %v, want the new leader's 300", p, err)
	}
	// No epoch, no check (sync without HA).
	if err := old.Apply(ctx, write(5, "plain"), pos(400, 0)); err != nil {
		t.Fatalf("without an epoch: %v", err)
	}
}

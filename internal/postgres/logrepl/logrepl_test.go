package logrepl_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func next(t *testing.T, ch <-chan cdc.Txn) cdc.Txn {
	t.Helper()
	select {
	case txn := <-ch:
		return txn
	case <-time.After(15 * time.Second):
		t.Fatal("no transaction within 15s")
	}
	return cdc.Txn{}
}

func TestStreamDecodesEveryOperation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, pool := testenv.Get(t).NewPostgresPool(t)
	slot := strings.ReplaceAll(testenv.Name(t), "-", "_")
	if _, err := pool.Exec(ctx, `CREATE TABLE "Odd Name" (id int PRIMARY KEY, big text, n int)`); err != nil {
		t.Fatal(err)
	}
	admin, err := postgres.ConnectOne(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if err := logrepl.EnsurePublication(ctx, admin, "pub", [][2]string{{"public", "Odd Name"}}); err != nil {
		t.Fatal(err)
	}
	repl, err := logrepl.ReplicationConn(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, start, err := logrepl.CreateSlot(ctx, repl, slot)
	if err != nil {
		t.Fatal(err)
	}
	s := logrepl.NewStream(repl, slot, "pub", slog.New(slog.DiscardHandler))
	s.StatusInterval = 100 * time.Millisecond
	s.MaxPart = 1000
	out := make(chan cdc.Txn)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, start, out) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = repl.Close(context.Background())
		_ = logrepl.DropSlot(context.Background(), admin, slot)
	})

	// Incompressible enough to be stored out of line (TOASTed).
	var big string
	if err := pool.QueryRow(ctx, "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g").Scan(&big); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO "Odd Name" VALUES (1, $1, 10), (2, NULL, 20)`, big)
	txn := next(t, out)
	if len(txn.Changes) != 2 || txn.Changes[0].Op != cdc.OpInsert || txn.Changes[0].New[1].Text != big || txn.Changes[1].New[1].Kind != cdc.Null {
		t.Fatalf("insert txn: %d changes, first op %v", len(txn.Changes), txn.Changes[0].Op)
	}
	if txn.Changes[0].Rel.Name != "Odd Name" || !txn.Changes[0].Rel.Columns[0].Key || txn.End <= start || !txn.Final {
		t.Fatalf("relation/position: %+v end %s", txn.Changes[0].Rel, txn.End)
	}
	s.Ack(txn.End)

	exec(`UPDATE "Odd Name" SET n = 11 WHERE id = 1`)
	txn = next(t, out)
	if c := txn.Changes[0]; c.Op != cdc.OpUpdate || c.New[1].Kind != cdc.Unchanged || c.New[2].Text != "11" || c.Old != nil {
		t.Fatalf("update with unchanged TOAST: op %v, big column kind %v (want Unchanged), n %q, old %v", c.Op, c.New[1].Kind, c.New[2].Text, c.Old != nil)
	}
	exec(`UPDATE "Odd Name" SET id = 3 WHERE id = 2`)
	txn = next(t, out)
	if c := txn.Changes[0]; c.Old == nil || c.Old[0].Text != "2" || c.New[0].Text != "3" {
		t.Fatalf("key change = %+v", c)
	}
	exec(`DELETE FROM "Odd Name" WHERE id = 3`)
	txn = next(t, out)
	if c := txn.Changes[0]; c.Op != cdc.OpDelete || c.Old[0].Text != "3" {
		t.Fatalf("delete = %+v", c)
	}
	exec(`TRUNCATE "Odd Name"`)
	txn = next(t, out)
	if c := txn.Changes[0]; c.Op != cdc.OpTruncate || c.Truncated[0].Name != "Odd Name" {
		t.Fatalf("truncate = %+v", c)
	}

	// A transaction bigger than MaxPart arrives in parts, Final on the last.
	exec(`INSERT INTO "Odd Name" SELECT g, 'v', g FROM generate_series(10, 2509) g`)
	var parts, rows int
	for {
		txn = next(t, out)
		parts++
		rows += len(txn.Changes)
		if txn.Final {
			break
		}
	}
	if parts != 3 || rows != 2500 {
		t.Fatalf("large txn: %d parts, %d rows; want 3 parts, 2500 rows", parts, rows)
	}
	s.Ack(txn.End)

	// The confirmed position reaches what was acknowledged.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := logrepl.Slot(ctx, pool, slot)
		if err != nil {
			t.Fatal(err)
		}
		if info.ConfirmedFlushLSN >= txn.End {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("confirmed_flush_lsn %s never reached %s", info.ConfirmedFlushLSN, txn.End)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A heartbeat on a quiet database arrives as an empty transaction.
	hctx, hcancel := context.WithCancel(ctx)
	go logrepl.Heartbeat(hctx, pool, 50*time.Millisecond, slog.New(slog.DiscardHandler))
	txn = next(t, out)
	hcancel()
	if len(txn.Changes) != 0 || txn.End <= start {
		t.Fatalf("heartbeat txn = %+v", txn)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the cleanup
}

package sync_test

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestMillionRowTransaction inserts, then updates, 1,000,000 rows in one
// transaction each, far beyond logical_decoding_work_mem: each arrives in
// parts and is applied in one SurrealDB transaction. It takes about two
// minutes; PGSURREAL_TEST_BIGTX_ROWS sets another row count.
func TestMillionRowTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f := newFixture(t, `CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, s text NOT NULL)`)
	// A SurrealDB of its own, on RocksDB: SurrealDB 3.0's SurrealKV
	// cannot commit a transaction larger than its ~100 MiB memtable
	// ("Memtable arena is full"; the pipeline stops with that remedy),
	// and aborts a long interactive transaction with "memtable history
	// insufficient for conflict detection" when other clients write a lot
	// meanwhile.
	srv := newSurrealServer(t)
	srv.storage = "rocksdb"
	srv.start()
	f.useServer(srv)
	// The pipeline runs as its own process (`pgsurreal serve`), built
	// without the race detector, so the test measures the product rather
	// than -race.
	cmd := f.process("serve")
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	f.caughtUp(60 * time.Second)
	start := time.Now()
	rows := 1000000
	if n, err := strconv.Atoi(os.Getenv("PGSURREAL_TEST_BIGTX_ROWS")); err == nil {
		rows = n
	}
	f.exec(`INSERT INTO big SELECT g, 0, 'row ' || g FROM generate_series(1, $1::int) g`, rows)
	f.caughtUp(10 * time.Minute)
	t.Logf("%d-row insert transaction replicated in %s", rows, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	f.exec(`UPDATE big SET v = v + 1`)
	f.caughtUp(10 * time.Minute)
	t.Logf("%d-row update transaction replicated in %s", rows, time.Since(start).Round(time.Millisecond))
	f.assertSame()
}

package reverse_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
)

const schema = `
DEFINE TABLE person SCHEMAFULL;
DEFINE FIELD name ON person TYPE string;
DEFINE FIELD age ON person TYPE option<int>;
DEFINE FIELD born ON person TYPE option<datetime>;
DEFINE FIELD score ON person TYPE option<decimal>;
DEFINE TABLE review SCHEMALESS;
DEFINE TABLE follows TYPE RELATION IN person OUT person SCHEMAFULL;
DEFINE FIELD since ON follows TYPE option<datetime>;
CREATE person:1 SET name = 'Ada', age = 36, born = d'1815-12-10T00:00:00Z', score = 1.5dec;
CREATE person:2 SET name = 'Charles', age = NONE;
CREATE review:r1 CONTENT {rating: 5, text: 'good', author: {name: 'Ada'}, tags: ['a', 'b']};
RELATE person:1->follows->person:2 SET since = d'2024-01-02T03:04:05.123456Z';
`

func tables() []config.ReverseTable {
	return []config.ReverseTable{
		{Name: "person"},
		{Name: "review", Target: "social.review", Columns: []config.ReverseColumn{{Name: "rating", Type: "integer"}, {Name: "author", Field: "author.name"}}},
		{Name: "follows"},
	}
}

// TestCopyThenStream copies existing records, then applies creates,
// updates, deletes, a multi-table transaction, a bulk insert and a record
// with a hostile id, and restarts from the stored position.
func TestCopyThenStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schema, tables()...)
	f.exec(`CREATE SCHEMA social`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.assertSame()

	f.query(`CREATE person:3 SET name = 'Grace', age = 85;
UPDATE person:1 SET age = 37;
DELETE person:2;
BEGIN; CREATE review:r2 SET rating = 3, author = {name: 'Grace'}; UPDATE person:3 SET score = 99.125dec; COMMIT;
CREATE review:⟨we"ird key⟩ SET rating = 1, note = 'hostile';
UPDATE review:r1 SET rating = 4, tags += 'c';`, nil)
	rows := make([]map[string]any, 100)
	for i := range rows {
		rows[i] = map[string]any{"id": fmt.Sprintf("bulk%03d", i), "rating": i % 5, "author": map[string]any{"name": "bot"}}
	}
	f.query(`INSERT INTO review $rows`, map[string]any{"rows": rows})
	f.caughtUp(30 * time.Second)
	f.assertSame()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM social.review WHERE author = 'bot'`).Scan(&n); err != nil || n != 100 {
		t.Fatalf("bulk insert: %d rows, err %v", n, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Changes while stopped are applied after a restart.
	f.query(`DELETE review WHERE author.name = 'bot'; UPDATE person:3 SET name = 'Grace Hopper';`, nil)
	stop = f.start()
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRetentionGap: stopped for longer than the changefeed retention, the
// pipeline stops with the remedy; --resync copies again and goes on.
func TestRetentionGap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schema, tables()[:1]...)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.query(`UPDATE person:1 SET age = 40`, nil)
	// The embedded engine never purges changefeeds (its garbage collector
	// does not run), so the pause is recorded rather than waited for: the
	// feeds were last read two days ago, retention is 24h.
	f.exec(`UPDATE pgsurreal.reverse_position SET checked_at = now() - interval '2 days'`)
	err := reverse.Run(context.Background(), f.options())
	if err == nil || !strings.Contains(err.Error(), "longer than their retention reverse.retention = 24h0m0s") || !strings.Contains(err.Error(), "pgsurreal reverse --resync") {
		t.Fatalf("err = %v", err)
	}
	o := f.options()
	o.Resync = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reverse.Run(ctx, o) }()
	f.ended = nil
	f.caughtUp(30 * time.Second)
	f.assertSame()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// load writes to SurrealDB until ctx ends: creates, updates, deletes and
// small multi-table transactions.
func load(ctx context.Context, f *fixture, ops *atomic.Int64) error {
	r := rand.New(rand.NewPCG(3, 5))
	next := 1000
	for ctx.Err() == nil {
		var q string
		vars := map[string]any{}
		switch r.IntN(8) {
		case 0, 1, 2:
			next++
			q = `CREATE type::record('person', $id) SET name = $name, age = $age`
			vars = map[string]any{"id": next, "name": fmt.Sprintf("p%d", next), "age": r.IntN(100)}
		case 3:
			q = `UPDATE type::record('person', $id) SET age = $age`
			vars = map[string]any{"id": 1000 + r.IntN(next-999), "age": r.IntN(100)}
		case 4:
			q = `DELETE type::record('person', $id)`
			vars = map[string]any{"id": 1000 + r.IntN(next-999)}
		case 5:
			q = `UPSERT type::record('review', $id) SET rating = $r, author = {name: $a}`
			vars = map[string]any{"id": fmt.Sprintf("k%d", r.IntN(500)), "r": r.IntN(5), "a": fmt.Sprintf("a%d", r.IntN(9))}
		case 6:
			next++
			q = `BEGIN; CREATE type::record('person', $id) SET name = 'tx'; UPSERT type::record('review', $rid) SET rating = 0, author = {name: 'tx'}; COMMIT;`
			vars = map[string]any{"id": next, "rid": fmt.Sprintf("t%d", next)}
		case 7:
			q = `DELETE type::record('review', $id)`
			vars = map[string]any{"id": fmt.Sprintf("k%d", r.IntN(500))}
		}
		if _, err := surrealdb.Query[any](ctx, f.cl.DB, q, vars); err != nil && ctx.Err() == nil {
			if strings.Contains(err.Error(), "already exists") {
				continue
			}
			return fmt.Errorf("%s: %w", q, err)
		}
		ops.Add(1)
	}
	return nil
}

// TestCrashAnywhere kills -9 the reverse process at random moments, during
// the initial copy and while streaming, under sustained SurrealDB writes;
// after the writes stop and it catches up, PostgreSQL equals SurrealDB.
func TestCrashAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f := newFixture(t, schema+`FOR $i IN 10..30000 { CREATE type::record('person', $i) SET name = 'seed', age = $i % 90; };`, tables()...)
	f.exec(`CREATE SCHEMA social`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ops atomic.Int64
	loadErr := make(chan error, 1)
	go func() { loadErr <- load(ctx, f, &ops) }()
	r := rand.New(rand.NewPCG(9, 4))
	kills := 0
	kill := func(after time.Duration, phase string) {
		cmd := f.process()
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		t.Logf("kill %d (%s) after %s; %d writes so far; position %d", kills, phase, after.Round(time.Millisecond), ops.Load(), f.position())
	}
	// During the initial copy of 30k records.
	for range 3 {
		kill(time.Duration(100+r.IntN(300))*time.Millisecond, "copy")
	}
	// Let one run finish the copy, then kill it while streaming.
	cmd := f.process()
	deadline := time.Now().Add(2 * time.Minute)
	for f.position() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the copy never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	kills++
	for range 7 {
		kill(time.Duration(150+r.IntN(1500))*time.Millisecond, "streaming")
	}
	cancel()
	if err := <-loadErr; err != nil {
		t.Fatalf("load: %v", err)
	}
	cmd = f.process()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	f.caughtUp(2 * time.Minute)
	f.assertSame()
	t.Logf("%d kills, %d writes", kills, ops.Load())
}

// TestSchemaChange: a field added to a schemafull SurrealDB table while
// streaming is not dropped silently: the pipeline stops, naming the field
// and the fix; once the column exists in PostgreSQL, a restart applies the
// change.
func TestSchemaChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schema, tables()[:1]...)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.query(`DEFINE FIELD email ON person TYPE option<string>; UPDATE person:1 SET email = 'ada@example.com';`, nil)
	select {
	case <-f.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not stop on a field PostgreSQL has no column for")
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("stopped with: %v", err)
	f.exec(`ALTER TABLE person ADD COLUMN email text`)
	stop = f.start()
	f.caughtUp(30 * time.Second)
	var email string
	if err := f.pool.QueryRow(context.Background(), `SELECT email FROM person WHERE id = $1`, "1").Scan(&email); err != nil || email != "ada@example.com" {
		t.Fatalf("email = %q, err %v", email, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

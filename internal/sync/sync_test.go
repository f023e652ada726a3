package sync_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

const shopSchema = `
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL, email text, notes text);
CREATE TABLE "order" (id bigint PRIMARY KEY, customer_id int REFERENCES customer(id), total numeric(12,2), placed timestamptz NOT NULL DEFAULT '2024-05-01 10:00:00+00');
CREATE TABLE tag (id int PRIMARY KEY, label text);
CREATE TABLE customer_tag (customer_id int REFERENCES customer(id), tag_id int REFERENCES tag(id), since date, PRIMARY KEY (customer_id, tag_id));
CREATE TABLE line (order_id bigint REFERENCES "order"(id) ON UPDATE CASCADE, no int, qty int, PRIMARY KEY (order_id, no));
INSERT INTO customer SELECT g, 'customer ' || g, 'c' || g || '@example.com', NULL FROM generate_series(1, 300) g;
INSERT INTO "order" SELECT g, 1 + g % 300, g * 1.25 FROM generate_series(1, 1000) g;
INSERT INTO tag VALUES (1, 'vip'), (2, 'new');
INSERT INTO customer_tag VALUES (1, 1, '2024-01-01'), (2, 2, NULL), (3, 1, '2023-12-31');
INSERT INTO line SELECT 1 + g % 1000, g, g % 5 FROM generate_series(1, 2000) g;
`

func withEdge(f *fixture) {
	f.sync.Tables = []config.Table{{Name: "public.order", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "placed_by"}}}}
}

func TestSnapshotThenStreamEveryOperation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, shopSchema)
	withEdge(f)
	stop := f.start()
	f.caughtUp(60 * time.Second)
	f.assertSame()

	// Inserts, updates, deletes, a key change, edges moved and removed.
	f.exec(`INSERT INTO customer VALUES (1000, 'new one', NULL, NULL)`)
	f.exec(`INSERT INTO "order" VALUES (5000, 1000, 10.50)`)
	f.exec(`UPDATE customer SET name = 'renamed', email = NULL WHERE id = 5`)
	f.exec(`UPDATE "order" SET customer_id = 7 WHERE id = 10`)    // the edge moves
	f.exec(`UPDATE "order" SET customer_id = NULL WHERE id = 11`) // the edge goes
	f.exec(`UPDATE "order" SET id = 6000 WHERE id = 12`)          // the record moves
	f.exec(`DELETE FROM line WHERE order_id = 13`)
	f.exec(`DELETE FROM "order" WHERE id = 13`)
	f.exec(`DELETE FROM customer_tag WHERE customer_id = 3`)
	f.exec(`UPDATE customer_tag SET since = '2025-02-02' WHERE customer_id = 1`)
	// Unchanged TOAST: notes is stored out of line and not sent on updates
	// of other columns; SurrealDB must keep it.
	f.exec(`UPDATE customer SET notes = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g) WHERE id = 20`)
	f.exec(`UPDATE customer SET name = 'toast kept' WHERE id = 20`)
	// Several statements in one transaction, applied atomically.
	f.exec(`BEGIN; INSERT INTO tag VALUES (3, 'gold'); INSERT INTO customer_tag VALUES (4, 3, NULL); COMMIT`)
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if got := f.records("customer")["n:20"]; !strings.Contains(got, "toast kept") || !strings.Contains(got, "notes") || len(got) < 90000 {
		t.Fatalf("customer 20 lost its TOASTed notes: %.200s", got)
	}

	// TRUNCATE ... CASCADE empties the table, its dependants and edges.
	f.exec(`TRUNCATE "order" CASCADE`)
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if n := len(f.records("placed_by")); n != 0 {
		t.Fatalf("placed_by has %d edges after TRUNCATE", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
}

func TestRestartResumesWithoutLossOrDoubles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, shopSchema)
	stop := f.start()
	f.caughtUp(60 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Changes made while sync is down arrive after the restart.
	f.exec(`INSERT INTO customer SELECT g, 'late ' || g, NULL, NULL FROM generate_series(400, 450) g`)
	f.exec(`UPDATE "order" SET total = total + 1 WHERE id % 7 = 0`)
	f.exec(`DELETE FROM line WHERE no % 3 = 0`)
	stop = f.start()
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRefusesTablesWithoutKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE ok (id int PRIMARY KEY); CREATE TABLE nokey (a int, b text); CREATE TABLE nokey2 (x int)`)
	err := pgsync.Run(context.Background(), f.options())
	var perm *pgsync.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "public.nokey:") || !strings.Contains(err.Error(), "public.nokey2:") || strings.Contains(err.Error(), "public.ok:") {
		t.Fatalf("err = %v", err)
	}
	// A configured key with REPLICA IDENTITY FULL is accepted.
	f.exec(`DROP TABLE nokey2; ALTER TABLE nokey REPLICA IDENTITY FULL`)
	f.sync.Tables = []config.Table{{Name: "public.nokey", Key: []string{"a"}}}
	stop := f.start()
	f.exec(`INSERT INTO nokey VALUES (1, 'x'), (2, 'y')`)
	f.exec(`UPDATE nokey SET b = 'z' WHERE a = 2`)
	f.exec(`DELETE FROM nokey WHERE a = 1`)
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestLostSlotStopsWithRemedy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE a (id int PRIMARY KEY)`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.dropSlot()
	err := pgsync.Run(context.Background(), f.options())
	if err == nil || !strings.Contains(err.Error(), "--resync") || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("err = %v", err)
	}
	// --resync recovers.
	f.exec(`INSERT INTO a VALUES (1)`)
	o := f.options()
	o.Resync = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pgsync.Run(ctx, o) }()
	f.caughtUp(30 * time.Second)
	f.assertSame()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestOtherSourceClusterStops: the stored position carries the source
// cluster's system identifier; a position from another cluster (the
// source was replaced) stops sync with the remedy.
func TestOtherSourceClusterStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE a (id int PRIMARY KEY)`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := f.query("SELECT VALUE system FROM _pgsurreal_position"); len(got) < 10 || strings.Contains(got, "nil") || strings.Contains(got, "NONE") {
		t.Fatalf("stored system identifier: %s", got)
	}
	f.query("UPDATE _pgsurreal_position SET system = '7000000000000000001'")
	err := pgsync.Run(context.Background(), f.options())
	if err == nil || !strings.Contains(err.Error(), "another PostgreSQL cluster (system identifier 7000000000000000001") || !strings.Contains(err.Error(), "--resync") {
		t.Fatalf("err = %v", err)
	}
}

// TestSchemaChanges alters tables while streaming. Each change reaches the
// pipeline with the table's next row change (a Relation message), after
// which every existing record must match the new shape.
func TestSchemaChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, shopSchema)
	stop := f.start()
	f.caughtUp(60 * time.Second)
	steps := []string{
		`ALTER TABLE customer ADD COLUMN tier text NOT NULL DEFAULT 'basic'; UPDATE customer SET tier = 'gold' WHERE id = 1`,
		`ALTER TABLE customer DROP COLUMN email; UPDATE customer SET name = 'x' WHERE id = 2`,
		`ALTER TABLE customer RENAME COLUMN name TO full_name; UPDATE customer SET full_name = 'y' WHERE id = 3`,
		`ALTER TABLE "order" ALTER COLUMN total TYPE float8; UPDATE "order" SET total = 1.5 WHERE id = 4`,
		`ALTER TABLE tag ADD COLUMN weight int; INSERT INTO tag VALUES (9, 'w', 3)`,
	}
	for _, sql := range steps {
		f.exec(sql)
		f.caughtUp(30 * time.Second)
		f.assertSame()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestSchemafull defines SCHEMAFULL tables with typed fields, record
// links, relation tables and unique indexes, and keeps them in step with
// schema changes.
func TestSchemafull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, shopSchema+`
CREATE TABLE product (id int PRIMARY KEY, sku text NOT NULL UNIQUE, attrs jsonb, price numeric(10,2), tags text[]);
INSERT INTO product VALUES (1, 'A-1', '{"color": "red", "size": {"w": 1}}', 9.99, '{a,b}'), (2, 'B-2', NULL, NULL, NULL);`)
	f.sync.Schema = "schemafull"
	withEdge(f)
	stop := f.start()
	f.caughtUp(60 * time.Second)
	f.assertSame()
	f.exec(`INSERT INTO product VALUES (3, 'C-3', '{"deep": {"er": [1, 2]}}', 1.5, '{}')`)
	f.exec(`UPDATE "order" SET customer_id = 9 WHERE id = 3`)
	f.exec(`ALTER TABLE product ADD COLUMN stock int NOT NULL DEFAULT 7; UPDATE product SET stock = 1 WHERE id = 1`)
	f.exec(`ALTER TABLE product RENAME COLUMN price TO list_price; UPDATE product SET sku = 'A-1b' WHERE id = 1`)
	f.caughtUp(30 * time.Second)
	f.assertSame()

	info := f.query("INFO FOR TABLE product")
	for _, want := range []string{"DEFINE FIELD sku ON product TYPE string", "UNIQUE", "DEFINE FIELD stock ON product TYPE int", "list_price"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO FOR TABLE product lacks %q: %s", want, info)
		}
	}
	if strings.Contains(info, "DEFINE FIELD price") {
		t.Errorf("the renamed field price is still defined: %s", info)
	}
	db := f.query("INFO FOR DB")
	for _, want := range []string{"DEFINE TABLE product TYPE NORMAL SCHEMAFULL", "DEFINE TABLE placed_by TYPE RELATION IN order OUT customer SCHEMAFULL", "DEFINE TABLE customer_tag TYPE RELATION IN customer OUT tag SCHEMAFULL"} {
		if !strings.Contains(db, want) {
			t.Errorf("INFO FOR DB lacks %q: %s", want, db)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestUnmappableValue: a value SurrealDB cannot store unchanged stops the
// pipeline with the table, key and column; with sync.dead_letter it is
// parked in PostgreSQL and replication goes on.
func TestUnmappableValue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE m (id int PRIMARY KEY, amount numeric)`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.exec(`INSERT INTO m VALUES (1, 1.5), (2, 1234567890123456789012345678901234567890)`)
	select {
	case <-f.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not stop on an unrepresentable value")
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "public.m key (2) column amount") || !strings.Contains(err.Error(), "sync.dead_letter") {
		t.Fatalf("err = %v", err)
	}

	f.sync.DeadLetter = "pgsurreal.dead_letter"
	stop = f.start()
	f.exec(`INSERT INTO m VALUES (3, 3)`)
	f.caughtUp(30 * time.Second)
	var n int
	var source string
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*), min(source) FROM pgsurreal.dead_letter`).Scan(&n, &source); err != nil {
		t.Fatal(err)
	}
	if n != 1 || source != "public.m (insert)" {
		t.Fatalf("dead letters: %d, source %q", n, source)
	}
	recs := f.records("m")
	if len(recs) != 2 || recs["n:1"] == "" || recs["n:3"] == "" {
		t.Fatalf("records: %v", recs)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestNewTableJoins creates tables while sync streams and while it is
// stopped: each is added to the publication, copied, and streamed.
func TestNewTableJoins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'one')`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.exec(`CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a(id), w text); INSERT INTO b SELECT g, 1, 'w' || g FROM generate_series(1, 500) g`)
	waitFor(t, 30*time.Second, func() bool { return len(f.records("b")) == 500 })
	f.exec(`UPDATE b SET w = 'changed' WHERE id = 7; DELETE FROM b WHERE id = 8; INSERT INTO b VALUES (501, 1, 'new')`)
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.exec(`CREATE TABLE c (id int PRIMARY KEY); INSERT INTO c VALUES (1), (2)`)
	stop = f.start()
	waitFor(t, 30*time.Second, func() bool { return len(f.records("c")) == 2 })
	f.exec(`INSERT INTO c VALUES (3)`)
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWrongPasswordStops: a refused password is not retried forever.
func TestWrongPasswordStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE a (id int PRIMARY KEY)`)
	o := f.options()
	o.Postgres.Password = "not-the-password"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pgsync.Run(ctx, o)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "rejected the password") || strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("err = %v", err)
	}
}

// TestSurrealRefusal: a change SurrealDB refuses (here an ASSERT defined
// on the target) stops the pipeline naming the row; with sync.dead_letter
// the refused row is parked and the rest of its transaction applied.
func TestSurrealRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE r (id int PRIMARY KEY, v int)`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.query("DEFINE FIELD v ON r TYPE null | int ASSERT $value = NONE OR $value = NULL OR $value < 100")
	f.exec(`INSERT INTO r VALUES (1, 5), (2, 500)`)
	select {
	case <-f.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not stop on a refused change")
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "SurrealDB refused the change to public.r key (2)") {
		t.Fatalf("err = %v", err)
	}
	f.sync.DeadLetter = "pgsurreal.refused"
	stop = f.start()
	f.exec(`INSERT INTO r VALUES (3, 7)`)
	f.caughtUp(30 * time.Second)
	var n int
	var source string
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*), min(source) FROM pgsurreal.refused`).Scan(&n, &source); err != nil {
		t.Fatal(err)
	}
	if n < 1 || source != "public.r key (2)" {
		t.Fatalf("dead letters: %d, source %q", n, source)
	}
	recs := f.records("r")
	if len(recs) != 2 || recs["n:1"] == "" || recs["n:3"] == "" {
		t.Fatalf("records: %v", recs)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestTableOptions: a renamed target, a per-table namespace/database,
// column selection and the drop/mask/hash transforms, through snapshot
// and streaming.
func TestTableOptions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
CREATE TABLE person (id int PRIMARY KEY, name text, email text, ssn text, secret text, note text);
INSERT INTO person VALUES (1, 'Ann', 'ann@example.com', '123-45-6789', 's1', 'n1');
CREATE TABLE audit (id int PRIMARY KEY, what text);
INSERT INTO audit VALUES (1, 'created');`)
	f.sync.Tables = []config.Table{
		{Name: "public.person", Target: "people", ExcludeColumns: []string{"note"},
			Transforms: map[string]string{"email": "mask", "ssn": "hash", "secret": "drop"}},
		{Name: "public.audit", Namespace: f.sur.Namespace, Database: "audit_db"},
	}
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.exec(`INSERT INTO person VALUES (2, 'Bob', 'bob@example.com', '987-65-4321', 's2', 'n2')`)
	f.exec(`UPDATE person SET name = 'Ann B' WHERE id = 1`)
	f.exec(`INSERT INTO audit VALUES (2, 'updated')`)
	f.caughtUp(30 * time.Second)

	people := f.records("people")
	if len(people) != 2 {
		t.Fatalf("people: %v", people)
	}
	ann := people["n:1"]
	for _, want := range []string{`"name":"Ann B"`, `"email":"****"`, `"ssn":"` + sha256Hex("123-45-6789") + `"`} {
		if !strings.Contains(ann, want) {
			t.Errorf("people:1 = %s, lacks %s", ann, want)
		}
	}
	for _, gone := range []string{"secret", "note", "ann@example.com", "123-45-6789"} {
		if strings.Contains(ann, gone) {
			t.Errorf("people:1 = %s, contains %s", ann, gone)
		}
	}
	if n := len(f.records("person")); n != 0 {
		t.Errorf("the source name was used as a target too: %d records", n)
	}
	got, err := surrealdb.Query[any](context.Background(), f.cl.DB, "USE DB audit_db; SELECT id, what FROM audit ORDER BY id", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := (*got)[1].Result.([]any); len(rows) != 2 || rows[1].(map[string]any)["what"] != "updated" {
		t.Fatalf("audit in audit_db: %v", (*got)[1].Result)
	}
	if err := f.cl.DB.Use(context.Background(), f.sur.Namespace, f.sur.Database); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestReplicaIdentityUsingIndex: a table whose replica identity is a
// unique index other than the primary key is keyed by that index, so its
// deletes (which carry only the index columns) apply.
func TestReplicaIdentityUsingIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
CREATE TABLE sku (id int PRIMARY KEY, code text NOT NULL, qty int);
CREATE UNIQUE INDEX sku_code ON sku (code);
ALTER TABLE sku REPLICA IDENTITY USING INDEX sku_code;
INSERT INTO sku VALUES (1, 'A', 1), (2, 'B', 2), (3, 'C', 3);`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.exec(`UPDATE sku SET qty = 20 WHERE id = 2`)
	f.exec(`UPDATE sku SET code = 'CC' WHERE id = 3`)
	f.exec(`DELETE FROM sku WHERE id = 1`)
	f.exec(`INSERT INTO sku VALUES (4, 'D', 4)`)
	f.caughtUp(30 * time.Second)
	f.assertSame()
	if recs := f.records("sku"); recs[`"B"`] == "" || recs[`"CC"`] == "" || len(recs) != 3 {
		t.Fatalf("records keyed by code: %v", recs)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestInsertOverExistingRecord: source INSERTs travel as multi-row
// INSERT statements, which fail on a record that already exists in
// SurrealDB (written there by someone else). The pipeline then replays
// with one statement per row, in a small and in a large transaction,
// and the record ends up equal to the PostgreSQL row.
func TestInsertOverExistingRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE e (id int PRIMARY KEY, v text)`)
	stop := f.start()
	f.caughtUp(30 * time.Second)
	f.query("CREATE e:2 SET stray = true; CREATE e:7002 SET stray = true")
	f.exec(`INSERT INTO e SELECT g, 'small ' || g FROM generate_series(1, 50) g`)
	f.caughtUp(30 * time.Second)
	// Larger than the stream's part size (5,000 changes): applied in parts
	// inside one interactive transaction.
	f.exec(`INSERT INTO e SELECT g, 'large ' || g FROM generate_series(7001, 19000) g`)
	f.caughtUp(2 * time.Minute)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

package sync_test

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

const partitionSchema = `
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE event (
	region text NOT NULL,
	id int NOT NULL,
	customer_id int REFERENCES customer(id),
	note text,
	PRIMARY KEY (region, id));
CREATE TABLE click (id bigint PRIMARY KEY, page text);
CREATE TABLE audit (id int PRIMARY KEY, what text);
INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 20) g;
INSERT INTO event SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, 1 + g % 20, 'n' || g FROM generate_series(1, 400) g;
INSERT INTO click SELECT g, 'p' || g FROM generate_series(1, 500) g;
INSERT INTO audit SELECT g, 'a' || g FROM generate_series(1, 50) g;
`

// partitioned is a fixture whose tables spread over the shared test
// server (default) and a private one (eu).
type partitioned struct {
	*fixture
	eu   config.Surreal
	euCl *surreal.Client
}

func newPartitioned(t *testing.T) *partitioned {
	f := newFixture(t, partitionSchema)
	eu := testenv.PrivateSurreal(t)
	cl, err := surreal.Connect(context.Background(), eu, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close(context.Background()) })
	f.sur.Servers = []config.SurrealServer{{Name: "eu", URL: eu.URL, Namespace: eu.Namespace, Database: eu.Database}}
	f.sync.Tables = []config.Table{
		{Name: "public.event", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "made_by"}},
			Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "eu"}, Other: "default"}},
		{Name: "public.click", Partition: config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu"}}},
		{Name: "public.audit", Server: "eu"},
	}
	return &partitioned{fixture: f, eu: eu, euCl: cl}
}

// caughtUpAll waits until both servers store a position at or past
// PostgreSQL's current WAL position.
func (p *partitioned) caughtUpAll(timeout time.Duration) {
	p.t.Helper()
	var s string
	if err := p.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		p.t.Fatal(err)
	}
	target, _ := cdc.ParseLSN(s)
	deadline := time.Now().Add(timeout)
	for {
		def, eu := positionOf(p.cl, p.sync.Slot), positionOf(p.euCl, p.sync.Slot)
		if def >= target && eu >= target {
			return
		}
		if p.ended != nil {
			select {
			case <-p.ended:
				p.t.Fatalf("the pipeline stopped: %v", p.endErr)
			default:
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the servers did not catch up to %s within %s (default at %s, eu at %s)", target, timeout, def, eu)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func positionOf(cl *surreal.Client, slot string) cdc.LSN {
	res, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB,
		"SELECT lsn, phase FROM type::record('_pgsurreal_position', $s)", map[string]any{"s": slot})
	if err != nil || len(*res) == 0 || len((*res)[0].Result) == 0 || (*res)[0].Result[0]["phase"] != "streaming" {
		return 0
	}
	n, _ := strconv.ParseInt(fmt.Sprint((*res)[0].Result[0]["lsn"]), 10, 64)
	return cdc.LSN(n)
}

// assertPlaced checks every table on both servers: each record on the
// server its rule names, none elsewhere, and the union equal to
// PostgreSQL through the mapping.
func (p *partitioned) assertPlaced() {
	p.t.Helper()
	want := p.want()
	rules := route.Rules(p.sync)
	serverOf := func(table, id string) string {
		switch table {
		case "audit":
			return "eu"
		case "click":
			return mustServer(p.t, rules["public.click"], id)
		case "event", "made_by":
			return mustServer(p.t, rules["public.event"], id)
		}
		return route.Default
	}
	for table, all := range want {
		byServer := map[string]map[string]string{route.Default: {}, "eu": {}}
		for id, rec := range all {
			byServer[serverOf(table, id)][id] = rec
		}
		p.compareGot(table+" on default", byServer[route.Default], recordsOf(p.t, p.cl, table))
		p.compareGot(table+" on eu", byServer["eu"], recordsOf(p.t, p.euCl, table))
	}
	// Both servers hold records of the partitioned tables.
	for _, table := range []string{"event", "click"} {
		if len(recordsOf(p.t, p.cl, table)) == 0 || len(recordsOf(p.t, p.euCl, table)) == 0 {
			p.t.Errorf("%s is not spread over both servers", table)
		}
	}
}

// mustServer places the record whose canonical id part is id.
func mustServer(t *testing.T, r *route.Rule, id string) string {
	t.Helper()
	var key any = id
	if strings.HasPrefix(id, "[") {
		// [region, id] of event and made_by: the region is the first part.
		region, _, _ := strings.Cut(strings.Trim(id, "[]"), ",")
		v, err := strconv.Unquote(strings.TrimSpace(region))
		if err != nil {
			t.Fatalf("id %s: %v", id, err)
		}
		key = v
	} else if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		key = n
	}
	s, err := route.ServerForValue(*r.Partition, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPartitionedTables spreads tables over two SurrealDB servers: by
// value of a key column (with the row's graph edges), by hash, and a
// table routed whole to the second server. Snapshot, streaming (a key
// change moving a row across servers, deletes, TRUNCATE) and a restart
// in the middle of a write load leave every record on its server, none
// elsewhere, and the union equal to PostgreSQL.
func TestPartitionedTables(t *testing.T) {
	t.Parallel()
	p := newPartitioned(t)
	stop := p.start()
	p.caughtUpAll(2 * time.Minute)
	p.assertPlaced()

	// Streaming: inserts, updates, a key change moving a row from US to
	// EU (delete on default, insert on eu), deletes, TRUNCATE.
	p.exec(`INSERT INTO event SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, 1 + g % 20, 'm' || g FROM generate_series(401, 600) g`)
	p.exec(`UPDATE event SET note = 'changed' WHERE id % 7 = 0`)
	p.exec(`UPDATE event SET region = 'EU' WHERE region = 'US' AND id % 5 = 0`)
	p.exec(`UPDATE event SET customer_id = NULL WHERE id % 11 = 0`)
	p.exec(`DELETE FROM event WHERE id % 13 = 0`)
	p.exec(`INSERT INTO click SELECT g, 'q' || g FROM generate_series(501, 700) g`)
	p.exec(`DELETE FROM click WHERE id % 3 = 0`)
	p.exec(`UPDATE audit SET what = 'seen' WHERE id < 10`)
	p.exec(`TRUNCATE audit`)
	p.exec(`INSERT INTO audit VALUES (1, 'again')`)
	p.caughtUpAll(time.Minute)
	p.assertPlaced()

	// A restart: the positions of both servers let the pipeline resume
	// without loss or doubles.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	p.exec(`UPDATE event SET note = note || '+' WHERE region IN ('EU', 'BR')`)
	p.exec(`INSERT INTO click SELECT g, 'r' || g FROM generate_series(701, 800) g`)
	stop = p.start()
	defer stop()
	p.caughtUpAll(time.Minute)
	p.assertPlaced()
	if got := maps.Collect(maps.All(recordsOf(t, p.euCl, "audit"))); len(got) != 1 {
		t.Errorf("audit on eu holds %d records, want 1", len(got))
	}
}

// TestPartitionValueNotListed: a row whose partition value has no server
// (and no partition.other) stops the pipeline with an error naming the
// value and the fix.
func TestPartitionValueNotListed(t *testing.T) {
	t.Parallel()
	p := newPartitioned(t)
	p.sync.Tables[0].Partition.Other = ""
	p.exec(`DELETE FROM event WHERE region NOT IN ('EU', 'UK')`)
	stop := p.start()
	defer stop()
	p.caughtUpAll(2 * time.Minute)
	p.exec(`INSERT INTO event VALUES ('JP', 1000, 1, 'x')`)
	select {
	case <-p.ended:
	case <-time.After(time.Minute):
		t.Fatal("the pipeline goes on after a row it cannot place")
	}
	if p.endErr == nil || !strings.Contains(p.endErr.Error(), `"JP"`) || !strings.Contains(p.endErr.Error(), "partition.other") {
		t.Fatalf("error %v, want one naming the value JP and partition.other", p.endErr)
	}
}

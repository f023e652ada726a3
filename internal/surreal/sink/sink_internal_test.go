package sink

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
)

func TestClassifyArenaFullIsPermanentWithRemedy(t *testing.T) {
	err := classify(nil, errors.New("There was a problem with a transaction: Commit failed: Memtable arena is full"), nil, false)
	var ae *ApplyError
	if !errors.As(err, &ae) || IsRetryable(err) {
		t.Fatalf("want a permanent *ApplyError, got %T %v", err, err)
	}
	for _, want := range []string{"RocksDB", "SURREAL_SURREALKV_MAX_MEMTABLE_SIZE", "dev.surreal_storage: rocksdb"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestBuilderGathersInsertsPerTable(t *testing.T) {
	var ws []mapping.Write
	for i := range 450 {
		table := "a"
		if i%2 == 1 {
			table = "b"
		}
		ws = append(ws, mapping.Write{Kind: mapping.Upsert, Insert: true, Table: table, ID: i, Doc: map[string]any{"v": i}})
	}
	// A delete flushes the runs before it, keeping the order of writes to
	// the same record.
	ws = append(ws, mapping.Write{Kind: mapping.Delete, Table: "a", ID: 0},
		mapping.Write{Kind: mapping.Upsert, Insert: true, Table: "a", ID: 0, Doc: map[string]any{"v": -1}})
	b := builder{bulk: true}
	b.writes(ws, config.Surreal{Namespace: "n", Database: "d"})
	got := b.sql.String()
	// a and b get 225 rows each: one full statement of 200 and one of 25;
	// then the delete, then a's final run of one row.
	lines := strings.Split(strings.TrimSpace(got), "\n")
	wantKinds := []string{"INSERT INTO `a`", "INSERT INTO `b`", "INSERT INTO `a`", "INSERT INTO `b`", "DELETE type::record(", "INSERT INTO `a`"}
	if len(lines) != len(wantKinds) {
		t.Fatalf("statements:\n%s", got)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, wantKinds[i]) {
			t.Fatalf("statement %d is %q, want %s...", i, l, wantKinds[i])
		}
	}
	if b.inserts != 5 || len(b.sources) != 6 {
		t.Fatalf("inserts %d, sources %d", b.inserts, len(b.sources))
	}
	first := b.vars["p0"].([]map[string]any)
	if len(first) != 200 || first[0]["id"] != 0 || first[199]["id"] != 398 {
		t.Fatalf("first batch: %d rows, ids %v..%v", len(first), first[0]["id"], first[len(first)-1]["id"])
	}
	if _, ok := ws[0].Doc["id"]; ok {
		t.Fatal("gathering changed the write's document")
	}
}

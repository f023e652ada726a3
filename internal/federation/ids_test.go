package federation

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// TestRecordIDColumns: the record id is the column id (text), and an id
// of several parts also gives one column per part.
func TestRecordIDColumns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config.Default().Federation)
	f.surrealExec(t, `DEFINE TABLE pair SCHEMAFULL; DEFINE FIELD id ON pair TYPE [int, string]; DEFINE FIELD v ON pair TYPE int;
CREATE pair:[1, 'a'] SET v = 10; CREATE pair:[2, 'b c'] SET v = 20;
DEFINE TABLE plain SCHEMALESS; CREATE plain:abc SET v = 1; CREATE plain:42 SET v = 2;`, nil)
	ctx := context.Background()
	for _, c := range []struct{ sql, want string }{
		{"SELECT id, id_1, id_2, v FROM surreal.pair ORDER BY id_1", "[[[1, 'a'] 1 a 10] [[2, 'b c'] 2 b c 20]]"},
		{"SELECT p.id_2 FROM surreal.pair p WHERE p.id = '[1, ''a'']'", "[[a]]"},
		{"SELECT id FROM surreal.plain ORDER BY id", "[[42] [abc]]"},
	} {
		res, err := f.engine.Query(ctx, nil, c.sql, nil, QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if got := fmt.Sprint(res.Rows); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.sql, got, c.want)
		}
	}
}

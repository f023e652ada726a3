package federation

import (
	"context"
	"fmt"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

func TestEquivalenceProbe(t *testing.T) {
	f := newFixture(t, config.Default().Federation)
	ctx := context.Background()
	for _, q := range []string{
		`DEFINE TABLE person SCHEMAFULL; DEFINE FIELD id ON person TYPE int; DEFINE FIELD name ON person TYPE string; DEFINE FIELD age ON person TYPE option<int>;`,
		`INSERT INTO person [{id: 1, name: 'a'}, {id: 2, name: 'b', age: 3}, {id: 3, name: 'c', age: 10}]`,
		`DEFINE TABLE friend TYPE RELATION IN person OUT person SCHEMAFULL; DEFINE FIELD since ON friend TYPE datetime;`,
		`RELATE person:1->friend->person:2 SET since = d'2024-01-01T00:00:00.123456789Z'`,
		`LET $a = type::record('person', 2); LET $b = type::record('person', 3); RELATE $a->friend:e5->$b SET since = time::now();`,
		`FOR $e IN [{a: 3, b: 1, id: 'e7'}] { LET $x = type::record('person', $e.a); LET $y = type::record('person', $e.b); RELATE $x->friend->$y CONTENT { id: type::record('friend', $e.id), since: d'2020-01-01T00:00:00Z' }; };`,
		`INFO FOR TABLE friend`,
		`SELECT * FROM friend`,
		`SELECT ->friend->person.name AS friends FROM type::record('person', 1)`,
		`SELECT VALUE ->friend->person.name FROM ONLY person:1`,
		`SELECT * FROM person WHERE age < 5`,
		`SELECT * FROM person WHERE age != 3`,
		`DEFINE TABLE review SCHEMAFULL; DEFINE FIELD extra ON review TYPE option<object> FLEXIBLE; DEFINE FIELD tags ON review TYPE array<string>; DEFINE FIELD d ON review TYPE option<decimal>;`,
		`INSERT INTO review [{id: 1, extra: {a: 1, b: {c: 'x'}, f: 1.5}, tags: ['a,b', 'NULL', '{x}', 'q"d', '', 'back\\s'], d: 12.50dec}, {id: 2, tags: []}]`,
		`SELECT * FROM review`,
		`INFO FOR TABLE review`,
		`DEFINE TABLE ` + "`odd tbl`" + ` SCHEMAFULL; DEFINE FIELD ` + "`we\\`ird`" + ` ON ` + "`odd tbl`" + ` TYPE string; DEFINE FIELD ` + "`a b`" + ` ON ` + "`odd tbl`" + ` TYPE option<int>;`,
		`INFO FOR TABLE ` + "`odd tbl`",
	} {
		res, err := surrealdb.Query[any](ctx, f.surreal.DB, q, nil)
		if err != nil {
			fmt.Printf("Q %s\n  ERR %v\n", q, err)
			continue
		}
		for _, r := range *res {
			fmt.Printf("Q %s\n  %s %#v\n", q, r.Status, r.Result)
		}
	}
	for _, q := range []string{"SELECT * FROM surreal.person", "SELECT * FROM surreal.friend", "SELECT * FROM surreal.review", `SELECT * FROM surreal."odd tbl"`} {
		res, err := f.engine.Query(ctx, nil, q, nil, QueryOptions{})
		if err != nil {
			fmt.Println(q, err)
			continue
		}
		fmt.Println(q, res.Columns)
		for _, r := range res.Rows {
			fmt.Printf("   %#v\n", r)
		}
	}
}

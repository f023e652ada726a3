package source_test

import (
	"context"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func TestReadMergesTransactionsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, cl := testenv.Get(t).NewSurrealClient(t)
	for _, tb := range []string{"a", "b"} {
		if err := source.Enable(ctx, cl, tb, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	before, err := source.Now(ctx, cl, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, cl.DB, `
CREATE a:1 SET v = 1;
BEGIN; CREATE b:1 SET v = 2; UPDATE a:1 SET v = 3; COMMIT;
DELETE a:1;
CREATE b:2 SET v = 4;`, nil); err != nil {
		t.Fatal(err)
	}
	after, err := source.Now(ctx, cl, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := source.NewReader(cl, []string{"a", "b"}, 100)
	// Transactions younger than Settle are held back.
	r.Settle = time.Hour
	if txns, _, err := r.Read(ctx, before); err != nil || len(txns) != 0 {
		t.Fatalf("with an hour to settle: %d transactions, err %v", len(txns), err)
	}
	r.Settle = 0
	txns, more, err := r.Read(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	if more {
		t.Fatal("more = true for a short read")
	}
	type seen struct {
		tables string
		ops    string
	}
	var got []seen
	for i, tx := range txns {
		if i > 0 && tx.Versionstamp <= txns[i-1].Versionstamp {
			t.Fatalf("versionstamps out of order: %d after %d", tx.Versionstamp, txns[i-1].Versionstamp)
		}
		if tx.Versionstamp > after {
			t.Fatalf("versionstamp %d after the marker %d", tx.Versionstamp, after)
		}
		if tx.Versionstamp == after {
			// The marker's own transaction: no change to a or b.
			if len(tx.Changes) != 0 {
				t.Fatalf("the marker transaction has changes %v", tx.Changes)
			}
			continue
		}
		s := seen{}
		for _, ch := range tx.Changes {
			s.ops += ch.ID.String() + " " + ch.Op.String() + ";"
		}
		got = append(got, s)
	}
	want := []string{"a:1 update;", "b:1 update;a:1 update;", "a:1 delete;", "b:2 update;"}
	if len(got) != len(want) {
		t.Fatalf("got %d transactions %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i].ops != want[i] && !(i == 1 && got[i].ops == "a:1 update;b:1 update;") {
			t.Errorf("transaction %d: %q, want %q", i, got[i].ops, want[i])
		}
	}
	// A full page says more may follow.
	r1 := source.NewReader(cl, []string{"a", "b"}, 1)
	r1.Settle = 0
	txns, more, err = r1.Read(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	if !more || len(txns) != 1 || len(txns[0].Changes) != 1 || txns[0].Changes[0].ID.String() != "a:1" {
		t.Fatalf("limit 1: more %v, %d transactions %+v", more, len(txns), txns)
	}
	if d := time.Since(source.Time(txns[0].Versionstamp)); d < 0 || d > time.Minute {
		t.Errorf("versionstamp time is %s ago", d)
	}
}

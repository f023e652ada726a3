package devserver_test

// These tests drive the dev server with the official Go SDK
// (github.com/surrealdb/surrealdb.go), exactly as any SurrealDB client
// would, against the real SurrealDB 3 engine it embeds.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

type product struct {
	ID    *models.RecordID `json:"id,omitempty"`
	Name  string           `json:"name"`
	Price float64          `json:"price"`
	Stock int              `json:"stock"`
}

// connect signs in as root and uses a fresh namespace for this test.
func connect(t *testing.T) (config.Surreal, *surrealdb.DB) {
	t.Helper()
	cfg, c := testenv.Get(t).NewSurrealClient(t)
	return cfg, c.DB
}

// dial opens a second, independent connection (signed in, same ns/db).
func dial(t *testing.T, cfg config.Surreal) *surrealdb.DB {
	t.Helper()
	c, err := surreal.Connect(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.DB
}

func TestSignin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Get(t)
	db, err := surreal.Dial(ctx, env.Surreal, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)

	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: "root", Password: "not-the-password"}); err == nil {
		t.Fatal("signin with a wrong password succeeded")
	} else if !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("wrong password: unexpected error %q", err)
	}
	token, err := db.SignIn(ctx, surrealdb.Auth{Username: "root", Password: env.Surreal.Password.Reveal()})
	if err != nil {
		t.Fatalf("signin as root: %v", err)
	}
	if strings.Count(token, ".") != 2 {
		t.Fatalf("signin returned %q, want a JWT", token)
	}
	v, err := db.Version(ctx)
	if err != nil || !strings.HasPrefix(v.Version, "3.") {
		t.Fatalf("version = %+v, %v; want 3.x", v, err)
	}
}

func TestUnauthenticatedCannotReadOrWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, db := connect(t)
	if _, err := surrealdb.Create[product](ctx, db, models.NewRecordID("product", "secret"), product{Name: "secret"}); err != nil {
		t.Fatal(err)
	}

	anon, err := surreal.Dial(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close(ctx)
	if err := anon.Use(ctx, cfg.Namespace, cfg.Database); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Select[[]product](ctx, anon, models.Table("product")); err == nil || !strings.Contains(err.Error(), "permission") {
		t.Fatalf("unauthenticated select: err = %v, want a permissions error", err)
	}
	if _, err := surrealdb.Query[any](ctx, anon, "CREATE product:evil SET name = 'x'", nil); err == nil {
		t.Fatal("unauthenticated query succeeded")
	}
	if _, err := surrealdb.Create[product](ctx, anon, models.Table("product"), product{Name: "evil"}); err == nil {
		t.Fatal("unauthenticated create succeeded")
	}
	// Nothing was written by the anonymous connection.
	all, err := surrealdb.Select[[]product](ctx, db, models.Table("product"))
	if err != nil || len(*all) != 1 {
		t.Fatalf("after anonymous writes: %v records, err %v; want 1", all, err)
	}
	// After invalidate, a signed-in connection is anonymous again.
	if err := db.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Select[[]product](ctx, db, models.Table("product")); err == nil {
		t.Fatal("select after invalidate succeeded")
	}
}

func TestQueryWithVariables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := connect(t)
	res, err := surrealdb.Query[[]product](ctx, db,
		"CREATE product:1 SET name = $name, price = $price, stock = $stock; SELECT * FROM product WHERE price > $min",
		map[string]any{"name": `O'Reilly "Go"`, "price": 100.0, "stock": 3, "min": 50.5})
	if err != nil {
		t.Fatal(err)
	}
	got := (*res)[1].Result
	if len(got) != 1 || got[0].Name != `O'Reilly "Go"` || got[0].Price != 100.0 || got[0].Stock != 3 {
		t.Fatalf("query result = %+v", got)
	}
	// 100.0 must come back as a float: re-encoding in JavaScript would turn
	// it into the integer 100, which the SDK refuses to decode as float64.
	floats, err := surrealdb.Query[[]float64](ctx, db, "RETURN [100.0, 2.5, -0.0]", nil)
	if err != nil {
		t.Fatalf("decoding floats into []float64: %v", err)
	}
	if got := (*floats)[0].Result; len(got) != 3 || got[0] != 100.0 || got[1] != 2.5 {
		t.Fatalf("floats = %v", got)
	}
	raw, err := surrealdb.Query[[]any](ctx, db, "RETURN [100.0, 7]", nil)
	if err != nil {
		t.Fatal(err)
	}
	switch v := (*raw)[0].Result[0].(type) {
	case float32, float64:
	default:
		t.Fatalf("100.0 decoded as %T, want a float", v)
	}
	switch v := (*raw)[0].Result[1].(type) {
	case float32, float64:
		t.Fatalf("7 decoded as %T, want an integer", v)
	}
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := connect(t)
	id := models.NewRecordID("product", "kettle")

	created, err := surrealdb.Create[product](ctx, db, id, product{Name: "kettle", Price: 20.0, Stock: 5})
	if err != nil || created.Name != "kettle" {
		t.Fatalf("create = %+v, %v", created, err)
	}
	sel, err := surrealdb.Select[product](ctx, db, id)
	if err != nil || sel.Price != 20.0 || sel.ID == nil || sel.ID.ID != "kettle" {
		t.Fatalf("select = %+v, %v", sel, err)
	}
	upd, err := surrealdb.Update[product](ctx, db, id, product{Name: "kettle", Price: 25.5, Stock: 4})
	if err != nil || upd.Price != 25.5 || upd.Stock != 4 {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	merged, err := surrealdb.Merge[product](ctx, db, id, map[string]any{"stock": 9})
	if err != nil || merged.Stock != 9 || merged.Price != 25.5 {
		t.Fatalf("merge = %+v, %v", merged, err)
	}
	up, err := surrealdb.Upsert[product](ctx, db, models.NewRecordID("product", "mug"), product{Name: "mug", Price: 3.0})
	if err != nil || up.Name != "mug" {
		t.Fatalf("upsert = %+v, %v", up, err)
	}
	if _, err := surrealdb.Delete[product](ctx, db, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	rest, err := surrealdb.Select[[]product](ctx, db, models.Table("product"))
	if err != nil || len(*rest) != 1 || (*rest)[0].Name != "mug" {
		t.Fatalf("after delete = %+v, %v", rest, err)
	}
}

func TestInsertMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := connect(t)
	const n = 2500
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"id": i, "name": fmt.Sprintf("p%d", i), "price": float64(i) + 0.5, "stock": i % 7}
	}
	inserted, err := surrealdb.Insert[product](ctx, db, models.Table("product"), rows)
	if err != nil || len(*inserted) != n {
		t.Fatalf("insert: %v records, %v", inserted, err)
	}
	type agg struct {
		N     int     `json:"n"`
		Total float64 `json:"total"`
	}
	res, err := surrealdb.Query[[]agg](ctx, db, "SELECT count() AS n, math::sum(price) AS total FROM product GROUP ALL", nil)
	if err != nil {
		t.Fatal(err)
	}
	row := (*res)[0].Result[0]
	wantTotal := float64(n*(n-1)/2) + 0.5*n
	if row.N != n || row.Total != wantTotal {
		t.Fatalf("count/sum = %+v, want %d/%v", row, n, wantTotal)
	}
}

func TestRelate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := connect(t)
	if _, err := surrealdb.Query[any](ctx, db, "CREATE person:ann SET name = 'Ann'; CREATE person:bob SET name = 'Bob'; CREATE person:cy SET name = 'Cy'", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Relate[any](ctx, db, &surrealdb.Relationship{
		In: models.NewRecordID("person", "ann"), Out: models.NewRecordID("person", "bob"),
		Relation: "friend", Data: map[string]any{"since": 2020},
	}); err != nil {
		t.Fatalf("relate: %v", err)
	}
	if _, err := surrealdb.InsertRelation[any](ctx, db, &surrealdb.Relationship{
		In: models.NewRecordID("person", "ann"), Out: models.NewRecordID("person", "cy"),
		Relation: "friend", Data: map[string]any{"since": 2024},
	}); err != nil {
		t.Fatalf("insert_relation: %v", err)
	}
	names, err := surrealdb.Query[[]string](ctx, db, "RETURN array::sort(person:ann->friend->person.name)", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := (*names)[0].Result; len(got) != 2 || got[0] != "Bob" || got[1] != "Cy" {
		t.Fatalf("friends of ann = %v, want [Bob Cy]", got)
	}
}

func TestLiveQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, db := connect(t)
	other := dial(t, cfg) // the change comes from another connection
	if _, err := surrealdb.Query[any](ctx, db, "DEFINE TABLE review", nil); err != nil {
		t.Fatal(err)
	}
	id, err := surrealdb.Live(ctx, db, models.Table("review"), false)
	if err != nil {
		t.Fatalf("live: %v", err)
	}
	ch, err := db.LiveNotifications(id.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, other, "CREATE review:1 SET stars = 5", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-ch:
		if n.Action != "CREATE" {
			t.Fatalf("notification action = %s, want CREATE", n.Action)
		}
		if m, ok := n.Result.(map[string]any); !ok || fmt.Sprint(m["stars"]) != "5" {
			t.Fatalf("notification result = %#v", n.Result)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no live notification within 10s")
	}
	if err := surrealdb.Kill(ctx, db, id.String()); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

func TestConnectionsIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfgA, a := connect(t)
	cfgB, b := connect(t)
	if cfgA.Namespace == cfgB.Namespace {
		t.Fatal("testenv gave two tests the same namespace")
	}
	if _, err := surrealdb.Query[any](ctx, a, "LET $who = 'a'; CREATE thing:1 SET owner = 'a'", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Let(ctx, "who", "a"); err != nil {
		t.Fatal(err)
	}
	res, err := surrealdb.Query[any](ctx, b, "DEFINE TABLE thing; SELECT * FROM thing; RETURN $who", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rows := (*res)[1].Result.([]any); len(rows) != 0 {
		t.Fatalf("connection b sees a's records: %v", rows)
	}
	if v := (*res)[2].Result; v != nil {
		t.Fatalf("connection b sees a's variable $who = %v", v)
	}
}

func TestSessionsIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, db := connect(t)
	s, err := db.Attach(ctx)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	// A new session starts unauthenticated and without a namespace.
	if _, err := surrealdb.Query[any](ctx, s, "RETURN 1", nil); err == nil {
		t.Fatal("an attached session could query before signing in")
	}
	if _, err := s.SignIn(ctx, surrealdb.Auth{Username: cfg.Username, Password: cfg.Password.Reveal()}); err != nil {
		t.Fatalf("session signin: %v", err)
	}
	if err := s.Use(ctx, cfg.Namespace, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, s, "CREATE note:1 SET text = 'in other'", nil); err != nil {
		t.Fatal(err)
	}
	res, err := surrealdb.Query[any](ctx, db, "DEFINE TABLE note; SELECT * FROM note", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rows := (*res)[1].Result.([]any); len(rows) != 0 {
		t.Fatalf("the default session sees the attached session's database: %v", rows)
	}
	if err := s.Detach(ctx); err != nil {
		t.Fatalf("detach: %v", err)
	}
}

func TestInteractiveTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, db := connect(t)
	other := dial(t, cfg)
	if _, err := surrealdb.Query[any](ctx, db, "DEFINE TABLE account", nil); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		res, err := surrealdb.Query[[]any](ctx, other, "SELECT * FROM account", nil)
		if err != nil {
			t.Fatal(err)
		}
		return len((*res)[0].Result)
	}

	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := surrealdb.Query[any](ctx, tx, "CREATE account:1 SET balance = 10", nil); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("uncommitted record visible to another connection: %d", n)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after commit another connection sees %d records, want 1", n)
	}

	tx2, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, tx2, "CREATE account:2 SET balance = 20", nil); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Cancel(ctx); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after cancel another connection sees %d records, want 1", n)
	}
}

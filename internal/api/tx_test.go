package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

// TestTx: POST /v1/tx runs ordered steps over both databases as one
// transaction, later steps using earlier results; a failing step names
// itself and leaves nothing applied; the bearer token is required.
func TestTx(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	_, pool := env.NewPostgresPool(t)
	scfg, cl := env.NewSurrealClient(t)
	sp, err := surreal.NewPool(ctx, scfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(ctx) })
	c, err := txn.Start(ctx, txn.Options{PG: pool, Surreal: sp, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	if _, err := pool.Exec(ctx, "CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL, total numeric(10,2) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Token: token, Tx: c}))
	t.Cleanup(srv.Close)
	post := func(auth string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/tx", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	steps := func(bad bool) map[string]any {
		second := "CREATE type::record('interaction', $order) SET customer = $customer, kind = 'order'"
		if bad {
			second = "CREATE type::record('interaction', $order) SET customer = $customer, kind = nope::nope()"
		}
		return map[string]any{"isolation": "serializable", "steps": []any{
			map[string]any{"db": "postgres", "statement": "INSERT INTO orders (customer, total) VALUES ($1, $2) RETURNING id, total", "params": []any{7, "12.50"}},
			map[string]any{"db": "surreal", "statement": second, "params": map[string]any{"order": map[string]any{"$ref": "0.0.id"}, "customer": 7}},
		}}
	}
	if code, _ := post("", steps(false)); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", code)
	}
	code, out := post(token, steps(false))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, out)
	}
	res := out["steps"].([]any)
	first := res[0].(map[string]any)["rows"].([]any)[0].(map[string]any)
	second := res[1].(map[string]any)["rows"].([]any)[0].(map[string]any)
	if first["total"] != "12.50" || second["id"] != "interaction:1" || second["customer"] != float64(7) {
		t.Fatalf("results %v", out)
	}
	code, out = post(token, steps(true))
	e, _ := out["error"].(map[string]any)
	if code != http.StatusBadRequest || e == nil || e["step"] != float64(1) {
		t.Fatalf("a failing step: status %d, %v", code, out)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("orders = %d (%v): the failed transaction's insert must not stay", n, err)
	}
	r, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT * FROM interaction", nil)
	if err != nil || len((*r)[0].Result) != 1 {
		t.Fatalf("interactions %v (%v), want 1", r, err)
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

const token = "s3cret-token"

// stack is an API server over a fresh PostgreSQL database and SurrealDB
// namespace.
type stack struct {
	url     string
	pool    *pgxpool.Pool
	surreal *surreal.Client
	sp      *surreal.Pool
}

// newStack serves the API with the given token and options over pg (a
// pool on a fresh test database when nil).
func newStack(t *testing.T, tok config.Secret, o api.Options, pg *pgxpool.Pool) *stack {
	t.Helper()
	return newStackVia(t, tok, o, pg, nil)
}

// newStackVia is newStack with the engine's SurrealDB URL changed by via
// (to reach SurrealDB through a proxy the test can cut).
func newStackVia(t *testing.T, tok config.Secret, o api.Options, pg *pgxpool.Pool, via func(config.Surreal) config.Surreal) *stack {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	if pg == nil {
		_, pg = env.NewPostgresPool(t)
	}
	scfg, cl := env.NewSurrealClient(t)
	if via != nil {
		scfg = via(scfg)
	}
	sp, err := surreal.NewPool(ctx, scfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(ctx) })
	reg := prometheus.NewRegistry()
	eng, err := federation.New(ctx, federation.Options{PG: pg, Surreal: sp, Config: config.Default().Federation, Log: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	o.Token, o.Engine, o.Registry = tok, eng, reg
	srv := httptest.NewServer(api.New(o))
	t.Cleanup(srv.Close)
	return &stack{url: srv.URL, pool: pg, surreal: cl, sp: sp}
}

// surrealExec runs SurrealQL in the stack's namespace.
func (s *stack) surrealExec(t *testing.T, sql string) {
	t.Helper()
	res, err := surrealdb.Query[any](context.Background(), s.surreal.DB, sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for i, r := range *res {
		if r.Status != "OK" {
			t.Fatalf("%s: statement %d: %v", sql, i, r.Result)
		}
	}
}

// post sends body to /v1/query with the bearer token auth ("" for
// none) and returns the status and decoded JSON answer.
func (s *stack) post(t *testing.T, auth, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out
}

// query posts a query request as JSON with the right token.
func (s *stack) query(t *testing.T, req map[string]any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return s.post(t, token, "application/json", body)
}

func errorOf(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %v", out)
	}
	return e
}

func TestAuthRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, token, api.Options{}, nil)
	open := newStack(t, "", api.Options{}, nil)
	body := []byte(`{"sql": "SELECT 1"}`)
	cases := []struct {
		name string
		s    *stack
		auth string
		want string
	}{
		{"no token", s, "", "missing or wrong bearer token"},
		{"wrong token", s, "s3cret-tokeN", "missing or wrong bearer token"},
		{"token prefix", s, "s3cret", "missing or wrong bearer token"},
		{"empty configured token", open, "anything", "set http.token (or PGSURREAL_HTTP_TOKEN)"},
		{"empty configured token, none sent", open, "", "set http.token"},
	}
	for _, c := range cases {
		code, out := c.s.post(t, c.auth, "application/json", body)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401 (%v)", c.name, code, out)
			continue
		}
		e := errorOf(t, out)
		if e["code"] != "28000" || !strings.Contains(e["message"].(string), c.want) {
			t.Errorf("%s: error %v, want 28000 and %q", c.name, e, c.want)
		}
	}
	// Probes and scrapers need no token.
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(raw), `pgsurreal_api_requests_total{code="401",path="/v1/query"} 3`) {
			t.Errorf("/metrics does not count the three refused requests:\n%s", raw)
		}
	}
}

func TestQueryPassThroughTypedJSON(t *testing.T) {
	t.Parallel()
	s := newStack(t, token, api.Options{}, nil)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `
		CREATE TABLE item (id int8 PRIMARY KEY, name text, price numeric(10,2), seen timestamptz, day date,
			ok bool, raw bytea, doc jsonb, uid uuid, score float8, tags text[]);
		INSERT INTO item VALUES
			(1, 'apple', 12.50, '2024-03-01 10:20:30.123456+00', '2024-03-01', true, '\x0102', '{"a": [1, "x"]}',
			 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5, '{red,green}'),
			(2, 'pear', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL),
			(3, 'plum', 0.10, NULL, NULL, false, NULL, 'null', NULL, NULL, '{}')`); err != nil {
		t.Fatal(err)
	}
	code, out := s.query(t, map[string]any{
		"sql":    "SELECT id, name, price, seen, day, ok, raw, doc, uid, score, tags FROM item WHERE id <= $1 AND name <> $2 AND ($3::text IS NULL OR name = $3) ORDER BY id",
		"params": []any{2, "plum", nil},
	})
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, out)
	}
	cols := out["columns"].([]any)
	var names, types []string
	for _, c := range cols {
		m := c.(map[string]any)
		names = append(names, m["name"].(string))
		types = append(types, m["type"].(string))
	}
	if want := []string{"id", "name", "price", "seen", "day", "ok", "raw", "doc", "uid", "score", "tags"}; !reflect.DeepEqual(names, want) {
		t.Errorf("column names %v, want %v", names, want)
	}
	if types[0] != "int8" || types[1] != "text" || types[2] != "numeric" {
		t.Errorf("column types %v", types)
	}
	if out["tag"] != "SELECT 2" {
		t.Errorf("tag %v, want SELECT 2", out["tag"])
	}
	if _, ok := out["explain"]; ok {
		t.Errorf("explain present without being asked: %v", out)
	}
	seen, _ := time.Parse(time.RFC3339Nano, "2024-03-01T10:20:30.123456Z")
	want := []any{
		[]any{json.Number("1"), "apple", "12.50", seen.Local().Format(time.RFC3339Nano), "2024-03-01", true, "AQI=",
			map[string]any{"a": []any{json.Number("1"), "x"}}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", json.Number("1.5"), []any{"red", "green"}},
		[]any{json.Number("2"), "pear", nil, nil, nil, nil, nil, nil, nil, "NaN", nil},
	}
	if got := out["rows"]; !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n got %#v\nwant %#v", got, want)
	}

	// An empty result still has its columns and an empty rows array.
	code, out = s.query(t, map[string]any{"sql": "SELECT id FROM item WHERE id > $1", "params": []any{100}})
	if code != http.StatusOK || out["tag"] != "SELECT 0" || !reflect.DeepEqual(out["rows"], []any{}) {
		t.Errorf("empty result: status %d, %v", code, out)
	}
	// A statement without rows returns its tag; a numeric parameter with
	// a fraction keeps its digits.
	code, out = s.query(t, map[string]any{"sql": "UPDATE item SET price = $1 WHERE id = $2", "params": []any{json.Number("12345678.01"), 3}})
	if code != http.StatusOK || out["tag"] != "UPDATE 1" {
		t.Fatalf("update: status %d, %v", code, out)
	}
	var price string
	if err := s.pool.QueryRow(ctx, "SELECT price::text FROM item WHERE id = 3").Scan(&price); err != nil || price != "12345678.01" {
		t.Errorf("price %q (%v), want 12345678.01", price, err)
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t, token, api.Options{}, nil)
	if _, err := s.pool.Exec(context.Background(), "CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		req      map[string]any
		status   int
		code     string
		position int64
	}{
		{"syntax error", map[string]any{"sql": "SELEC 1"}, 400, "42601", 1},
		{"syntax error further in", map[string]any{"sql": "SELECT * FORM u"}, 400, "42601", 10},
		{"unknown table", map[string]any{"sql": "SELECT * FROM no_such_table"}, 400, "42P01", 15},
		{"unknown column", map[string]any{"sql": "SELECT nope FROM u"}, 400, "42703", 8},
		{"division by zero (class 22)", map[string]any{"sql": "SELECT 1 / $1::int", "params": []any{0}}, 400, "22012", 0},
		{"bad parameter text (class 22)", map[string]any{"sql": "SELECT $1::int", "params": []any{"many"}}, 400, "22P02", 0},
		{"unique violation (class 23)", map[string]any{"sql": "INSERT INTO u VALUES ($1)", "params": []any{1}}, 409, "23505", 0},
		{"bad consistency", map[string]any{"sql": "SELECT 1", "consistency": "strong"}, 400, "22023", 0},
		{"missing sql", map[string]any{"params": []any{1}}, 400, "08P01", 0},
		{"unknown field", map[string]any{"sql": "SELECT 1", "sqll": "x"}, 400, "08P01", 0},
	}
	for _, c := range cases {
		code, out := s.query(t, c.req)
		if code != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, code, c.status, out)
			continue
		}
		e := errorOf(t, out)
		if e["code"] != c.code {
			t.Errorf("%s: code %v, want %s (%v)", c.name, e["code"], c.code, e)
		}
		if msg, _ := e["message"].(string); msg == "" {
			t.Errorf("%s: no message: %v", c.name, e)
		}
		var pos int64
		if p, ok := e["position"].(json.Number); ok {
			pos, _ = p.Int64()
		}
		if pos != c.position {
			t.Errorf("%s: position %d, want %d (%v)", c.name, pos, c.position, e)
		}
	}
}

func TestRequestLimits(t *testing.T) {
	t.Parallel()
	s := newStack(t, token, api.Options{MaxBody: 1 << 10, Timeout: 300 * time.Millisecond}, nil)

	big := []byte(`{"sql": "SELECT '` + strings.Repeat("x", 2<<10) + `'"}`)
	if code, out := s.post(t, token, "application/json", big); code != http.StatusRequestEntityTooLarge || errorOf(t, out)["code"] != "54000" {
		t.Errorf("body too large: status %d, %v", code, out)
	}
	if code, out := s.post(t, token, "text/plain", []byte(`{"sql": "SELECT 1"}`)); code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: status %d, %v", code, out)
	}
	if code, out := s.post(t, token, "application/json; charset=utf-8", []byte(`{"sql": "SELECT 1"}`)); code != http.StatusOK {
		t.Errorf("application/json with charset: status %d, %v", code, out)
	}
	if code, out := s.post(t, token, "application/json", []byte(`{"sql": "SELECT 1"} {}`)); code != http.StatusBadRequest {
		t.Errorf("two values: status %d, %v", code, out)
	}
	start := time.Now()
	code, out := s.query(t, map[string]any{"sql": "SELECT pg_sleep(10)"})
	if code != http.StatusGatewayTimeout || errorOf(t, out)["code"] != "57014" {
		t.Errorf("timeout: status %d, %v", code, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout answered after %s", d)
	}
}

func TestUnreachablePostgresIs502(t *testing.T) {
	t.Parallel()
	// A pool on a port nothing listens on: connections fail when used.
	cfg := config.Default().Postgres
	cfg.Port, cfg.ConnectTimeout = 1, config.Duration{Duration: time.Second}
	pc, err := pgxpool.ParseConfig(cfg.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStack(t, token, api.Options{}, pool)
	code, out := s.query(t, map[string]any{"sql": "SELECT 1"})
	if code != http.StatusBadGateway || errorOf(t, out)["code"] != "08006" {
		t.Errorf("status %d, %v", code, out)
	}
}

func TestUnreachableSurrealIs502(t *testing.T) {
	t.Parallel()
	var px *testenv.Proxy
	s := newStackVia(t, token, api.Options{}, nil, func(c config.Surreal) config.Surreal {
		px, c.URL = testenv.NewProxy(t, c.URL)
		return c
	})
	s.surrealExec(t, "DEFINE TABLE review SCHEMALESS; CREATE review:1 SET rating = 5;")
	q := map[string]any{"sql": "SELECT count(*) FROM surreal.review", "cache": false}
	if code, out := s.query(t, q); code != http.StatusOK {
		t.Fatalf("before: status %d, %v", code, out)
	}
	// Connections that broke (a SurrealDB restart) are replaced.
	px.Cut()
	if code, out := s.query(t, q); code != http.StatusOK {
		t.Fatalf("after the connections broke: status %d, %v (want a reconnect)", code, out)
	}
	// SurrealDB gone for good: 502 with 08006.
	px.Stop()
	code, out := s.query(t, q)
	if code != http.StatusBadGateway || errorOf(t, out)["code"] != "08006" || errorOf(t, out)["message"] == "" {
		t.Errorf("status %d, %v", code, out)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	s := newStack(t, token, api.Options{}, nil)
	for _, sql := range []string{"SELECT $1::int AS n", "explain federated SELECT $1::int AS n"} {
		code, out := s.query(t, map[string]any{"sql": sql, "params": []any{7}, "explain": true})
		if code != http.StatusOK {
			t.Fatalf("%s: status %d: %v", sql, code, out)
		}
		lines, ok := out["explain"].([]any)
		if !ok || len(lines) == 0 {
			t.Errorf("%s: no explain lines: %v", sql, out)
		}
		if _, ok := out["rows"]; ok {
			t.Errorf("%s: rows with explain: %v", sql, out)
		}
	}
}

func TestFederatedQuery(t *testing.T) {
	t.Parallel()
	s := newStack(t, token, api.Options{}, nil)
	if _, err := s.pool.Exec(context.Background(), "CREATE TABLE customer (id bigint PRIMARY KEY, name text); INSERT INTO customer VALUES (1, 'Ann'), (2, 'Bob')"); err != nil {
		t.Fatal(err)
	}
	s.surrealExec(t, `DEFINE TABLE review SCHEMAFULL;
DEFINE FIELD customer_id ON review TYPE int;
DEFINE FIELD rating ON review TYPE int;
DEFINE FIELD body ON review TYPE option<string>;
CREATE review:1 SET customer_id = 1, rating = 5, body = 'great';
CREATE review:2 SET customer_id = 1, rating = 3;
CREATE review:3 SET customer_id = 2, rating = 4, body = 'ok';`)
	const sql = "SELECT c.name, r.rating, r.body FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating >= $1 ORDER BY r.rating"
	code, out := s.query(t, map[string]any{"sql": sql, "params": []any{4}, "consistency": "eventual", "cache": false})
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, out)
	}
	want := []any{[]any{"Bob", json.Number("4"), "ok"}, []any{"Ann", json.Number("5"), "great"}}
	if !reflect.DeepEqual(out["rows"], want) || out["tag"] != "SELECT 2" {
		t.Errorf("rows %v tag %v, want %v", out["rows"], out["tag"], want)
	}
	// The same statement explained names the SurrealDB read.
	code, out = s.query(t, map[string]any{"sql": sql, "params": []any{4}, "explain": true})
	if code != http.StatusOK {
		t.Fatalf("explain: status %d: %v", code, out)
	}
	lines, _ := out["explain"].([]any)
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l.(string) + "\n")
	}
	if !strings.Contains(strings.ToLower(text.String()), "review") {
		t.Errorf("explain does not mention the SurrealDB table:\n%s", text.String())
	}
	if _, ok := out["rows"]; ok {
		t.Errorf("rows with explain: %v", out)
	}
	// An unknown SurrealDB table is the client's mistake.
	code, out = s.query(t, map[string]any{"sql": "SELECT * FROM surreal.nope"})
	if code != http.StatusBadRequest || errorOf(t, out)["code"] != "42P01" {
		t.Errorf("unknown SurrealDB table: status %d, %v", code, out)
	}
}

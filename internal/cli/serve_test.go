package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// serveProcess is a running `pgsurreal serve` and its log.
type serveProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	mu   sync.Mutex
	log  bytes.Buffer
}

func (p *serveProcess) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// startServe runs `pgsurreal serve` (the binary, without -race) with
// flags, and returns once its JSON log has a line with each message in
// want, with those lines' attributes by message.
func startServe(t *testing.T, flags []string, want ...string) (*serveProcess, map[string]map[string]any) {
	t.Helper()
	args := append(append([]string{"serve"}, flags...), "--log-format", "json", "--log-level", "info")
	cmd := exec.Command(testenv.Binary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, done: make(chan struct{})}
	ready := make(chan map[string]map[string]any, 1)
	// The reader never blocks on the test, so the process can always
	// be waited for.
	go func() {
		defer close(p.done)
		got := map[string]map[string]any{}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			msg, _ := rec["msg"].(string)
			if slices.Contains(want, msg) && got != nil {
				got[msg] = rec
				if len(got) == len(want) {
					ready <- got
					got = nil
				}
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	select {
	case got := <-ready:
		return p, got
	case <-p.done:
		t.Fatalf("serve exited (%v) before logging %q:\n%s", cmd.ProcessState, want, p.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not log %q within 60s:\n%s", want, p.logText())
	}
	return nil, nil
}

// stop sends SIGTERM and returns the exit code.
func (p *serveProcess) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM:\n%s", p.logText())
	}
	return p.cmd.ProcessState.ExitCode()
}

// serveFixture is a test database with customer(id, name) = (1, Ann),
// (2, Bob), a SurrealDB namespace with review records of both, and the
// flags that point serve at them with a slot of the test's own.
type serveFixture struct {
	pg    config.Postgres
	pool  *pgxpool.Pool
	cl    *surreal.Client
	flags []string
}

func newServeFixture(t *testing.T) *serveFixture {
	t.Helper()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su, cl := env.NewSurrealClient(t)
	ctx := context.Background()
	slot := "s_" + strings.TrimPrefix(testenv.Name(t), "t_")
	t.Cleanup(func() { // before the database is dropped
		for range 100 {
			_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", slot)
			if _, err := pool.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", slot); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if _, err := pool.Exec(ctx, "CREATE TABLE customer (id bigint PRIMARY KEY, name text); INSERT INTO customer VALUES (1, 'Ann'), (2, 'Bob')"); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, cl.DB, `DEFINE TABLE review SCHEMAFULL;
DEFINE FIELD customer_id ON review TYPE int;
DEFINE FIELD rating ON review TYPE int;
CREATE review:1 SET customer_id = 1, rating = 5;
CREATE review:2 SET customer_id = 2, rating = 3;`, nil); err != nil {
		t.Fatal(err)
	}
	flags := append(connFlags(pg, su),
		"--set", "sync.slot="+slot,
		"--set", "sync.include=public.customer",
		"--set", "sync.schema=schemafull",
		"--set", "http.listen=127.0.0.1:0",
		"--set", "http.token=serve-test-token",
	)
	return &serveFixture{pg: pg, pool: pool, cl: cl, flags: flags}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// apiQuery posts a statement to serve's query API and returns the status
// and the raw answer.
func apiQuery(t *testing.T, url, sql string, params ...any) (int, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"sql": sql, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer serve-test-token")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(raw))
}

func TestServeAnswersQueries(t *testing.T) {
	t.Parallel()
	f := newServeFixture(t)
	ctx := context.Background()
	flags := append(f.flags, "--set", "federation.listen=127.0.0.1:0", "--set", "federation.password=wire-secret")
	p, logs := startServe(t, flags, "serving the query API", "serving the PostgreSQL protocol")
	url, _ := logs["serving the query API"]["url"].(string)
	wireAddr, _ := logs["serving the PostgreSQL protocol"]["addr"].(string)

	const sql = "SELECT c.name, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1"
	code, body := apiQuery(t, url, sql, 2)
	if want := `{"columns":[{"name":"name","type":"text"},{"name":"rating","type":"int8"}],"rows":[["Bob",3]],"tag":"SELECT 1"}`; code != http.StatusOK || body != want {
		t.Errorf("status %d, body %s, want %s", code, body, want)
	}

	// The same statement over the PostgreSQL protocol; the session stays
	// open across the shutdown below.
	host, port, _ := net.SplitHostPort(wireAddr)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(wctx, fmt.Sprintf("postgres://pgsurreal:wire-secret@%s:%s/%s?sslmode=disable", host, port, f.pg.Database))
	if err != nil {
		t.Fatalf("connecting to the wire server at %s: %v", wireAddr, err)
	}
	defer conn.Close(ctx)
	var name string
	var rating int64
	if err := conn.QueryRow(wctx, sql, 2).Scan(&name, &rating); err != nil || name != "Bob" || rating != 3 {
		t.Errorf("wire query: %q %d %v, want Bob 3", name, rating, err)
	}

	resp, err := httpClient.Get(strings.TrimSuffix(url, "/v1/query") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`pgsurreal_api_requests_total{code="200",path="/v1/query"} 1`, "pgsurreal_sync_", "pgsurreal_federation_", "pgsurreal_pgwire_", "go_goroutines"} {
		if !strings.Contains(string(raw), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM:\n%s", code, p.logText())
	}
}

// TestServeInvalidatesCache checks that serve's sync invalidates the
// federation cache: a cached SurrealDB read is answered anew once a
// PostgreSQL change has been replicated, long before the cache's TTL.
func TestServeInvalidatesCache(t *testing.T) {
	t.Parallel()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second); err != nil {
		t.Skipf("no Redis on 127.0.0.1:6379: %v", err)
	} else {
		c.Close()
	}
	f := newServeFixture(t)
	flags := append(f.flags, "--set", "federation.listen=off",
		"--set", "federation.cache.redis=redis://127.0.0.1:6379/0",
		"--set", "federation.cache.prefix="+testenv.Name(t)+":",
		"--set", "federation.cache.ttl=10m")
	p, logs := startServe(t, flags, "serving the query API")
	url, _ := logs["serving the query API"]["url"].(string)

	const sql = "SELECT name FROM surreal.customer ORDER BY name"
	await := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := apiQuery(t, url, sql)
			if code == http.StatusOK && strings.Contains(body, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 30s: last answer %d %s\n%s", want, code, body, p.logText())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	metrics := func() string {
		t.Helper()
		resp, err := httpClient.Get(strings.TrimSuffix(url, "/v1/query") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return string(raw)
	}
	await(`"rows":[["Ann"],["Bob"]]`) // the snapshot arrived
	// A table is cached once the sync's invalidations watch it: the same
	// read is then answered from Redis.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(metrics(), `pgsurreal_federation_cache_requests_total{result="hit"}`) {
		if time.Now().After(deadline) {
			t.Fatalf("no cache hit within 30s: are the sync's invalidations wired?\n%s", p.logText())
		}
		apiQuery(t, url, sql)
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := f.pool.Exec(context.Background(), "UPDATE customer SET name = 'Bobby' WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	await(`"rows":[["Ann"],["Bobby"]]`) // well before the 10m TTL
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM:\n%s", code, p.logText())
	}
}

// TestServeListenError checks that an address in use stops serve before
// any engine starts, naming the key to change.
func TestServeListenError(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, _ := env.NewPostgresPool(t)
	su := env.NewSurreal(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	code, _, errOut := run(t, append(connFlags(pg, su), "serve", "--set", "http.listen="+addr, "--set", "federation.listen=off")...)
	if code != 1 || !strings.Contains(errOut, "cannot serve metrics on http.listen "+addr) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

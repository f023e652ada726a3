package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestServeObservability runs serve against a PostgreSQL cluster of its
// own: /readyz is ready, the dashboard opens after signing in, /metrics
// has the database collectors; then PostgreSQL stops, /readyz says not
// ready and a webhook receives the sync-stopped and database-down alerts
// firing, and once PostgreSQL is back they resolve.
func TestServeObservability(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pgcfg, stack := testenv.PrivateCluster(t)
	pool, err := postgres.Connect(ctx, pgcfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE customer (id bigint PRIMARY KEY, name text); INSERT INTO customer VALUES (1, 'Ann')"); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	su := testenv.Get(t).NewSurreal(t)

	var mu sync.Mutex
	var hooks []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil {
			mu.Lock()
			hooks = append(hooks, body)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	received := func(alert, status string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range hooks {
			if h["alert"] == alert && h["status"] == status {
				return true
			}
		}
		return false
	}

	flags := append(connFlags(pgcfg, su),
		"--set", "sync.slot=observe", "--set", "sync.include=public.customer",
		"--set", "http.listen=127.0.0.1:0", "--set", "http.token=serve-test-token",
		"--set", "federation.listen=off",
		"--set", "alerts.webhooks="+hook.URL, "--set", "alerts.for=0s", "--set", "alerts.evaluate_every=500ms",
	)
	p, logs := startServe(t, flags, "serving the query API")
	base := strings.TrimSuffix(logs["serving the query API"]["url"].(string), "/v1/query")
	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 90s\n%s", what, p.logText())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitUntil("/readyz ready", func() bool { code, _ := get(httpClient, "/readyz"); return code == http.StatusOK })

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if code, body := get(browser, "/"); code != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Fatalf("/ without a session: %d, want the sign-in form", code)
	}
	resp, err := browser.PostForm(base+"/login", url.Values{"token": {"serve-test-token"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "/ui/assets/dashboard.js") {
		t.Fatalf("dashboard after signing in: %d\n%s", resp.StatusCode, page)
	}
	if code, body := get(browser, "/ui/data.json"); code != http.StatusOK || !strings.Contains(body, "customer") {
		t.Errorf("/ui/data.json: %d %s", code, body)
	}
	// Ready means the sync runs; under the leader lease it starts after
	// the fencing margin, and may still be creating its slot.
	waitUntil("the slot in /metrics", func() bool {
		_, m := get(httpClient, "/metrics")
		return strings.Contains(m, `pgsurreal_postgres_slot_retained_wal_bytes{slot="observe"}`)
	})
	_, metrics := get(httpClient, "/metrics")
	for _, m := range []string{"pgsurreal_postgres_up 1", "pgsurreal_surreal_up 1", "pgsurreal_sync_running 1", "pgsurreal_postgres_slot_retained_wal_bytes{slot=\"observe\"}", "pgsurreal_alerts_firing"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	if err := devstack.Down(ctx, stack); err != nil {
		t.Fatal(err)
	}
	waitUntil("/readyz not ready with PostgreSQL down", func() bool { code, _ := get(httpClient, "/readyz"); return code == http.StatusServiceUnavailable })
	waitUntil("webhook: PgsurrealDatabaseDown firing", func() bool { return received("PgsurrealDatabaseDown", "firing") })
	waitUntil("webhook: PgsurrealSyncStopped firing", func() bool { return received("PgsurrealSyncStopped", "firing") })
	if _, err := devstack.Up(ctx, stack); err != nil {
		t.Fatal(err)
	}
	waitUntil("webhook: PgsurrealDatabaseDown resolved", func() bool { return received("PgsurrealDatabaseDown", "resolved") })
	waitUntil("webhook: PgsurrealSyncStopped resolved", func() bool { return received("PgsurrealSyncStopped", "resolved") })
	waitUntil("/readyz ready again", func() bool { code, _ := get(httpClient, "/readyz"); return code == http.StatusOK })
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM:\n%s", code, p.logText())
	}
}

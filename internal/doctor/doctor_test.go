package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// These tests run doctor against real servers: the shared test stack, a
// private cluster started without logical replication, and closed ports.

func TestAllGreen(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := config.Default()
	cfg.Postgres = env.NewPostgresDB(t)
	cfg.Surreal = env.NewSurreal(t)
	r := Run(context.Background(), cfg)
	logReport(t, r)
	if !r.OK || len(r.Checks) != 12 {
		t.Errorf("OK=%v with %d checks", r.OK, len(r.Checks))
	}
	for _, c := range r.Checks {
		if c.Status != StatusOK {
			t.Errorf("%s (%s): %s: %s; fix: %s", c.Name, c.System, c.Status, c.Detail, c.Fix)
		}
	}
}

func TestClusterWithoutLogicalReplication(t *testing.T) {
	t.Parallel()
	pg := config.Default().Postgres
	pg.Port = freePort(t)
	o := devstack.Options{
		Dir: filepath.Join(testenv.RepoRoot(), ".pgsurreal", "test", testenv.Name(t)),
		PG:  pg,
		PGSettings: map[string]string{
			"wal_level":                 "replica",
			"max_prepared_transactions": "0",
			"track_commit_timestamp":    "off",
		},
		NoSurreal: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := devstack.Reset(context.Background(), o); err != nil {
			t.Errorf("resetting the cluster: %v", err)
		}
	})
	if _, err := devstack.Up(ctx, o); err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}

	r := newReport(Postgres(ctx, pg))
	want := map[string][]string{
		CheckWALLevel:        {"`wal_level = logical`", "ALTER SYSTEM SET wal_level = 'logical';"},
		CheckPreparedXacts:   {"`max_prepared_transactions = 64`", "ALTER SYSTEM SET max_prepared_transactions"},
		CheckCommitTimestamp: {"`track_commit_timestamp = on`", "ALTER SYSTEM SET track_commit_timestamp = 'on';"},
	}
	for _, c := range r.Checks {
		subs, shouldFail := want[c.Name]
		if !shouldFail {
			if c.Status != StatusOK {
				t.Errorf("%s: %s (%s), want ok", c.Name, c.Status, c.Detail)
			}
			continue
		}
		if c.Status != StatusFail {
			t.Errorf("%s: %s (%s), want fail", c.Name, c.Status, c.Detail)
		}
		for _, s := range append(subs, "restart PostgreSQL", "needs a restart") {
			if !strings.Contains(c.Fix, s) {
				t.Errorf("%s: fix %q lacks %q", c.Name, c.Fix, s)
			}
		}
	}
	if r.Failed() != len(want) {
		t.Errorf("%d checks failed, want %d", r.Failed(), len(want))
	}
	logReport(t, r)
}

func TestRoleWithoutReplication(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := env.NewPostgresDB(t)
	role, password := testenv.Name(t), randomHex(t)
	admin := func(sql string) {
		t.Helper()
		ctx := context.Background()
		conn, err := postgres.ConnectOne(ctx, env.PG, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", strings.ReplaceAll(sql, password, "…"), err)
		}
	}
	// The password is hex, so it is safe as a literal (CREATE ROLE takes no parameters).
	admin("CREATE ROLE " + postgres.Ident(role) + " LOGIN PASSWORD '" + password + "'")
	t.Cleanup(func() { admin("DROP ROLE IF EXISTS " + postgres.Ident(role)) })
	cfg.User, cfg.Password = role, config.Secret(password)

	r := newReport(Postgres(context.Background(), cfg))
	for _, c := range r.Checks {
		want := StatusOK
		switch c.Name {
		case CheckReplicationPriv:
			want = StatusFail
			if fix := "ALTER ROLE " + postgres.Ident(role) + " REPLICATION;"; !strings.Contains(c.Fix, fix) {
				t.Errorf("fix %q lacks %q", c.Fix, fix)
			}
		case CheckReplicationConn:
			want = StatusSkip
		}
		if c.Status != want {
			t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Detail, want)
		}
	}
	assertNoSecret(t, r, password)
}

func TestWrongSurrealPassword(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := env.NewSurreal(t)
	password := randomHex(t)
	cfg.Password = config.Secret(password)
	r := newReport(Surreal(context.Background(), cfg))
	want := map[string]string{
		CheckSurrealConnection: StatusOK,
		CheckSurrealVersion:    StatusOK,
		CheckSurrealSignin:     StatusFail,
		CheckSurrealNamespace:  StatusSkip,
	}
	if len(r.Checks) != len(want) {
		t.Fatalf("got %d checks", len(r.Checks))
	}
	for _, c := range r.Checks {
		if c.Status != want[c.Name] {
			t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Detail, want[c.Name])
		}
	}
	if c, _ := r.Find(CheckSurrealSignin); !strings.Contains(c.Fix, "surreal.password") {
		t.Errorf("fix %q does not name surreal.password", c.Fix)
	}
	assertNoSecret(t, r, password)
}

func TestWrongPostgresPassword(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := env.NewPostgresDB(t)
	password := randomHex(t)
	cfg.Password = config.Secret(password)
	r := newReport(Postgres(context.Background(), cfg))
	for _, c := range r.Checks {
		switch {
		case c.Name == CheckPGConnection:
			if c.Status != StatusFail || !strings.Contains(c.Detail, "rejected the password") || !strings.Contains(c.Fix, "postgres.password") {
				t.Errorf("%s: %s %q, fix %q", c.Name, c.Status, c.Detail, c.Fix)
			}
		case c.Status != StatusSkip:
			t.Errorf("%s: %s, want skip", c.Name, c.Status)
		}
	}
	assertNoSecret(t, r, password)
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Postgres.Port = freePort(t)
	cfg.Postgres.Password = config.Secret(randomHex(t))
	cfg.Surreal.URL = "ws://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/rpc"
	cfg.Surreal.Password = config.Secret(randomHex(t))
	start := time.Now()
	r := Run(context.Background(), cfg)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %s", d)
	}
	if r.OK || r.Failed() != 2 {
		t.Errorf("OK=%v, %d failed; want 2 failures", r.OK, r.Failed())
	}
	for _, c := range r.Checks {
		switch c.Name {
		case CheckPGConnection, CheckSurrealConnection:
			if c.Status != StatusFail || !strings.Contains(c.Detail, "connection refused") {
				t.Errorf("%s: %s %q, want fail with connection refused", c.Name, c.Status, c.Detail)
			}
		default:
			if c.Status != StatusSkip {
				t.Errorf("%s: %s, want skip", c.Name, c.Status)
			}
		}
	}
	assertNoSecret(t, r, cfg.Postgres.Password.Reveal())
	assertNoSecret(t, r, cfg.Surreal.Password.Reveal())
}

func TestSilentServerTimesOut(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never answers, like a
	// misrouted port: each check must give up after its timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	cfg := config.Default()
	cfg.Postgres.Port = port
	cfg.Postgres.ConnectTimeout = config.Duration{Duration: time.Second}
	cfg.Surreal.URL = "ws://127.0.0.1:" + strconv.Itoa(port) + "/rpc"
	cfg.Surreal.Timeout = config.Duration{Duration: time.Second}
	start := time.Now()
	r := Run(context.Background(), cfg)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %s with 1s timeouts", d)
	}
	for _, name := range []string{CheckPGConnection, CheckSurrealConnection} {
		c, _ := r.Find(name)
		if c.Status != StatusFail || !strings.Contains(c.Detail, "timed out") {
			t.Errorf("%s: %s %q, want a timeout failure", name, c.Status, c.Detail)
		}
	}
	logReport(t, r)
}

// assertNoSecret renders the report both ways and looks for secret.
func assertNoSecret(t *testing.T, r Report, secret string) {
	t.Helper()
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "json": js.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s output contains the password:\n%s", name, out)
		}
	}
	logReport(t, r)
}

// logReport shows the text report under go test -v.
func logReport(t *testing.T, r Report) {
	t.Helper()
	var b bytes.Buffer
	_ = r.WriteText(&b)
	t.Logf("report:\n%s", b.String())
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestOtherServers: every server of surreal.servers is checked too, its
// checks named after it and its fixes pointing at its keys; its password
// never shows.
func TestOtherServers(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := config.Default()
	cfg.Postgres = env.NewPostgresDB(t)
	cfg.Surreal = env.NewSurreal(t)
	secret := randomHex(t)
	cfg.Surreal.Servers = []config.SurrealServer{
		{Name: "same", URL: cfg.Surreal.URL},
		{Name: "gone", URL: "ws://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/rpc", Password: config.Secret(secret)},
	}
	r := Run(context.Background(), cfg)
	if r.Failed() != 1 {
		t.Fatalf("%d failed, want 1 (the unreachable server): %+v", r.Failed(), r.Checks)
	}
	if c, ok := r.Find(CheckSurrealConnection + " (server same)"); !ok || c.Status != StatusOK {
		t.Errorf("server same: %+v", c)
	}
	c, ok := r.Find(CheckSurrealConnection + " (server gone)")
	if !ok || c.Status != StatusFail || !strings.Contains(c.Detail, "connection refused") || !strings.Contains(c.Fix, "surreal.servers[1].url") {
		t.Errorf("server gone: %+v, want a failure whose fix names surreal.servers[1].url", c)
	}
	assertNoSecret(t, r, secret)
}

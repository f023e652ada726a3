package devstack_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// stack returns options for a private stack of this test, reset at the end.
func stack(t *testing.T) devstack.Options {
	t.Helper()
	cfg := config.Default()
	cfg.Postgres.Port = freePort(t)
	o := devstack.Options{
		Dir:            filepath.Join(testenv.RepoRoot(), ".pgsurreal", "test", testenv.Name(t)),
		PG:             cfg.Postgres,
		SurrealPort:    freePort(t),
		SurrealStorage: "surrealkv",
		SurrealUser:    "root",
		SurrealPass:    "s3cret-" + strconv.Itoa(os.Getpid()),
		NodeBin:        "node",
	}
	t.Cleanup(func() {
		if err := devstack.Reset(context.Background(), o); err != nil {
			t.Errorf("reset: %v", err)
		}
	})
	return o
}

func surrealCfg(o devstack.Options) config.Surreal {
	s := config.Default().Surreal
	s.URL = "ws://127.0.0.1:" + strconv.Itoa(o.SurrealPort) + "/rpc"
	s.Password = config.Secret(o.SurrealPass)
	return s
}

// serverProcesses counts dev server processes serving this stack's port.
func serverProcesses(t *testing.T, port int) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		// The supervisor and its child both carry the arguments.
		if strings.Contains(cmd, "server.mjs") && strings.Contains(cmd, "127.0.0.1:"+strconv.Itoa(port)+" ") {
			n++
		}
	}
	return n
}

func TestUpDownUpKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := stack(t)

	st, err := devstack.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Postgres.Running || !st.Surreal.Running {
		t.Fatalf("after up: %+v", st)
	}
	procs := serverProcesses(t, o.SurrealPort)

	// Write on both sides.
	pg, err := postgres.ConnectOne(ctx, o.PG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec(ctx, "CREATE TABLE kept (id int primary key, v text); INSERT INTO kept VALUES (1, 'pg')"); err != nil {
		t.Fatal(err)
	}
	pg.Close(ctx)
	sc, err := surreal.Connect(ctx, surrealCfg(o), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, sc.DB, "CREATE kept:1 SET v = 'surreal'", nil); err != nil {
		t.Fatal(err)
	}
	sc.Close(ctx)

	// A second up starts nothing new.
	st2, err := devstack.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Postgres.PID != st.Postgres.PID || st2.Surreal.PID != st.Surreal.PID {
		t.Fatalf("second up changed the servers: %+v then %+v", st, st2)
	}
	if n := serverProcesses(t, o.SurrealPort); n != procs {
		t.Fatalf("second up: %d dev server processes, was %d", n, procs)
	}

	if err := devstack.Down(ctx, o); err != nil {
		t.Fatal(err)
	}
	if st, _ := devstack.Stat(ctx, o); st.Postgres.Running || st.Surreal.Running {
		t.Fatalf("after down: %+v", st)
	}
	if n := serverProcesses(t, o.SurrealPort); n != 0 {
		t.Fatalf("after down: %d dev server processes remain", n)
	}

	if _, err := devstack.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	pg, err = postgres.ConnectOne(ctx, o.PG, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	var v string
	if err := pg.QueryRow(ctx, "SELECT v FROM kept WHERE id = 1").Scan(&v); err != nil || v != "pg" {
		t.Fatalf("PostgreSQL after down/up: %q, %v", v, err)
	}
	sc, err = surreal.Connect(ctx, surrealCfg(o), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	res, err := surrealdb.Query[[]map[string]any](ctx, sc.DB, "SELECT v FROM kept", nil)
	if err != nil || len((*res)[0].Result) != 1 || (*res)[0].Result[0]["v"] != "surreal" {
		t.Fatalf("SurrealDB after down/up: %v, %v", res, err)
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	o := stack(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o.PG.Port = l.Addr().(*net.TCPAddr).Port
	_, err = devstack.Up(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "postgres.port") {
		t.Fatalf("up on a busy port: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(o.Dir, "pg", "PG_VERSION")); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("a cluster was initialised despite the busy port")
	}
}

func TestMissingNodeLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	o := stack(t)
	o.NodeBin = "/nonexistent/node"
	_, err := devstack.Up(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "Node.js") || !strings.Contains(err.Error(), "dev.node_bin") {
		t.Fatalf("up without node: %v", err)
	}
	st, _ := devstack.Stat(context.Background(), o)
	if st.Postgres.Running {
		t.Fatal("PostgreSQL was left running after a failed up")
	}
}

package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

var hostile = []string{
	"plain", "select", "123", "with space", "dash-ed", "quote'single", `quote"double`,
	`back\slash`, "ünïcødé", "emoji🙂", "semi;colon DROP TABLE x; --", "UPPER",
}

func TestIdentRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := testenv.Get(t).NewPostgresPool(t)
	for _, name := range hostile {
		if _, err := pool.Exec(ctx, "CREATE TABLE "+postgres.Ident(name)+" ("+postgres.Ident(name+"_c")+" text)"); err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+postgres.QualifiedIdent("public", name)+" VALUES ($1)", name); err != nil {
			t.Errorf("%q insert: %v", name, err)
		}
		var got string
		if err := pool.QueryRow(ctx, "SELECT "+postgres.Ident(name+"_c")+" FROM "+postgres.Ident(name)).Scan(&got); err != nil || got != name {
			t.Errorf("%q: got %q, %v", name, got, err)
		}
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Get(t)
	bad := env.PG
	bad.Password = "definitely-wrong-password"
	_, err := postgres.Connect(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "rejected the password") || strings.Contains(err.Error(), "definitely-wrong-password") {
		t.Fatalf("wrong password: %v", err)
	}
	nodb := env.PG
	nodb.Database = "no_such_db_here"
	if _, err := postgres.Connect(ctx, nodb); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing database: %v", err)
	}
	down := config.Default().Postgres
	down.Port = 1
	if _, err := postgres.Connect(ctx, down); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable: %v", err)
	}
}

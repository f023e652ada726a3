package doctor

import (
	"context"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func TestProbe(t *testing.T) {
	env := testenv.Get(t)
	cfg := env.NewSurreal(t)
	ctx := context.Background()
	db, err := surreal.Dial(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.Version(ctx)
	t.Logf("version %+v %v", v, err)
	_, err = db.SignIn(ctx, surrealdb.Auth{Username: "root", Password: "wrongpw123"})
	t.Logf("bad signin: %v", err)
	_, err = db.SignIn(ctx, surrealdb.Auth{Username: "root", Password: "root"})
	t.Logf("signin: %v", err)
	err = db.Use(ctx, cfg.Namespace, cfg.Database)
	t.Logf("use: %v", err)
	r, err := surrealdb.Query[any](ctx, db, "INFO FOR DB", nil)
	t.Logf("info: %v %v", r, err)
	r, err = surrealdb.Query[any](ctx, db, "RETURN 1", nil)
	t.Logf("ret: %v %v", r, err)
	err = db.Use(ctx, "", "")
	t.Logf("use empty: %v", err)
	r, err = surrealdb.Query[any](ctx, db, "INFO FOR DB", nil)
	t.Logf("info: %v %v", r, err)
}

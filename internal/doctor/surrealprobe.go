package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Surreal checks the configured SurrealDB: that it answers, its version,
// the credentials, and that the namespace and database can be used.
func Surreal(ctx context.Context, cfg config.Surreal) []Check {
	timeout := stepTimeout(cfg.Timeout.Duration)
	step := func(f func(context.Context) error) error {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return f(sctx)
	}
	var db *surrealdb.DB
	var timedOut time.Duration
	err := step(func(ctx context.Context) (err error) {
		db, err = surreal.Dial(ctx, cfg, nil)
		// Dial returns text only; the deadline tells a timeout apart.
		if err != nil && (ctx.Err() != nil || strings.Contains(err.Error(), "i/o timeout")) {
			timedOut = timeout
		}
		return err
	})
	if err != nil {
		return surrealUnreachable(cfg, err, timedOut)
	}
	defer func() { _ = db.Close(context.WithoutCancel(ctx)) }()

	var version string
	versionErr := step(func(ctx context.Context) error {
		v, err := db.Version(ctx)
		if err == nil {
			version = v.Version
		}
		return err
	})
	signinErr := step(func(ctx context.Context) error {
		_, err := db.SignIn(ctx, surrealdb.Auth{Username: cfg.Username, Password: cfg.Password.Reveal()})
		return err
	})
	var nsErr error
	if signinErr == nil {
		nsErr = step(func(ctx context.Context) error { return useNamespace(ctx, db, cfg) })
	}
	return surrealChecks(cfg, version, versionErr, signinErr, nsErr)
}

// useNamespace selects the namespace and database and runs a query that
// reads the database, which fails if the user may not use it.
//
// USE defines a missing namespace and database, so two clients using a
// new one at once can conflict: a conflict is retried.
func useNamespace(ctx context.Context, db *surrealdb.DB, cfg config.Surreal) error {
	for attempt := 1; ; attempt++ {
		err := db.Use(ctx, cfg.Namespace, cfg.Database)
		if err == nil {
			break
		}
		if attempt == 5 || !strings.Contains(strings.ToLower(err.Error()), "conflict") {
			return fmt.Errorf("USE: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("USE: %w", err)
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		}
	}
	if _, err := surrealdb.Query[any](ctx, db, "INFO FOR DB", nil); err != nil {
		return fmt.Errorf("INFO FOR DB: %w", err)
	}
	return nil
}

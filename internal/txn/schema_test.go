package txn

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestEnsureSchemaConcurrently: daemons started together create the
// coordinator table at once; none of them fails.
func TestEnsureSchemaConcurrently(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Get(t).NewPostgresPool(t)
	ctx := context.Background()
	// Open the connections first, so the creators start together.
	var conns []*pgxpool.Conn
	for range 8 {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	for round := range 5 {
		schema := fmt.Sprintf("pgsurreal_ha_%d", round)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				<-start
				errs <- ensureSchema(ctx, pool, schema)
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	}
}

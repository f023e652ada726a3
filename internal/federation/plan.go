package federation

import (
	"context"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// plan is being built.
func (e *Engine) plan(ctx context.Context, tree *pg_query.ParseResult, explain bool) (*Statement, error) {
	return nil, notSupported("federated statements are being built")
}

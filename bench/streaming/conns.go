package main

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

func connectAll(ctx context.Context, pg config.Postgres, n int) ([]*pgx.Conn, error) {
	var out []*pgx.Conn
	for range n {
		c, err := postgres.ConnectOne(ctx, pg, nil)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func closeAll(conns []*pgx.Conn) {
	for _, c := range conns {
		_ = c.Close(context.Background())
	}
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// The reverse step's SurrealDB table and its PostgreSQL target.
const (
	reviewTable      = "review"
	reviewTarget     = "public.surreal_review"
	reviewTargetName = "surreal_review"
)

// review is a review the demo writes in SurrealDB, with links to the
// users and products replicated from PostgreSQL.
type review struct {
	id, author, product, rating int
	text                        string
}

var (
	// soloReviews are written one statement each, txReviews in one
	// transaction: users:1 reviews both products of the order step 4
	// placed.
	soloReviews = []review{
		{1, showUser, liveProductA, 4, "Keeps water cold all day"},
		{2, 3, liveProductB, 2, "Too dim to read by"},
	}
	txReviews = []review{
		{3, socialUser, liveProductA, 5, "Bought two, both perfect"},
		{4, socialUser, liveProductB, 3, "Fine, but the switch rattles"},
	}
	// newReview is written, and deletedReview deleted, while the reverse
	// pipeline streams.
	newReview     = review{5, 2, liveProductB, 4, "Warm light, solid base"}
	deletedReview = soloReviews[1]
)

// create returns the CREATE statement of r, its parameters named with
// suffix so that several statements can share one query.
func (r review) create(suffix string) (string, map[string]any) {
	sql := strings.ReplaceAll("CREATE $id# SET author = $author#, product = $product#, rating = $rating#, text = $text#, created_at = time::now()", "#", suffix)
	return sql, map[string]any{
		"id" + suffix:      r.record(),
		"author" + suffix:  models.NewRecordID("users", r.author),
		"product" + suffix: models.NewRecordID("products", r.product),
		"rating" + suffix:  r.rating,
		"text" + suffix:    r.text,
	}
}

// display is the CREATE statement as a user would type it.
func (r review) display() string {
	return fmt.Sprintf("CREATE review:%d SET author = users:%d, product = products:%d, rating = %d, text = %s, created_at = time::now()",
		r.id, r.author, r.product, r.rating, quote(r.text))
}

func (r review) record() models.RecordID { return models.NewRecordID(reviewTable, r.id) }

// key is the review's key in the PostgreSQL table: the record id's id
// part as text.
func (r review) key() string { return strconv.Itoa(r.id) }

// writeReviews writes the first reviews in SurrealDB, before the reverse
// pipeline runs: the table is schemaless and has no changefeed yet. It
// returns a versionstamp at or after the writes (source.Now), taken
// before the reverse pipeline starts so that the two do not define the
// marker table at the same time.
func (d *session) writeReviews(ctx context.Context, p *printer) (uint64, error) {
	p.note("a front end writes reviews straight into SurrealDB, linking the users and products from PostgreSQL")
	for _, r := range soloReviews {
		p.query(r.display())
		sql, vars := r.create("")
		if _, err := surrealdb.Query[any](ctx, d.sur.DB, sql, vars); err != nil {
			return 0, fmt.Errorf("writing review:%d in SurrealDB: %w", r.id, err)
		}
	}
	p.note("one SurrealDB transaction: users:%d reviews both products of the order placed in step 4", socialUser)
	stmts := []string{"BEGIN TRANSACTION"}
	vars := map[string]any{}
	display := []string{"BEGIN;"}
	for i, r := range txReviews {
		sql, v := r.create(strconv.Itoa(i))
		stmts = append(stmts, sql)
		for k, x := range v {
			vars[k] = x
		}
		display = append(display, "  "+r.display()+";")
	}
	p.query(strings.Join(append(display, "COMMIT"), "\n"))
	if _, err := surrealdb.Query[any](ctx, d.sur.DB, strings.Join(append(stmts, "COMMIT TRANSACTION"), ";\n")+";", vars); err != nil {
		return 0, fmt.Errorf("writing the reviews of users:%d in SurrealDB: %w", socialUser, err)
	}
	p.ok("%d reviews in SurrealDB table review (schemaless, no changefeed yet)", len(soloReviews)+len(txReviews))
	return source.Now(ctx, d.sur, d.o.reverseConfig().Retention.Duration)
}

// startReverse runs the reverse pipeline until stop (or until ctx ends).
func (d *session) startReverse(ctx context.Context) *pipeline {
	pl := &pipeline{name: "reverse pipeline", into: "PostgreSQL"}
	o := reverse.Options{Postgres: d.o.demoPG(), Surreal: d.o.demoSurreal(), Reverse: d.o.reverseConfig(), Log: d.o.Log}
	pl.start(ctx, func(ctx context.Context) error { return reverse.Run(ctx, o) })
	return pl
}

// reviews waits for the reverse pipeline's copy of the reviews (until it
// applied the versionstamp written), shows them in PostgreSQL, then
// writes and deletes one in SurrealDB and measures when each change
// reaches PostgreSQL.
func (d *session) reviews(ctx context.Context, p *printer, rp *pipeline, res *Result, written uint64) error {
	cfg := d.o.reverseConfig()
	var cols []string
	for _, c := range cfg.Tables[0].Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	p.printf("\n")
	p.line("reverse pipeline started in-process: a changefeed on review, replicated into %s;", reviewTarget)
	p.line("a schemaless table gives id text, doc jsonb and the extracted columns %s", strings.Join(cols, ", "))
	n := len(soloReviews) + len(txReviews)
	var err error
	if res.ReverseCopyTime, err = d.await(ctx, rp, "the reviews", rp.started, func(ctx context.Context) (bool, error) {
		vs, err := d.reverseAt(ctx)
		return vs >= written, err
	}); err != nil {
		return err
	}
	p.ok("the %d reviews in PostgreSQL after %s (changefeed enabled, table created, records copied); now streaming",
		n, ms(res.ReverseCopyTime))
	p.line("the sync pipeline, still running, leaves %s alone: it is in sync.exclude, and the reverse", reviewTargetName)
	p.line("pipeline writes under the replication origin %s, whose transactions sync skips", d.o.origin())

	target := postgres.QualifiedIdent("public", reviewTargetName)
	if err := d.pgShow(ctx, p, "the records became rows; the link columns hold the key they point at (users:42 -> 42), doc the whole record",
		"SELECT id, rating, author, product, doc->>'text' AS text FROM "+reviewTargetName+" ORDER BY id",
		"SELECT id, rating, author, product, doc->>'text' AS text FROM "+target+" ORDER BY id"); err != nil {
		return err
	}
	join := `SELECT p.name AS product, p.price, count(*) AS reviews, round(avg(r.rating), 1) AS rating,
       string_agg(u.name, ', ' ORDER BY r.id) AS reviewers
  FROM %s r JOIN products p ON p.id = r.product::int JOIN users u ON u.id = r.author::int
 GROUP BY p.id ORDER BY p.id`
	if err := d.pgShow(ctx, p, "data born in SurrealDB, joined with PostgreSQL's own tables (the price is step 4's cut)",
		fmt.Sprintf(join, reviewTargetName), fmt.Sprintf(join, target)); err != nil {
		return err
	}

	if res.ReverseChanges, err = d.liveReviews(ctx, p, rp, target); err != nil {
		return err
	}
	if res.Reviews, err = d.pgReviews(ctx, target); err != nil {
		return err
	}
	if res.ReviewCount, err = d.reviewCount(ctx, target); err != nil {
		return err
	}
	c := res.ReviewCount
	if c.Postgres != c.Surreal {
		p.bad("recounted: review has %d records in SurrealDB, but %s %d rows in PostgreSQL", c.Surreal, reviewTargetName, c.Postgres)
		return nil
	}
	p.ok("recounted: review has %d records in SurrealDB, %s %d rows in PostgreSQL", c.Surreal, reviewTargetName, c.Postgres)
	return nil
}

// liveReviews creates one review and deletes another in SurrealDB and
// measures when each change is visible in PostgreSQL.
func (d *session) liveReviews(ctx context.Context, p *printer, rp *pipeline, target string) ([]Change, error) {
	exists := func(r review) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			var ok bool
			err := d.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+target+" WHERE id = $1)", r.key()).Scan(&ok)
			return ok, err
		}
	}
	var out []Change

	p.note("a new review, written in SurrealDB while the reverse pipeline streams")
	p.query(newReview.display())
	sql, vars := newReview.create("")
	start := time.Now()
	if _, err := surrealdb.Query[any](ctx, d.sur.DB, sql, vars); err != nil {
		return nil, fmt.Errorf("writing review:%d in SurrealDB: %w", newReview.id, err)
	}
	lat, err := d.await(ctx, rp, "the new review", start, exists(newReview))
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("review:%d", newReview.id)
	p.ok("%s visible in PostgreSQL after %s", what, latency(lat))
	out = append(out, Change{What: what, Latency: lat})

	p.note("users:%d deletes their review", deletedReview.author)
	p.query(fmt.Sprintf("DELETE review:%d", deletedReview.id))
	start = time.Now()
	if _, err := surrealdb.Query[any](ctx, d.sur.DB, "DELETE $id", map[string]any{"id": deletedReview.record()}); err != nil {
		return nil, fmt.Errorf("deleting review:%d in SurrealDB: %w", deletedReview.id, err)
	}
	lat, err = d.await(ctx, rp, "the deleted review", start, func(ctx context.Context) (bool, error) {
		ok, err := exists(deletedReview)(ctx)
		return !ok, err
	})
	if err != nil {
		return nil, err
	}
	what = fmt.Sprintf("review:%d gone", deletedReview.id)
	p.ok("%s from PostgreSQL after %s", what, latency(lat))
	return append(out, Change{What: what, Latency: lat}), nil
}

// reverseAt reads the versionstamp the reverse pipeline has applied up
// to; 0 before it stored one.
func (d *session) reverseAt(ctx context.Context) (uint64, error) {
	var vs string
	err := d.pool.QueryRow(ctx, "SELECT versionstamp::text FROM "+postgres.QualifiedIdent(d.o.reverseConfig().Schema, "reverse_position")+" WHERE source = $1",
		d.o.Namespace+"/"+d.o.SurrealDatabase).Scan(&vs)
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000"):
		return 0, nil // not created yet
	case err != nil:
		return 0, err
	}
	return strconv.ParseUint(vs, 10, 64)
}

// pgReviews reads the reverse target's rows.
func (d *session) pgReviews(ctx context.Context, target string) ([]Review, error) {
	rows, err := d.pool.Query(ctx, "SELECT id, rating, author, product, doc->>'text' FROM "+target+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", reviewTarget, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Review, error) {
		var v Review
		return v, r.Scan(&v.ID, &v.Rating, &v.Author, &v.Product, &v.Text)
	})
}

// reviewCount counts the reviews on both sides.
func (d *session) reviewCount(ctx context.Context, target string) (Count, error) {
	c := Count{Table: reviewTable + " -> " + reviewTargetName}
	if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM "+target).Scan(&c.Postgres); err != nil {
		return c, fmt.Errorf("counting %s in PostgreSQL: %w", reviewTarget, err)
	}
	res, err := surrealdb.Query[[]struct {
		N int64 `json:"n"`
	}](ctx, d.sur.DB, "SELECT count() AS n FROM "+surreal.Ident(reviewTable)+" GROUP ALL", nil)
	if err != nil {
		return c, fmt.Errorf("counting %s in SurrealDB: %w", reviewTable, err)
	}
	if len(*res) > 0 && len((*res)[0].Result) > 0 {
		c.Surreal = (*res)[0].Result[0].N
	}
	return c, nil
}

// pgShow runs a PostgreSQL query and prints its result as psql does.
func (d *session) pgShow(ctx context.Context, p *printer, note, display, sql string, args ...any) error {
	p.note("%s", note)
	p.query(display)
	// Text results: each value as PostgreSQL prints it.
	rows, err := d.pool.Query(ctx, sql, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		return fmt.Errorf("PostgreSQL query %s: %w", display, err)
	}
	defer rows.Close()
	var cols []string
	var right []bool
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
		switch f.DataTypeOID {
		case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.NumericOID, pgtype.Float4OID, pgtype.Float8OID:
			right = append(right, true)
		default:
			right = append(right, false)
		}
	}
	var data [][]string
	for rows.Next() {
		var row []string
		for _, v := range rows.RawValues() {
			row = append(row, string(v))
		}
		data = append(data, row)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("PostgreSQL query %s: %w", display, err)
	}
	p.table(cols, right, data)
	return nil
}

// dropOrigin drops the reverse pipeline's replication origin, retrying
// while the pipeline's session still holds it.
func (d *session) dropOrigin(ctx context.Context) error {
	name := d.o.origin()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := d.admin.Exec(ctx, "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1", name)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55006" || time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("dropping replication origin %s: %w", name, err)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

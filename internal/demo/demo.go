// Package demo is `pgsurreal demo`: it loads a small shop and social
// graph into a fresh PostgreSQL database, replicates it into SurrealDB
// with the real pipeline (internal/sync, run in-process), shows what
// landed there (documents, record links, graph edges, counts on both
// sides), then commits live changes in PostgreSQL and measures how long
// each takes to appear in SurrealDB. Then the other direction: reviews
// written in SurrealDB, linking the replicated users and products, are
// replicated into PostgreSQL by the reverse pipeline (internal/reverse,
// also in-process), joined there with PostgreSQL's own tables, and a
// review created and one deleted are timed on their way. It is a tour,
// not a test harness: everything it creates stays behind for the user to
// explore.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Defaults for Options.
const (
	DefaultDatabase        = "pgsurreal_demo"
	DefaultNamespace       = "pgsurreal_demo"
	DefaultSurrealDatabase = "shop"
	DefaultSlot            = "pgsurreal_demo"
)

// Options configure a demo run. Only Postgres, Surreal and Out are
// required; the names default to the constants above.
type Options struct {
	// Postgres reaches the server. Its Database is only used to connect
	// for creating the demo database; the role needs CREATEDB and
	// REPLICATION (the dev stack's role is a superuser).
	Postgres config.Postgres
	// Surreal reaches the server; its namespace and database are
	// replaced by Namespace and SurrealDatabase.
	Surreal config.Surreal
	// Database is the PostgreSQL database the demo drops and recreates.
	Database string
	// Namespace is the SurrealDB namespace the demo removes and fills.
	Namespace string
	// SurrealDatabase is the SurrealDB database inside Namespace.
	SurrealDatabase string
	// Slot names the replication slot and the publication.
	Slot string
	// Keep leaves the replication slot in place at the end, so `pgsurreal
	// sync` can resume from it. Without it the slot is dropped and
	// PostgreSQL retains no WAL for the demo; the data stays either way.
	Keep bool
	// Out receives the report.
	Out io.Writer
	// Color styles the report for a terminal.
	Color bool
	// Log receives the pipeline's log; nil discards it.
	Log *slog.Logger
	// SnapshotTimeout bounds the wait for the initial copy; default 60s.
	SnapshotTimeout time.Duration
	// ChangeTimeout bounds the wait for each live change; default 15s.
	ChangeTimeout time.Duration
	// SecondServer, when set, starts a second SurrealDB server for the
	// scale-out step (a table partitioned over both) and returns how to
	// reach it as root and how to stop it; nil skips that step, saying so.
	SecondServer func(ctx context.Context) (config.Surreal, func(), error)
}

func (o Options) withDefaults() Options {
	o.Database = or(o.Database, DefaultDatabase)
	o.Namespace = or(o.Namespace, DefaultNamespace)
	o.SurrealDatabase = or(o.SurrealDatabase, DefaultSurrealDatabase)
	o.Slot = or(o.Slot, DefaultSlot)
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SnapshotTimeout <= 0 {
		o.SnapshotTimeout = 60 * time.Second
	}
	if o.ChangeTimeout <= 0 {
		o.ChangeTimeout = 15 * time.Second
	}
	return o
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// demoPG is the configuration of the demo database.
func (o Options) demoPG() config.Postgres {
	c := o.Postgres
	c.Database = o.Database
	return c
}

// adminPG is where the demo connects to drop and create its database:
// the configured database, unless that is the demo database itself.
func (o Options) adminPG() config.Postgres {
	c := o.Postgres
	if c.Database == o.Database || c.Database == "" {
		c.Database = "postgres"
	}
	return c
}

// demoSurreal is the configuration of the demo namespace and database.
func (o Options) demoSurreal() config.Surreal {
	c := o.Surreal
	c.Namespace, c.Database = o.Namespace, o.SurrealDatabase
	return c
}

// syncConfig is the pipeline configuration: every public table, and the
// orders.user_id foreign key as a "placed" graph edge besides its link.
// The reverse step's target is excluded: the pipeline adds new public
// tables while it streams, and that one must not go back to SurrealDB.
func (o Options) syncConfig() config.Sync {
	s := config.Default().Sync
	s.Slot, s.Publication = o.Slot, o.Slot
	s.Include = []string{"public.*"}
	s.Exclude = []string{reviewTarget, "public." + eventsTable}
	s.Tables = []config.Table{{Name: "public.orders", Edges: []config.Edge{{Columns: []string{"user_id"}, Name: "placed"}}}}
	s.Heartbeat.Duration = 200 * time.Millisecond
	s.StatusInterval.Duration = 200 * time.Millisecond
	return s
}

// reverseConfig is the reverse pipeline's configuration: the schemaless
// SurrealDB table review into reviewTarget, its rating and links
// extracted into columns.
func (o Options) reverseConfig() config.Reverse {
	r := config.Default().Reverse
	r.PollInterval.Duration = 20 * time.Millisecond
	r.Tables = []config.ReverseTable{{Name: reviewTable, Target: reviewTarget, Columns: []config.ReverseColumn{
		{Name: "rating", Type: "integer"},
		{Name: "author", Field: "author", Type: "text"},
		{Name: "product", Field: "product", Type: "text"},
	}}}
	return r
}

// origin is the replication origin the reverse pipeline writes under
// (one per database) and the forward pipeline skips.
func (o Options) origin() string { return o.reverseConfig().OriginFor(o.Database) }

// Result is what a run measured, for callers that check it (tests).
type Result struct {
	// Loaded is the number of rows loaded into PostgreSQL.
	Loaded int64
	// Copied is the number of rows the snapshot copied into SurrealDB.
	Copied int64
	// SnapshotTime is from starting the pipeline to the end of the copy.
	SnapshotTime time.Duration
	// Counts compares both sides after the snapshot, Final after the
	// live changes.
	Counts, Final []Count
	// Changes are the live changes and their replication latency.
	Changes []Change
	// ReverseCopyTime is from starting the reverse pipeline until the
	// reviews written before it were in PostgreSQL.
	ReverseCopyTime time.Duration
	// ReverseChanges are the live changes made in SurrealDB and how long
	// each took to reach PostgreSQL.
	ReverseChanges []Change
	// Reviews are the rows of the reverse target at the end, by id.
	Reviews []Review
	// ReviewCount is the review table's size on both sides at the end.
	ReviewCount Count
	// Federated are the rows of the federated queries, as printed.
	Federated [][][]string
	// TxCommitted and TxRolledBack report the distributed transactions
	// step: the checkout on both sides, the refused one on neither.
	TxCommitted, TxRolledBack bool
	// VerifyClean reports that verify found no difference after
	// replication; VerifyFound is what it found after two writes around
	// replication, VerifyRepaired that a repair made it clean again.
	VerifyClean, VerifyRepaired bool
	VerifyFound                 int
	// ScaleOut counts the partitioned table's records per server;
	// ScaleOutClean reports verify's verdict over both servers.
	ScaleOut      []ServerCount
	ScaleOutClean bool
	// ScaleOutQuery are the rows of the federated query over both
	// servers (region, events, buys).
	ScaleOutQuery [][]string
	// SlotDropped reports whether the slot was dropped at the end.
	SlotDropped bool
}

// ServerCount is what one SurrealDB server holds of the partitioned table.
type ServerCount struct {
	Server  string
	Records int64
	Regions []string
}

// Count is one table's size on both sides.
type Count struct {
	Table             string
	Postgres, Surreal int64
}

// Change is one live change and how long it took to appear on the other
// side.
type Change struct {
	What    string
	Latency time.Duration
}

// Review is a row of the reverse target: a review written in SurrealDB.
// Author and Product are the keys its links point at (users:42 -> "42").
type Review struct {
	ID, Author, Product, Text string
	Rating                    int
}

// Run runs the whole demo, writing the report to o.Out. It stops at the
// first failure with an error that says what to do.
func Run(ctx context.Context, o Options) (*Result, error) {
	res, err := run(ctx, o)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("demo interrupted: %w", ctx.Err())
	}
	return res, err
}

func run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	started := time.Now()
	p := &printer{w: o.Out, color: o.Color}
	res := &Result{}
	p.printf("%s\n", p.style(styleBold, "pgsurreal demo: a PostgreSQL shop and social graph, replicated live into SurrealDB"))

	d, err := connect(ctx, o)
	if err != nil {
		return nil, err
	}
	defer d.close()

	p.step(1, "Sample data in PostgreSQL")
	if err := d.createDatabase(ctx); err != nil {
		return nil, err
	}
	loadStart := time.Now()
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	pgCounts, err := d.pgCounts(ctx)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, c := range pgCounts[:len(dataTables)] {
		res.Loaded += c.Postgres
		parts = append(parts, fmt.Sprintf("%s %s", c.Table, thousands(c.Postgres)))
	}
	p.ok("created database %s on %s:%d and loaded %s rows in %s", o.Database, o.Postgres.Host, o.Postgres.Port, thousands(res.Loaded), ms(time.Since(loadStart)))
	p.line("  %s", strings.Join(parts, ", "))

	p.step(2, "Replication: snapshot, then streaming")
	pl := d.startPipeline(ctx)
	defer func() {
		// On failure or interruption: stop the pipeline, and unless the
		// slot is to be kept, drop it so it retains no WAL.
		_ = pl.stop()
		if !o.Keep && !res.SlotDropped {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			_ = d.dropSlot(cctx)
		}
	}()
	p.line("pipeline started in-process: slot and publication %s, tables public.*,", o.Slot)
	p.line("orders.user_id replicated as a link and also as the graph edge placed")
	if err := d.waitStreaming(ctx, pl); err != nil {
		return nil, err
	}
	res.Copied, res.SnapshotTime = pl.rows.Load(), time.Since(pl.started)
	p.ok("snapshot copied %s rows into SurrealDB (namespace %s, database %s) in %s; now streaming changes",
		thousands(res.Copied), o.Namespace, o.SurrealDatabase, ms(res.SnapshotTime))

	p.step(3, "What landed in SurrealDB")
	if err := d.show(ctx, p); err != nil {
		return nil, err
	}
	if res.Counts, err = d.compare(ctx, p); err != nil {
		return nil, err
	}

	p.step(4, "A live change flowing through")
	if res.Changes, err = d.live(ctx, p, pl); err != nil {
		return nil, err
	}
	if res.Final, err = d.counts(ctx); err != nil {
		return nil, err
	}
	summarize(p, res.Final)

	p.step(5, "Reviews written in SurrealDB, replicated into PostgreSQL")
	written, err := d.writeReviews(ctx, p)
	if err != nil {
		return nil, err
	}
	rp := d.startReverse(ctx)
	defer func() {
		_ = rp.stop()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = d.dropOrigin(cctx)
	}()
	if err := d.reviews(ctx, p, rp, res, written); err != nil {
		return nil, err
	}
	if err := rp.stop(); err != nil {
		return nil, fmt.Errorf("the reverse pipeline failed: %w", err)
	}

	p.step(6, "One SQL query over both databases")
	if err := d.federated(ctx, p, res); err != nil {
		return nil, err
	}

	p.step(7, "One transaction over both databases")
	if err := d.transactions(ctx, p, res); err != nil {
		return nil, err
	}

	p.step(8, "Verify both sides, find drift, repair it")
	if err := d.verifyAndRepair(ctx, p, res); err != nil {
		return nil, err
	}

	p.step(9, "Scale-out: one table partitioned over two SurrealDB servers")
	if err := d.scaleOut(ctx, p, res); err != nil {
		return nil, err
	}

	p.step(10, "Done")
	if err := pl.stop(); err != nil {
		return nil, fmt.Errorf("the pipeline failed: %w", err)
	}
	p.ok("both pipelines stopped cleanly")
	if err := d.dropOrigin(ctx); err != nil {
		// Harmless: the origin is a name PostgreSQL keeps a position for.
		p.line("could not drop the reverse pipeline's replication origin %s: %v", o.origin(), err)
	}
	if o.Keep {
		p.line("kept replication slot %s: PostgreSQL retains WAL for it until a `pgsurreal sync` reads it", o.Slot)
	} else {
		if err := d.dropSlot(ctx); err != nil {
			return nil, err
		}
		res.SlotDropped = true
		p.line("dropped replication slot %s, so PostgreSQL retains no WAL for the demo (--keep keeps it);", o.Slot)
		p.line("the data stays in both databases")
	}
	next(p, o)
	p.printf("\n   demo finished in %s\n", p.style(styleBold, time.Since(started).Round(10*time.Millisecond).String()))
	return res, nil
}

// summarize prints the recount after the live changes.
func summarize(p *printer, counts []Count) {
	var total int64
	var off []string
	for _, c := range counts {
		total += c.Postgres
		if c.Postgres != c.Surreal {
			off = append(off, fmt.Sprintf("%s (PostgreSQL %d, SurrealDB %d)", c.Table, c.Postgres, c.Surreal))
		}
	}
	if len(off) > 0 {
		p.bad("counts differ after the changes: %s", strings.Join(off, ", "))
		return
	}
	p.ok("recounted: both sides still agree on all %d tables and edges (%s rows)", len(counts), thousands(total))
}

// next prints where to look after the demo.
func next(p *printer, o Options) {
	pgURL := url.URL{Scheme: "postgres", User: url.User(o.Postgres.User), Host: o.Postgres.Host + ":" + strconv.Itoa(o.Postgres.Port), Path: "/" + o.Database}
	p.printf("\n   %s\n", p.style(styleBold, "Where to look next"))
	p.line("SurrealDB   %s  namespace %s, database %s (user %s)", surreal.Redact(o.Surreal.URL), o.Namespace, o.SurrealDatabase, o.Surreal.Username)
	p.line("            e.g. SELECT name, ->friendships->users.name AS friends FROM users:1")
	p.line("PostgreSQL  %s", pgURL.String())
	p.line("            e.g. SELECT p.name, r.rating, r.doc->>'text' FROM %s r JOIN products p ON p.id = r.product::int", reviewTargetName)
	resync := " --resync"
	if o.Keep {
		resync = ""
	}
	p.line("Keep replicating continuously with")
	p.line("  pgsurreal sync --set postgres.database=%s --set surreal.namespace=%s --set surreal.database=%s \\", o.Database, o.Namespace, o.SurrealDatabase)
	p.line("                 --set sync.slot=%s --set sync.publication=%s --set sync.exclude=%s%s", o.Slot, o.Slot, reviewTarget, resync)
	p.line("  (the placed edge needs sync.tables in a config file: see pgsurreal.example.yaml)")
	p.line("and the reviews from SurrealDB into %s with", reviewTargetName)
	p.line("  pgsurreal reverse --set postgres.database=%s --set surreal.namespace=%s --set surreal.database=%s", o.Database, o.Namespace, o.SurrealDatabase)
	p.line("  (reverse.tables in a config file: review -> %s with its columns, see docs/reverse.md)", reviewTarget)
}

// ms renders a duration in milliseconds, or seconds from 10s on.
func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// thousands writes n with thousands separators: 7,158.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// errTimeout marks a wait that ran out of time.
var errTimeout = errors.New("timed out")

// Command publish measures what publishing the change stream to NATS
// JetStream costs the sync: the sustained change rate of the pipeline
// (sync.Run in this process) with publication off and on, in the same
// run, against the same table, slot and servers. Each round measures,
// for each mode (the order alternates between rounds):
//
//	single-row transactions: 4 connections insert as fast as they can
//	    for 20 s, pausing only while more than -max-backlog rows are
//	    committed but not yet applied; the applied rate comes from the
//	    pipeline's own metrics (as in bench/streaming);
//	100-row transactions: the same with INSERT ... SELECT.
//
// and, as a baseline, the raw JetStream rate: messages of the same size
// published asynchronously by one client to a stream of their own,
// acknowledgements awaited per group of 1,000 (what the publisher does,
// without PostgreSQL or SurrealDB). At the end the stream must hold
// exactly as many messages as rows were inserted while publication was on.
//
// Medians over rounds (3 by default) are printed, with the ratio on/off,
// and saved with every round's figures to bench/results/publish-<date>.json.
// Run it with
//
//	make bench-publish        (or: go run ./bench/publish)
//
// It uses the shared test stack (started if needed, and then stopped
// again), a private one with -private-stack, or the servers named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL, and the NATS
// server of -nats (PGSURREAL_TEST_NATS_URL, default nats://127.0.0.1:4222).
// It creates its own PostgreSQL database, slot, SurrealDB namespace and
// JetStream streams and removes them at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/bench/internal/throughput"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/publish"
)

type flags struct {
	throughput.Flags
	rawMsgs int
	natsURL string
}

func main() {
	var f flags
	f.Register()
	natsDefault := os.Getenv("PGSURREAL_TEST_NATS_URL")
	if natsDefault == "" {
		natsDefault = "nats://127.0.0.1:4222"
	}
	flag.IntVar(&f.rawMsgs, "raw-msgs", 100_000, "messages of each raw JetStream measurement")
	flag.StringVar(&f.natsURL, "nats", natsDefault, "NATS server with JetStream")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, f)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/publish:", err)
		os.Exit(1)
	}
}

type result struct {
	Benchmark string       `json:"benchmark"`
	Date      string       `json:"date"`
	Host      harness.Host `json:"host"`
	Servers   string       `json:"servers"`
	NATS      string       `json:"nats"`
	LoadStart float64      `json:"load_average_at_start"`
	LoadEnd   float64      `json:"load_average_at_end"`
	Table     string       `json:"table"`
	Settings  settings     `json:"settings"`
	Summary   summary      `json:"summary"`
	Rounds    []round      `json:"rounds"`
	// ExactlyOnce is the final check: messages in the stream = rows
	// inserted while publication was on.
	StreamMessages   uint64 `json:"stream_messages"`
	RowsWhilePublish int64  `json:"rows_inserted_while_publishing"`
	ExactlyOnce      bool   `json:"stream_holds_each_change_once"`
}

type settings struct {
	BatchSize       int    `json:"batch_size"`
	Writers         int    `json:"writers"`
	RowsPerTxn      int    `json:"multi_row_txn_rows"`
	MaxBacklog      int64  `json:"max_backlog_rows"`
	Duration        string `json:"phase_duration"`
	DuplicateWindow string `json:"duplicate_window"`
	MessageBytes    int    `json:"message_bytes"`
	RawMsgs         int    `json:"raw_messages_per_round"`
}

type summary struct {
	SingleOff      float64 `json:"single_row_txn_rows_per_s_off_median"`
	SingleOn       float64 `json:"single_row_txn_rows_per_s_on_median"`
	SingleRatio    float64 `json:"single_row_txn_ratio_on_off"`
	MultiOff       float64 `json:"multi_row_txn_rows_per_s_off_median"`
	MultiOn        float64 `json:"multi_row_txn_rows_per_s_on_median"`
	MultiRatio     float64 `json:"multi_row_txn_ratio_on_off"`
	PublishMsSgl   float64 `json:"mean_publish_ms_per_batch_single_row_median"`
	PublishMsMulti float64 `json:"mean_publish_ms_per_batch_multi_row_median"`
	RawJetStream   float64 `json:"raw_jetstream_msgs_per_s_median"`
}

// round is one pass of every measurement.
type round struct {
	FirstMode string     `json:"first_mode"`
	SingleOff loadResult `json:"single_row_off"`
	SingleOn  loadResult `json:"single_row_on"`
	MultiOff  loadResult `json:"multi_row_off"`
	MultiOn   loadResult `json:"multi_row_on"`
	RawJS     float64    `json:"raw_jetstream_msgs_per_s"`
}

func run(ctx context.Context, f flags) error {
	date := time.Now()
	load := harness.LoadAverage()
	srv, err := harness.Start(ctx, f.Private)
	if err != nil {
		return err
	}
	defer srv.Close(f.KeepStack)
	name := harness.Name("bench_publish")
	pg, dropDB, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	defer dropDB()
	_, removeNS := srv.Namespace(name, "x")
	defer removeNS()
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		return fmt.Errorf("NATS at %s: %w", publish.Redact(f.natsURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	pc := config.Default().Publish
	pc.NATSURL = f.natsURL
	pc.Stream = strings.ToUpper(name)
	pc.SubjectPrefix = "bench." + name
	defer func() { _ = js.DeleteStream(context.Background(), pc.Stream) }()
	fmt.Printf("servers: %s; NATS %s\nPostgreSQL database, slot, SurrealDB namespace: %s; stream %s\n", srv.Where, publish.Redact(f.natsURL), name, pc.Stream)
	if err := setup(ctx, pg); err != nil {
		return err
	}
	log := harness.Logger(f.Verbose)
	sur, _ := srv.Namespace(name, "pipeline")
	o := throughput.Options(pg, sur, name, f.BatchSize, log)
	sample, err := sampleMessage(name, pc.SubjectPrefix)
	if err != nil {
		return err
	}
	res := result{Benchmark: "publish", Date: date.UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where,
		NATS: publish.Redact(f.natsURL) + " (" + nc.ConnectedServerVersion() + ")", LoadStart: load,
		Table: "ev (id int8 pk, n int4, s text, at timestamptz default clock_timestamp())",
		Settings: settings{BatchSize: o.Sync.BatchSize, Writers: f.Writers, RowsPerTxn: f.BigTxn, MaxBacklog: f.MaxBacklog,
			Duration: f.Duration.String(), DuplicateWindow: pc.DuplicateWindow.String(), MessageBytes: len(sample.Data), RawMsgs: f.rawMsgs}}
	pre, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	_ = pre.Close(ctx)

	// The first run snapshots the (empty) table; later ones resume.
	p, err := throughput.Start(o, nil)
	if err != nil {
		return err
	}
	if err := p.WaitStreaming(ctx, sur, name, 2*time.Minute); err != nil {
		_ = p.Stop()
		return err
	}
	if err := p.Stop(); err != nil {
		return err
	}
	var ids, whileOn atomic.Int64
	ids.Store(1)
	multi := fmt.Sprintf("%d-row transactions", f.BigTxn)
	for i := 1; i <= f.Rounds; i++ {
		var rd round
		modes := []bool{false, true}
		if i%2 == 0 {
			modes = []bool{true, false}
		}
		rd.FirstMode = mode(modes[0])
		fmt.Printf("\nround %d/%d\n", i, f.Rounds)
		for _, on := range modes {
			var cfg *config.Publish
			if on {
				cfg = &pc
			}
			p, err := throughput.Start(o, cfg)
			if err != nil {
				return err
			}
			single, multiRes, err := measure(ctx, pg, p, &ids, f)
			if stopErr := p.Stop(); err == nil && stopErr != nil {
				err = stopErr
			}
			if err != nil {
				return err
			}
			// SurrealKV holds a bounded amount of writes per transaction and
			// has failed to reopen a store left with millions of records by
			// a cleanup that failed: keep the target small.
			if err := emptyTable(ctx, sur, "ev"); err != nil {
				return err
			}
			if on {
				rd.SingleOn, rd.MultiOn = single, multiRes
				whileOn.Add(single.Inserted + multiRes.Inserted + 1) // + the warm-up row
			} else {
				rd.SingleOff, rd.MultiOff = single, multiRes
			}
			printLoad("single-row transactions, publication "+mode(on), single)
			printLoad(multi+", publication "+mode(on), multiRes)
		}
		if rd.RawJS, err = rawJetStream(ctx, js, pc, sample, f.rawMsgs, 1000); err != nil {
			return err
		}
		fmt.Printf("raw JetStream: %.0f msgs/s (%d messages of %d bytes, async, acks awaited per 1000)\n", rd.RawJS, f.rawMsgs, len(sample.Data))
		res.Rounds = append(res.Rounds, rd)
	}
	st, err := js.Stream(ctx, pc.Stream)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	res.StreamMessages, res.RowsWhilePublish = info.State.Msgs, whileOn.Load()
	res.ExactlyOnce = int64(info.State.Msgs) == whileOn.Load()
	res.LoadEnd = harness.LoadAverage()
	res.Summary = summarize(res.Rounds)
	s := res.Summary
	fmt.Printf("\nmedians of %d rounds (load average %.1f at start, %.1f at end):\n", f.Rounds, res.LoadStart, res.LoadEnd)
	fmt.Printf("single-row transactions: off %8.0f rows/s, on %8.0f rows/s: on/off = %.3f (publish %.2f ms per batch)\n", s.SingleOff, s.SingleOn, s.SingleRatio, s.PublishMsSgl)
	fmt.Printf("%-24s off %8.0f rows/s, on %8.0f rows/s: on/off = %.3f (publish %.2f ms per batch)\n", multi+":", s.MultiOff, s.MultiOn, s.MultiRatio, s.PublishMsMulti)
	fmt.Printf("raw JetStream (same messages, one client): %.0f msgs/s\n", s.RawJetStream)
	fmt.Printf("stream: %d messages for %d rows inserted while publishing: %s\n", res.StreamMessages, res.RowsWhilePublish, verdict(res.ExactlyOnce))
	file, err := harness.Save("publish", date, res)
	if err != nil {
		return err
	}
	fmt.Println("saved", file)
	if !res.ExactlyOnce {
		return fmt.Errorf("the stream holds %d messages for %d changes", res.StreamMessages, res.RowsWhilePublish)
	}
	return nil
}

// measure waits for the pipeline to stream, then runs both phases.
func measure(ctx context.Context, pg config.Postgres, p *throughput.Pipeline, ids *atomic.Int64, f flags) (loadResult, loadResult, error) {
	// One row through the whole pipeline: it is connected and streaming.
	base := p.Applied()
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return loadResult{}, loadResult{}, err
	}
	id := ids.Add(1) - 1
	_, err = conn.Exec(ctx, "INSERT INTO ev (id, n, s) VALUES ($1, 0, 'warm-up')", id)
	_ = conn.Close(ctx)
	if err != nil {
		return loadResult{}, loadResult{}, err
	}
	if _, err := p.WaitApplied(ctx, base+1, time.Minute); err != nil {
		return loadResult{}, loadResult{}, err
	}
	single, err := runLoad(ctx, pg, p, ids, 1, f.Writers, f.Duration, f.MaxBacklog)
	if err != nil {
		return single, loadResult{}, err
	}
	multi, err := runLoad(ctx, pg, p, ids, f.BigTxn, f.Writers, f.Duration, f.MaxBacklog)
	return single, multi, err
}

// sampleMessage is the message of one inserted row of ev, for the raw
// measurement's size.
func sampleMessage(slot, prefix string) (publish.Message, error) {
	rel := &cdc.Relation{Schema: "public", Name: "ev", Columns: []cdc.Column{
		{Name: "id", TypeOID: 20, Key: true}, {Name: "n", TypeOID: 23}, {Name: "s", TypeOID: 25}, {Name: "at", TypeOID: 1184}}}
	t := cdc.Txn{XID: 123456, CommitLSN: 0x1_2345_6789, CommitTime: time.Now(), Final: true, Changes: []cdc.Change{{Op: cdc.OpInsert, Rel: rel,
		New: cdc.Tuple{{Kind: cdc.Text, Text: "1234567"}, {Kind: cdc.Text, Text: "567"}, {Kind: cdc.Text, Text: "row 1234567"}, {Kind: cdc.Text, Text: "2026-12-03 09:01:15.531849+00"}}}}}
	ms, err := publish.Build(slot, prefix, t, 0, nil)
	if err != nil {
		return publish.Message{}, err
	}
	return ms[0], nil
}

// rawJetStream publishes n copies of sample (distinct ids) to a stream of
// its own, group messages at a time, each group's acks awaited before
// the next, and returns messages per second.
func rawJetStream(ctx context.Context, js jetstream.JetStream, pc config.Publish, sample publish.Message, n, group int) (float64, error) {
	name := pc.Stream + "_RAW"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"raw." + pc.SubjectPrefix + ".>"}, Duplicates: pc.DuplicateWindow.Duration}); err != nil {
		return 0, fmt.Errorf("creating stream %s: %w", name, err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), name) }()
	subject := "raw." + sample.Subject
	start := time.Now()
	for sent := 0; sent < n; {
		futures := make([]jetstream.PubAckFuture, 0, group)
		for j := 0; j < group && sent < n; j++ {
			m := nats.NewMsg(subject)
			m.Data = sample.Data
			f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(fmt.Sprintf("%s:%d", sample.ID, sent)), jetstream.WithExpectLastSequence(uint64(sent)))
			if err != nil {
				return 0, err
			}
			futures = append(futures, f)
			sent++
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return 0, err
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	return harness.Round(float64(n)/time.Since(start).Seconds(), 0), nil
}

func summarize(rounds []round) summary {
	var so, sn, mo, mn, ps, pm, raw []float64
	for _, r := range rounds {
		so = append(so, r.SingleOff.AppliedPerSMedian)
		sn = append(sn, r.SingleOn.AppliedPerSMedian)
		mo = append(mo, r.MultiOff.AppliedPerSMedian)
		mn = append(mn, r.MultiOn.AppliedPerSMedian)
		ps = append(ps, r.SingleOn.Pipeline.MeanPublishMs)
		pm = append(pm, r.MultiOn.Pipeline.MeanPublishMs)
		raw = append(raw, r.RawJS)
	}
	s := summary{
		SingleOff: harness.Round(harness.Median(so), 0), SingleOn: harness.Round(harness.Median(sn), 0),
		MultiOff: harness.Round(harness.Median(mo), 0), MultiOn: harness.Round(harness.Median(mn), 0),
		PublishMsSgl: harness.Round(harness.Median(ps), 2), PublishMsMulti: harness.Round(harness.Median(pm), 2),
		RawJetStream: harness.Round(harness.Median(raw), 0),
	}
	if s.SingleOff > 0 {
		s.SingleRatio = harness.Round(s.SingleOn/s.SingleOff, 3)
	}
	if s.MultiOff > 0 {
		s.MultiRatio = harness.Round(s.MultiOn/s.MultiOff, 3)
	}
	return s
}

func printLoad(what string, r loadResult) {
	g := r.Pipeline
	fmt.Printf("%s: inserted %.0f rows/s; applied %.0f rows/s (median per second %.0f); backlog at end %d, drained in %.2f s; throttled %.1f s; %s\n",
		what, r.InsertedPerS, r.AppliedPerS, r.AppliedPerSMedian, r.BacklogAtEnd, r.DrainSeconds, r.ThrottledSeconds, keptUp(r))
	fmt.Printf("  %d SurrealDB transactions of %.1f rows, %.1f ms each", g.Groups, g.MeanChanges, g.MeanApplyMs)
	if g.PublishGroups > 0 {
		fmt.Printf("; %d messages published in %d batches, %.2f ms each", g.Published, g.PublishGroups, g.MeanPublishMs)
	}
	fmt.Println()
}

func keptUp(r loadResult) string {
	if r.KeptUp {
		return "kept up (PostgreSQL set the pace)"
	}
	return "did not keep up (the pipeline set the pace)"
}

func mode(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func verdict(ok bool) string {
	if ok {
		return "each change exactly once"
	}
	return "MISMATCH"
}

// emptyTable deletes the records of table in chunks, with the pipeline
// stopped: later rows have new ids, so the measurements do not need them.
func emptyTable(ctx context.Context, sur config.Surreal, table string) error {
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	for {
		res, err := surrealdb.Query[[]any](ctx, db, "SELECT VALUE id FROM type::table($t) LIMIT 20000", map[string]any{"t": table})
		if err != nil {
			return fmt.Errorf("emptying %s: %w", table, err)
		}
		if len(*res) == 0 || len((*res)[0].Result) == 0 {
			return nil
		}
		if _, err := surrealdb.Query[any](ctx, db, "DELETE $ids RETURN NONE", map[string]any{"ids": (*res)[0].Result}); err != nil {
			return fmt.Errorf("emptying %s: %w", table, err)
		}
	}
}

// setup creates the replicated table ev.
func setup(ctx context.Context, pg config.Postgres) error {
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, `CREATE TABLE ev (id int8 PRIMARY KEY, n int4 NOT NULL, s text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`)
	return err
}

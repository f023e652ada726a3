package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/publish"
	"github.com/pgsurreal/pgsurreal/internal/publish/publishtest"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// auditSQL notes every committed row change and truncate of the public
// tables in audit.log, in the order PostgreSQL made them: the source's
// own account of its changes, to hold the published stream against. Row
// locks order the changes of one key as their commits do.
const auditSQL = `
CREATE SCHEMA audit;
CREATE TABLE audit.log (seq bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, new jsonb, old jsonb);
CREATE FUNCTION audit.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    INSERT INTO audit.log (tbl, op) VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 'truncate');
  ELSE
    INSERT INTO audit.log (tbl, op, new, old) VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, lower(TG_OP),
      CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END, CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END);
  END IF;
  RETURN NULL;
END $$;
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' LOOP
    EXECUTE format('CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION audit.note()', t);
    EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION audit.note()', t);
  END LOOP;
END $$;`

// event is one change as a key's history sees it.
type event struct {
	op  string
	row string // the new row's values (insert, update), canonical
}

// history is every key's changes in order, by "table key"; a truncate is
// an event of the key "table <truncate>", and a key an update moved away
// from gets a "moved" event.
type history map[string][]event

func (h history) add(table, key string, e event) {
	k := table + " " + key
	h[k] = append(h[k], e)
}

// publishedHistory reads the stream: every change's history, checking on
// the way that ids are unique and follow commit order.
func publishedHistory(t *testing.T, s *publishtest.Stream, slot string) (history, int) {
	t.Helper()
	msgs := s.Messages(t)
	h := history{}
	seen := map[string]bool{}
	var last publish.Position
	for i, m := range msgs {
		idSlot, pos, err := publish.ParseMsgID(m.ID)
		if err != nil || idSlot != slot {
			t.Fatalf("message %d: id %q (%v)", m.Seq, m.ID, err)
		}
		if seen[m.ID] {
			t.Fatalf("message %d: id %s published twice", m.Seq, m.ID)
		}
		seen[m.ID] = true
		if i > 0 && !last.Less(pos) {
			t.Fatalf("message %d (%s) follows %s: not in commit order", m.Seq, m.ID, last)
		}
		last = pos
		b := m.Body
		if b.LSN != pos.LSN.String() || b.Index != pos.Index || b.Slot != slot || b.Format != publish.FormatVersion {
			t.Fatalf("message %d: body %+v does not match its id %s", m.Seq, b, m.ID)
		}
		if want := publish.Subject(s.Config.SubjectPrefix, b.Schema, b.Table); m.Subject != want {
			t.Fatalf("message %d: subject %s, want %s", m.Seq, m.Subject, want)
		}
		table := b.Schema + "." + b.Table
		if b.Op == "truncate" {
			h.add(table, "<truncate>", event{op: "truncate"})
			continue
		}
		key := canonKey(t, b.Key)
		if len(b.OldKey) > 0 {
			h.add(table, canonKey(t, b.OldKey), event{op: "moved"})
		}
		row := ""
		if len(b.New) > 0 {
			row = canonRow(t, b.New, nil)
		}
		h.add(table, key, event{op: b.Op, row: row})
	}
	return h, len(msgs)
}

// sourceHistory reads audit.log the same way; cols limits each row to
// the columns the published message carried (unchanged TOAST is not
// sent), by "table key" and position in its history.
func (f *fixture) sourceHistory(published history) (history, int) {
	f.t.Helper()
	ctx := context.Background()
	keys := map[string][]string{}
	rows, err := f.pool.Query(ctx, `
SELECT 'public.' || c.relname, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname = 'public' GROUP BY 1`)
	if err != nil {
		f.t.Fatal(err)
	}
	for rows.Next() {
		var table string
		var cols []string
		if err := rows.Scan(&table, &cols); err != nil {
			f.t.Fatal(err)
		}
		keys[table] = cols
	}
	rows.Close()
	rows, err = f.pool.Query(ctx, "SELECT tbl, op, new::text, old::text FROM audit.log ORDER BY seq")
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	h := history{}
	n := 0
	for rows.Next() {
		var table, op string
		var newRow, oldRow *string
		if err := rows.Scan(&table, &op, &newRow, &oldRow); err != nil {
			f.t.Fatal(err)
		}
		n++
		if op == "truncate" {
			h.add(table, "<truncate>", event{op: op})
			continue
		}
		key := func(row *string) string { return canonKey(f.t, json.RawMessage(*row), keys[table]...) }
		switch op {
		case "insert", "update":
			k := key(newRow)
			if op == "update" {
				if old := key(oldRow); old != k {
					h.add(table, old, event{op: "moved"})
				}
			}
			// Compare the columns the message carried: the one at the same
			// place in the key's published history.
			var only []string
			if p := published[table+" "+k]; len(h[table+" "+k]) < len(p) {
				only = columnsOf(p[len(h[table+" "+k])].row)
			}
			h.add(table, k, event{op: op, row: canonRow(f.t, json.RawMessage(*newRow), only)})
		case "delete":
			h.add(table, key(oldRow), event{op: op})
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return h, n
}

// assertSameHistory compares the stream with the source: the same
// changes, each once, in the same order for every key.
func assertSameHistory(t *testing.T, published, source history) {
	t.Helper()
	var diffs []string
	for k, want := range source {
		got := published[k]
		if !slices.Equal(got, want) {
			diffs = append(diffs, fmt.Sprintf("%s:\n  source    %v\n  published %v", k, want, got))
		}
	}
	for k, got := range published {
		if _, ok := source[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: published %v, not in the source", k, got))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 10 {
		diffs = append(diffs[:10], fmt.Sprintf("... and %d more", len(diffs)-10))
	}
	if len(diffs) > 0 {
		t.Fatalf("the stream differs from the source's changes:\n%s", strings.Join(diffs, "\n"))
	}
}

// canonKey renders the columns cols of a key object (all of them when
// cols is empty) as sorted "col=value" pairs.
func canonKey(t *testing.T, raw json.RawMessage, cols ...string) string {
	t.Helper()
	m := decode(t, raw)
	if len(cols) == 0 {
		for c := range m {
			cols = append(cols, c)
		}
	}
	cols = slices.Sorted(slices.Values(cols))
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + "=" + canonValue(m[c])
	}
	return strings.Join(parts, ",")
}

// canonRow renders a row's columns (only those in only, when set) as
// sorted "col=value" pairs.
func canonRow(t *testing.T, raw json.RawMessage, only []string) string {
	t.Helper()
	m := decode(t, raw)
	var parts []string
	for c, v := range m {
		if only == nil || slices.Contains(only, c) {
			parts = append(parts, c+"="+canonValue(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

func columnsOf(row string) []string {
	out := []string{}
	for _, p := range strings.Split(row, ";") {
		if c, _, ok := strings.Cut(p, "="); ok {
			out = append(out, c)
		}
	}
	return out
}

func decode(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return m
}

// canonValue makes PostgreSQL's JSON (to_jsonb) and the message's values
// comparable: numbers and numeric strings by their text, timestamps by
// their instant (to_jsonb writes 2024-05-01T10:00:00+00:00, the text
// form 2024-05-01 10:00:00+00).
func canonValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		for _, layout := range []string{"2006-01-02T15:04:05.999999Z07:00", "2006-01-02 15:04:05.999999Z07"} {
			if ts, err := time.Parse(layout, x); err == nil {
				return ts.UTC().Format(time.RFC3339Nano)
			}
		}
		return x
	case json.Number:
		return x.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// publishTo points the fixture's pipelines (in process and as processes)
// at the stream s.
func (f *fixture) publishTo(s *publishtest.Stream) {
	f.modify = func(o *pgsync.Options) {
		p, err := publish.Open(publish.Options{Config: s.Config, Slot: f.sync.Slot, Log: o.Log})
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(p.Close)
		o.Publisher = p
	}
	f.args = []string{"--set", "publish.nats_url=" + s.Config.NATSURL, "--set", "publish.stream=" + s.Config.Stream,
		"--set", "publish.subject_prefix=" + s.Config.SubjectPrefix}
}

// TestPublishEveryChange runs the sync with publication on and checks
// the stream against the source: every change of every kind (a key
// change, unchanged TOAST, a truncate, a transaction large enough to
// arrive in parts, a table created while streaming under REPLICA
// IDENTITY FULL while the applier is behind), once, in commit order per
// key; and SurrealDB is still an exact copy.
func TestPublishEveryChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, shopSchema)
	withEdge(f)
	s := publishtest.New(t)
	f.publishTo(s)
	stop := f.start()
	f.caughtUp(60 * time.Second)
	f.exec(auditSQL)

	f.exec(`INSERT INTO customer VALUES (1000, 'new one', NULL, NULL)`)
	f.exec(`INSERT INTO "order" VALUES (5000, 1000, 10.50)`)
	f.exec(`UPDATE customer SET name = 'renamed', email = NULL WHERE id = 5`)
	f.exec(`UPDATE "order" SET customer_id = 7 WHERE id = 10`)
	f.exec(`UPDATE "order" SET id = 6000 WHERE id = 12`) // the key moves; line rows follow (ON UPDATE CASCADE)
	f.exec(`DELETE FROM line WHERE order_id = 13`)
	f.exec(`DELETE FROM "order" WHERE id = 13`)
	f.exec(`UPDATE customer_tag SET since = '2025-02-02' WHERE customer_id = 1`)
	f.exec(`UPDATE customer SET notes = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g) WHERE id = 20`)
	f.exec(`UPDATE customer SET name = 'toast kept' WHERE id = 20`) // notes is not sent
	f.exec(`BEGIN; INSERT INTO tag VALUES (3, 'gold'); INSERT INTO customer_tag VALUES (4, 3, NULL); UPDATE tag SET label = 'GOLD' WHERE id = 3; COMMIT`)
	f.exec(`TRUNCATE customer_tag`)
	f.exec(`INSERT INTO "order" SELECT g, 1 + g % 300, g FROM generate_series(100000, 111999) g`) // 12,000 rows: in parts
	f.exec(`UPDATE "order" SET total = total + 1 WHERE id BETWEEN 100000 AND 100099`)
	// A table created while streaming, under REPLICA IDENTITY FULL (every
	// column flagged as key): its messages' key is still the primary key,
	// even with the applier seconds behind the publisher (a backlog first).
	for i := range 30 {
		f.exec(`INSERT INTO "order" SELECT g, 1 + g % 300, g FROM generate_series($1::int, $1::int + 999) g`, 200000+1000*i)
	}
	f.exec(`CREATE TABLE gadget (id int PRIMARY KEY, name text, size int);
ALTER TABLE gadget REPLICA IDENTITY FULL;
CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON gadget FOR EACH ROW EXECUTE FUNCTION audit.note()`)
	f.waitPublished("public.gadget")
	f.exec(`INSERT INTO gadget SELECT g, 'g' || g, g FROM generate_series(1, 50) g`)
	f.exec(`UPDATE gadget SET size = size * 2 WHERE id <= 10`)
	f.exec(`UPDATE gadget SET id = id + 1000 WHERE id = 50`)
	f.exec(`DELETE FROM gadget WHERE id BETWEEN 20 AND 29`)
	f.caughtUp(2 * time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.assertSame()

	published, n := publishedHistory(t, s, f.sync.Slot)
	source, m := f.sourceHistory(published)
	if n != m {
		t.Errorf("%d messages, %d source changes", n, m)
	}
	assertSameHistory(t, published, source)
	toast := published[`public.customer id=20`]
	if len(toast) != 2 || strings.Contains(toast[1].row, "notes=") {
		t.Errorf("the update that left TOASTed notes alone: %v", toast)
	}
	t.Logf("%d changes published, each once and in order", n)
}

// TestPublishCrash runs `pgsurreal sync` with publication on as a real
// process and kills it with SIGKILL again and again under a sustained
// write load: twice at the fault point right after a group was published
// and before its SurrealDB commit (the replay's case), and at random
// moments. Afterwards the stream must hold every source change exactly
// once (as many messages as changes, no id twice) in commit order per
// key, and SurrealDB must equal PostgreSQL.
func TestPublishCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f := newFixture(t, shopSchema)
	withEdge(f)
	s := publishtest.New(t)
	f.publishTo(s)
	cmd := f.syncProcess()
	deadline := time.Now().Add(2 * time.Minute)
	for f.position() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the snapshot never finished")
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.exec(auditSQL)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ops atomic.Int64
	loadErr := make(chan error, 1)
	go func() { loadErr <- load(ctx, f.pool, &ops) }()
	kills := 0
	killed := func(how string) {
		kills++
		t.Logf("kill %d (%s): %d writes so far; SurrealDB at %s, stream at %s", kills, how, ops.Load(), f.position(), lastPublished(t, s))
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killed("random")

	// At the fault point: the process kills itself right after JetStream
	// acknowledged its Nth group, before the SurrealDB commit.
	for _, n := range []int{3, 25} {
		if err := os.Setenv(publish.FaultEnv, fmt.Sprintf("%s:%d", publish.FaultAfterPublish, n)); err != nil {
			t.Fatal(err)
		}
		cmd := f.syncProcess()
		_ = os.Unsetenv(publish.FaultEnv)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the sync should have killed itself at %s:%d, it ended with %v", publish.FaultAfterPublish, n, err)
			}
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("the sync did not reach %s:%d within 2 minutes", publish.FaultAfterPublish, n)
		}
		killed(fmt.Sprintf("%s:%d", publish.FaultAfterPublish, n))
		if pub, at := lastPublished(t, s), f.position(); pub < at {
			t.Fatalf("killed after publishing, yet the stream (commit %s) is not ahead of SurrealDB (%s)", pub, at)
		}
	}
	r := rand.New(rand.NewPCG(3, 5))
	for range 6 {
		cmd := f.syncProcess()
		time.Sleep(time.Duration(300+r.IntN(1700)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		killed("random")
	}
	cancel()
	if err := <-loadErr; err != nil {
		t.Fatalf("load: %v", err)
	}

	cmd = f.syncProcess()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	f.caughtUp(2 * time.Minute)
	f.assertSame()
	published, n := publishedHistory(t, s, f.sync.Slot)
	source, m := f.sourceHistory(published)
	if n != m {
		t.Errorf("%d messages in the stream, %d changes in the source", n, m)
	}
	assertSameHistory(t, published, source)
	t.Logf("%d kills, %d writes, %d changes published exactly once", kills, ops.Load(), n)
}

// waitPublished waits until sync has added table to its publication.
func (f *fixture) waitPublished(table string) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_publication_tables WHERE pubname = $1 AND schemaname || '.' || tablename = $2",
			f.sync.Publication, table).Scan(&n); err != nil {
			f.t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("sync did not add %s to its publication within 30 s", table)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastPublished is the commit LSN of the stream's last message (0 when
// empty).
func lastPublished(t *testing.T, s *publishtest.Stream) cdc.LSN {
	t.Helper()
	ctx := context.Background()
	st, err := s.JS.Stream(ctx, s.Config.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	info := st.CachedInfo()
	if info.State.LastSeq == 0 {
		return 0
	}
	m, err := st.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	_, pos, err := publish.ParseMsgID(m.Header.Get(jetstream.MsgIDHeader))
	if err != nil {
		t.Fatal(err)
	}
	return pos.LSN
}

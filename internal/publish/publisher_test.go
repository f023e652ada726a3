package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/publish"
	"github.com/pgsurreal/pgsurreal/internal/publish/publishtest"
)

const system = "7312345678901234567"

var rel = &cdc.Relation{ID: 1, Schema: "public", Name: "ev", Columns: []cdc.Column{
	{Name: "id", TypeOID: 20, Key: true}, {Name: "n", TypeOID: 23}}}

// txn is source transaction i: per inserts of ids i*1000+j.
func txn(i, per int) cdc.Txn {
	t := cdc.Txn{XID: uint32(i), CommitLSN: cdc.LSN(1_000_000 + 100*i), End: cdc.LSN(1_000_000 + 100*i + 50),
		CommitTime: time.Unix(1_700_000_000+int64(i), 0), Final: true}
	for j := range per {
		id := fmt.Sprint(i*1000 + j)
		t.Changes = append(t.Changes, cdc.Change{Op: cdc.OpInsert, Rel: rel, New: cdc.Tuple{{Kind: cdc.Text, Text: id}, {Kind: cdc.Text, Text: "1"}}})
	}
	return t
}

func txns(from, to, per int) []cdc.Txn {
	var out []cdc.Txn
	for i := from; i <= to; i++ {
		out = append(out, txn(i, per))
	}
	return out
}

func open(t *testing.T, cfg config.Publish, slot string, reg prometheus.Registerer) *publish.Publisher {
	t.Helper()
	lvl := slog.LevelWarn
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	p, err := publish.Open(publish.Options{Config: cfg, Slot: slot, Registerer: reg,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// publishAll publishes ts as the sync would: retrying what is retryable.
func publishAll(t *testing.T, p *publish.Publisher, ts []cdc.Txn) {
	t.Helper()
	if err := publishRetrying(p, ts); err != nil {
		t.Fatal(err)
	}
}

func publishRetrying(p *publish.Publisher, ts []cdc.Txn) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := p.Publish(context.Background(), system, nil, ts)
		if err == nil {
			return nil
		}
		if isPermanent(err) || time.Now().After(deadline) {
			return fmt.Errorf("publishing: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isPermanent(err error) bool {
	var pe interface{ Permanent() bool }
	return errors.As(err, &pe) && pe.Permanent()
}

// assertExactlyOnce checks that the stream holds transactions from..to,
// each change once, in commit order, with ids matching their bodies.
func assertExactlyOnce(t *testing.T, s *publishtest.Stream, slot string, from, to, per int) []publishtest.Message {
	t.Helper()
	msgs := s.Messages(t)
	want := (to - from + 1) * per
	if len(msgs) != want {
		t.Fatalf("%d messages in the stream, want %d", len(msgs), want)
	}
	k := 0
	for i := from; i <= to; i++ {
		for j := range per {
			m := msgs[k]
			lsn := cdc.LSN(1_000_000 + 100*i)
			wantID := publish.MsgID(slot, publish.Position{LSN: lsn, Index: j})
			wantKey := fmt.Sprintf(`{"id":%d}`, i*1000+j)
			if m.ID != wantID || string(m.Body.Key) != wantKey || m.Body.LSN != lsn.String() || m.Body.Index != j ||
				m.Header.Get(publish.HeaderSlot) != slot || m.Header.Get(publish.HeaderSystem) != system || m.Subject != s.Config.SubjectPrefix+".public.ev" {
				t.Fatalf("message %d (seq %d): id %s key %s subject %s, want id %s key %s", k, m.Seq, m.ID, m.Body.Key, m.Subject, wantID, wantKey)
			}
			k++
		}
	}
	return msgs
}

// TestPublishReplay publishes groups, then "restarts" (a new Publisher)
// and replays from an earlier position, as the sync does after a crash
// between publishing and the SurrealDB commit: nothing is published
// twice, and the stream stays in commit order.
func TestPublishReplay(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	reg := prometheus.NewRegistry()
	p1 := open(t, s.Config, "slot_a", reg)
	publishAll(t, p1, txns(1, 5, 3))
	publishAll(t, p1, txns(6, 10, 3))
	if got := metric(t, reg, "pgsurreal_publish_messages_total"); got != 30 {
		t.Errorf("messages_total %v, want 30", got)
	}
	p1.Close()

	reg2 := prometheus.NewRegistry()
	p2 := open(t, s.Config, "slot_a", reg2)
	publishAll(t, p2, txns(4, 8, 3))  // all in the stream already
	publishAll(t, p2, txns(9, 12, 3)) // 9 and 10 are, 11 and 12 are new
	assertExactlyOnce(t, s, "slot_a", 1, 12, 3)
	if got := metric(t, reg2, "pgsurreal_publish_skipped_total"); got != 21 {
		t.Errorf("skipped_total %v, want 21", got)
	}
	if got := metric(t, reg2, "pgsurreal_publish_messages_total"); got != 6 {
		t.Errorf("messages_total %v, want 6", got)
	}
}

// TestPublishParts publishes a transaction that arrives in parts,
// numbered across the parts, and its replay after a restart.
func TestPublishParts(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	big := txn(2, 9)
	parts := []cdc.Txn{big, big, big}
	for i := range parts {
		parts[i].Changes = big.Changes[3*i : 3*i+3]
		parts[i].Part, parts[i].Final = i, i == 2
	}
	p := open(t, s.Config, "slot_p", nil)
	publishAll(t, p, txns(1, 1, 9))
	publishAll(t, p, parts[:1])
	publishAll(t, p, parts[1:2])
	// Crash before the last part; the replay starts again at part 0.
	p2 := open(t, s.Config, "slot_p", nil)
	for _, part := range parts {
		publishAll(t, p2, []cdc.Txn{part})
	}
	publishAll(t, p2, txns(3, 3, 9))
	assertExactlyOnce(t, s, "slot_p", 1, 3, 9)
	// A part without its predecessors is a bug upstream, not retried.
	if err := p2.Publish(context.Background(), system, nil, parts[1:2]); !isPermanent(err) {
		t.Errorf("a lone part: %v", err)
	}
}

// TestPublishAfterPartialAttempt: an attempt that died with only the first
// messages of a group in the stream is completed, not repeated.
func TestPublishAfterPartialAttempt(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	p := open(t, s.Config, "slot_c", nil)
	publishAll(t, p, txns(1, 2, 4))
	// What a crashed attempt left: the first 5 messages of txns 3..4.
	msgs, err := publish.Build("slot_c", s.Config.SubjectPrefix, txn(3, 4), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	more, _ := publish.Build("slot_c", s.Config.SubjectPrefix, txn(4, 4), 0, nil)
	msgs = append(msgs, more[0])
	for _, m := range msgs {
		nm := nats.NewMsg(m.Subject)
		nm.Data = m.Data
		nm.Header.Set(publish.HeaderSlot, "slot_c")
		nm.Header.Set(publish.HeaderSystem, system)
		if _, err := s.JS.PublishMsg(context.Background(), nm, jetstream.WithMsgID(m.ID)); err != nil {
			t.Fatal(err)
		}
	}
	p2 := open(t, s.Config, "slot_c", nil)
	publishAll(t, p2, txns(3, 5, 4))
	assertExactlyOnce(t, s, "slot_c", 1, 5, 4)
}

// TestTwoPublishersSameSlot: a deposed process still publishing next to
// its successor (HA) cannot double or reorder anything: both send the
// same messages, deduplicated and chained by sequence.
func TestTwoPublishersSameSlot(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	a := open(t, s.Config, "slot_d", nil)
	b := open(t, s.Config, "slot_d", nil)
	var wg sync.WaitGroup
	for _, p := range []*publish.Publisher{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 40; i += 4 {
				if err := publishRetrying(p, txns(i, i+3, 5)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	assertExactlyOnce(t, s, "slot_d", 1, 40, 5)
}

// TestPublishPurgedStream: with the stream's last message gone, a replay
// falls back to the duplicate window, one message at a time.
func TestPublishPurgedStream(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	p := open(t, s.Config, "slot_e", nil)
	publishAll(t, p, txns(1, 3, 2))
	st, err := s.JS.Stream(context.Background(), s.Config.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	p2 := open(t, s.Config, "slot_e", nil)
	publishAll(t, p2, txns(2, 5, 2)) // 2 and 3 are in the duplicate window
	msgs := s.Messages(t)
	if len(msgs) != 4 || msgs[0].ID != publish.MsgID("slot_e", publish.Position{LSN: 1_000_400, Index: 0}) || msgs[0].Seq != 7 {
		t.Fatalf("after the purge: %d messages, first %+v", len(msgs), msgs[0])
	}
	publishAll(t, p2, txns(6, 6, 2)) // known again: async
	if n := len(s.Messages(t)); n != 6 {
		t.Fatalf("%d messages, want 6", n)
	}
}

// TestPublishRefusesOtherStreams: a stream that is not this sync's stops
// publication with an error naming the fix, instead of guessing.
func TestPublishRefusesOtherStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("foreign message", func(t *testing.T) {
		t.Parallel()
		s := publishtest.New(t)
		publishAll(t, open(t, s.Config, "slot_f", nil), txns(1, 1, 1))
		if _, err := s.JS.Publish(ctx, s.Config.SubjectPrefix+".public.ev", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		err := open(t, s.Config, "slot_f", nil).Publish(ctx, system, nil, txns(2, 2, 1))
		if !isPermanent(err) || !strings.Contains(err.Error(), "pgsurreal did not publish") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other slot", func(t *testing.T) {
		t.Parallel()
		s := publishtest.New(t)
		publishAll(t, open(t, s.Config, "slot_g", nil), txns(1, 1, 1))
		err := open(t, s.Config, "slot_h", nil).Publish(ctx, system, nil, txns(2, 2, 1))
		if !isPermanent(err) || !strings.Contains(err.Error(), `written by the sync of slot "slot_g"`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other cluster", func(t *testing.T) {
		t.Parallel()
		s := publishtest.New(t)
		publishAll(t, open(t, s.Config, "slot_i", nil), txns(1, 1, 1))
		err := open(t, s.Config, "slot_i", nil).Publish(ctx, "42", nil, txns(2, 2, 1))
		if !isPermanent(err) || !strings.Contains(err.Error(), "another PostgreSQL cluster") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("subjects", func(t *testing.T) {
		t.Parallel()
		s := publishtest.New(t)
		if _, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: s.Config.Stream, Subjects: []string{s.Config.SubjectPrefix + ".other.>"}}); err != nil {
			t.Fatal(err)
		}
		err := open(t, s.Config, "slot_j", nil).Publish(ctx, system, nil, txns(1, 1, 1))
		if !isPermanent(err) || !strings.Contains(err.Error(), "does not take the subjects") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestPublishOutage cuts the NATS server off: Publish fails, retryably
// and within the timeout, and once NATS is back the same group goes
// through exactly once.
func TestPublishOutage(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	proxy := newToggleProxy(t, strings.TrimPrefix(s.Config.NATSURL, "nats://"))
	cfg := s.Config
	cfg.NATSURL = "nats://" + proxy.addr
	cfg.Timeout.Duration = 2 * time.Second
	reg := prometheus.NewRegistry()
	p := open(t, cfg, "slot_k", reg)
	publishAll(t, p, txns(1, 2, 3))

	proxy.down()
	start := time.Now()
	err := p.Publish(context.Background(), system, nil, txns(3, 4, 3))
	if err == nil || isPermanent(err) {
		t.Fatalf("publishing during the outage: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the failure took %s", d)
	}
	// The disconnect handler runs on NATS's callback goroutine.
	for i := 0; metric(t, reg, "pgsurreal_publish_connected") != 0; i++ {
		if i == 100 {
			t.Fatal("pgsurreal_publish_connected stayed 1 during the outage")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a few reconnect attempts fail
	proxy.up()
	publishAll(t, p, txns(3, 4, 3))
	publishAll(t, p, txns(5, 5, 3))
	assertExactlyOnce(t, s, "slot_k", 1, 5, 3)
	if got := metric(t, reg, "pgsurreal_publish_errors_total"); got < 1 {
		t.Errorf("errors_total %v", got)
	}
}

// metric reads a counter or gauge of reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// toggleProxy forwards TCP to a server and can go down (closing every
// connection and refusing new ones) and come up again on the same port.
type toggleProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newToggleProxy(t *testing.T, target string) *toggleProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &toggleProxy{t: t, addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *toggleProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
}

func (p *toggleProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *toggleProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestPublishTooLarge: a change larger than the server's max_payload
// would be refused forever, so it stops publication, naming the change.
func TestPublishTooLarge(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	p := open(t, s.Config, "slot_l", nil)
	big := txn(1, 1)
	big.Changes[0].New[1] = cdc.Datum{Kind: cdc.Text, Text: strings.Repeat("9", 2<<20)}
	big.Changes[0].Rel = &cdc.Relation{Schema: "public", Name: "ev", Columns: []cdc.Column{{Name: "id", TypeOID: 20, Key: true}, {Name: "n", TypeOID: 25}}}
	err := p.Publish(context.Background(), system, nil, []cdc.Txn{big})
	if !isPermanent(err) || !strings.Contains(err.Error(), "max_payload") || !strings.Contains(err.Error(), "slot_l:0/F42A4:0") {
		t.Fatalf("got %v", err)
	}
}

// TestPublishNATSDownAtStart: Open does not need NATS; Publish fails
// (retryably) until it is there.
func TestPublishNATSDownAtStart(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	proxy := newToggleProxy(t, strings.TrimPrefix(s.Config.NATSURL, "nats://"))
	proxy.down()
	cfg := s.Config
	cfg.NATSURL = "nats://" + proxy.addr
	cfg.Timeout.Duration = time.Second
	p := open(t, cfg, "slot_m", nil)
	if err := p.Publish(context.Background(), system, nil, txns(1, 1, 2)); err == nil || isPermanent(err) {
		t.Fatalf("publishing with NATS down: %v", err)
	}
	proxy.up()
	publishAll(t, p, txns(1, 2, 2))
	assertExactlyOnce(t, s, "slot_m", 1, 2, 2)
}

// TestPublishStreamDeleted: a stream deleted under a running publisher is
// created again, and publishing goes on.
func TestPublishStreamDeleted(t *testing.T) {
	t.Parallel()
	s := publishtest.New(t)
	p := open(t, s.Config, "slot_n", nil)
	publishAll(t, p, txns(1, 2, 2))
	if err := s.JS.DeleteStream(context.Background(), s.Config.Stream); err != nil {
		t.Fatal(err)
	}
	publishAll(t, p, txns(3, 4, 2))
	assertExactlyOnce(t, s, "slot_n", 3, 4, 2)
}

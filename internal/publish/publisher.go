package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Options configure a Publisher.
type Options struct {
	Config config.Publish
	// Slot is the sync's replication slot: part of every message id, and
	// the owner the stream's messages must name.
	Slot string
	Log  *slog.Logger
	// Registerer receives the publisher's metrics (none when nil).
	Registerer prometheus.Registerer
}

// Publisher publishes the changes of source transactions to one
// JetStream stream (see the package documentation for the guarantees).
//
// Lifecycle: Open connects in the background and keeps reconnecting for
// as long as the Publisher lives; Publish returns an error while NATS or
// the stream is unavailable, and the caller retries it with the same
// transactions (retrying is always safe: nothing is published twice). An
// error whose Permanent method reports true (a stream that is not
// pgsurreal's, one JetStream refuses to create) will not go away by
// retrying. Publish is not safe for concurrent use: one sync calls it,
// in commit order. Close ends the connection.
type Publisher struct {
	cfg  config.Publish
	slot string
	log  *slog.Logger
	m    *metrics
	nc   *nats.Conn
	js   jetstream.JetStream

	// synced says lastSeq and last describe the stream; it is cleared by
	// any failure, and the next Publish reads the stream again.
	synced  bool
	lastSeq uint64
	// last is the position of the stream's last message, when known
	// (lastKnown): every message at or before it is in the stream.
	last      Position
	lastKnown bool
	warned    bool // the duplicate-window warning was logged

	// A transaction arriving in parts is numbered on from the previous
	// part: partLSN is its commit LSN, partNext the next index.
	partLSN  cdc.LSN
	partNext int
}

// Open creates a Publisher and starts connecting to NATS; it fails only
// for a URL NATS cannot use, not for an unreachable server.
func Open(o Options) (*Publisher, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{cfg: o.Config, slot: o.Slot, log: o.Log, m: newMetrics(o.Registerer)}
	servers := Redact(o.Config.NATSURL)
	nc, err := nats.Connect(o.Config.NATSURL,
		nats.Name("pgsurreal sync "+o.Slot),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		// No reconnect buffer: a publish while disconnected fails at once
		// instead of waiting in a buffer, and the batch is retried.
		nats.ReconnectBufSize(-1),
		nats.Timeout(o.Config.Timeout.Duration),
		nats.ConnectHandler(func(nc *nats.Conn) {
			p.m.connected.Set(1)
			p.log.Info("connected to NATS", "server", nc.ConnectedUrlRedacted(), "stream", p.cfg.Stream)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			p.m.connected.Set(0)
			if err == nil {
				return // Close
			}
			p.log.Warn("NATS connection lost: changes wait (they are not applied to SurrealDB until published); reconnecting", "server", servers, "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			p.m.connected.Set(1)
			p.log.Info("NATS connection restored", "server", nc.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("publish.nats_url %s: %w", servers, err)
	}
	if nc.IsConnected() {
		p.m.connected.Set(1)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(o.Config.Timeout.Duration),
		jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		nc.Close()
		return nil, err
	}
	p.nc, p.js = nc, js
	return p, nil
}

// Redact returns the comma-separated NATS URLs without their passwords,
// for logs.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		parts[i] = config.RedactURL(strings.TrimSpace(u))
	}
	return strings.Join(parts, ",")
}

// Close ends the connection.
func (p *Publisher) Close() {
	p.m.connected.Set(0)
	p.nc.Close()
}

// Error is a failure to publish. Permanent reports whether retrying can
// help.
type Error struct {
	Err       error
	permanent bool
}

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) Permanent() bool { return e.permanent }

func permanent(format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), permanent: true}
}

// Publish publishes the changes of txns, in order, and returns once
// JetStream has acknowledged every one. Changes the stream already holds
// (a replay) are left out. system is the source cluster's system
// identifier, keys the key columns of a table (see Build).
func (p *Publisher) Publish(ctx context.Context, system string, keys func(*cdc.Relation) []string, txns []cdc.Txn) error {
	var msgs []Message
	partLSN, partNext := p.partLSN, p.partNext
	for _, t := range txns {
		first := 0
		if t.Part > 0 {
			if t.CommitLSN != partLSN {
				return permanent("part %d of the transaction committed at %s arrived without its earlier parts", t.Part, t.CommitLSN)
			}
			first = partNext
		}
		ms, err := Build(p.slot, p.cfg.SubjectPrefix, t, first, keys)
		if err != nil {
			return &Error{Err: err, permanent: true}
		}
		msgs = append(msgs, ms...)
		partLSN, partNext = 0, 0
		if !t.Final {
			partLSN, partNext = t.CommitLSN, first+len(ms)
		}
	}
	if len(msgs) > 0 {
		if err := p.send(ctx, system, msgs); err != nil {
			p.synced = false
			p.m.errors.Inc()
			return err
		}
		fault()
	}
	p.partLSN, p.partNext = partLSN, partNext
	return nil
}

// send publishes msgs after what the stream holds.
func (p *Publisher) send(ctx context.Context, system string, msgs []Message) error {
	start := time.Now()
	if !p.synced {
		if err := p.syncStream(ctx, system); err != nil {
			return err
		}
	}
	if p.lastKnown {
		skip := 0
		for skip < len(msgs) && !p.last.Less(msgs[skip].Pos) {
			skip++
		}
		p.m.skipped.Add(float64(skip))
		msgs = msgs[skip:]
		if len(msgs) == 0 {
			return nil
		}
	}
	sent, err := len(msgs), error(nil)
	if p.lastKnown {
		err = p.sendAsync(ctx, system, msgs)
	} else {
		sent, err = p.sendOneByOne(ctx, system, msgs)
	}
	if err != nil {
		return err
	}
	p.last, p.lastKnown = msgs[len(msgs)-1].Pos, true
	p.m.messages.Add(float64(sent))
	p.m.seconds.Observe(time.Since(start).Seconds())
	return nil
}

// natsMsg is m with its headers.
func (p *Publisher) natsMsg(system string, m Message) *nats.Msg {
	nm := nats.NewMsg(m.Subject)
	nm.Data = m.Data
	nm.Header.Set(HeaderSlot, p.slot)
	if system != "" {
		nm.Header.Set(HeaderSystem, system)
	}
	nm.Header.Set(HeaderFormat, strconv.Itoa(FormatVersion))
	return nm
}

// sendAsync publishes msgs without waiting between them, each expected to
// follow the one before (Nats-Expected-Last-Sequence), then waits for
// every acknowledgement. A message whose predecessor did not make it into
// the stream is refused, so a failure leaves a prefix of msgs in the
// stream, never a gap.
func (p *Publisher) sendAsync(ctx context.Context, system string, msgs []Message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var first error
	for i, m := range msgs {
		f, err := p.js.PublishMsgAsync(p.natsMsg(system, m), jetstream.WithMsgID(m.ID),
			jetstream.WithExpectLastSequence(p.lastSeq+uint64(i)), jetstream.WithStallWait(p.cfg.Timeout.Duration))
		if err != nil {
			first = p.publishErr(m, err)
			break
		}
		futures = append(futures, f)
	}
	// Every future is awaited, even after a failure, so that nothing of
	// this attempt is still in flight when the next one reads the stream.
	for i, f := range futures {
		want := p.lastSeq + uint64(i) + 1
		select {
		case ack := <-f.Ok():
			// A duplicate at the expected sequence is a resent message whose
			// first copy landed there: the stream is as expected.
			if first == nil && ack.Sequence != want {
				first = fmt.Errorf("stream %s stored %s at sequence %d, expected %d: the stream changed under the publisher", p.cfg.Stream, msgs[i].ID, ack.Sequence, want)
			}
		case err := <-f.Err():
			if first == nil {
				first = fmt.Errorf("publishing %s to stream %s: %w", msgs[i].ID, p.cfg.Stream, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if first != nil {
		var e *Error
		if errors.As(first, &e) {
			return e
		}
		return &Error{Err: first}
	}
	p.lastSeq += uint64(len(msgs))
	return nil
}

// publishErr is the error of a message the client could not send: a
// message above the server's max_payload is permanent, since it would
// be refused forever.
func (p *Publisher) publishErr(m Message, err error) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return permanent("the change %s (subject %s) is %d bytes, more than the NATS server accepts (max_payload %d bytes): raise max_payload in the NATS server's configuration, or leave the large column out (sync.tables[].exclude_columns)",
			m.ID, m.Subject, len(m.Data), p.nc.MaxPayload())
	}
	return &Error{Err: fmt.Errorf("publishing %s to stream %s: %w", m.ID, p.cfg.Stream, err)}
}

// sendOneByOne publishes msgs one at a time: the way when the stream's
// last message is gone (purged) and only the deduplication window can
// tell which of msgs the stream had.
// It returns how many were new to the stream.
func (p *Publisher) sendOneByOne(ctx context.Context, system string, msgs []Message) (int, error) {
	sent := 0
	for _, m := range msgs {
		actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout.Duration)
		ack, err := p.js.PublishMsg(actx, p.natsMsg(system, m), jetstream.WithMsgID(m.ID), jetstream.WithExpectLastSequence(p.lastSeq))
		cancel()
		if err != nil {
			return sent, p.publishErr(m, err)
		}
		if ack.Duplicate {
			p.m.skipped.Inc()
			continue
		}
		p.lastSeq = ack.Sequence
		sent++
	}
	return sent, nil
}

// syncStream makes sure the stream exists and reads where it ends.
func (p *Publisher) syncStream(ctx context.Context, system string) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout.Duration)
	defer cancel()
	s, err := p.stream(ctx)
	if err != nil {
		return err
	}
	info := s.CachedInfo()
	want := p.cfg.SubjectPrefix + ".a.b"
	covered := false
	for _, sub := range info.Config.Subjects {
		covered = covered || subjectCovers(sub, want)
	}
	if !covered {
		return permanent("stream %s (subjects %s) does not take the subjects %s.> that publish.subject_prefix gives: add them to the stream, or set publish.stream or publish.subject_prefix so they match", p.cfg.Stream, strings.Join(info.Config.Subjects, ", "), p.cfg.SubjectPrefix)
	}
	if info.Config.Duplicates < p.cfg.DuplicateWindow.Duration && !p.warned {
		p.warned = true
		p.log.Warn("the stream's duplicate window is shorter than publish.duplicate_window", "stream", p.cfg.Stream,
			"stream_window", info.Config.Duplicates.String(), "configured", p.cfg.DuplicateWindow.String())
	}
	p.lastSeq, p.last, p.lastKnown = info.State.LastSeq, Position{}, true
	if p.lastSeq > 0 {
		if err := p.readLast(ctx, s, system); err != nil {
			return err
		}
	}
	p.synced = true
	p.log.Debug("stream read", "stream", p.cfg.Stream, "last_sequence", p.lastSeq, "last_position", p.last.String(), "known", p.lastKnown)
	return nil
}

// stream returns the stream, creating it when missing.
func (p *Publisher) stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := p.js.Stream(ctx, p.cfg.Stream)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, &Error{Err: fmt.Errorf("reading stream %s: %w", p.cfg.Stream, err)}
	}
	s, err = p.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        p.cfg.Stream,
		Description: "PostgreSQL changes published by pgsurreal sync (slot " + p.slot + ")",
		Subjects:    []string{p.cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Replicas:    p.cfg.Replicas,
		Duplicates:  p.cfg.DuplicateWindow.Duration,
		MaxAge:      p.cfg.MaxAge.Duration,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = p.js.Stream(ctx, p.cfg.Stream) // created meanwhile
	}
	if err != nil {
		var je jetstream.JetStreamError
		if errors.As(err, &je) && je.APIError() != nil && je.APIError().Code == 400 {
			return nil, permanent("creating stream %s for subjects %s.>: %w (check publish.stream, publish.subject_prefix, publish.replicas, publish.max_age; another stream may already take these subjects)", p.cfg.Stream, p.cfg.SubjectPrefix, err)
		}
		return nil, &Error{Err: fmt.Errorf("creating stream %s: %w", p.cfg.Stream, err)}
	}
	p.log.Info("created the JetStream stream", "stream", p.cfg.Stream, "subjects", p.cfg.SubjectPrefix+".>",
		"duplicate_window", p.cfg.DuplicateWindow.String(), "replicas", p.cfg.Replicas)
	return s, nil
}

// readLast reads the stream's last message: it must be this slot's, and
// its position is where publishing goes on.
func (p *Publisher) readLast(ctx context.Context, s jetstream.Stream, system string) error {
	msg, err := s.GetMsg(ctx, p.lastSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		p.lastKnown = false
		p.log.Warn("the stream's last message is gone (purged or deleted): changes being replayed are recognised only within the duplicate window", "stream", p.cfg.Stream, "sequence", p.lastSeq)
		return nil
	}
	if err != nil {
		return &Error{Err: fmt.Errorf("reading the last message of stream %s: %w", p.cfg.Stream, err)}
	}
	slot, pos, err := ParseMsgID(msg.Header.Get(jetstream.MsgIDHeader))
	if err != nil || msg.Header.Get(HeaderSlot) != slot {
		return permanent("stream %s ends with a message pgsurreal did not publish (sequence %d, subject %s): the stream must be pgsurreal's alone; set publish.stream and publish.subject_prefix to ones of its own", p.cfg.Stream, p.lastSeq, msg.Subject)
	}
	if slot != p.slot {
		return permanent("stream %s is written by the sync of slot %q, and this sync is slot %q: give each sync a stream of its own (publish.stream, publish.subject_prefix)", p.cfg.Stream, slot, p.slot)
	}
	if other := msg.Header.Get(HeaderSystem); other != "" && system != "" && other != system {
		return permanent("stream %s holds changes of another PostgreSQL cluster (system identifier %s; this one is %s), so its positions mean nothing here: delete the stream (nats stream rm %s) or set publish.stream to a new one", p.cfg.Stream, other, system, p.cfg.Stream)
	}
	p.last = pos
	return nil
}

// subjectCovers reports whether the subject filter (with * and >)
// matches subject.
func subjectCovers(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		switch {
		case tok == ">":
			return i < len(s)
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

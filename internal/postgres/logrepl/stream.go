package logrepl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// HeartbeatPrefix marks pgsurreal's own logical decoding messages.
const HeartbeatPrefix = "pgsurreal_heartbeat"

// Stream decodes one slot's pgoutput stream into cdc.Txn values.
//
// Lifecycle: Run owns the connection until it returns; it returns when ctx
// ends (nil) or on any connection or protocol error (the caller reconnects
// with a new Stream from its stored position). Positions are confirmed to
// PostgreSQL only up to what Ack was given, so the caller must Ack a
// transaction's End only once it is durable in the target.
type Stream struct {
	conn        *pgconn.PgConn
	slot        string
	publication string
	log         *slog.Logger
	// StatusInterval is how often a standby status update is sent.
	StatusInterval time.Duration
	// MaxPart is the largest number of changes delivered in one Txn value;
	// bigger transactions arrive in parts.
	MaxPart int

	relations map[uint32]*cdc.Relation
	acked     atomic.Uint64
	received  atomic.Uint64
	lastMsg   atomic.Int64 // unix nanos of the last server message
}

// NewStream prepares to stream slot on a replication connection.
func NewStream(conn *pgconn.PgConn, slot, publication string, log *slog.Logger) *Stream {
	return &Stream{
		conn: conn, slot: slot, publication: publication, log: log,
		StatusInterval: time.Second, MaxPart: 10000,
		relations: map[uint32]*cdc.Relation{},
	}
}

// Ack marks everything up to lsn as durable in the target; the next
// status update confirms it to PostgreSQL.
func (s *Stream) Ack(lsn cdc.LSN) {
	for {
		cur := s.acked.Load()
		if uint64(lsn) <= cur || s.acked.CompareAndSwap(cur, uint64(lsn)) {
			return
		}
	}
}

// Acked returns the highest acknowledged position.
func (s *Stream) Acked() cdc.LSN { return cdc.LSN(s.acked.Load()) }

// Received returns the end of the last WAL record received.
func (s *Stream) Received() cdc.LSN { return cdc.LSN(s.received.Load()) }

// Run starts streaming after start and sends each transaction (or part)
// to out, skipping transactions that committed before start: the target
// already has them. Sends block, which is the backpressure; status
// updates keep flowing while they do.
func (s *Stream) Run(ctx context.Context, start cdc.LSN, out chan<- cdc.Txn) error {
	s.Ack(start)
	err := pglogrepl.StartReplication(ctx, s.conn, s.slot, pglogrepl.LSN(start), pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", s.publication), "messages 'true'"},
	})
	if err != nil {
		return fmt.Errorf("starting replication from slot %s at %s: %w", s.slot, start, err)
	}
	s.log.Info("streaming changes", "slot", s.slot, "from", start.String())
	d := decoder{s: s, start: start}
	next := time.Now().Add(s.StatusInterval)
	for {
		if time.Now().After(next) {
			if err := s.sendStatus(ctx); err != nil {
				return err
			}
			next = time.Now().Add(s.StatusInterval)
		}
		rctx, cancel := context.WithDeadline(ctx, next)
		msg, err := s.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("receiving from slot %s: %w", s.slot, err)
		}
		s.lastMsg.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing keepalive: %w", err)
				}
				if ka.ReplyRequested {
					next = time.Time{}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing XLogData: %w", err)
				}
				s.received.Store(uint64(xld.WALStart) + uint64(len(xld.WALData)))
				txn, ready, err := d.decode(xld.WALData)
				if err != nil {
					return err
				}
				if ready {
					if err := s.deliver(ctx, out, txn); err != nil {
						return err
					}
				}
			}
		}
	}
}

// deliver sends txn to out, answering the server with status updates
// while the consumer is busy so wal_sender_timeout does not end the
// connection.
func (s *Stream) deliver(ctx context.Context, out chan<- cdc.Txn, txn cdc.Txn) error {
	// Fast path: the consumer keeps up, no timer needed.
	select {
	case out <- txn:
		return nil
	default:
	}
	tick := time.NewTicker(s.StatusInterval)
	defer tick.Stop()
	for {
		select {
		case out <- txn:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := s.sendStatus(ctx); err != nil {
				return err
			}
		}
	}
}

func (s *Stream) sendStatus(ctx context.Context) error {
	acked := pglogrepl.LSN(s.acked.Load())
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: acked, WALFlushPosition: acked, WALApplyPosition: acked,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("sending standby status to slot %s: %w", s.slot, err)
	}
	return nil
}

// Close ends the replication connection.
func (s *Stream) Close(ctx context.Context) error { return s.conn.Close(ctx) }

package sync

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// publisher sends the changes the sync applies to a message stream
// (publish.Publisher: NATS JetStream).
//
// Lifecycle: Publish is called with source transactions (whole ones, or
// the parts of a large one in order), in commit order, from one
// goroutine, and the applier commits a transaction to SurrealDB only
// after Publish returned nil for it. So a change is never in SurrealDB,
// and its position never stored, without being in the stream: a crash in
// between replays it from the stored position, and Publish must leave out
// what the stream already holds (it never publishes a change twice). An
// error is retried here with backoff, with the same transactions, for as
// long as it lasts (they wait, unapplied), unless it has a Permanent()
// method reporting true, which stops the sync. system is the source
// cluster's identifier; keys gives a table's key columns.
type publisher interface {
	Publish(ctx context.Context, system string, keys func(*cdc.Relation) []string, txns []cdc.Txn) error
}

// stage puts the publisher between the stream and the applier: it
// publishes what comes from in and passes each transaction on only once
// JetStream acknowledged it, so the applier commits nothing unpublished,
// while the next transactions are published during the applier's
// SurrealDB commits. Without a publisher, in is the applier's input.
// done waits for the stage and returns why it stopped (nil when ctx
// ended); a failure cancels ctx (with cancel) to stop the applier. acked
// is the position the applier has committed up to.
func (p *Pipeline) stage(ctx context.Context, cancel context.CancelFunc, in <-chan cdc.Txn, acked func() cdc.LSN) (out <-chan cdc.Txn, done func() error) {
	pub := p.o.Publisher
	if pub == nil {
		return in, func() error { return nil }
	}
	if err := p.identify(ctx); err != nil {
		cancel()
		return make(chan cdc.Txn), func() error { return err }
	}
	ch := make(chan cdc.Txn, 256)
	ended := make(chan struct{})
	var err error
	go func() {
		defer close(ended)
		err = p.runStage(ctx, pub, p.system, in, ch, acked)
		if ctx.Err() == nil {
			cancel()
		}
	}()
	return ch, func() error {
		<-ended
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}

// stageBatch is the most row changes published before their
// acknowledgements are awaited (more, for a transaction that has more).
const stageBatch = 2000

// runStage publishes batches of what is waiting in in, then forwards them
// to out, until ctx ends or publishing fails for good. A batch ends with
// a transaction that announces a new table, and the stage waits until the
// applier has committed it: the applier builds the table's shape, and so
// its key, from that transaction, and the table's changes that follow are
// published with that key.
func (p *Pipeline) runStage(ctx context.Context, pub publisher, system string, in <-chan cdc.Txn, out chan<- cdc.Txn, acked func() cdc.LSN) error {
	for {
		var batch []cdc.Txn
		select {
		case t := <-in:
			batch = append(batch, t)
		case <-ctx.Done():
			return ctx.Err()
		}
		changes := len(batch[0].Changes)
	drain:
		for changes < stageBatch && !addsTable(batch[len(batch)-1]) {
			select {
			case t := <-in:
				batch = append(batch, t)
				changes += len(t.Changes)
			default:
				break drain
			}
		}
		if err := p.publish(ctx, pub, system, batch); err != nil {
			return err
		}
		for _, t := range batch {
			select {
			case out <- t:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if last := batch[len(batch)-1]; addsTable(last) {
			for acked() < last.End {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
	}
}

// addsTable reports whether t announces a new table (see runStage).
func addsTable(t cdc.Txn) bool {
	return slices.ContainsFunc(t.Messages, func(m cdc.Message) bool { return m.Prefix == AddTablePrefix })
}

// publish hands txns to the publisher, retrying until it takes them.
// Transactions the reverse direction wrote are left out: sync does not
// apply them either (loop prevention).
func (p *Pipeline) publish(ctx context.Context, pub publisher, system string, txns []cdc.Txn) error {
	send := txns[:0:0]
	for _, t := range txns {
		if len(t.Changes) > 0 && (t.Origin == "" || t.Origin != p.o.SkipOrigin) {
			send = append(send, t)
		}
	}
	if len(send) == 0 {
		return nil
	}
	keys := func(rel *cdc.Relation) []string { return p.keyColumns(rel.QualifiedName()) }
	return retry(ctx, p.log, "publishing changes to NATS JetStream", func() error {
		err := pub.Publish(ctx, system, keys, send)
		var perm interface{ Permanent() bool }
		if err == nil || ctx.Err() != nil {
			return err
		}
		if errors.As(err, &perm) && perm.Permanent() {
			return &PermanentError{err}
		}
		return &publishRetry{err}
	})
}

// keyColumns are the key columns of a replicated table (its record
// id's), nil for a table the sync has no shape of (the replica identity's
// columns are used then).
func (p *Pipeline) keyColumns(table string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.shapes[table]; s != nil {
		return s.Key
	}
	return nil
}

// publishRetry marks a publishing error retryable.
type publishRetry struct{ err error }

func (e *publishRetry) Error() string { return e.err.Error() }
func (e *publishRetry) Unwrap() error { return e.err }

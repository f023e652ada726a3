// Package publish puts the changes the sync applies on a NATS JetStream
// stream, so that other services can follow PostgreSQL without reading
// its WAL themselves.
//
// Each row change (and each table of a TRUNCATE) becomes one JSON message
// (Body, format version FormatVersion) on <prefix>.<schema>.<table>, with
// the deduplication id <slot>:<commit LSN>:<index> (MsgID): its position
// in the source. The sync hands over its transactions in commit order
// before it commits them to SurrealDB, and commits one only after Publish
// has returned for it, that is after JetStream acknowledged every message.
// A crash between the two replays the transactions from the position
// SurrealDB holds, and the replay must not publish again. Two mechanisms make sure of that:
//
//   - the stream is pgsurreal's alone, and every message is published with
//     Nats-Expected-Last-Sequence set to the sequence it must follow. A
//     message whose predecessor did not make it is refused, so the stream
//     always holds a prefix of the source's changes in commit order, never
//     one with a hole (async publishing and retries cannot reorder it);
//   - before publishing after a start or a failure, the publisher reads
//     the stream's last message and leaves out every message at or before
//     its position: what the stream already has is never sent again, no
//     matter how long the crash lasted.
//
// The duplicate window (Nats-Msg-Id) is the second line: it absorbs a
// message resent while its first copy was still in flight (an ack that
// timed out). It bounds exactly-once only when the stream's last message
// is gone (the stream was purged) and a replay then resends messages the
// window no longer remembers. docs/publish.md documents the format and
// these bounds.
package publish

// Package cdc holds the vocabulary every replication component shares:
// positions, changes, transactions, and the small interfaces between a
// source of changes and the sink that applies them. It depends on the
// standard library only; everything else points down to it.
package cdc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LSN is a PostgreSQL WAL position.
type LSN uint64

// String renders the LSN as PostgreSQL does (16/B374D848).
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// ParseLSN parses PostgreSQL's X/Y form.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("LSN %q is not of the form X/Y", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("LSN %q is not of the form X/Y", s)
	}
	return LSN(h<<32 | l), nil
}

// Op is the kind of a row change.
type Op uint8

const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
	OpTruncate
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	case OpTruncate:
		return "truncate"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Column describes one column of a source relation as the change stream
// announces it.
type Column struct {
	Name    string
	TypeOID uint32
	TypeMod int32
	// Key marks the columns of the replica identity (the primary key by
	// default): an UPDATE or DELETE carries their old values.
	Key bool
}

// Relation is a source table as of a point in the stream. A new Relation
// with the same ID replaces the old one (schema changes).
type Relation struct {
	ID              uint32
	Schema          string
	Name            string
	Columns         []Column
	ReplicaIdentity byte // 'd' default, 'f' full, 'i' index, 'n' nothing
}

// QualifiedName is schema.name, for messages.
func (r *Relation) QualifiedName() string { return r.Schema + "." + r.Name }

// DatumKind says what a tuple slot holds.
type DatumKind uint8

const (
	// Null is SQL NULL.
	Null DatumKind = iota
	// Text is a value in PostgreSQL's text output format.
	Text
	// Unchanged is a TOASTed value the UPDATE did not change and the
	// stream did not send: the target must keep its current value.
	Unchanged
)

// Datum is one column value of a row image.
type Datum struct {
	Kind DatumKind
	Text string
}

// Tuple is a row image, one Datum per Relation column.
type Tuple []Datum

// Change is one row operation. Insert has New; Update has New and, when
// the key changed or the identity is FULL, Old; Delete has Old (key
// columns, or every column under REPLICA IDENTITY FULL). Truncate names
// the truncated relations in Truncated.
type Change struct {
	Op        Op
	Rel       *Relation
	Old       Tuple
	New       Tuple
	Truncated []*Relation
	Cascade   bool
}

// Txn is one committed source transaction, or one part of a large one:
// a transaction with more changes than a batch holds arrives as several
// Txn values with the same XID, Final set on the last. A sink applies all
// parts of one transaction atomically.
type Txn struct {
	XID uint32
	// CommitLSN is the commit record's position; End is just after it.
	// End is the position to confirm once the transaction is durable.
	CommitLSN  LSN
	End        LSN
	CommitTime time.Time
	// Origin is set when the transaction was written under a replication
	// origin (loop prevention for two-way sync).
	Origin  string
	Changes []Change
	// Messages are pgsurreal's own transactional logical decoding
	// messages in this transaction (prefix "pgsurreal_..."), in order.
	Messages []Message
	Part     int
	Final    bool
}

// Message is a logical decoding message (pg_logical_emit_message).
type Message struct {
	Prefix  string
	Content string
}

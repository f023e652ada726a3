package logrepl

import (
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// decoder turns pgoutput messages into transactions.
type decoder struct {
	s     *Stream
	start cdc.LSN
	txn   *cdc.Txn
	skip  bool
	part  int
}

// decode handles one pgoutput message. It returns a transaction (or a
// part of one) when one is ready to deliver.
func (d *decoder) decode(data []byte) (cdc.Txn, bool, error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return cdc.Txn{}, false, fmt.Errorf("decoding pgoutput message %q: %w", data[:1], err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		d.s.relations[m.RelationID] = relation(m)
	case *pglogrepl.BeginMessage:
		d.txn = &cdc.Txn{XID: m.Xid, CommitLSN: cdc.LSN(m.FinalLSN), CommitTime: m.CommitTime}
		d.part = 0
		// A transaction that committed before the start position is
		// already in the target (its position was stored with it).
		d.skip = cdc.LSN(m.FinalLSN) < d.start
	case *pglogrepl.OriginMessage:
		if d.txn != nil {
			d.txn.Origin = m.Name
		}
	case *pglogrepl.InsertMessage:
		return d.add(m.RelationID, func(rel *cdc.Relation) cdc.Change {
			return cdc.Change{Op: cdc.OpInsert, Rel: rel, New: tuple(m.Tuple)}
		})
	case *pglogrepl.UpdateMessage:
		return d.add(m.RelationID, func(rel *cdc.Relation) cdc.Change {
			return cdc.Change{Op: cdc.OpUpdate, Rel: rel, Old: tuple(m.OldTuple), New: tuple(m.NewTuple)}
		})
	case *pglogrepl.DeleteMessage:
		return d.add(m.RelationID, func(rel *cdc.Relation) cdc.Change {
			return cdc.Change{Op: cdc.OpDelete, Rel: rel, Old: tuple(m.OldTuple)}
		})
	case *pglogrepl.TruncateMessage:
		if d.txn == nil {
			return cdc.Txn{}, false, fmt.Errorf("truncate outside a transaction")
		}
		rels := make([]*cdc.Relation, 0, len(m.RelationIDs))
		for _, id := range m.RelationIDs {
			rel, ok := d.s.relations[id]
			if !ok {
				return cdc.Txn{}, false, fmt.Errorf("truncate of unknown relation %d", id)
			}
			rels = append(rels, rel)
		}
		d.txn.Changes = append(d.txn.Changes, cdc.Change{Op: cdc.OpTruncate, Truncated: rels, Cascade: m.Option&pglogrepl.TruncateOptionCascade != 0})
	case *pglogrepl.LogicalDecodingMessage:
		if d.txn != nil && m.Transactional && strings.HasPrefix(m.Prefix, "pgsurreal_") && m.Prefix != HeartbeatPrefix && !d.skip {
			d.txn.Messages = append(d.txn.Messages, cdc.Message{Prefix: m.Prefix, Content: string(m.Content)})
		}
	case *pglogrepl.CommitMessage:
		if d.txn == nil {
			return cdc.Txn{}, false, fmt.Errorf("commit without begin at %s", cdc.LSN(m.CommitLSN))
		}
		txn := *d.txn
		txn.End = cdc.LSN(m.TransactionEndLSN)
		txn.Final = true
		txn.Part = d.part
		d.txn = nil
		if d.skip {
			return cdc.Txn{}, false, nil
		}
		return txn, true, nil
	}
	return cdc.Txn{}, false, nil
}

// add appends a row change; when the transaction reaches MaxPart changes
// the part is delivered and the transaction continues in a new part.
func (d *decoder) add(relID uint32, build func(*cdc.Relation) cdc.Change) (cdc.Txn, bool, error) {
	if d.txn == nil {
		return cdc.Txn{}, false, fmt.Errorf("row change outside a transaction")
	}
	rel, ok := d.s.relations[relID]
	if !ok {
		return cdc.Txn{}, false, fmt.Errorf("row change for unknown relation %d (no Relation message)", relID)
	}
	if d.skip {
		return cdc.Txn{}, false, nil
	}
	d.txn.Changes = append(d.txn.Changes, build(rel))
	if len(d.txn.Changes) < d.s.MaxPart {
		return cdc.Txn{}, false, nil
	}
	part := *d.txn
	part.Part = d.part
	d.part++
	d.txn.Changes = make([]cdc.Change, 0, d.s.MaxPart)
	d.txn.Messages = nil
	return part, true, nil
}

func relation(m *pglogrepl.RelationMessage) *cdc.Relation {
	rel := &cdc.Relation{ID: m.RelationID, Schema: m.Namespace, Name: m.RelationName, ReplicaIdentity: m.ReplicaIdentity}
	for _, c := range m.Columns {
		rel.Columns = append(rel.Columns, cdc.Column{Name: c.Name, TypeOID: c.DataType, TypeMod: c.TypeModifier, Key: c.Flags&1 != 0})
	}
	return rel
}

func tuple(t *pglogrepl.TupleData) cdc.Tuple {
	if t == nil {
		return nil
	}
	out := make(cdc.Tuple, len(t.Columns))
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeText:
			out[i] = cdc.Datum{Kind: cdc.Text, Text: string(c.Data)}
		case pglogrepl.TupleDataTypeToast:
			out[i] = cdc.Datum{Kind: cdc.Unchanged}
		default:
			out[i] = cdc.Datum{Kind: cdc.Null}
		}
	}
	return out
}

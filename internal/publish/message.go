package publish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// FormatVersion is the version of the message format (Body). It changes
// only when a consumer would have to change: fields may be added to a
// version, none is removed or changes meaning.
const FormatVersion = 1

// Headers on every message, besides Nats-Msg-Id (MsgID).
const (
	// HeaderSlot names the replication slot the message came from.
	HeaderSlot = "Pgsurreal-Slot"
	// HeaderSystem is the source cluster's system identifier.
	HeaderSystem = "Pgsurreal-System"
	// HeaderFormat is FormatVersion.
	HeaderFormat = "Pgsurreal-Format"
)

// Position is where a message comes from in the source: the commit LSN of
// its transaction and its index among that transaction's messages.
// Positions order messages as PostgreSQL committed them.
type Position struct {
	LSN   cdc.LSN
	Index int
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.LSN < q.LSN || p.LSN == q.LSN && p.Index < q.Index
}

func (p Position) String() string { return p.LSN.String() + ":" + strconv.Itoa(p.Index) }

// MsgID is the deduplication id (Nats-Msg-Id) of the message at pos:
// <slot>:<commit LSN>:<index>, e.g. pgsurreal:0/1A2B3C8:0. Slot names
// hold only [a-z0-9_], so the id parses back unambiguously (ParseMsgID).
func MsgID(slot string, pos Position) string { return slot + ":" + pos.String() }

// ParseMsgID splits a MsgID into its slot and position.
func ParseMsgID(id string) (string, Position, error) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 {
		return "", Position{}, fmt.Errorf("message id %q is not <slot>:<commit LSN>:<index>", id)
	}
	lsn, err := cdc.ParseLSN(parts[1])
	if err != nil {
		return "", Position{}, fmt.Errorf("message id %q: %w", id, err)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 {
		return "", Position{}, fmt.Errorf("message id %q: index %q is not a number", id, parts[2])
	}
	return parts[0], Position{LSN: lsn, Index: n}, nil
}

// Body is a message's JSON (format 1; docs/publish.md). Row values are
// JSON for booleans, integers, floats, json and jsonb, and PostgreSQL's
// text form (as strings) for every other type, numeric included, so that
// no precision is lost.
type Body struct {
	Format int    `json:"format"`
	Op     string `json:"op"`
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// Key holds the key columns (the record id's, sync.tables[].key or
	// the primary key): of the new row for insert and update, of the old
	// row for delete. Null for truncate.
	Key json.RawMessage `json:"key"`
	// OldKey is set on an update that changed the key.
	OldKey json.RawMessage `json:"old_key,omitempty"`
	// New is the new row (insert, update), every column in table order
	// except those in Unchanged.
	New json.RawMessage `json:"new,omitempty"`
	// Unchanged lists columns an update left alone whose values
	// PostgreSQL did not send (TOASTed): they keep their old values.
	Unchanged []string `json:"unchanged,omitempty"`
	// Cascade marks a TRUNCATE ... CASCADE.
	Cascade bool `json:"cascade,omitempty"`
	// LSN is the commit LSN of the source transaction, Index the
	// message's place in it; together the source position (MsgID).
	LSN   string `json:"lsn"`
	Index int    `json:"index"`
	// CommitTime is when the source transaction committed (UTC).
	CommitTime time.Time `json:"commit_time"`
	XID        uint32    `json:"xid"`
	Slot       string    `json:"slot"`
}

// appendJSON appends b as encoding/json would marshal it (a test holds
// the two equal), without reflection: publishing runs at the sync's
// full change rate.
func (b *Body) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"format":`...)
	buf = strconv.AppendInt(buf, int64(b.Format), 10)
	buf = append(buf, `,"op":`...)
	buf = appendString(buf, b.Op)
	buf = append(buf, `,"schema":`...)
	buf = appendString(buf, b.Schema)
	buf = append(buf, `,"table":`...)
	buf = appendString(buf, b.Table)
	buf = append(buf, `,"key":`...)
	buf = append(buf, orNull(b.Key)...)
	if len(b.OldKey) > 0 {
		buf = append(buf, `,"old_key":`...)
		buf = append(buf, b.OldKey...)
	}
	if len(b.New) > 0 {
		buf = append(buf, `,"new":`...)
		buf = append(buf, b.New...)
	}
	if len(b.Unchanged) > 0 {
		buf = append(buf, `,"unchanged":[`...)
		for i, c := range b.Unchanged {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, c)
		}
		buf = append(buf, ']')
	}
	if b.Cascade {
		buf = append(buf, `,"cascade":true`...)
	}
	buf = append(buf, `,"lsn":`...)
	buf = appendString(buf, b.LSN)
	buf = append(buf, `,"index":`...)
	buf = strconv.AppendInt(buf, int64(b.Index), 10)
	buf = append(buf, `,"commit_time":"`...)
	buf = b.CommitTime.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","xid":`...)
	buf = strconv.AppendUint(buf, uint64(b.XID), 10)
	buf = append(buf, `,"slot":`...)
	buf = appendString(buf, b.Slot)
	return append(buf, '}')
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return null
	}
	return raw
}

// Message is one change ready to publish.
type Message struct {
	Subject string
	ID      string
	Pos     Position
	Data    []byte
}

// Build turns the changes of t into messages, numbered from first: 0 for
// a whole transaction or its first part, the number of messages of the
// earlier parts otherwise. Each row change is one message, a TRUNCATE one
// per table. keys returns the key columns of a table; when it is nil or
// returns none, the replica identity's columns are used.
func Build(slot, prefix string, t cdc.Txn, first int, keys func(*cdc.Relation) []string) ([]Message, error) {
	out := make([]Message, 0, len(t.Changes))
	n := first
	lsn := t.CommitLSN.String()
	idPrefix := slot + ":" + lsn + ":"
	var subjRel *cdc.Relation // the subject of the last relation, reused
	var subject string
	add := func(b *Body, rel *cdc.Relation) error {
		b.Format, b.LSN, b.Index, b.XID, b.Slot = FormatVersion, lsn, n, t.XID, slot
		b.CommitTime = t.CommitTime.UTC()
		b.Schema, b.Table = rel.Schema, rel.Name
		if y := b.CommitTime.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("the transaction committed at %s has commit time %s, which JSON cannot hold", t.CommitLSN, b.CommitTime)
		}
		data := b.appendJSON(make([]byte, 0, 160+len(b.Key)+len(b.OldKey)+len(b.New)))
		pos := Position{LSN: t.CommitLSN, Index: n}
		if rel != subjRel {
			subjRel, subject = rel, Subject(prefix, rel.Schema, rel.Name)
		}
		out = append(out, Message{Subject: subject, ID: idPrefix + strconv.Itoa(n), Pos: pos, Data: data})
		n++
		return nil
	}
	for _, ch := range t.Changes {
		if ch.Op == cdc.OpTruncate {
			for _, rel := range ch.Truncated {
				if err := add(&Body{Op: "truncate", Key: null, Cascade: ch.Cascade}, rel); err != nil {
					return nil, err
				}
			}
			continue
		}
		b, err := rowBody(ch, keyColumns(ch.Rel, keys))
		if err != nil {
			return nil, err
		}
		if err := add(b, ch.Rel); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var null = json.RawMessage("null")

// rowBody is the body of an insert, update or delete.
func rowBody(ch cdc.Change, key []int) (*Body, error) {
	b := &Body{Op: ch.Op.String()}
	switch ch.Op {
	case cdc.OpInsert, cdc.OpUpdate:
		b.New, b.Unchanged = object(ch.Rel, ch.New, nil)
		b.Key, _ = object(ch.Rel, ch.New, key)
		if ch.Old != nil {
			old, _ := object(ch.Rel, ch.Old, key)
			switch {
			case hasUnchanged(ch.New, key):
				b.Key = old // a TOASTed key value the update did not change
			case !bytes.Equal(old, b.Key):
				b.OldKey = old
			}
		}
	case cdc.OpDelete:
		b.Key, _ = object(ch.Rel, ch.Old, key)
	default:
		return nil, fmt.Errorf("%s: unknown change %v", ch.Rel.QualifiedName(), ch.Op)
	}
	return b, nil
}

func hasUnchanged(t cdc.Tuple, cols []int) bool {
	for _, i := range cols {
		if i < len(t) && t[i].Kind == cdc.Unchanged {
			return true
		}
	}
	return false
}

// keyColumns are the indexes of the key columns of rel.
func keyColumns(rel *cdc.Relation, keys func(*cdc.Relation) []string) []int {
	var out []int
	if keys != nil {
		for _, name := range keys(rel) {
			for i, c := range rel.Columns {
				if c.Name == name {
					out = append(out, i)
				}
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for i, c := range rel.Columns {
		if c.Key {
			out = append(out, i)
		}
	}
	return out
}

// object renders the columns cols of t (every column when cols is nil)
// as a JSON object in column order, leaving out and listing the values
// PostgreSQL did not send.
func object(rel *cdc.Relation, t cdc.Tuple, cols []int) (json.RawMessage, []string) {
	if t == nil {
		return null, nil
	}
	var unchanged []string
	buf := make([]byte, 0, 64)
	buf = append(buf, '{')
	put := func(i int) {
		if i >= len(t) || i >= len(rel.Columns) {
			return
		}
		c := rel.Columns[i]
		if t[i].Kind == cdc.Unchanged {
			unchanged = append(unchanged, c.Name)
			return
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, c.Name)
		buf = append(buf, ':')
		buf = appendValue(buf, c.TypeOID, t[i])
	}
	if cols == nil {
		for i := range rel.Columns {
			put(i)
		}
	} else {
		for _, i := range cols {
			put(i)
		}
	}
	return append(buf, '}'), unchanged
}

// PostgreSQL type OIDs whose text form is also their JSON.
const (
	oidBool   = 16
	oidInt8   = 20
	oidInt2   = 21
	oidInt4   = 23
	oidOID    = 26
	oidJSON   = 114
	oidFloat4 = 700
	oidFloat8 = 701
	oidJSONB  = 3802
)

// appendValue appends one column value as JSON: booleans, integers,
// finite floats, json and jsonb as themselves; everything else (numeric,
// dates, times, uuid, arrays, ...) as a string of PostgreSQL's text form.
func appendValue(buf []byte, oid uint32, d cdc.Datum) []byte {
	if d.Kind == cdc.Null {
		return append(buf, "null"...)
	}
	s := d.Text
	switch oid {
	case oidBool:
		if s == "t" {
			return append(buf, "true"...)
		}
		if s == "f" {
			return append(buf, "false"...)
		}
	case oidInt2, oidInt4, oidInt8, oidOID:
		if isInteger(s) {
			return append(buf, s...)
		}
	case oidFloat4, oidFloat8:
		if _, err := strconv.ParseFloat(s, 64); err == nil && s != "NaN" && !strings.Contains(s, "Infinity") {
			return append(buf, s...)
		}
	case oidJSON, oidJSONB:
		c := bytes.NewBuffer(buf)
		if json.Compact(c, []byte(s)) == nil {
			return c.Bytes()
		}
		buf = buf[:len(buf):len(buf)] // Compact may have written past buf's end
	}
	return appendString(buf, s)
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendString appends s as a JSON string, exactly as encoding/json
// writes it (which escapes <, > and &, and U+2028, U+2029).
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// Subject is the subject of the changes of schema.table:
// <prefix>.<schema>.<table>, each name escaped by SubjectToken.
func Subject(prefix, schema, table string) string {
	return prefix + "." + SubjectToken(schema) + "." + SubjectToken(table)
}

// SubjectToken escapes a name for use as one subject token: ASCII
// letters, digits, '_' and '-' stay, every other byte becomes %XX
// (upper-case hex), so '.', '*', '>', spaces and '%' itself cannot split
// or widen a subject. "Odd Name" becomes "Odd%20Name".
func SubjectToken(name string) string {
	safe := true
	for i := 0; i < len(name); i++ {
		if !tokenByte(name[i]) {
			safe = false
			break
		}
	}
	if safe {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if tokenByte(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

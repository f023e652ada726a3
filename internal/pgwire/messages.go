package pgwire

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

// SQLSTATE codes the server raises itself.
const (
	codeProtocolViolation = "08P01"
	codeConnectionFailure = "08006"
	codeInvalidAuthSpec   = "28000"
	codeInvalidPassword   = "28P01"
	codeInternal          = "XX000"
	codeQueryCanceled     = "57014"
	codeDupStatement      = "42P05"
	codeDupCursor         = "42P03"
	codeUndefinedStmt     = "26000"
	codeInFailedTx        = "25P02"
)

// pgErr builds an ERROR-level error with a SQLSTATE.
func pgErr(code, format string, args ...any) *pgconn.PgError {
	return &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: fmt.Sprintf(format, args...)}
}

// fatal builds a FATAL error, after which the connection is closed.
func fatal(code, format string, args ...any) *pgconn.PgError {
	return &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: fmt.Sprintf(format, args...)}
}

// asPgError gives any error a SQLSTATE for the client: a PostgreSQL
// error keeps all its fields, a cancellation is 57014 as in PostgreSQL,
// anything else is XX000 with its message.
func asPgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return pgErr(codeQueryCanceled, "canceling statement due to user request")
	}
	return pgErr(codeInternal, "%s", err.Error())
}

// errorResponse converts a PgError field by field.
func errorResponse(e *pgconn.PgError) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity:            e.Severity,
		SeverityUnlocalized: e.SeverityUnlocalized,
		Code:                e.Code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
		Position:            e.Position,
		InternalPosition:    e.InternalPosition,
		InternalQuery:       e.InternalQuery,
		Where:               e.Where,
		SchemaName:          e.SchemaName,
		TableName:           e.TableName,
		ColumnName:          e.ColumnName,
		DataTypeName:        e.DataTypeName,
		ConstraintName:      e.ConstraintName,
		File:                e.File,
		Line:                e.Line,
		Routine:             e.Routine,
	}
}

// noticeResponse converts a notice PostgreSQL sent during a request the
// server ran itself.
func noticeResponse(n *pgconn.Notice) *pgproto3.NoticeResponse {
	return (*pgproto3.NoticeResponse)(errorResponse((*pgconn.PgError)(n)))
}

// rowDescription converts pgconn's field descriptions.
func rowDescription(fields []pgconn.FieldDescription) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(fields))}
	for i, f := range fields {
		rd.Fields[i] = pgproto3.FieldDescription{
			Name:                 []byte(f.Name),
			TableOID:             f.TableOID,
			TableAttributeNumber: f.TableAttributeNumber,
			DataTypeOID:          f.DataTypeOID,
			DataTypeSize:         f.DataTypeSize,
			TypeModifier:         f.TypeModifier,
			Format:               f.Format,
		}
	}
	return rd
}

// withFormats applies a Bind's result format codes to a description.
func withFormats(rd *pgproto3.RowDescription, formats []int16) *pgproto3.RowDescription {
	for i := range rd.Fields {
		rd.Fields[i].Format = formatAt(formats, i)
	}
	return rd
}

// formatAt applies the protocol's rule for format code lists: none means
// text, one applies to all, else one per position.
func formatAt(formats []int16, i int) int16 {
	switch {
	case len(formats) == 0:
		return pgtype.TextFormatCode
	case len(formats) == 1:
		return formats[0]
	case i < len(formats):
		return formats[i]
	}
	return pgtype.TextFormatCode
}

// decodeParams turns a Bind's raw values into Go values for the
// federation engine, using the parameter types PostgreSQL resolved. A
// type the map does not know stays a string (text) or []byte (binary).
func decodeParams(m *pgtype.Map, oids []uint32, formats []int16, values [][]byte) ([]any, error) {
	out := make([]any, len(values))
	for i, v := range values {
		if v == nil {
			continue
		}
		format := formatAt(formats, i)
		var oid uint32
		if i < len(oids) {
			oid = oids[i]
		}
		t, ok := m.TypeForOID(oid)
		if !ok {
			if format == pgtype.TextFormatCode {
				out[i] = string(v)
			} else {
				out[i] = append([]byte(nil), v...)
			}
			continue
		}
		val, err := t.Codec.DecodeValue(m, oid, format, v)
		if err != nil {
			return nil, pgErr("22P02", "invalid value for parameter $%d: %v", i+1, err)
		}
		out[i] = val
	}
	return out, nil
}

// encodeInputs renders the federation engine's added parameter values in
// text format for the types PostgreSQL inferred for them (jsonb).
func encodeInputs(m *pgtype.Map, oids []uint32, inputs []any) ([][]byte, error) {
	out := make([][]byte, len(inputs))
	for i, v := range inputs {
		if v == nil {
			continue
		}
		switch x := v.(type) {
		case string:
			out[i] = []byte(x)
			continue
		case []byte:
			out[i] = x
			continue
		}
		var oid uint32
		if i < len(oids) {
			oid = oids[i]
		}
		b, err := m.Encode(oid, pgtype.TextFormatCode, v, nil)
		if err != nil {
			return nil, fmt.Errorf("encoding federated input %d: %w", i+1, err)
		}
		out[i] = b
	}
	return out, nil
}

package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// apiError is the "error" object of a failed request. Code is always a
// SQLSTATE: PostgreSQL's own for database errors, and the closest one for
// the API's (28000 authentication, 08P01 malformed request, 54000 body too
// large, 57014 timeout, 08006 database unreachable, XX000 internal).
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Position is the 1-based character offset in "sql" the error points
	// at (PostgreSQL's), absent when none.
	Position int32  `json:"position,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	// Step is the failing step of POST /v1/tx (0-based).
	Step *int `json:"step,omitempty"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, errorBody{e})
}

// classify maps a query error to an HTTP status and the error object.
// PostgreSQL errors keep their SQLSTATE; the class decides the status:
// the client's statement or values (42, 0A, 22, 21, 25, 3F) 400, a
// conflict with other data or transactions (23, 40) 409, a canceled
// statement (57014) 504, a database going away (08, 57P01-57P03) 502,
// resources exhausted (53) 503, anything else 500.
func classify(err error) (int, apiError) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e := apiError{Code: pgErr.Code, Message: pgErr.Message, Position: pgErr.Position, Detail: pgErr.Detail, Hint: pgErr.Hint}
		status := pgStatus(pgErr.Code)
		if status == http.StatusInternalServerError && brokenConnection(pgErr.Message) {
			// The federation engine reports a failed SurrealDB read as
			// 58000 with the transport's error in the message.
			status = http.StatusBadGateway
		}
		return status, e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, apiError{Code: "57014", Message: "canceling statement due to timeout: " + err.Error()}
	case unreachable(err):
		return http.StatusBadGateway, apiError{Code: "08006", Message: err.Error()}
	}
	return http.StatusInternalServerError, apiError{Code: "XX000", Message: err.Error()}
}

func pgStatus(code string) int {
	if len(code) != 5 {
		return http.StatusInternalServerError
	}
	switch code {
	case "57014":
		return http.StatusGatewayTimeout
	case "57P01", "57P02", "57P03":
		return http.StatusBadGateway
	}
	switch code[:2] {
	case "42", "0A", "22", "21", "25", "3F":
		return http.StatusBadRequest
	case "23", "40":
		return http.StatusConflict
	case "08":
		return http.StatusBadGateway
	case "53":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// unreachable reports whether err says a database could not be reached
// or the connection to it broke.
func unreachable(err error) bool {
	var connErr *pgconn.ConnectError
	var pgConnErr *postgres.ConnectError
	var opErr *net.OpError
	switch {
	case errors.As(err, &connErr), errors.As(err, &pgConnErr), errors.As(err, &opErr):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed):
		return true
	}
	// The SurrealDB SDK reports a dropped WebSocket with plain errors.
	return brokenConnection(err.Error())
}

// brokenConnection reports whether an error's text is one of a lost
// connection's, for errors that arrive as text only.
func brokenConnection(msg string) bool {
	for _, s := range []string{"connection is closed", "response channel closed", "read/write on closed pipe",
		"use of closed network connection", "connection refused", "connection reset by peer", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

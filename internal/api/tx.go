package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/txn"
)

// txRunner is what POST /v1/tx needs of a *txn.Coordinator.
type txRunner interface {
	RunSteps(ctx context.Context, o txn.TxOptions, steps []txn.Step) ([]txn.StepResult, error)
}

// txRequest is the body of POST /v1/tx.
type txRequest struct {
	Steps []txn.Step `json:"steps"`
	// Isolation is the PostgreSQL part's level (read committed, repeatable
	// read, serializable).
	Isolation string `json:"isolation"`
}

type txResponse struct {
	Steps []txn.StepResult `json:"steps"`
}

// tx runs the steps as one distributed transaction: every step's result,
// or one error naming the step (and nothing applied).
func (h *handler) tx(w http.ResponseWriter, r *http.Request) {
	if h.txr == nil {
		writeError(w, http.StatusServiceUnavailable, apiError{Code: "55000", Message: "distributed transactions are served by `pgsurreal serve`"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, apiError{Code: "08P01", Message: "send the request body as JSON with Content-Type: application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, apiError{Code: "54000", Message: fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit)})
			return
		}
		writeError(w, http.StatusBadRequest, apiError{Code: "08P01", Message: "reading the request body: " + err.Error()})
		return
	}
	var req txRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || len(req.Steps) == 0 {
		writeError(w, http.StatusBadRequest, apiError{Code: "08P01", Message: fmt.Sprintf(`the body is not {"steps": [{"db": "postgres"|"surreal", "statement": "...", "params": ...}, ...]} (%v)`, err)})
		return
	}
	for i := range req.Steps {
		req.Steps[i].Params = stepParams(req.Steps[i].DB, req.Steps[i].Params)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	start := time.Now()
	res, err := h.txr.RunSteps(ctx, txn.TxOptions{Isolation: req.Isolation, Timeout: h.o.Timeout}, req.Steps)
	if err != nil {
		status, apiErr := classify(err)
		if txn.GaveUp(err) {
			status, apiErr = http.StatusConflict, apiError{Code: "40001", Message: err.Error()}
		}
		var se *txn.StepError
		if errors.As(err, &se) {
			apiErr.Step = &se.Step
			if status >= 500 && !unreachable(err) {
				status = http.StatusBadRequest
			}
		}
		h.o.Log.Info("transaction failed", "status", status, "error", apiErr.Message, "elapsed", time.Since(start))
		writeError(w, status, apiErr)
		return
	}
	for i := range res {
		for _, row := range res[i].Rows {
			for k, v := range row {
				row[k] = TxValue(v)
			}
		}
	}
	writeJSON(w, http.StatusOK, txResponse{Steps: res})
}

// stepParams converts JSON parameters: for PostgreSQL as /v1/query does
// (param), for SurrealDB numbers as int64 or float64; {"$ref": ...}
// stays for RunSteps to resolve.
func stepParams(db string, v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			if isRef(e) {
				out[i] = e
			} else if db == "postgres" {
				out[i] = param(e)
			} else {
				out[i] = surrealParam(e)
			}
		}
		return out
	case map[string]any:
		if db == "postgres" {
			return x // refused by RunSteps: PostgreSQL parameters are positional
		}
		return surrealParam(x)
	}
	return v
}

func isRef(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	_, ok = m["$ref"]
	return ok
}

// surrealParam turns JSON numbers into SurrealDB numbers, deeply.
func surrealParam(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = surrealParam(e)
		}
		return out
	case map[string]any:
		if isRef(x) {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = surrealParam(e)
		}
		return out
	}
	return v
}

// TxValue makes a result value JSON-friendly: record ids as table:key,
// SurrealDB datetimes as time, the rest as JSONValue or json.Marshal has
// it.
func TxValue(v any) any {
	switch x := v.(type) {
	case models.RecordID:
		return x.String()
	case *models.RecordID:
		return x.String()
	case models.CustomDateTime:
		return x.Time.Format(time.RFC3339Nano)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = TxValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = TxValue(e)
		}
		return out
	}
	return JSONValue("timestamptz", v)
}

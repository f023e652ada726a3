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
	"runtime/debug"
	"strconv"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/federation"
)

// queryRequest is the body of POST /v1/query.
type queryRequest struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params"`
	// Consistency is "", "eventual" or "read_your_writes".
	Consistency string `json:"consistency"`
	// Explain runs the statement as EXPLAIN FEDERATED.
	Explain bool `json:"explain"`
	// Cache false skips the cache of SurrealDB sub-results; default true.
	Cache *bool `json:"cache"`
}

// column is one result column in a response.
type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// queryResponse is a successful answer. Rows is absent for an explain.
type queryResponse struct {
	Columns []column `json:"columns"`
	Rows    [][]any  `json:"rows,omitzero"`
	Tag     string   `json:"tag"`
	Explain []string `json:"explain,omitzero"`
}

func (h *handler) query(w http.ResponseWriter, r *http.Request) {
	if h.engine == nil {
		writeError(w, http.StatusServiceUnavailable, apiError{Code: "57P03", Message: "this process runs no query engine: queries are answered by `pgsurreal serve`"})
		return
	}
	req, status, apiErr := h.decode(w, r)
	if status != 0 {
		writeError(w, status, apiErr)
		return
	}
	args := make([]any, len(req.Params))
	for i, p := range req.Params {
		args[i] = param(p)
	}
	sql := req.SQL
	if req.Explain {
		sql = federation.AsExplain(sql)
	}
	opts := federation.QueryOptions{Consistency: req.Consistency, NoCache: req.Cache != nil && !*req.Cache}

	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	start := time.Now()
	res, err := h.run(ctx, sql, args, opts)
	if err != nil {
		status, apiErr := classify(err)
		if ctx.Err() == context.DeadlineExceeded {
			status, apiErr = http.StatusGatewayTimeout, apiError{Code: "57014", Message: fmt.Sprintf("canceling statement: it did not finish within %s", h.o.Timeout)}
		}
		log := h.o.Log.Info
		if status >= 500 {
			log = h.o.Log.Warn
		}
		log("query failed", "status", status, "sqlstate", apiErr.Code, "error", apiErr.Message, "elapsed", time.Since(start))
		writeError(w, status, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, response(res, req.Explain))
}

// run calls the engine, turning a panic into an error so one bad
// statement cannot take the connection (or the process) down.
func (h *handler) run(ctx context.Context, sql string, args []any, o federation.QueryOptions) (res *federation.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			h.o.Log.Error("query panicked", "panic", p, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return h.engine.Query(ctx, nil, sql, args, o)
}

// decode reads and checks the request body; a non-zero status means the
// request is refused with apiErr.
func (h *handler) decode(w http.ResponseWriter, r *http.Request) (queryRequest, int, apiError) {
	var req queryRequest
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return req, http.StatusUnsupportedMediaType, apiError{Code: "08P01", Message: "send the request body as JSON with Content-Type: application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, http.StatusRequestEntityTooLarge, apiError{Code: "54000", Message: fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit)}
		}
		return req, http.StatusBadRequest, apiError{Code: "08P01", Message: "reading the request body: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, http.StatusBadRequest, apiError{Code: "08P01", Message: `the request body is empty: send {"sql": "..."}`}
		}
		return req, http.StatusBadRequest, apiError{Code: "08P01", Message: "the request body is not a query request: " + err.Error()}
	}
	if dec.More() {
		return req, http.StatusBadRequest, apiError{Code: "08P01", Message: "the request body holds more than one JSON value"}
	}
	if req.SQL == "" {
		return req, http.StatusBadRequest, apiError{Code: "08P01", Message: `"sql" is missing or empty`}
	}
	switch req.Consistency {
	case "", federation.Eventual, federation.ReadYourWrites:
	default:
		return req, http.StatusBadRequest, apiError{Code: "22023", Message: fmt.Sprintf(`"consistency" is %q: use %q or %q`, req.Consistency, federation.Eventual, federation.ReadYourWrites)}
	}
	return req, 0, apiError{}
}

// param turns a JSON parameter into a query argument: integral numbers
// are int64, other numbers their text (PostgreSQL parses it as the
// parameter's type, so no precision is lost to float64), strings and
// booleans themselves, null nil, and arrays and objects their JSON text
// (for json and jsonb parameters).
func param(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		return string(x)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return v
}

// response converts a result into its JSON shape.
func response(res *federation.Result, explain bool) queryResponse {
	out := queryResponse{Columns: make([]column, len(res.Columns)), Tag: res.Tag, Explain: res.Explain}
	for i, c := range res.Columns {
		out.Columns[i] = column{Name: c.Name, Type: c.Type}
	}
	if explain || res.Explain != nil {
		if out.Explain == nil {
			out.Explain = []string{}
		}
		return out
	}
	out.Rows = make([][]any, len(res.Rows))
	for i, row := range res.Rows {
		vals := make([]any, len(row))
		for j, v := range row {
			typ := ""
			if j < len(res.Columns) {
				typ = res.Columns[j].Type
			}
			vals[j] = JSONValue(typ, v)
		}
		out.Rows[i] = vals
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(errorBody{apiError{Code: "XX000", Message: "encoding the result: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

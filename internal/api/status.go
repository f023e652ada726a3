package api

import (
	"context"
	"net/http"
)

// status serves GET /v1/status: this process's role under the leader
// lease (leader or standby) and what it runs.
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	if h.o.Status == nil {
		writeError(w, http.StatusServiceUnavailable, apiError{Code: "55000", Message: "this process reports no status: `pgsurreal serve` does"})
		return
	}
	writeJSON(w, http.StatusOK, h.o.Status(r.Context()))
}

// StatusFunc returns what GET /v1/status serves, encoded as JSON.
type StatusFunc func(ctx context.Context) any

package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/api"
)

// TestStatus: GET /v1/status needs the token and serves the status
// function's answer; without one it answers 503.
func TestStatus(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(api.New(api.Options{Token: "tok", Status: func(context.Context) any {
		return map[string]any{"role": "standby", "holder": "host:42"}
	}}))
	defer srv.Close()
	if code, _, _ := call(t, http.MethodGet, srv.URL+"/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d", code)
	}
	code, _, out := call(t, http.MethodGet, srv.URL+"/v1/status", "tok")
	if code != http.StatusOK || out["role"] != "standby" || out["holder"] != "host:42" {
		t.Errorf("status %d, body %v", code, out)
	}

	none := httptest.NewServer(api.New(api.Options{Token: "tok"}))
	defer none.Close()
	if code, _, out := call(t, http.MethodGet, none.URL+"/v1/status", "tok"); code != http.StatusServiceUnavailable || errorOf(t, out)["code"] != "55000" {
		t.Errorf("without a status: %d %v", code, out)
	}
}

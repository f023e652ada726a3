package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/api"
)

type readiness struct{ ok bool }

func (r readiness) Ready(context.Context) (bool, any) {
	return r.ok, map[string]string{"postgres": "ok"}
}

// TestBrowserSignIn: the dashboard redirects to the login form without a
// session, a wrong token is refused, the right one sets a cookie that
// opens the dashboard and the API, and /readyz answers without a token.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	dash := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "dashboard page") })
	srv := httptest.NewServer(api.New(api.Options{Token: "s3cret", Dashboard: dash, Readiness: readiness{ok: false}}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Fatalf("/ without a session: %d %q, want the login form", code, body)
	}
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", resp.StatusCode)
	}
	resp, err = c.PostForm(srv.URL+"/login", url.Values{"token": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "dashboard page" {
		t.Fatalf("after signing in: %d %q", resp.StatusCode, b)
	}
	if code, body := get("/v1/maintenance"); code != http.StatusServiceUnavailable {
		t.Errorf("/v1/maintenance with the session cookie: %d %s, want 503 (no scheduler), not 401", code, body)
	}
	c.Jar = nil
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) {
		t.Errorf("/readyz: %d %s", code, body)
	}
}

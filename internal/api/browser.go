package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"html/template"
	"net/http"
	"time"
)

// sessionCookie carries the token for browsers, which cannot send a
// bearer header on a page load: POST /login sets it, every authorized
// route accepts it like the header.
const sessionCookie = "pgsurreal_token"

// Readiness says whether the daemon is ready: both databases reachable,
// replication running and not too far behind. Detail is served as JSON.
type Readiness interface {
	Ready(ctx context.Context) (ok bool, detail any)
}

// cookieToken returns the session cookie's token, if any.
func cookieToken(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// tokenOK compares a presented token with http.token in constant time.
func (h *handler) tokenOK(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return h.o.Token != "" && subtle.ConstantTimeCompare(sum[:], h.token[:]) == 1
}

// page serves a browser page: without a valid session it redirects to
// the login form.
func (h *handler) page(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := cookieToken(r); ok && h.tokenOK(tok) {
			next.ServeHTTP(w, r)
			return
		}
		if tok, ok := bearer(r.Header.Get("Authorization")); ok && h.tokenOK(tok) {
			next.ServeHTTP(w, r)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pgsurreal: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;background:#f5f6f8;display:flex;justify-content:center;padding-top:12vh}
form{background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;min-width:20em}
input{width:100%;padding:.5em;margin:.5em 0 1em;box-sizing:border-box}button{padding:.5em 1.5em}.err{color:#b00}</style></head>
<body><form method="post" action="/login"><h2>pgsurreal</h2>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<label for="token">HTTP API token (http.token)</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus>
<button type="submit">Sign in</button></form></body></html>
`))

func (h *handler) loginForm(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, struct{ Error string }{})
}

// login checks the token from the form and sets the session cookie
// (HttpOnly, SameSite=Strict; Secure when the request came over TLS).
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.PostFormValue("token")
	if !h.tokenOK(tok) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		msg := "Wrong token."
		if h.o.Token == "" {
			msg = "No token is configured: set http.token (or PGSURREAL_HTTP_TOKEN) and restart."
		}
		_ = loginPage.Execute(w, struct{ Error string }{msg})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int((12 * time.Hour).Seconds())})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ready serves /readyz: 200 when ready, 503 when not, with the detail.
func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	if h.o.Readiness == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ready": true, "checks": "none configured"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	ok, detail := h.o.Readiness.Ready(ctx)
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ok, "checks": detail})
}

package devserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func httpBase(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testenv.Get(t).Surreal.URL)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + u.Host
}

func TestHealthAndVersion(t *testing.T) {
	t.Parallel()
	base := httpBase(t)
	resp, err := http.Get(base + "/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health = %v, %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "surrealdb-3.") {
		t.Fatalf("GET /version = %q, want surrealdb-3.x", body)
	}
}

// TestHTTPRPCWithSDK uses the SDK's HTTP connection: POST /rpc with CBOR
// bodies, a bearer token after signin and Surreal-NS/Surreal-DB headers.
func TestHTTPRPCWithSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testenv.Get(t).NewSurreal(t)
	db, err := surrealdb.FromEndpointURLString(ctx, httpBase(t))
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's HTTP connection wants the namespace and database first.
	if err := db.Use(ctx, cfg.Namespace, cfg.Database); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: cfg.Username, Password: "wrong"}); err == nil {
		t.Fatal("HTTP signin with a wrong password succeeded")
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: cfg.Username, Password: cfg.Password.Reveal()}); err != nil {
		t.Fatalf("HTTP signin: %v", err)
	}
	if _, err := surrealdb.Create[product](ctx, db, models.NewRecordID("product", 1), product{Name: "lamp", Price: 100.0}); err != nil {
		t.Fatalf("HTTP create: %v", err)
	}
	got, err := surrealdb.Select[product](ctx, db, models.NewRecordID("product", 1))
	if err != nil || got.Price != 100.0 || got.Name != "lamp" {
		t.Fatalf("HTTP select = %+v, %v", got, err)
	}
}

func TestHTTPRPCJSON(t *testing.T) {
	t.Parallel()
	cfg := testenv.Get(t).NewSurreal(t)
	post := func(user, pass string, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, httpBase(t)+"/rpc", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Surreal-NS", cfg.Namespace)
		req.Header.Set("Surreal-DB", cfg.Database)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	q := `{"id":"q1","method":"query","params":["CREATE item:1 SET n = $n; SELECT * FROM item", {"n": 42}]}`
	if code, out := post("", "", q); code != http.StatusOK || out["error"] == nil {
		t.Fatalf("anonymous POST /rpc = %d %v, want an error", code, out)
	}
	if code, _ := post("root", "wrong", q); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", code)
	}
	code, out := post(cfg.Username, cfg.Password.Reveal(), q)
	if code != http.StatusOK || out["id"] != "q1" {
		t.Fatalf("POST /rpc = %d %v", code, out)
	}
	results := out["result"].([]any)
	rows := results[1].(map[string]any)["result"].([]any)
	if row := rows[0].(map[string]any); row["id"] != "item:1" || row["n"] != 42.0 {
		t.Fatalf("JSON row = %v, want id item:1 n 42", row)
	}
}

// TestWebSocketJSON speaks the json subprotocol, as older clients do.
func TestWebSocketJSON(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	d := websocket.Dialer{Subprotocols: []string{"json"}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(env.Surreal.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if resp.Header.Get("Sec-WebSocket-Protocol") != "json" {
		t.Fatalf("negotiated %q, want json", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	call := func(req string) map[string]any {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := ws.ReadJSON(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := call(`{"id":1,"method":"query","params":["RETURN 1"]}`); out["error"] == nil {
		t.Fatalf("anonymous query = %v, want an error", out)
	}
	out := call(`{"id":2,"method":"signin","params":[{"user":"root","pass":"` + env.Surreal.Password.Reveal() + `"}]}`)
	if out["error"] != nil || out["id"] != 2.0 {
		t.Fatalf("signin = %v", out)
	}
	out = call(`{"id":3,"method":"query","params":["RETURN $x * 2", {"x": 21}]}`)
	res := out["result"].([]any)[0].(map[string]any)
	if res["result"] != 42.0 {
		t.Fatalf("query = %v, want 42", out)
	}
}

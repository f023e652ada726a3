package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// assetPrefix is where the stylesheet and the script are served.
const assetPrefix = "/ui/assets/"

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"count":     fmtCount,
	"seconds":   fmtSeconds,
	"rfc3339":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"direction": directionLabel,
	"labels":    fmtLabels,
	"interval":  fmtInterval,
}).ParseFS(templateFS, "templates/*.html"))

// pageData is what the page template shows.
type pageData struct {
	Version string
	// PollMS and WindowS tell the script how often to poll and how much
	// to keep.
	PollMS  int64
	WindowS int64
	// Poll and Window are the same for people.
	Poll, Window time.Duration
	Charts       []chart
	CSS, JS      string
	Panels       *snapshot
}

// render executes a template into a buffer first, so a failure sends a
// clean 500 instead of half a page.
func (h *handler) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		h.log.Error("rendering the dashboard", "template", name, "err", err)
		http.Error(w, "rendering the dashboard failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// assetVersions are the assets' content hashes: the page links
// name?v=hash, so a browser may cache an asset for as long as it likes.
var assetVersions = func() map[string]string {
	v := map[string]string{}
	entries, _ := fs.ReadDir(assetFS, "assets")
	for _, e := range entries {
		b, _ := fs.ReadFile(assetFS, "assets/"+e.Name())
		sum := sha256.Sum256(b)
		v[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return v
}()

func assetURL(name string) string { return assetPrefix + name + "?v=" + assetVersions[name] }

// assetHandler serves the embedded stylesheet and script.
func assetHandler() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix(assetPrefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, assetPrefix)
		if _, ok := assetVersions[name]; !ok {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

// Ago says how long before the snapshot t was: "12 s ago".
func (s *snapshot) Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := s.Time.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return fmtDuration(d) + " ago"
}

// Until says how long after the snapshot t is: "in 5 h".
func (s *snapshot) Until(t time.Time) string {
	d := t.Sub(s.Time)
	if d < time.Second {
		return "now"
	}
	return "in " + fmtDuration(d)
}

// fmtDuration is a duration in its largest unit: "12 s", "5 min", "3 h",
// "2 d".
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " d"
}

// fmtInterval is a configured interval: "2 s", "10 min", "500 ms".
func fmtInterval(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d >= time.Second && d%time.Second == 0:
		return strconv.Itoa(int(d.Seconds())) + " s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// fmtCount is a whole number with thousands separators; "—" for Unknown
// or anything not finite.
func fmtCount(v any) string {
	var f float64
	switch n := v.(type) {
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	case float64:
		f = n
	default:
		return "—"
	}
	if !finite(f) || f < 0 {
		return "—"
	}
	s := strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtSeconds is a latency or lag: "350 µs", "12 ms", "1.5 s", "3 min".
func fmtSeconds(v float64) string {
	switch {
	case !finite(v) || v < 0:
		return "—"
	case v == 0:
		return "0 s"
	case v < 0.001:
		return strconv.FormatFloat(v*1e6, 'f', 0, 64) + " µs"
	case v < 1:
		return strconv.FormatFloat(v*1000, 'f', 0, 64) + " ms"
	case v < 60:
		return strconv.FormatFloat(v, 'f', 1, 64) + " s"
	}
	return fmtDuration(time.Duration(v * float64(time.Second)))
}

// fmtBytes is a size in binary units: "1.5 GiB".
func fmtBytes(v float64) string {
	if !finite(v) || v < 0 {
		return "—"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// directionLabel names a TableCount.Direction for people.
func directionLabel(d string) string {
	switch d {
	case Forward:
		return "→ SurrealDB"
	case Reverse:
		return "→ PostgreSQL"
	case TwoWay:
		return "⇄ both ways"
	}
	return d
}

// fmtLabels are an alert's labels, sorted: "table=orders, winner=postgres".
func fmtLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ", ")
}

// Difference is SurrealDB's count minus PostgreSQL's; ok is false when
// either is unknown.
func (r tableRow) Difference() (int64, bool) {
	if r.PostgresRows < 0 || r.SurrealRecords < 0 {
		return 0, false
	}
	return r.SurrealRecords - r.PostgresRows, true
}

// DifferenceText is Difference for the page: "", "+3" or "−2".
func (r tableRow) DifferenceText() string {
	d, ok := r.Difference()
	if !ok || d == 0 {
		return ""
	}
	if d > 0 {
		return "+" + fmtCount(d)
	}
	return "−" + fmtCount(-d)
}

package config

import (
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// redacted is what a non-empty Secret prints as.
const redacted = "[redacted]"

// Secret is a string that never prints its value: fmt (every verb),
// log/slog, encoding/json and encoding.TextMarshaler (so YAML too) all see
// [redacted], or "" when the secret is empty so that "unset" stays visible.
// Call Reveal at the one place the value is really needed.
type Secret string

var (
	_ fmt.Stringer           = Secret("")
	_ fmt.Formatter          = Secret("")
	_ fmt.GoStringer         = Secret("")
	_ json.Marshaler         = Secret("")
	_ encoding.TextMarshaler = Secret("")
	_ slog.LogValuer         = Secret("")
)

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns [redacted], or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format prints String for every verb, quoted for %q and %#v, so no verb
// (%x included) can reach the underlying bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q', verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(strconv.Quote(s.String())))
	default:
		_, _ = f.Write([]byte(s.String()))
	}
}

// MarshalJSON writes "[redacted]" or "".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes [redacted] or nothing.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue makes slog print [redacted] when a Secret is logged directly.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Package config holds pgsurreal's configuration as typed data.
//
// A Config is built in layers, each overriding the one before it:
// Default(), then a YAML file read strictly (unknown keys, wrong types and
// duplicate keys are errors, with file:line), then PGSURREAL_<SECTION>_<KEY>
// environment variables, then --set key=value flags. Validate runs last.
// Load does all of this; every user mistake comes back as an *Error (several
// may be joined with errors.Join) so the CLI can tell them apart from
// internal failures and exit with a usage code.
//
// Scalar values in the file may read the environment with ${VAR} or
// ${VAR:-default}, which is how secrets stay out of the file; $${ writes a
// literal ${. Secrets are held in the Secret type, which prints as
// [redacted] through fmt, slog, encoding/json and encoding.TextMarshaler, so
// a whole Config can be logged safely.
//
// Besides scalars (strings, integers, booleans, durations) a key may hold a
// list of scalars, such as sync.include: a YAML sequence in the file, items
// separated by commas in a variable or --set (the empty value is the empty
// list). Two shapes can only come from the file, as they have no one-line
// form: a mapping of names to scalars (sync.tables[0].transforms) and a
// list of mappings (sync.tables), whose items are decoded as strictly as
// sections. Items have keys with a 0-based index, such as
// sync.tables[2].name, in errors and in Config.Sources. A layer that sets a
// list or mapping replaces it whole.
//
// The environment variable names and the dotted keys accepted by --set are
// derived by reflection from the yaml tags of Config, so adding a field to a
// section is all it takes to make it settable in all three layers.
package config

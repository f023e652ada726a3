package cli

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/buildinfo"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the pgsurreal version",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(a.stdout, buildinfo.String())
			return err
		},
	}
}

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
	}
	var asJSON bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Load and validate the configuration, then print it with secrets redacted",
		Long: `Load the configuration the way every command does (defaults, file,
PGSURREAL_* variables, --set flags), validate it and print the result with
secrets redacted. Exit code 2 and one line per problem when it is invalid.`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if asJSON {
				// Secrets marshal redacted; a password written into a URL
				// (publish.nats_url, federation.cache.redis, ...) is
				// redacted here.
				raw, err := json.Marshal(a.cfg)
				if err != nil {
					return err
				}
				var tree any
				if err := json.Unmarshal(raw, &tree); err != nil {
					return err
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(redactURLs(tree))
			}
			c := a.cfg
			fmt.Fprintf(a.stdout, "configuration is valid\n")
			fmt.Fprintf(a.stdout, "postgres: %s\n", c.Postgres.Redacted())
			fmt.Fprintf(a.stdout, "surreal:  %s\n", c.Surreal.Redacted())
			fmt.Fprintf(a.stdout, "dev:      dir=%s surreal_port=%d surreal_storage=%s\n", c.Dev.Dir, c.Dev.SurrealPort, c.Dev.SurrealStorage)
			fmt.Fprintf(a.stdout, "http:     listen=%s token=%s\n", c.HTTP.Listen, c.HTTP.Token)
			fmt.Fprintf(a.stdout, "log:      level=%s format=%s\n", c.Log.Level, c.Log.Format)
			return nil
		},
	}
	check.Flags().BoolVar(&asJSON, "json", false, "print the configuration as JSON")
	cmd.AddCommand(check)
	return cmd
}

// redactURLs replaces the password of every URL among the strings of a
// decoded JSON tree with "xxxxx".
func redactURLs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = redactURLs(e)
		}
	case []any:
		for i, e := range x {
			x[i] = redactURLs(e)
		}
	case string:
		if u, err := url.Parse(x); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				return u.Redacted()
			}
		}
	}
	return v
}

// Command pgsurreal replicates, queries and transacts across PostgreSQL and
// SurrealDB. See README.md and docs/.
package main

import (
	"os"

	"github.com/pgsurreal/pgsurreal/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}

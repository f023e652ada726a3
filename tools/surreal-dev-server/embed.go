// Package devserver carries the SurrealDB dev server's sources (a Node
// program) inside the pgsurreal binary, so `pgsurreal dev up` can install
// and run it from any directory. The files are the ones in this folder.
package devserver

import "embed"

// Files holds server.mjs, lib/ and the pinned package.json/package-lock.json.
//
//go:embed server.mjs lib/*.mjs package.json package-lock.json
var Files embed.FS

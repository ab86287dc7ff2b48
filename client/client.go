// Package client holds epchat's browser client library: plain ES modules
// (index.js and the modules it imports; mls/scheme.js for authenticated
// rooms), with no build step and no runtime dependency beyond the
// vendored MLS bundle, embedded so that a Go host can serve them next to its Hub
// with no Node.js anywhere:
//
//	mux.Handle("/lib/", http.StripPrefix("/lib/", http.FileServerFS(client.FS())))
//
// A page then imports it with
//
//	import { Client } from './lib/index.js';
//
// README.md in this directory is the library's documentation: its API,
// an example host page and its events.
package client

import (
	"embed"
	"io/fs"
)

//go:embed *.js mls/*.js vendor/ts-mls.js
var files embed.FS

// FS returns the library's files: the ES modules at its root, index.js
// first among them, and the authenticated rooms' scheme (mls/scheme.js,
// which a page imports on its own) with the MLS core and the vendored
// ts-mls bundle it loads. It holds no tests, no package metadata and no
// node_modules. The file system is read-only and safe for concurrent use.
func FS() fs.FS { return files }

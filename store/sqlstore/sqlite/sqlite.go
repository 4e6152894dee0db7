// Package sqlite links SQLite into sqlstore: import it for its effect,
// and sqlstore.Open takes sqlite: URLs (through modernc.org/sqlite, pure
// Go, no C compiler needed).
//
//	import _ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite"
package sqlite

import _ "modernc.org/sqlite" // registers database/sql's "sqlite"

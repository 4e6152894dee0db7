//go:build oauthkit_pgx

package cli

// PostgreSQL through pgx, for builds with -tags oauthkit_pgx (the commands'
// tests run on it too); lib/pq is not linked then.
import _ "github.com/oauthkit/oauthkit/store/sqlstore/pgx"

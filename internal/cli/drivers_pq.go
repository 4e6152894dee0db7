//go:build !oauthkit_pgx

package cli

// PostgreSQL through lib/pq, the default; building with -tags
// oauthkit_pgx links pgx instead (drivers_pgx.go).
import _ "github.com/oauthkit/oauthkit/store/sqlstore/postgres"

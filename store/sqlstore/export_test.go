package sqlstore

import (
	"context"

	"github.com/oauthkit/oauthkit/store"
)

// WalkOwnTable and WalkDriven force how PostgreSQL walks the refresh-token
// rules that follow the access token's expiry, so tests run both walks on
// tables too small for the planner's estimates to tell.
func WalkOwnTable() Option { return func(c *config) { c.walk = walkOwn } }
func WalkDriven() Option   { return func(c *config) { c.walk = walkDriven } }

// CursorWalk is the walk a PostgreSQL cursor goes on with: "driven",
// "own", or "" (not decided, or not a PostgreSQL cursor).
func CursorWalk(c store.Cursor) string {
	cur, err := parseTIDCursor(c)
	if err != nil {
		return ""
	}
	return map[walkChoice]string{walkDriven: "driven", walkOwn: "own"}[cur.walk]
}

// ServerKind is what a MySQL-dialect store has learnt of its server:
// whether it is MariaDB and whether it is a Galera node, as the batches
// and the lock ask it.
func ServerKind(ctx context.Context, s *Store) (mariadb, galera bool, err error) {
	d := s.d.(mysqlDialect)
	if mariadb, err = d.isMariaDB(ctx, s); err != nil {
		return false, false, err
	}
	galera, err = d.isGalera(ctx, s)
	return mariadb, galera, err
}

package sqlstore

import "github.com/oauthkit/oauthkit/store"

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

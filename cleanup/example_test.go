package cleanup_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

// Clean a database the way DOT's cleartokens does. Here it is a fresh
// SQLite file with one access token that expired an hour ago.
func ExampleClear() {
	dir, _ := os.MkdirTemp("", "oauthkit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "db.sqlite3"), sqlstore.AllowCreate())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil { // DOT 3.4.1's tables
		fmt.Println(err)
		return
	}
	// What a server wrote an hour ago. TimeValue is how DOT stores a time
	// in this database (Django's text form, on SQLite).
	db, _ := sql.Open("sqlite", filepath.Join(dir, "db.sqlite3"))
	defer db.Close()
	expired := st.TimeValue(time.Now().Add(-time.Hour))
	if _, err := db.Exec(`INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, created, updated, resource)
		VALUES ('t', 'c', ?, 'read', ?, ?, '[]')`, expired, expired, expired); err != nil {
		fmt.Println(err)
		return
	}

	rep, err := cleanup.Clear(ctx, cleanup.Options{Store: st, RefreshTokenExpire: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rules:", rep.Rules)
	for _, step := range rep.Steps {
		fmt.Println(step.Line())
	}
	// Output:
	// rules: dot-3.4
	// 0 Revoked refresh tokens deleted
	// 0 Orphaned refresh tokens deleted
	// 0 Expired refresh tokens deleted
	// 1 Expired access tokens deleted
	// 0 Expired ID tokens deleted
	// 0 Expired grant tokens deleted
}

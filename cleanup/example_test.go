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
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite" // links SQLite
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
		if step.Skipped {
			// Here: DOT main's pushed-authorization-request step, as
			// DOT 3.4.1's tables have no such table.
			fmt.Println("skipped:", step.Name)
			continue
		}
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
	// skipped: expired_pushed_authorization_requests
}

// Delete the expired CIMD-registered applications that hold no live
// tokens, as DOT 3.4.1's clearcimdapplications does.
func ExampleClearCIMDApplications() {
	dir, _ := os.MkdirTemp("", "oauthkit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "db.sqlite3"), sqlstore.AllowCreate())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}
	// Two applications a CIMD registration made; their metadata cache
	// expired an hour ago. One still has a live grant.
	db, _ := sql.Open("sqlite", filepath.Join(dir, "db.sqlite3"))
	defer db.Close()
	past, future := st.TimeValue(time.Now().Add(-time.Hour)), st.TimeValue(time.Now().Add(time.Hour))
	for _, id := range []string{"https://a.example/client.json", "https://b.example/client.json"} {
		db.Exec(`INSERT INTO oauth2_provider_application (client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name,
			skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins, registration_source, cimd_expires_at)
			VALUES (?, 'https://a.example/cb', 'public', 'authorization-code', '', '', false, ?, ?, '', '', true, '', 'cimd', ?)`, id, past, past, past) //nolint:errcheck
	}
	db.Exec(`INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
		VALUES ('!', false, 'u', '', '', '', false, true, ?)`, past) //nolint:errcheck
	db.Exec(`INSERT INTO oauth2_provider_grant (code, expires, redirect_uri, scope, application_id, user_id, created, updated,
		code_challenge, code_challenge_method, nonce, claims, resource) VALUES ('c', ?, 'https://b.example/cb', 'read', 2, 1, ?, ?, '', '', '', '', '[]')`, future, past, past) //nolint:errcheck

	rep, err := cleanup.ClearCIMDApplications(ctx, cleanup.CIMDOptions{Store: st})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Line())
	fmt.Println("kept:", rep.Kept)
	// Output:
	// Deleted 1 expired CIMD application(s)
	// kept: 1
}

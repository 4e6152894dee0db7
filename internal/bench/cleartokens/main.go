// Command cleartokens-bench compares, on identical PostgreSQL copies of a
// DOT 3.0.1 database, (a) cleanup.Clear, (b) DOT's own query pattern
// reproduced in Go and (c) one unbatched DELETE per step, the floor.
// Each variant runs in a child process so its peak RSS is its own.
//
//	go run ./internal/bench/cleartokens -n 100000,1000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

const batchSize = 10000

var expire = 24 * time.Hour

type result struct {
	Variant string        `json:"variant"`
	Deleted int64         `json:"deleted"`
	Elapsed time.Duration `json:"elapsed"`
	MaxRSS  int64         `json:"max_rss_kb"`
	Left    string        `json:"left"`
}

func main() {
	ns := flag.String("n", "100000,1000000", "comma-separated numbers of access tokens to seed")
	variants := flag.String("variants", "a,b,c", "variants to run: a (oauthkit), b (DOT's pattern), c (unbatched floor), a-id (oauthkit walking by id)")
	base := flag.String("postgres", envOr("OAUTHKIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL URL")
	child := flag.String("child", "", "internal: run one variant against -url")
	childURL := flag.String("url", "", "internal")
	nowFlag := flag.String("now", "", "internal")
	flag.Parse()
	if *child != "" {
		now, _ := time.Parse(time.RFC3339Nano, *nowFlag)
		if err := runChild(*child, *childURL, now); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	fmt.Printf("cleartokens benchmark: PostgreSQL, DOT 3.0.1 layout, rules dot-3.3, REFRESH_TOKEN_EXPIRE_SECONDS=86400, batch size %d\n", batchSize)
	fmt.Printf("%-10s %-8s %10s %12s %12s %10s %8s\n", "N", "variant", "deleted", "wall", "rows/s", "peak RSS", "vs (c)")
	for _, s := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		must(err)
		var results []result
		for _, v := range strings.Split(*variants, ",") {
			u, schema := seed(*base, n, now)
			r := runVariant(v, u, now)
			results = append(results, r)
			dropSchema(*base, schema)
		}
		var floor time.Duration
		for _, r := range results {
			if r.Variant == "c" {
				floor = r.Elapsed
			}
		}
		for _, r := range results {
			ratio := "-"
			if floor > 0 {
				ratio = fmt.Sprintf("%.2fx", float64(r.Elapsed)/float64(floor))
			}
			fmt.Printf("%-10d %-8s %10d %12s %12.0f %8.1fMB %8s   left: %s\n", n, r.Variant, r.Deleted, r.Elapsed.Round(time.Millisecond),
				float64(r.Deleted)/r.Elapsed.Seconds(), float64(r.MaxRSS)/1024, ratio, r.Left)
		}
	}
}

func runVariant(v, u string, now time.Time) result {
	exe, err := os.Executable()
	must(err)
	cmd := exec.Command(exe, "-child", v, "-url", u, "-now", now.Format(time.RFC3339Nano))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		panic(fmt.Sprintf("variant %s: %v", v, err))
	}
	var r result
	must(json.Unmarshal(out, &r))
	r.MaxRSS = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	return r
}

func runChild(v, u string, now time.Time) error {
	ctx := context.Background()
	db := sqlx.MustOpen("postgres", u)
	defer db.Close()
	db.MustExec(`CHECKPOINT`)
	start := time.Now()
	var deleted int64
	switch v {
	case "a", "a-id":
		var opts []sqlstore.Option
		if v == "a-id" {
			opts = append(opts, sqlstore.WalkByPrimaryKey())
		}
		st, err := sqlstore.Open(ctx, u, opts...)
		if err != nil {
			return err
		}
		rep, err := cleanup.Clear(ctx, cleanup.Options{Store: st, Rules: cleanup.RulesDOT33, RefreshTokenExpire: expire, BatchSize: batchSize, Now: now})
		if err != nil {
			return err
		}
		deleted = rep.Deleted()
		st.Close()
	case "b":
		deleted = dotPattern(db, now)
	case "c":
		deleted = floor(db, now)
	default:
		return fmt.Errorf("unknown variant %q", v)
	}
	elapsed := time.Since(start)
	runtime.GC()
	var left []string
	for _, t := range []string{"accesstoken", "refreshtoken", "idtoken", "grant"} {
		var c int
		must(db.Get(&c, `SELECT count(*) FROM oauth2_provider_`+t))
		left = append(left, fmt.Sprintf("%s=%d", t, c))
	}
	return json.NewEncoder(os.Stdout).Encode(result{Variant: v, Deleted: deleted, Elapsed: elapsed, Left: strings.Join(left, " ")})
}

// steps are dot-3.3's, as (table, condition, SET_NULL update).
func steps(now time.Time) []struct{ table, cond, null string } {
	ec := now.Add(-expire).Format(time.RFC3339Nano)
	n := now.Format(time.RFC3339Nano)
	return []struct{ table, cond, null string }{
		{"oauth2_provider_refreshtoken", `t.revoked < '` + ec + `'`, `UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (%s)`},
		{"oauth2_provider_refreshtoken", `EXISTS (SELECT 1 FROM oauth2_provider_accesstoken a WHERE a.id = t.access_token_id AND a.expires < '` + ec + `')`, `UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (%s)`},
		{"oauth2_provider_accesstoken", `t.expires < '` + n + `' AND NOT EXISTS (SELECT 1 FROM oauth2_provider_refreshtoken r WHERE r.access_token_id = t.id)`, `UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL WHERE access_token_id IN (%s)`},
		{"oauth2_provider_idtoken", `t.expires < '` + n + `' AND NOT EXISTS (SELECT 1 FROM oauth2_provider_accesstoken a WHERE a.id_token_id = t.id)`, `SELECT id FROM oauth2_provider_accesstoken WHERE id_token_id IN (%s)`},
		{"oauth2_provider_grant", `t.expires < '` + n + `'`, ""},
	}
}

// dotPattern is DOT 3.0.1's batch_delete as its trace shows it: COUNT the
// match set, take the next ids, load those rows, SET_NULL and DELETE them
// in a transaction, COUNT again; per batch.
func dotPattern(db *sqlx.DB, now time.Time) int64 {
	var total int64
	for _, s := range steps(now) {
		from := ` FROM ` + s.table + ` t WHERE ` + s.cond
		var start, cur int64
		must(db.Get(&start, `SELECT count(*)`+from))
		cur = start
		for cur > 0 {
			var ids []int64
			must(db.Select(&ids, `SELECT t.id`+from+` LIMIT `+strconv.Itoa(batchSize)))
			list := joinIDs(ids)
			rows, err := db.Queryx(`SELECT * FROM ` + s.table + ` WHERE id IN (` + list + `)`)
			must(err)
			for rows.Next() {
				m := map[string]any{}
				must(rows.MapScan(m))
			}
			rows.Close()
			tx := db.MustBegin()
			if s.null != "" {
				tx.MustExec(fmt.Sprintf(s.null, list))
			}
			tx.MustExec(`DELETE FROM ` + s.table + ` WHERE id IN (` + list + `)`)
			must(tx.Commit())
			must(db.Get(&cur, `SELECT count(*)`+from))
		}
		var stop int64
		must(db.Get(&stop, `SELECT count(*)`+from))
		total += start - stop
	}
	return total
}

// floor deletes each step's whole match set with one statement.
func floor(db *sqlx.DB, now time.Time) int64 {
	var total int64
	for _, s := range steps(now) {
		q := `WITH del AS (DELETE FROM ` + s.table + ` t WHERE ` + s.cond + ` RETURNING t.id)`
		if strings.HasPrefix(s.null, "UPDATE") {
			q += `, nulled AS (` + fmt.Sprintf(s.null, `SELECT id FROM del`) + `)`
		}
		var n int64
		must(db.Get(&n, q+` SELECT count(*) FROM del`))
		total += n
	}
	return total
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// seed makes a fresh schema with DOT 3.0.1's tables and n access tokens in
// a realistic mix; the same n and now give the same rows every time.
func seed(base string, n int, now time.Time) (string, string) {
	admin := sqlx.MustOpen("postgres", base)
	defer admin.Close()
	schema := fmt.Sprintf("oauthkit_bench_%d_%d", n, time.Now().UnixNano())
	admin.MustExec(`CREATE SCHEMA ` + schema)
	u, err := url.Parse(base)
	must(err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := sqlx.MustOpen("postgres", u.String())
	defer db.Close()
	ddl, err := sqlstoretest.Schema(sqlstore.DialectPostgres, sqlstoretest.DOT301)
	must(err)
	db.MustExec(ddl)
	db.MustExec(`INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES (1, '!', false, 'u', '', '', '', false, true, $1)`, now)
	db.MustExec(`INSERT INTO oauth2_provider_application (id, client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name, user_id,
skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins)
VALUES (1, 'c', '', 'confidential', 'password', '', 'bench', 1, false, $1, $1, '', '', true, '')`, now)
	// Access tokens: 80% expired 1 to 30 days ago, 20% live; every fifth
	// (i % 5 in 0, 1) carries an ID token with the same expiry.
	db.MustExec(`INSERT INTO oauth2_provider_idtoken (id, jti, expires, scope, created, updated, application_id, user_id)
SELECT i, md5(i::text)::uuid, CASE WHEN i % 5 = 0 THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - (i % 30 + 1) * interval '1 day' END, 'openid', $1, $1, 1, 1
FROM generate_series(1, $2) i WHERE i % 5 IN (0, 1)`, now, n)
	db.MustExec(`INSERT INTO oauth2_provider_accesstoken (id, token, token_checksum, expires, scope, application_id, user_id, created, updated, id_token_id)
SELECT i, 'tok' || i, md5('tok' || i) || md5(i::text), CASE WHEN i % 5 = 0 THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - (i % 30 + 1) * interval '1 day' END,
'read write', 1, 1, $1, $1, CASE WHEN i % 5 IN (0, 1) THEN i END
FROM generate_series(1, $2) i`, now, n)
	// 30% of access tokens have a live refresh token; another 10% of N are
	// revoked refresh tokens (DOT unlinks them from their access token),
	// revoked 0 to 9 days ago.
	db.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
SELECT i, 'rt' || i, i, 1, 1, $1, $1, NULL FROM generate_series(1, $2) i WHERE i % 10 IN (0, 4, 7)`, now, n)
	db.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
SELECT $2 + j, 'rv' || j, NULL, 1, 1, $1, $1, $1::timestamptz - (j % 10) * interval '1 day' FROM generate_series(1, $2 / 10) j`, now, n)
	// Rotation: the access token after a revoked refresh token's came from it.
	db.MustExec(`UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = $1 + (id / 10) WHERE id % 10 = 2 AND id / 10 BETWEEN 1 AND $1 / 10`, n)
	db.MustExec(`INSERT INTO oauth2_provider_grant (id, code, expires, redirect_uri, scope, application_id, user_id, created, updated, code_challenge,
code_challenge_method, nonce, claims)
SELECT g, 'code' || g, CASE WHEN g % 10 = 0 THEN $1::timestamptz + interval '10 minutes' ELSE $1::timestamptz - (g % 30) * interval '1 hour' END, 'https://example.com/cb', 'read', 1, 1, $1, $1, '', '', '', ''
FROM generate_series(1, $2 / 10) g`, now, n)
	db.MustExec(`VACUUM ANALYZE`)
	return u.String(), schema
}

func dropSchema(base, schema string) {
	admin := sqlx.MustOpen("postgres", base)
	defer admin.Close()
	admin.MustExec(`DROP SCHEMA ` + schema + ` CASCADE`)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

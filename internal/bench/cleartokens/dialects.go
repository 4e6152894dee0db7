package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

// benchDialect is what the floor and DOT's pattern need to say in each
// database's SQL. The statements are written here, independently of
// sqlstore: they are what oauthkit is measured against.
type benchDialect interface {
	// settle makes the copy's start state even between variants.
	settle(db *sqlx.DB)
	// time is a timestamp as the database stores it.
	time(t time.Time) any
	// nullSources nulls accesstoken.source_refresh_token_id for the refresh
	// tokens a condition on t (refreshtoken) and a (its access token) selects.
	nullSources(cond string, joinAccess bool) string
	// deleteRefresh deletes the refresh tokens such a condition selects.
	deleteRefresh(cond string, joinAccess bool) string
	// deleteWhere deletes from a table (aliased t) where cond holds.
	deleteWhere(table, cond string) string
}

func dialectOf(d sqlstore.Dialect) benchDialect {
	switch d {
	case sqlstore.DialectSQLite:
		return sqliteBench{}
	case sqlstore.DialectMySQL:
		return mysqlBench{}
	}
	return postgresBench{}
}

const (
	access  = "oauth2_provider_accesstoken"
	refresh = "oauth2_provider_refreshtoken"
	idtoken = "oauth2_provider_idtoken"
	grant   = "oauth2_provider_grant"
)

type postgresBench struct{}

func (postgresBench) settle(db *sqlx.DB)   { db.MustExec(`CHECKPOINT`) }
func (postgresBench) time(t time.Time) any { return t.UTC() }
func (postgresBench) nullSources(cond string, joinAccess bool) string {
	from := refresh + ` t`
	if joinAccess {
		from += ` JOIN ` + access + ` a ON a.id = t.access_token_id`
	}
	return `UPDATE ` + access + ` SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (SELECT t.id FROM ` + from + ` WHERE ` + cond + `)`
}
func (postgresBench) deleteRefresh(cond string, joinAccess bool) string {
	if joinAccess {
		return `DELETE FROM ` + refresh + ` t USING ` + access + ` a WHERE a.id = t.access_token_id AND ` + cond
	}
	return `DELETE FROM ` + refresh + ` t WHERE ` + cond
}
func (postgresBench) deleteWhere(table, cond string) string {
	return `DELETE FROM ` + table + ` t WHERE ` + cond
}

type sqliteBench struct{}

func (sqliteBench) settle(db *sqlx.DB)   { db.MustExec(`PRAGMA wal_checkpoint(TRUNCATE)`) }
func (sqliteBench) time(t time.Time) any { return sqlstore.DjangoSQLiteTime(t) }
func (sqliteBench) nullSources(cond string, joinAccess bool) string {
	return postgresBench{}.nullSources(cond, joinAccess)
}
func (sqliteBench) deleteRefresh(cond string, joinAccess bool) string {
	if joinAccess {
		return `DELETE FROM ` + refresh + ` AS t WHERE EXISTS (SELECT 1 FROM ` + access + ` a WHERE a.id = t.access_token_id AND ` + cond + `)`
	}
	return `DELETE FROM ` + refresh + ` AS t WHERE ` + cond
}
func (sqliteBench) deleteWhere(table, cond string) string {
	return `DELETE FROM ` + table + ` AS t WHERE ` + cond
}

type mysqlBench struct{}

// settle waits (a minute at most) for InnoDB to write out most of the
// seed's dirty pages, so that a run does not start in the seed's flushing.
func (mysqlBench) settle(db *sqlx.DB) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var name string
		var dirty, total int64
		must(db.QueryRow(`SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'`).Scan(&name, &dirty))
		must(db.QueryRow(`SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_total'`).Scan(&name, &total))
		if dirty*10 < total {
			return
		}
	}
}
func (mysqlBench) time(t time.Time) any {
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}

// MySQL cannot update a table it reads in a subquery: the SET_NULL joins.
func (mysqlBench) nullSources(cond string, joinAccess bool) string {
	join := ``
	if joinAccess {
		join = ` JOIN ` + access + ` a ON a.id = t.access_token_id`
	}
	return `UPDATE ` + access + ` x JOIN ` + refresh + ` t ON x.source_refresh_token_id = t.id` + join + ` SET x.source_refresh_token_id = NULL WHERE ` + cond
}
func (mysqlBench) deleteRefresh(cond string, joinAccess bool) string {
	if joinAccess {
		return `DELETE t FROM ` + refresh + ` t JOIN ` + access + ` a ON a.id = t.access_token_id WHERE ` + cond
	}
	return `DELETE t FROM ` + refresh + ` t WHERE ` + cond
}
func (mysqlBench) deleteWhere(table, cond string) string {
	return `DELETE t FROM ` + table + ` t WHERE ` + cond
}

// step is one step of a rule set, for the floor and DOT's pattern.
type step struct {
	name       string
	table      string
	cond       string // on t (and a, the access token, when joinAccess)
	joinAccess bool
	args       func(now time.Time) []time.Time
	// dotNull is what DOT's collector runs for a batch of ids (%s).
	dotNull string
}

func dot33Steps() []step {
	expired := func(now time.Time) []time.Time { return []time.Time{now.Add(-expire)} }
	at := func(now time.Time) []time.Time { return []time.Time{now} }
	return []step{
		{"revoked_refresh_tokens", refresh, `t.revoked < ?`, false, expired,
			`UPDATE ` + access + ` SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (%s)`},
		{"expired_refresh_tokens", refresh, `a.expires < ?`, true, expired,
			`UPDATE ` + access + ` SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (%s)`},
		{"expired_access_tokens", access, `t.expires < ? AND NOT EXISTS (SELECT 1 FROM ` + refresh + ` r WHERE r.access_token_id = t.id)`, false, at,
			`UPDATE ` + refresh + ` SET access_token_id = NULL WHERE access_token_id IN (%s)`},
		{"expired_id_tokens", idtoken, `t.expires < ? AND NOT EXISTS (SELECT 1 FROM ` + access + ` a WHERE a.id_token_id = t.id)`, false, at,
			`SELECT id FROM ` + access + ` WHERE id_token_id IN (%s)`},
		{"expired_grants", grant, `t.expires < ?`, false, at, ``},
	}
}

// dot34Steps are DOT 3.4.1's six (no grace period, no reuse protection):
// every revoked refresh token goes, then orphans, then live ones whose
// access token expired REFRESH_TOKEN_EXPIRE_SECONDS ago.
func dot34Steps() []step {
	s := dot33Steps()
	expired := func(now time.Time) []time.Time { return []time.Time{now.Add(-expire)} }
	at := func(now time.Time) []time.Time { return []time.Time{now} }
	none := func(time.Time) []time.Time { return nil }
	revoked, orphaned, live := s[0], s[0], s[1]
	revoked.cond, revoked.args = `t.revoked <= ?`, at
	orphaned.name, orphaned.cond, orphaned.args = "orphaned_refresh_tokens", `t.revoked IS NULL AND t.access_token_id IS NULL`, none
	live.cond, live.args = `t.revoked IS NULL AND a.expires <= ?`, expired
	return append([]step{revoked, orphaned, live}, s[2:]...)
}

func stepsOf(r cleanup.Rules) []step {
	if r == cleanup.RulesDOT34 {
		return dot34Steps()
	}
	return dot33Steps()
}

func (s step) bind(d benchDialect, now time.Time) []any {
	var out []any
	for _, t := range s.args(now) {
		out = append(out, d.time(t))
	}
	return out
}

// floor runs each step as a DBA would: in autocommit, the SET_NULL UPDATE
// of the refresh steps first (foreign keys checked at once need it), then
// one DELETE.
func floor(db *sqlx.DB, d benchDialect, r cleanup.Rules, now time.Time) []stepTime {
	var out []stepTime
	for _, s := range stepsOf(r) {
		start := time.Now()
		args := s.bind(d, now)
		del := d.deleteWhere(s.table, s.cond)
		if s.table == refresh {
			db.MustExec(db.Rebind(d.nullSources(s.cond, s.joinAccess)), args...)
			del = d.deleteRefresh(s.cond, s.joinAccess)
		}
		res := db.MustExec(db.Rebind(del), args...)
		n, err := res.RowsAffected()
		must(err)
		out = append(out, stepTime{Name: s.name, Deleted: n, Elapsed: time.Since(start)})
	}
	return out
}

// dotPattern is DOT 3.0.1's batch_delete as its trace shows it: COUNT the
// match set, take the next ids, load those rows, SET_NULL and DELETE them
// in a transaction, COUNT again; per batch.
func dotPattern(db *sqlx.DB, d benchDialect, r cleanup.Rules, now time.Time) []stepTime {
	var out []stepTime
	for _, s := range stepsOf(r) {
		begin := time.Now()
		args := s.bind(d, now)
		from := ` FROM ` + s.table + ` t WHERE ` + s.cond
		if s.joinAccess {
			from = ` FROM ` + refresh + ` t WHERE EXISTS (SELECT 1 FROM ` + access + ` a WHERE a.id = t.access_token_id AND ` + s.cond + `)`
		}
		var start, cur int64
		must(db.Get(&start, db.Rebind(`SELECT count(*)`+from), args...))
		cur = start
		for cur > 0 {
			var ids []int64
			must(db.Select(&ids, db.Rebind(`SELECT t.id`+from+` LIMIT `+strconv.Itoa(batchSize)), args...))
			list := joinIDs(ids)
			rows, err := db.Queryx(`SELECT * FROM ` + s.table + ` WHERE id IN (` + list + `)`)
			must(err)
			for rows.Next() {
				m := map[string]any{}
				must(rows.MapScan(m))
			}
			rows.Close()
			tx := db.MustBegin()
			if strings.HasPrefix(s.dotNull, "UPDATE") {
				tx.MustExec(fmt.Sprintf(s.dotNull, list))
			} else if s.dotNull != "" {
				var refs []int64
				must(tx.Select(&refs, fmt.Sprintf(s.dotNull, list)))
			}
			tx.MustExec(`DELETE FROM ` + s.table + ` WHERE id IN (` + list + `)`)
			must(tx.Commit())
			must(db.Get(&cur, db.Rebind(`SELECT count(*)`+from), args...))
		}
		var stop int64
		must(db.Get(&stop, db.Rebind(`SELECT count(*)`+from), args...))
		out = append(out, stepTime{Name: s.name, Deleted: start - stop, Elapsed: time.Since(begin)})
	}
	return out
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// floorCLI is the floor typed into the sqlite3 command line: the engine's
// own speed, with no driver between (each step one sqlite3 process, its
// start included).
func floorCLI(path string, d benchDialect, r cleanup.Rules, now time.Time) []stepTime {
	var out []stepTime
	for _, s := range stepsOf(r) {
		lit := func(q string) string {
			for _, a := range s.bind(d, now) {
				q = strings.Replace(q, "?", "'"+fmt.Sprint(a)+"'", 1)
			}
			return q
		}
		script := "PRAGMA foreign_keys = ON;\n"
		del := d.deleteWhere(s.table, s.cond)
		if s.table == refresh {
			script += lit(d.nullSources(s.cond, s.joinAccess)) + ";\n"
			del = d.deleteRefresh(s.cond, s.joinAccess)
		}
		script += lit(del) + ";\nSELECT changes();\n"
		start := time.Now()
		cmd := exec.Command("sqlite3", "-batch", path)
		cmd.Stdin = strings.NewReader(script)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		must(err)
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		must(err)
		out = append(out, stepTime{Name: s.name, Deleted: n, Elapsed: time.Since(start)})
	}
	return out
}

package sqlstore

import (
	"fmt"
	"strconv"

	"github.com/oauthkit/oauthkit/store"
)

// tableRole names one of the tables a Store works on.
type tableRole int

const (
	roleApplication tableRole = iota
	roleAccess
	roleRefresh
	roleIDToken
	roleGrant
	roleUser
	roleMigrations
	roleLock
	rolePAR
)

// fk is a foreign key: column of table points at the id of another row.
type fk struct {
	table  tableRole
	column string
}

// rule is one deletion target of DOT's cleartokens as SQL. It is the one
// place the conditions are written: DeleteBatch and CountMatches both
// build their SQL from it, so a dry run cannot drift from a real one.
type rule struct {
	table tableRole
	// own is the condition on the row itself (aliased al); sub is an alias
	// free for a subquery. It holds one "?" for the cutoff when usesCutoff.
	own        func(s *Store, al, sub string) string
	usesCutoff bool
	// keptWhileReferenced: the row stays while a row of that table points
	// at it (an access token with a refresh token, an ID token with an
	// access token).
	keptWhileReferenced *fk
	// setNull is Django's SET_NULL: rows pointing at a deleted row through
	// this key get NULL there, in the same transaction, because DOT's
	// foreign keys have no ON DELETE action.
	setNull *fk
	// drive, when set, says the same rows can be found from another table:
	// the rows of drive.table (aliased al) matching drive.cond, joined
	// through the rule's column drive.column, that also match rest (on the
	// rule's row, aliased al). A walk may go over that table instead (see
	// PostgreSQL's), visiting only the rows that can match.
	drive *drive
}

type drive struct {
	table  tableRole
	column string
	cond   func(al string) string // holds the cutoff's "?"
	rest   func(al string) string // may be ""
}

var sourceRefreshToken = &fk{roleAccess, "source_refresh_token_id"}

var rules = map[store.Target]rule{
	store.RefreshRevokedBefore: {table: roleRefresh, usesCutoff: true, setNull: sourceRefreshToken,
		own: func(_ *Store, al, _ string) string { return al + ".revoked < ?" }},
	store.RefreshRevokedAtOrBefore: {table: roleRefresh, usesCutoff: true, setNull: sourceRefreshToken,
		own: func(_ *Store, al, _ string) string { return al + ".revoked <= ?" }},
	store.RefreshOrphaned: {table: roleRefresh, setNull: sourceRefreshToken,
		own: func(_ *Store, al, _ string) string {
			return al + ".revoked IS NULL AND " + al + ".access_token_id IS NULL"
		}},
	// DOT ≤ 3.3 does not look at revoked here.
	store.RefreshAccessExpiredBefore: {table: roleRefresh, usesCutoff: true, setNull: sourceRefreshToken,
		own: func(s *Store, al, sub string) string {
			return "EXISTS (SELECT 1 FROM " + s.q(roleAccess) + " " + sub + " WHERE " + sub + ".id = " + al + ".access_token_id AND " + sub + ".expires < ?)"
		},
		drive: &drive{table: roleAccess, column: "access_token_id",
			cond: func(al string) string { return al + ".expires < ?" }, rest: func(string) string { return "" }}},
	store.RefreshLiveAccessExpiredAtOrBefore: {table: roleRefresh, usesCutoff: true, setNull: sourceRefreshToken,
		own: func(s *Store, al, sub string) string {
			return al + ".revoked IS NULL AND EXISTS (SELECT 1 FROM " + s.q(roleAccess) + " " + sub + " WHERE " + sub + ".id = " + al + ".access_token_id AND " + sub + ".expires <= ?)"
		},
		drive: &drive{table: roleAccess, column: "access_token_id",
			cond: func(al string) string { return al + ".expires <= ?" }, rest: func(al string) string { return al + ".revoked IS NULL" }}},
	// Django would also set refreshtoken.access_token_id to NULL for a
	// deleted access token; keptWhileReferenced, re-checked by the delete
	// itself, means there is none, so that update is left out. Likewise an
	// ID token's CASCADE to its access token cannot apply.
	store.AccessExpiredBefore: {table: roleAccess, usesCutoff: true, keptWhileReferenced: &fk{roleRefresh, "access_token_id"},
		own: func(_ *Store, al, _ string) string { return al + ".expires < ?" }},
	store.IDTokenExpiredBefore: {table: roleIDToken, usesCutoff: true, keptWhileReferenced: &fk{roleAccess, "id_token_id"},
		own: func(_ *Store, al, _ string) string { return al + ".expires < ?" }},
	store.GrantExpiredBefore: {table: roleGrant, usesCutoff: true,
		own: func(_ *Store, al, _ string) string { return al + ".expires < ?" }},
	// DOT main's last step; no foreign key points at the table.
	store.PARExpiredBefore: {table: rolePAR, usesCutoff: true,
		own: func(_ *Store, al, _ string) string { return al + ".expires < ?" }},
}

// boundRule is a rule for one batch: the SQL of its condition on the
// table aliased "t", with the arguments of its placeholders.
type boundRule struct {
	target    store.Target
	table     string // quoted
	tableName string // as configured, for messages
	cond      string
	args      []any
	// selfCond and selfArgs are the same condition on the table under its
	// own name: MariaDB's single-table DELETE takes no alias.
	selfCond string
	selfArgs []any
	// recheck and recheckArgs are what a DELETE must check again when the
	// batch was chosen under the same snapshot, in the same statement
	// (PostgreSQL's): the row's own condition, which the server
	// re-evaluates on a row updated meanwhile. Whether another table
	// references the row (keptWhileReferenced, by its id, which never
	// changes) reads the same under that snapshot, so probing the index
	// again for every row would buy nothing.
	recheck     string
	recheckArgs []any
	// nullTable and nullColumn are the SET_NULL, when the rule has one.
	nullTable, nullColumn string
	// The drive, when the rule has one: the table (quoted), the join
	// column, the condition on the driving row (alias "a") and the rest on
	// the rule's row (alias "r"; "" for none); the cutoff is args[0].
	driveTable, driveColumn, driveCond, driveRest string
}

// readsOtherRows reports whether the rule's own condition reads a row of
// another table (the refresh-token rules that follow the access token's
// expiry): locking the rule's rows does not keep that condition true.
func (b boundRule) readsOtherRows() bool { return b.driveTable != "" }

// driveWhere is the drive's whole condition: on the driving row (alias
// "a") and, where the rule has one, the rest on its own row (alias "r").
func (b boundRule) driveWhere() string {
	if b.driveRest == "" {
		return b.driveCond
	}
	return b.driveCond + " AND " + b.driveRest
}

func (s *Store) bind(step store.Step) (boundRule, error) {
	r, ok := rules[step.Target]
	if !ok {
		return boundRule{}, fmt.Errorf("unknown deletion target %d", int(step.Target))
	}
	b := boundRule{target: step.Target, table: s.q(r.table), tableName: s.name(r.table)}
	b.cond = s.where(step, nil, "t", 0, &b.args)
	b.selfCond = s.where(step, nil, b.table, 0, &b.selfArgs)
	b.recheck = r.own(s, "t", "j1")
	if r.usesCutoff {
		b.recheckArgs = []any{s.d.timeArg(step.Cutoff)}
	}
	if r.setNull != nil {
		b.nullTable, b.nullColumn = s.q(r.setNull.table), r.setNull.column
	}
	if dr := r.drive; dr != nil {
		b.driveTable, b.driveColumn, b.driveCond, b.driveRest = s.q(dr.table), dr.column, dr.cond("a"), dr.rest("r")
	}
	return b, nil
}

// where is the SQL condition that holds for the rows of step's table
// (aliased al) that the step deletes once the earlier steps of the same
// run have run: rows an earlier step deletes neither count as pointing at
// a row nor are deleted again. With no earlier steps it is the condition
// a batch re-checks. Arguments are appended to args in placeholder order.
func (s *Store) where(step store.Step, earlier []store.Step, al string, depth int, args *[]any) string {
	r := rules[step.Target]
	d := strconv.Itoa(depth + 1)
	cond := r.own(s, al, "j"+d)
	if r.usesCutoff {
		*args = append(*args, s.d.timeArg(step.Cutoff))
	}
	for i, e := range earlier {
		if rules[e.Target].table == r.table && e.Target != step.Target {
			cond += " AND NOT " + s.definitely(e, earlier[:i], al, depth, args)
		}
	}
	if k := r.keptWhileReferenced; k != nil {
		x := "k" + d
		cond += " AND NOT EXISTS (SELECT 1 FROM " + s.q(k.table) + " " + x + " WHERE " + x + "." + k.column + " = " + al + ".id"
		for i, e := range earlier {
			if rules[e.Target].table == k.table {
				cond += " AND NOT " + s.definitely(e, earlier[:i], x, depth+1, args)
			}
		}
		cond += ")"
	}
	return cond
}

// definitely is where with SQL's NULL read as false: "revoked < x" is NULL
// for a token never revoked, and NOT of NULL would drop the row too.
func (s *Store) definitely(step store.Step, earlier []store.Step, al string, depth int, args *[]any) string {
	return "COALESCE((" + s.where(step, earlier, al, depth, args) + "), FALSE)"
}

package main

import (
	"fmt"
	"strings"
)

// A shape is how the benchmark's rows look: which ids hold what, and how
// old each is. Users' tables differ (a table cleaned every hour, one
// neglected for a year, rows expiring in id order or not), and where the
// matches sit decides how a batched walk performs, so the benchmark runs
// over several.
//
// A shape is written as SQL expressions over the slot number i (1…slots),
// the same on every database: each slot holds an access token (with or
// without an ID token of the same expiry and a live refresh token linked
// to it) or a revoked refresh token with no access token, as DOT leaves a
// rotated one. A slot's rows all have its id, so copies are identical.
// Grants are a table of their own, g = 1…grants.
type shape struct {
	name, about string
	slots       func(n int64) int64
	grants      func(n int64) int64
	// Boolean expressions over i: the slot holds an access token, an ID
	// token, a live refresh token, a revoked refresh token.
	access, idToken, liveRefresh, revoked func(q sqlOps, n int64) string
	// Seconds from now: an access token's expiry, a refresh token's
	// revocation, a grant's expiry (over g).
	expires, revokedAt, grantExpires func(q sqlOps, n int64) string
	// source is the refresh token an access token was rotated from (a
	// revoked one's slot), or NULL.
	source func(q sqlOps, n int64) string
}

// sqlOps is the little SQL that differs between databases in a shape.
type sqlOps interface {
	div(a, b string) string
}

// scatter is a pseudo-random number 0…99 for slot expression i, one
// sequence per salt: matches spread evenly through the ids, the same on
// every database. i * p stays far inside 64 bits for any benchmark size.
func scatter(i string, salt int) string {
	p := []int64{2654435761, 40503, 2246822519, 3266489917, 668265263, 374761393, 1181783497}[salt]
	return fmt.Sprintf("((((%s) * %d) %% 1000003) %% 100)", i, p%1000003)
}

func constant(s string) func(sqlOps, int64) string { return func(sqlOps, int64) string { return s } }

func plusTenth(n int64) int64 { return n + n/10 }

var shapes = []shape{
	{
		name: "mix", about: "the benchmark's first mix: 80 % of access tokens expired (all but every fifth id), revoked refresh tokens after them",
		slots: plusTenth, grants: func(n int64) int64 { return n / 10 },
		access: func(_ sqlOps, n int64) string { return fmt.Sprintf("i <= %d", n) },
		idToken: func(_ sqlOps, n int64) string {
			return fmt.Sprintf("i <= %d AND i %% 5 IN (0, 1)", n)
		},
		liveRefresh: func(_ sqlOps, n int64) string {
			return fmt.Sprintf("i <= %d AND i %% 10 IN (0, 4, 7)", n)
		},
		revoked:   func(_ sqlOps, n int64) string { return fmt.Sprintf("i > %d", n) },
		expires:   constant("CASE WHEN i % 5 = 0 THEN 3600 ELSE -86400 * (i % 30 + 1) END"),
		revokedAt: func(_ sqlOps, n int64) string { return fmt.Sprintf("-86400 * ((i - %d) %% 10)", n) },
		source: func(q sqlOps, n int64) string {
			return fmt.Sprintf("CASE WHEN i <= %d AND i %% 10 = 2 AND i >= 10 THEN %d + %s END", n, n, q.div("i", "10"))
		},
		grantExpires: constant("CASE WHEN i % 10 = 0 THEN 600 ELSE -3600 * (i % 30) END"),
	},
	{
		name: "spread", about: "matches spread evenly and sparsely through the ids: 35 % of access tokens expired, 40–50 % of refresh tokens, 30 % of grants",
		slots: plusTenth, grants: func(n int64) int64 { return n / 10 },
		access:      func(_ sqlOps, _ int64) string { return scatter("i", 0) + " >= 9" },
		idToken:     func(_ sqlOps, _ int64) string { return scatter("i", 0) + " >= 9 AND " + scatter("i", 1) + " < 40" },
		liveRefresh: func(_ sqlOps, _ int64) string { return scatter("i", 0) + " >= 9 AND " + scatter("i", 2) + " < 30" },
		revoked:     func(_ sqlOps, _ int64) string { return scatter("i", 0) + " < 9" },
		expires: func(_ sqlOps, _ int64) string {
			return "CASE WHEN " + scatter("i", 3) + " < 35 THEN -86400 * (1 + i % 30) ELSE 3600 END"
		},
		revokedAt: func(_ sqlOps, _ int64) string { return "-3600 * (" + scatter("i", 4) + " % 48)" },
		source: func(_ sqlOps, _ int64) string {
			return "CASE WHEN " + scatter("i", 0) + " >= 9 AND " + scatter("i - 1", 0) + " < 9 AND i > 1 THEN i - 1 END"
		},
		grantExpires: func(_ sqlOps, _ int64) string {
			return "CASE WHEN " + scatter("i", 5) + " < 30 THEN -3600 ELSE 600 END"
		},
	},
	timeOrdered("backlog", "a time-ordered backlog, as a table cleaned daily looks: the oldest half of the ids expired, the newest live", 50, 90),
	timeOrdered("neglected", "a long neglected table: the oldest 95 % of the ids expired", 95, 99),
}

// timeOrdered is a shape whose rows expire in id order, as tokens issued
// one after another do: the first pct percent of the slots (and gpct of
// the grants) are past, spread over 20 days.
func timeOrdered(name, about string, pct, gpct int64) shape {
	return shape{
		name: name, about: about,
		slots: plusTenth, grants: func(n int64) int64 { return n / 10 },
		access:      constant("i % 11 <> 10"),
		idToken:     constant("i % 11 <> 10 AND i % 5 IN (0, 1)"),
		liveRefresh: constant("i % 11 <> 10 AND i % 10 IN (0, 4, 7)"),
		revoked:     constant("i % 11 = 10"),
		expires: func(_ sqlOps, n int64) string {
			m := plusTenth(n)
			return fmt.Sprintf("(i - %d) * %d", m*pct/100, max(1, 20*86400/m))
		},
		// Revoked when its successor was issued, an hour before the
		// neighbouring access tokens expire (never in the future).
		revokedAt: func(_ sqlOps, n int64) string {
			m := plusTenth(n)
			return fmt.Sprintf("CASE WHEN i < %d THEN (i - %d) * %d - 3600 ELSE -60 END", m*pct/100, m*pct/100, max(1, 20*86400/m))
		},
		source: constant("CASE WHEN i % 11 = 0 THEN i - 1 END"),
		grantExpires: func(_ sqlOps, n int64) string {
			g := n / 10
			return fmt.Sprintf("(i - %d) * %d", g*gpct/100, max(1, 20*86400/max(g, 1)))
		},
	}
}

func shapeNamed(name string) (shape, error) {
	var names []string
	for _, s := range shapes {
		if s.name == name {
			return s, nil
		}
		names = append(names, s.name)
	}
	return shape{}, fmt.Errorf("no shape %q (have %s)", name, strings.Join(names, ", "))
}

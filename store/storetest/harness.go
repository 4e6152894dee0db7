package storetest

import (
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// Table names a token table by its role: "accesstoken", "refreshtoken",
// "idtoken" or "grant" (DOT's model names).
type Table string

const (
	AccessToken  Table = "accesstoken"
	RefreshToken Table = "refreshtoken"
	IDToken      Table = "idtoken"
	Grant        Table = "grant"
	Application  Table = "application"
	// PAR is DOT main's pushed-authorization-request table.
	PAR Table = "pushedauthorizationrequest"
)

// Harness is one fresh database of one layout, with DOT's default table
// names, as an implementation of store.Store sees it, plus what the suite
// needs to seed and inspect rows without going through the Store. A
// helper fails the test (t.Fatal) when the database refuses.
type Harness interface {
	// Store is the store under test, on this database.
	Store() store.Store
	// Layout is the DOT layout the database was made with.
	Layout() Layout

	// AccessToken inserts an access token expiring at expires and returns its id.
	AccessToken(t testing.TB, expires time.Time) int64
	// RefreshToken inserts a refresh token bound to accessToken (0: none),
	// revoked at revoked (zero: not revoked).
	RefreshToken(t testing.TB, accessToken int64, revoked time.Time) int64
	// IDToken inserts an ID token expiring at expires.
	IDToken(t testing.TB, expires time.Time) int64
	// Grant inserts an authorization code expiring at expires.
	Grant(t testing.TB, expires time.Time) int64
	// PAR inserts a pushed authorization request expiring at expires
	// (DOTMain layout only).
	PAR(t testing.TB, expires time.Time) int64
	// Link sets a foreign-key column of one row to value (0: NULL), e.g.
	// Link(t, AccessToken, id, "id_token_id", idt).
	Link(t testing.TB, table Table, id int64, column string, value int64)
	// Ref reads a foreign-key column of one row (0 when NULL).
	Ref(t testing.TB, table Table, id int64, column string) int64
	// IDs lists the ids left in a table, ascending.
	IDs(t testing.TB, table Table) []int64
	// DeleteAllTokens empties the four token tables (and the PAR table
	// where there is one).
	DeleteAllTokens(t testing.TB)
	// DropTable drops the table of a role as store.Tables.Named names it
	// ("grant", "migrations", …).
	DropTable(t testing.TB, role string)
	// MarkMigrated records oauth2_provider migrations in django_migrations.
	MarkMigrated(t testing.TB, names ...string)
	// Application inserts an application; with cimd (DOT 3.4.1 layout
	// only) registered from a Client ID Metadata Document whose cache
	// expires at cimdExpires (zero: NULL).
	Application(t testing.TB, cimd bool, cimdExpires time.Time) int64
	// ForApplication is the same database, with the token and grant
	// helpers making rows of application app.
	ForApplication(t testing.TB, app int64) Harness
	// User inserts a row of the user table and returns its id.
	User(t testing.TB) int64
	// OpenAnother opens a second store on the same database, as the same
	// implementation does for another process; the test closes it.
	OpenAnother(t testing.TB) store.Store
}

// Opener makes a fresh database of one layout for one test.
type Opener func(t *testing.T, l Layout) Harness

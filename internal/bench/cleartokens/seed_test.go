package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -sqlite-journal decides the journal mode the copies are left in, which
// every later connection to the file then uses: the rollback journal
// Django leaves by default, or WAL.
func TestSQLiteCopiesKeepTheirJournalMode(t *testing.T) {
	sh, err := shapeNamed("mix")
	require.NoError(t, err)
	for _, mode := range []string{"delete", "wal"} {
		t.Run(mode, func(t *testing.T) {
			u, drop := sqliteCopies{dir: t.TempDir(), journal: mode}.seed(sh, "3.4.1", 50, time.Now())
			defer drop()
			db, err := sqlx.Open("sqlite", "file:"+strings.TrimPrefix(u, "sqlite:")+"?mode=ro")
			require.NoError(t, err)
			defer db.Close()
			var got string
			require.NoError(t, db.Get(&got, `PRAGMA journal_mode`))
			assert.Equal(t, mode, got)
			var n int
			require.NoError(t, db.Get(&n, `SELECT count(*) FROM `+access))
			assert.Positive(t, n, "the copy holds the seeded access tokens")
		})
	}
}

package main_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// Through PgBouncer in transaction mode (a pool of 2), concurrent runs all
// succeed: no statement of one client is crossed with another's.
func TestConcurrentThroughPgBouncer(t *testing.T) {
	b := sqlstoretest.StartPgBouncer(t)
	e := sqlstoretest.NewBehindPgBouncer(t, b, sqlstoretest.DOT341)
	results := testcmd.AtOnce(8, func(i int) testcmd.Result {
		return run(t, e, nil, "", "confidential", "client-credentials", "--client-id", fmt.Sprintf("svc-%d", i), "--name", fmt.Sprintf("S%d", i))
	})
	for i, r := range results {
		require.Equal(t, 0, r.Code, "run %d: %s", i, r.Stderr)
		m := secretLine.FindStringSubmatch(lastLine(r.Stdout))
		require.NotNil(t, m, r.Stdout)
		assert.True(t, verify(t, e, fmt.Sprintf("svc-%d", i), m[1]))
	}
	assert.EqualValues(t, 8, apps(t, e))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

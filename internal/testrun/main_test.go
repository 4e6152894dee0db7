package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream of go test -json: a skipped test with its reason, a passing
// one, a failed one (its output shown), a package without tests.
const stream = `{"Action":"run","Package":"p","Test":"TestSkipped"}
{"Action":"output","Package":"p","Test":"TestSkipped","Output":"=== RUN   TestSkipped\n"}
{"Action":"output","Package":"p","Test":"TestSkipped","Output":"    x_test.go:9: OAUTHKIT_TEST_MYSQL is unset: skipping MySQL/MariaDB\n"}
{"Action":"output","Package":"p","Test":"TestSkipped","Output":"--- SKIP: TestSkipped (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestSkipped"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"hidden when it passes\n"}
{"Action":"pass","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"    x_test.go:20: expected 1, got 2\n"}
{"Action":"fail","Package":"p","Test":"TestBad"}
{"Action":"pass","Package":"q","Elapsed":1.5}
{"Action":"skip","Package":"r"}
`

func TestSummarize(t *testing.T) {
	var out strings.Builder
	skips := summarize(strings.NewReader(stream), &out)
	require.Len(t, skips, 1)
	assert.Equal(t, skip{"p", "TestSkipped", "x_test.go:9: OAUTHKIT_TEST_MYSQL is unset: skipping MySQL/MariaDB"}, skips[0])
	assert.Contains(t, out.String(), "expected 1, got 2", "a failure's output is shown")
	assert.NotContains(t, out.String(), "hidden when it passes")
	assert.Contains(t, out.String(), "ok  \tq\t1.500s")
	assert.Contains(t, out.String(), "?   \tr\t[no test files]")

	out.Reset()
	printSkips(&out, skips)
	assert.Equal(t, "testrun: 1 tests skipped:\n  p TestSkipped: x_test.go:9: OAUTHKIT_TEST_MYSQL is unset: skipping MySQL/MariaDB\n", out.String())
}

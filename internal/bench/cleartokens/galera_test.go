package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// TestGaleraBenchmark is the benchmark's Galera line: the same mix on a
// 3-node cluster (through node 1) and on the standalone server, oauthkit
// (a) and the floor (c). It takes minutes, so it runs only when asked:
//
//	OAUTHKIT_BENCH_GALERA=1000000 OAUTHKIT_TEST_MYSQL=mysql://root@127.0.0.1:3306/test \
//	  go test ./internal/bench/cleartokens -run GaleraBenchmark -v -timeout 2h
func TestGaleraBenchmark(t *testing.T) {
	n := os.Getenv("OAUTHKIT_BENCH_GALERA")
	if n == "" {
		t.Skip("OAUTHKIT_BENCH_GALERA=N runs the Galera benchmark with N access tokens")
	}
	bin := filepath.Join(t.TempDir(), "bench")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	g := sqlstoretest.StartGalera(t)
	for _, target := range []struct{ name, url string }{
		{"3-node Galera cluster, through node 1", g.Nodes[0].URL("mysql")},
		{"standalone server", sqlstoretest.MySQLURL(t)},
	} {
		t.Logf("%s:", target.name)
		cmd := exec.Command(bin, "-db", "mysql", "-mysql", target.url, "-n", n, "-order", "a,c")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		require.NoError(t, cmd.Run())
	}
}

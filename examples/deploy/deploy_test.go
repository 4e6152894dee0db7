// Package deploy holds deployment examples for the cleartokens binary: a
// Kubernetes CronJob and a systemd service and timer. This test keeps them
// true to the binary: every flag and setting they use must exist.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExamplesUseRealFlagsAndSettings(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cleartokens")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cleartokens").CombinedOutput()
	require.NoError(t, err, string(out))
	help, err := exec.Command(bin, "--help").Output()
	require.NoError(t, err)

	files := []string{"kubernetes/cleartokens-cronjob.yaml", "systemd/oauthkit-cleartokens.service", "systemd/oauthkit-cleartokens.timer"}
	flagRe := regexp.MustCompile(`(?m)(?:^|\s|")(--[a-z][a-z-]+)=`)
	settingRe := regexp.MustCompile(`(?m)name: ([A-Z][A-Z_]+)$`)
	seenFlags := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range flagRe.FindAllStringSubmatch(string(b), -1) {
			seenFlags++
			assert.Contains(t, string(help), "  "+m[1]+" ", "%s uses %s, which cleartokens does not have", f, m[1])
		}
		for _, m := range settingRe.FindAllStringSubmatch(string(b), -1) {
			assert.Contains(t, string(help), "[env "+m[1]+"]", "%s sets %s, which cleartokens does not read", f, m[1])
		}
	}
	assert.Positive(t, seenFlags)

	// The flags they pass parse: run the service's command line against an
	// empty database folder with --help-free arguments and --dry-run.
	svc, err := os.ReadFile("systemd/oauthkit-cleartokens.service")
	require.NoError(t, err)
	var args []string
	for _, line := range strings.Split(string(svc), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/cleartokens "); ok {
			args = strings.Fields(rest)
		}
	}
	require.NotEmpty(t, args)
	dir := t.TempDir()
	for i, a := range args {
		if strings.HasPrefix(a, "--metrics-textfile=") {
			args[i] = "--metrics-textfile=" + filepath.Join(dir, "oauthkit.prom")
		}
	}
	cmd := exec.Command(bin, append(args, "--dry-run")...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	_, err = os.Stat(filepath.Join(dir, "oauthkit.prom"))
	assert.NoError(t, err, "the metrics file was written")
}

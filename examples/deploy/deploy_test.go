// Package deploy holds deployment examples for the binaries: a Kubernetes
// CronJob and a systemd service and timer that run cleartokens and
// clearcimdapplications. This test keeps them true to the binaries: every
// option and setting they give a command must exist in that command, and
// the service's command lines run.
package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var commands = []string{"cleartokens", "clearcimdapplications"}

func build(t *testing.T) (bins, help map[string]string) {
	bins, help = map[string]string{}, map[string]string{}
	dir := t.TempDir()
	for _, c := range commands {
		bins[c] = filepath.Join(dir, c)
		out, err := exec.Command("go", "build", "-o", bins[c], "../../cmd/"+c).CombinedOutput()
		require.NoError(t, err, string(out))
		h, err := exec.Command(bins[c], "--help").Output()
		require.NoError(t, err)
		help[c] = string(h)
	}
	return bins, help
}

var (
	containerRe = regexp.MustCompile(`(?m)^            - name: `)
	flagRe      = regexp.MustCompile(`(?m)(?:^|\s|")(--[a-z][a-z-]+)=`)
	settingRe   = regexp.MustCompile(`(?m)name: ([A-Z][A-Z_]+)$`)
)

func TestExamplesUseRealFlagsAndSettings(t *testing.T) {
	_, help := build(t)
	seen := map[string]int{}
	check := func(file, cmd, text string) {
		for _, m := range flagRe.FindAllStringSubmatch(text, -1) {
			seen[cmd]++
			assert.Contains(t, help[cmd], "  "+m[1]+" ", "%s gives %s %s, which it does not have", file, cmd, m[1])
		}
		for _, m := range settingRe.FindAllStringSubmatch(text, -1) {
			assert.Contains(t, help[cmd], "[env "+m[1]+"]", "%s sets %s for %s, which it does not read", file, m[1], cmd)
		}
	}
	// The CronJob: one container per command.
	y, err := os.ReadFile("kubernetes/cleartokens-cronjob.yaml")
	require.NoError(t, err)
	for _, block := range containerRe.Split(string(y), -1)[1:] {
		name, _, _ := strings.Cut(block, "\n")
		require.Contains(t, commands, name, "a container per command, named after it")
		check("the CronJob", name, block)
	}
	// The service: one ExecStart per command.
	for _, line := range serviceLines(t) {
		check("the service", line[0], strings.Join(line[1:], " "))
	}
	for _, c := range commands {
		assert.Positive(t, seen[c], "the examples run %s", c)
	}
}

// serviceLines are the service's ExecStart command lines: the command's
// name, then its arguments.
func serviceLines(t *testing.T) [][]string {
	svc, err := os.ReadFile("systemd/oauthkit-cleartokens.service")
	require.NoError(t, err)
	var lines [][]string
	for _, line := range strings.Split(string(svc), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/bin/"); ok {
			lines = append(lines, strings.Fields(rest))
		}
	}
	require.Len(t, lines, 2)
	return lines
}

// The service's command lines run, as written (with --dry-run added), on
// a DOT 3.0.1 and a DOT 3.4.1 database: the hourly job succeeds on every
// DOT (clearcimdapplications has nothing to do before 3.4, and says so).
func TestServiceCommandLinesRun(t *testing.T) {
	bins, _ := build(t)
	for _, l := range []sqlstoretest.Layout{sqlstoretest.DOT301, sqlstoretest.DOT341} {
		t.Run("dot-"+string(l), func(t *testing.T) { runServiceLines(t, bins, l) })
	}
}

func runServiceLines(t *testing.T, bins map[string]string, l sqlstoretest.Layout) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, l)
	dir := t.TempDir()
	for _, line := range serviceLines(t) {
		args := line[1:]
		for i, a := range args {
			if strings.HasPrefix(a, "--metrics-textfile=") {
				args[i] = "--metrics-textfile=" + filepath.Join(dir, "oauthkit.prom")
			}
		}
		cmd := exec.Command(bins[line[0]], append(args, "--dry-run")...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + e.URL}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", line[0], out)
	}
	_, err := os.Stat(filepath.Join(dir, "oauthkit.prom"))
	assert.NoError(t, err, "the metrics file was written")
}

// The Dockerfile's build line makes a static binary (no interpreter: it
// runs on the distroless base), and the CronJob runs the commands the
// image links.
func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	var build string
	for _, line := range strings.Split(string(df), "\n") {
		if rest, ok := strings.CutPrefix(line, "RUN CGO_ENABLED=0 go build "); ok {
			build = rest
		}
	}
	require.NotEmpty(t, build, "the Dockerfile builds with CGO_ENABLED=0 go build")
	out := filepath.Join(t.TempDir(), "oauthkit")
	args := shellWords(strings.NewReplacer("/out/usr/bin/oauthkit", out, "./cmd/oauthkit", "../../cmd/oauthkit").Replace(build))
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary")
	}
	y, err := os.ReadFile("kubernetes/cleartokens-cronjob.yaml")
	require.NoError(t, err)
	for _, c := range commands {
		assert.Contains(t, string(df), "ln -s oauthkit "+c)
		assert.Contains(t, string(y), `command: ["/usr/bin/`+c+`"]`)
	}
}

// shellWords splits a command line as sh would, for double quotes only.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

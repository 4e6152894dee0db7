package main_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/cli"
	"github.com/oauthkit/oauthkit/internal/command/clearcimdapplications"
	"github.com/oauthkit/oauthkit/internal/command/cleartokens"
	"github.com/oauthkit/oauthkit/internal/command/createapplication"
	"github.com/oauthkit/oauthkit/internal/testcmd"
)

var docs = []cli.Doc{cleartokens.Doc, createapplication.Doc, clearcimdapplications.Doc}

// flagsOf are the flags a command shows (not the -v alias, not the
// Django option that does not apply).
func flagsOf(d cli.Doc) []string {
	var names []string
	d.Flags().VisitAll(func(f *flag.Flag) {
		if f.Name != "v" && f.Name != "pythonpath" {
			names = append(names, f.Name)
		}
	})
	return names
}

func TestMultiCall(t *testing.T) {
	bin, done := testcmd.Build("oauthkit", ".")
	t.Cleanup(done)
	r := testcmd.Run(t, bin, t.TempDir(), nil, "", "--help")
	require.Equal(t, 0, r.Code)
	for _, d := range docs {
		assert.Contains(t, r.Stdout, d.Name)
	}
	r = testcmd.Run(t, bin, t.TempDir(), nil, "")
	assert.Equal(t, 2, r.Code, "no command")
	r = testcmd.Run(t, bin, t.TempDir(), nil, "", "frobnicate")
	assert.Equal(t, 2, r.Code)
	assert.Contains(t, r.Stderr, `unknown command "frobnicate"`)

	// oauthkit COMMAND, and the same through a link of the command's name.
	r = testcmd.Run(t, bin, t.TempDir(), nil, "", "cleartokens", "--help")
	require.Equal(t, 0, r.Code)
	assert.Contains(t, r.Stdout, "Usage: cleartokens [flags]")
	link := filepath.Join(t.TempDir(), "cleartokens")
	require.NoError(t, os.Symlink(bin, link))
	dir := t.TempDir()
	r = testcmd.Run(t, link, dir, nil, "", "-v", "0")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "cleartokens: no DATABASE_URL given", "the link runs cleartokens")
	_, err := os.Stat(filepath.Join(dir, "db.sqlite3"))
	assert.NoError(t, err)
}

// The completions and man pages name every flag of every command, and
// the shells and groff read them.
func TestCompletionsAndManPages(t *testing.T) {
	bin, done := testcmd.Build("oauthkit", ".")
	t.Cleanup(done)
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := testcmd.Run(t, bin, t.TempDir(), nil, "", "completion", shell)
		require.Equal(t, 0, r.Code, r.Stderr)
		scripts[shell] = r.Stdout
	}
	for _, d := range docs {
		for _, name := range flagsOf(d) {
			assert.Contains(t, scripts["bash"], " --"+name+" ", "bash: %s --%s", d.Name, name)
			assert.Contains(t, scripts["zsh"], "'--"+name+"[", "zsh: %s --%s", d.Name, name)
			assert.Contains(t, scripts["fish"], "complete -c "+d.Name+" -l "+name+" ", "fish: %s --%s", d.Name, name)
		}
	}
	path := filepath.Join(t.TempDir(), "oauthkit.bash")
	require.NoError(t, os.WriteFile(path, []byte(scripts["bash"]), 0o644))
	out, err := exec.Command("bash", "-n", path).CombinedOutput()
	require.NoError(t, err, "bash reads it: %s", out)
	if zsh, err := exec.LookPath("zsh"); err == nil {
		path := filepath.Join(t.TempDir(), "_oauthkit")
		require.NoError(t, os.WriteFile(path, []byte(scripts["zsh"]), 0o644))
		out, err := exec.Command(zsh, "-n", path).CombinedOutput()
		require.NoError(t, err, "zsh reads it: %s", out)
	}

	// The folder need not exist yet: it is created, as mkdir -p would.
	dir := filepath.Join(t.TempDir(), "share", "man", "man1")
	r := testcmd.Run(t, bin, t.TempDir(), nil, "", "man", dir)
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, d := range append(docs, cli.Doc{Name: "oauthkit"}) {
		page, err := os.ReadFile(filepath.Join(dir, d.Name+".1"))
		require.NoError(t, err)
		assert.Contains(t, string(page), ".TH "+strings.ToUpper(d.Name)+" 1")
		if d.Flags != nil {
			for _, name := range flagsOf(d) {
				assert.Contains(t, string(page), `\fB\-\-`+strings.ReplaceAll(name, "-", `\-`)+`\fR`, "%s.1: --%s", d.Name, name)
			}
		}
		if groff, err := exec.LookPath("groff"); err == nil {
			out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", filepath.Join(dir, d.Name+".1")).CombinedOutput()
			require.NoError(t, err)
			assert.Empty(t, string(out), "%s.1: groff has nothing to say", d.Name)
		}
	}
}

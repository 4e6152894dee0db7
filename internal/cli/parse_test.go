package cli_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/cli"
)

func flags() (*flag.FlagSet, *int, *time.Duration, *bool, *string) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := fs.Int("verbosity", 1, "")
	fs.IntVar(v, "v", 1, "")
	d := fs.Duration("keep-if-younger", 0, "")
	b := fs.Bool("skip-authorization", false, "")
	s := fs.String("name", "", "")
	fs.Bool("no-color", false, "")
	return fs, v, d, b, s
}

func TestParseLikeArgparse(t *testing.T) {
	for _, args := range [][]string{{"-v0"}, {"-v=0"}, {"-v", "0"}, {"--verbosity=0"}, {"--verbosity", "0"}, {"--verb=0"}, {"-verbosity", "0"}} {
		fs, v, _, _, _ := flags()
		_, err := cli.Parse(fs, args, io.Discard)
		require.NoError(t, err, args)
		assert.Equal(t, 0, *v, args)
	}
	fs, _, d, b, s := flags()
	pos, err := cli.Parse(fs, []string{"public", "--skip-auth", "password", "--name=a b", "--keep", "720h", "--", "--not-an-option"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"public", "password", "--not-an-option"}, pos)
	assert.True(t, *b)
	assert.Equal(t, "a b", *s)
	assert.Equal(t, 720*time.Hour, *d)

	for args, msg := range map[string][]string{
		`unrecognized option --frob (see --help)`:                        {"--frob"},
		`ambiguous option --n: could be --name, --no-color (see --help)`: {"--n", "x"},
		`--name needs a value (see --help)`:                              {"--name"},
		`--keep-if-younger "30d": not a duration: use h, m, s`:           {"--keep-if-younger=30d"},
		`-v "x": not a whole number (see --help)`:                        {"-vx"},
	} {
		fs, _, _, _, _ := flags()
		_, err := cli.Parse(fs, msg, io.Discard)
		var ue cli.UsageError
		require.True(t, errors.As(err, &ue), "%v: %v", msg, err)
		assert.Contains(t, err.Error(), args)
	}
	fs, _, _, _, _ = flags()
	_, err = cli.Parse(fs, []string{"--he"}, io.Discard)
	assert.True(t, errors.Is(err, flag.ErrHelp), "a prefix of --help is --help")
}

// A settings file from an editor that writes a byte-order mark reads as
// any other; a line that is no KEY=VALUE of a known name is refused
// without echoing it (it may hold a password).
func TestSettingsFileBOMAndNoEcho(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "settings.env")
	require.NoError(t, os.WriteFile(file, []byte("\ufeffDATABASE_URL=sqlite:x.db\n"), 0o600))
	s, err := cli.LoadSettings([]string{"DATABASE_URL"}, func(string) string { return "" }, file)
	require.NoError(t, err)
	v, _ := s.Get("DATABASE_URL")
	assert.Equal(t, "sqlite:x.db", v)
	for _, line := range []string{"postgres://u:S3cr3tPw@h/db?sslmode=require", "export DATABASE_URL postgres://u:S3cr3tPw@h/db?sslmode=require", "export DATABASE_URL postgres://u:S3cr3tPw@h/db"} {
		require.NoError(t, os.WriteFile(file, []byte(line+"\n"), 0o600))
		_, err := cli.LoadSettings([]string{"DATABASE_URL"}, func(string) string { return "" }, file)
		require.Error(t, err, line)
		assert.NotContains(t, err.Error(), "S3cr3tPw", line)
	}
}

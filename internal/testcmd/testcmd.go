// Package testcmd builds a command once per test binary and runs it as a
// user would: arguments, environment, standard input, and the exit status,
// stdout and stderr it gives back.
package testcmd

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Build compiles the command in pkg (a directory, "." for the current one)
// into a temporary folder; call the returned function to remove it.
func Build(name, pkg string) (string, func()) { return BuildTags(name, pkg, "") }

// BuildTags is Build with build tags (e.g. "oauthkit_pgx": the commands
// on pgx instead of lib/pq).
func BuildTags(name, pkg, tags string) (string, func()) {
	dir, err := os.MkdirTemp("", name+"-test")
	if err != nil {
		panic(err)
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, pkg).CombinedOutput(); err != nil {
		panic(string(out))
	}
	return bin, func() { os.RemoveAll(dir) }
}

// Result is what a run gave back.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs bin in dir with only PATH and env set, stdin as standard input.
func Run(t testing.TB, bin, dir string, env []string, stdin string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return Result{out.String(), errb.String(), code}
}

// RandomPassword is a password of printable characters, including those
// that URLs treat specially (/ ? # @ : %), from rng.
func RandomPassword(rng *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?#@:%+&=!$'()*,;[]~-._"
	b := make([]byte, 10+rng.IntN(14))
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// URLsWithPassword lists database URLs that carry pw in the forms a user
// may write, correct or not: in the user info (percent-encoded, and as
// typed), in a password= or sslpassword= parameter, with an upper-case
// scheme, without "//". Each points at a port where nothing listens.
func URLsWithPassword(pw string) []string {
	enc := url.UserPassword("u", pw).String()
	return []string{
		"postgres://" + enc + "@127.0.0.1:1/db?sslmode=disable",
		"POSTGRESQL://" + enc + "@127.0.0.1:1/db?sslmode=disable",
		"postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=disable",
		"postgres://u@127.0.0.1:1/db?sslmode=disable&password=" + url.QueryEscape(pw),
		"postgres://u@127.0.0.1:1/db?sslmode=disable&sslpassword=" + url.QueryEscape(pw),
		"postgres:u:" + pw + "@127.0.0.1:1/db",
	}
}

// READMEJSONFields reads the table between <!-- json:NAME --> and
// <!-- /json:NAME --> in the repository's README (rows "| `field` | type |
// …") and returns each documented field with its JSON type.
func READMEJSONFields(t testing.TB, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "<!-- json:"+name+" -->")
	end := strings.Index(s, "<!-- /json:"+name+" -->")
	if start < 0 || end < start {
		t.Fatalf("README has no json:%s table", name)
	}
	fields := map[string]string{}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| (string|number|boolean|array|object)\\b")
	for _, line := range strings.Split(s[start:end], "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			fields[m[1]] = m[2]
		}
	}
	if len(fields) == 0 {
		t.Fatalf("README's json:%s table lists no field", name)
	}
	return fields
}

// JSONKind is the JSON type of a value decoded into any.
func JSONKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// repoRoot is the folder of go.mod above the working folder.
func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working folder")
		}
		dir = parent
	}
}

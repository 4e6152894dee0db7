package hasher_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application/hasher"
)

type vector struct{ Algorithm, Password, Encoded string }

func vectors(t *testing.T) []vector {
	b, err := os.ReadFile("testdata/vectors.json")
	require.NoError(t, err)
	var f struct{ Vectors []vector }
	require.NoError(t, json.Unmarshal(b, &f))
	require.NotEmpty(t, f.Vectors)
	return f.Vectors
}

// Hashes made by Django and Python (testdata/make_vectors.py) check out,
// and a wrong secret is refused.
func TestCheckIndependentVectors(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range vectors(t) {
		alg, known := hasher.Algorithm(v.Encoded)
		require.True(t, known, v.Encoded)
		assert.Equal(t, v.Algorithm, alg)
		seen[alg+strings.SplitN(v.Encoded, "$", 3)[1]] = true
		ok, err := hasher.Check(v.Password, v.Encoded)
		require.NoError(t, err, v.Encoded)
		assert.True(t, ok, "%s should accept its password", v.Encoded)
		ok, err = hasher.Check(v.Password+"x", v.Encoded)
		require.NoError(t, err)
		assert.False(t, ok, "%s must refuse a wrong password", v.Encoded)
		assert.True(t, hasher.IsHashed(v.Encoded))
	}
	for _, want := range []string{"argon2argon2id", "argon2argon2i"} {
		assert.True(t, seen[want], "vectors cover %s", want)
	}
}

func TestMakePBKDF2SHA256(t *testing.T) {
	enc, err := hasher.MakePBKDF2SHA256("s3cret", 1000)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^pbkdf2_sha256\$1000\$[a-zA-Z0-9]{22}\$[A-Za-z0-9+/]{43}=$`), enc)
	ok, err := hasher.Check("s3cret", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	other, err := hasher.MakePBKDF2SHA256("s3cret", 1000)
	require.NoError(t, err)
	assert.NotEqual(t, enc, other, "a fresh salt each time")
	def, err := hasher.MakePBKDF2SHA256("s3cret", 0)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(def, "pbkdf2_sha256$1000000$"), "Django 5.2's default")
	_, err = hasher.MakePBKDF2SHA256("s3cret", -1)
	assert.Error(t, err)
}

// The same password and salt give exactly Django's string.
func TestEncodeMatchesDjango(t *testing.T) {
	for _, v := range vectors(t) {
		if !strings.HasPrefix(v.Algorithm, "pbkdf2") {
			continue
		}
		p := strings.Split(v.Encoded, "$")
		iterations, err := strconv.Atoi(p[1])
		require.NoError(t, err)
		got, err := hasher.EncodePBKDF2(v.Algorithm, v.Password, p[2], iterations)
		require.NoError(t, err)
		assert.Equal(t, v.Encoded, got)
	}
}

func TestIsHashed(t *testing.T) {
	// Django's identify_hasher only looks at the algorithm name.
	for _, s := range []string{"pbkdf2_sha256$x", "argon2$", "bcrypt_sha256$$2b$12$abc", "scrypt$1", "pbkdf2_sha1$1$s$h"} {
		assert.True(t, hasher.IsHashed(s), s)
	}
	for _, s := range []string{"", "s3cret", "md5$salt$hash", "bcrypt$$2b$12$abc", "sha1$a$b", "pbkdf2_sha256", "unsalted_md5"} {
		assert.False(t, hasher.IsHashed(s), s)
	}
}

func TestCheckRejectsMalformed(t *testing.T) {
	for _, s := range []string{
		"pbkdf2_sha256$abc$salt$hash", "pbkdf2_sha256$1000$salt", "pbkdf2_sha256$1000$salt$***",
		"argon2$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "argon2$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
		"argon2$argon2id$v=19$garbage$c2FsdHNhbHQ$aGFzaA", "bcrypt_sha256$nope", "bcrypt_sha256$$2b$12$short",
		"scrypt$x$salt$8$1$aGFzaA==", "scrypt$3$salt$8$1$aGFzaA==", "scrypt$16384$salt$8$1",
	} {
		ok, err := hasher.Check("s3cret", s)
		assert.False(t, ok)
		assert.True(t, errors.Is(err, hasher.ErrMalformed), "%s: %v", s, err)
		assert.NotContains(t, err.Error(), "s3cret")
	}
	_, err := hasher.Check("s3cret", "md5$salt$hash")
	assert.True(t, errors.Is(err, hasher.ErrUnknownAlgorithm))
}

func TestEqual(t *testing.T) {
	assert.True(t, hasher.Equal("abc", "abc"))
	assert.False(t, hasher.Equal("abc", "abd"))
	assert.False(t, hasher.Equal("abc", "abcd"))
}

// Django itself accepts what we make. Needs Debian's python3-django
// (.ci/run installs it and sets OAUTHKIT_REQUIRE_DJANGO=1).
func TestDjangoAcceptsOurHash(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import django").Run() != nil {
		if os.Getenv("OAUTHKIT_REQUIRE_DJANGO") == "1" {
			t.Fatal("OAUTHKIT_REQUIRE_DJANGO=1 but Django is not importable by " + py)
		}
		t.Skip("Django not installed (apt-get install python3-django)")
	}
	var cases []vector
	for _, pw := range []string{"s3cret", "ünïcødé secret", strings.Repeat("Z", 128)} {
		enc, err := hasher.MakePBKDF2SHA256(pw, 1000)
		require.NoError(t, err)
		cases = append(cases, vector{Password: pw, Encoded: enc})
	}
	enc, err := hasher.MakePBKDF2SHA256("default-iterations", 0)
	require.NoError(t, err)
	cases = append(cases, vector{Password: "default-iterations", Encoded: enc})
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	cmd := exec.Command(py, "-c", `
import json, sys
from django.conf import settings
settings.configure()
from django.contrib.auth.hashers import check_password, identify_hasher
for c in json.load(sys.stdin):
    assert identify_hasher(c["Encoded"]).algorithm == "pbkdf2_sha256"
    print(check_password(c["Password"], c["Encoded"]), check_password(c["Password"] + "x", c["Encoded"]))
`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, strings.Repeat("True False\n", len(cases)), string(out))
}

// A stored string chooses the verifier's cost. Hashes asking for more than
// the bounds are refused with ErrOutOfRange before any work: each of these
// would otherwise exhaust memory (the Go runtime dies, unrecoverably) or
// run for minutes.
func TestCheckRefusesCostsOutOfRange(t *testing.T) {
	const salt, h = "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaA"
	normal, err := hasher.MakePBKDF2SHA256("s3cret", 0)
	require.NoError(t, err)
	start := time.Now()
	_, err = hasher.Check("s3cret", normal)
	require.NoError(t, err)
	oneVerification := time.Since(start)
	for name, enc := range map[string]string{
		"argon2 memory 4 GiB":    "argon2$argon2id$v=19$m=4294967295,t=2,p=8$" + salt + "$" + h,
		"argon2 memory 257 MiB":  "argon2$argon2id$v=19$m=263168,t=1,p=1$" + salt + "$" + h,
		"argon2 time":            "argon2$argon2id$v=19$m=1024,t=100000,p=1$" + salt + "$" + h,
		"argon2 lanes":           "argon2$argon2i$v=19$m=65536,t=1,p=255$" + salt + "$" + h,
		"argon2 memory × time":   "argon2$argon2id$v=19$m=262144,t=8,p=1$" + salt + "$" + h, // 3.8 s a check
		"argon2 just over work":  "argon2$argon2id$v=19$m=131073,t=4,p=1$" + salt + "$" + h,
		"scrypt N 2^30":          "scrypt$1073741824$salt$8$1$aGFzaA==",
		"scrypt 32 MiB exceeded": "scrypt$32768$salt$8$1$aGFzaA==",
		"scrypt p":               "scrypt$16384$salt$8$1000$aGFzaA==",
		"pbkdf2 iterations":      "pbkdf2_sha256$2000000000$salt$aGFzaA==",
		"pbkdf2_sha1 iterations": "pbkdf2_sha1$3000001$salt$aGFzaA==",
		"bcrypt cost 31":         "bcrypt_sha256$$2b$31$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
		"bcrypt cost 15":         "bcrypt_sha256$$2b$15$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
	} {
		start := time.Now()
		ok, err := hasher.Check("s3cret", enc)
		assert.False(t, ok, name)
		assert.True(t, errors.Is(err, hasher.ErrOutOfRange), "%s: %v", name, err)
		assert.Less(t, time.Since(start), oneVerification, "%s: refused before any work", name)
		assert.True(t, errors.Is(hasher.Validate(enc), hasher.ErrOutOfRange), name)
	}
	// Django's own defaults, and the bounds themselves, are accepted.
	for _, enc := range []string{
		"argon2$argon2id$v=19$m=102400,t=2,p=8$" + salt + "$" + h,
		"argon2$argon2id$v=19$m=262144,t=2,p=16$" + salt + "$" + h,
		"argon2$argon2id$v=19$m=65536,t=8,p=1$" + salt + "$" + h,
		"scrypt$16384$salt$8$1$aGFzaA==",
		"pbkdf2_sha256$1000000$salt$aGFzaA==",
		"pbkdf2_sha256$3000000$salt$aGFzaA==",
		"bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
	} {
		assert.NoError(t, hasher.Validate(enc), enc)
	}
}

// Parameters parse strictly: trailing text, signs and spaces are refused.
func TestCheckParsesStrictly(t *testing.T) {
	const salt, h = "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaA"
	for _, enc := range []string{
		"argon2$argon2id$v=19$m=1024,t=1,p=1junk$" + salt + "$" + h,
		"argon2$argon2id$v=19$m=1024, t=1,p=1$" + salt + "$" + h,
		"argon2$argon2id$v=19$m=+1024,t=1,p=1$" + salt + "$" + h,
		"argon2$argon2id$v=19$m=1024,t=1,p=1,x=2$" + salt + "$" + h,
		"pbkdf2_sha256$+1000$salt$aGFzaA==",
		"pbkdf2_sha256$1000 $salt$aGFzaA==",
		"pbkdf2_sha256$1e3$salt$aGFzaA==",
		"scrypt$16384$salt$8$1x$aGFzaA==",
		"scrypt$16383$salt$8$1$aGFzaA==",
		"bcrypt_sha256$$2b$1$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
		"bcrypt_sha256$$2b$12$short",
	} {
		_, err := hasher.Check("s3cret", enc)
		assert.True(t, errors.Is(err, hasher.ErrMalformed), "%s: %v", enc, err)
	}
}

// CostOf reads a hash's memory and iterations without checking it.
func TestCostOf(t *testing.T) {
	for enc, want := range map[string]hasher.Cost{
		"pbkdf2_sha256$1000000$salt$aGFzaA==":                                        {PBKDF2Iterations: 1000000},
		"argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaGhh":                      {Memory: 102400 * 1024},
		"scrypt$16384$salt$8$1$aGFzaA==":                                             {Memory: 128*8*(16384+2) + 128*8},
		"bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG": {},
	} {
		got, err := hasher.CostOf(enc)
		require.NoError(t, err, enc)
		assert.Equal(t, want, got, enc)
	}
	_, err := hasher.CostOf("argon2$argon2id$v=19$m=4294967295,t=2,p=8$c2FsdA$aGFzaGhh")
	assert.ErrorIs(t, err, hasher.ErrOutOfRange)
}

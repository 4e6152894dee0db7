// Package hasher makes and checks Django's password-hash strings, the form
// django-oauth-toolkit stores hashed client secrets in:
// "<algorithm>$<parameters>$<salt>$<hash>". It makes pbkdf2_sha256 (Django's
// default) and checks every format of Django's default PASSWORD_HASHERS:
// pbkdf2_sha256, pbkdf2_sha1, argon2 (argon2id and the older argon2i),
// bcrypt_sha256 and scrypt. Comparisons take constant time.
package hasher

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// DefaultIterations is Django 5.2's PBKDF2 iteration count.
const DefaultIterations = 1_000_000

// SaltLength is the length of the salt Django generates (22 characters).
const SaltLength = 22

// Alphabet is what Django's get_random_string draws salts from by default:
// a-z A-Z 0-9.
const Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

var (
	// ErrUnknownAlgorithm: the string does not name a hasher of Django's
	// default PASSWORD_HASHERS.
	ErrUnknownAlgorithm = errors.New("unknown password hasher")
	// ErrMalformed: the string names a hasher but its fields do not parse.
	ErrMalformed = errors.New("malformed password hash")
)

// Algorithms are the hashers of Django's default PASSWORD_HASHERS, which is
// what identify_hasher (and so DOT) recognises as "already hashed".
var Algorithms = []string{"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt"}

// Algorithm returns the algorithm name of an encoded hash, as Django's
// identify_hasher reads it, and whether it is one of Algorithms.
func Algorithm(encoded string) (string, bool) {
	alg, _, ok := strings.Cut(encoded, "$")
	if !ok {
		return "", false
	}
	for _, a := range Algorithms {
		if a == alg {
			return alg, true
		}
	}
	return alg, false
}

// IsHashed reports whether Django would take value as already hashed. DOT
// then stores it as it is instead of hashing it again.
func IsHashed(value string) bool {
	_, ok := Algorithm(value)
	return ok
}

// newSalt draws SaltLength characters uniformly from Alphabet with a
// cryptographic source, as Django's get_random_string does for salts.
func newSalt() (string, error) {
	b := make([]byte, SaltLength)
	max := big.NewInt(int64(len(Alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("random source: %w", err)
		}
		b[i] = Alphabet[v.Int64()]
	}
	return string(b), nil
}

// MakePBKDF2SHA256 hashes password as Django's make_password does by
// default: a fresh 22-character salt and iterations rounds (0: DefaultIterations).
func MakePBKDF2SHA256(password string, iterations int) (string, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < 1 {
		return "", fmt.Errorf("pbkdf2_sha256: iterations %d must be positive", iterations)
	}
	salt, err := newSalt()
	if err != nil {
		return "", err
	}
	return EncodePBKDF2("pbkdf2_sha256", password, salt, iterations)
}

// EncodePBKDF2 encodes password with a given salt, for pbkdf2_sha256 or
// pbkdf2_sha1: "<algorithm>$<iterations>$<salt>$<base64 hash>".
func EncodePBKDF2(algorithm, password, salt string, iterations int) (string, error) {
	h, size := pbkdf2Hash(algorithm)
	if h == nil {
		return "", fmt.Errorf("%q: %w", algorithm, ErrUnknownAlgorithm)
	}
	if strings.Contains(salt, "$") || salt == "" {
		return "", fmt.Errorf("%s: salt must be non-empty and hold no '$'", algorithm)
	}
	key, err := pbkdf2.Key(h, password, []byte(salt), iterations, size)
	if err != nil {
		return "", fmt.Errorf("%s: %w", algorithm, err)
	}
	return algorithm + "$" + strconv.Itoa(iterations) + "$" + salt + "$" + base64.StdEncoding.EncodeToString(key), nil
}

func pbkdf2Hash(algorithm string) (func() hash.Hash, int) {
	switch algorithm {
	case "pbkdf2_sha256":
		return sha256.New, sha256.Size
	case "pbkdf2_sha1":
		return sha1.New, sha1.Size
	}
	return nil, 0
}

// Check reports whether password matches encoded, in constant time for a
// given encoded string. An error means encoded is not a hash it can check;
// the error never holds the password or the hash.
func Check(password, encoded string) (bool, error) {
	alg, known := Algorithm(encoded)
	if !known {
		return false, fmt.Errorf("algorithm %q: %w", alg, ErrUnknownAlgorithm)
	}
	switch alg {
	case "pbkdf2_sha256", "pbkdf2_sha1":
		return checkPBKDF2(alg, password, encoded)
	case "argon2":
		return checkArgon2(password, encoded)
	case "bcrypt_sha256":
		return checkBcryptSHA256(password, encoded)
	default: // scrypt
		return checkScrypt(password, encoded)
	}
}

func malformed(alg, why string) error { return fmt.Errorf("%s: %s: %w", alg, why, ErrMalformed) }

func checkPBKDF2(alg, password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return false, malformed(alg, "want 4 fields separated by '$'")
	}
	iterations, err := strconv.Atoi(parts[1])
	if err != nil || iterations < 1 {
		return false, malformed(alg, "iterations is not a positive number")
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false, malformed(alg, "hash is not base64")
	}
	h, size := pbkdf2Hash(alg)
	got, err := pbkdf2.Key(h, password, []byte(parts[2]), iterations, size)
	if err != nil {
		return false, malformed(alg, err.Error())
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// checkArgon2 reads Django's "argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>"
// (salt and hash in unpadded base64, as argon2-cffi writes them).
func checkArgon2(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return false, malformed("argon2", "want argon2$<variant>$v=<version>$m=..,t=..,p=..$<salt>$<hash>")
	}
	variant := parts[1]
	if variant != "argon2id" && variant != "argon2i" {
		return false, malformed("argon2", "variant must be argon2id or argon2i")
	}
	if parts[2] != "v=19" {
		return false, malformed("argon2", "only version 19 is supported")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t == 0 || p == 0 {
		return false, malformed("argon2", "parameters must read m=<memory>,t=<time>,p=<parallelism>")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, malformed("argon2", "salt and hash must be unpadded base64")
	}
	var got []byte
	if variant == "argon2id" {
		got = argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	} else {
		got = argon2.Key([]byte(password), salt, t, m, p, uint32(len(want)))
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// checkBcryptSHA256 reads "bcrypt_sha256$$2b$12$<salt+hash>": Django runs
// bcrypt over the hex SHA-256 of the password, so long secrets are not cut
// at bcrypt's 72 bytes.
func checkBcryptSHA256(password, encoded string) (bool, error) {
	data := strings.TrimPrefix(encoded, "bcrypt_sha256$")
	if !strings.HasPrefix(data, "$2") {
		return false, malformed("bcrypt_sha256", "want bcrypt_sha256$$2b$<cost>$<salt and hash>")
	}
	sum := sha256.Sum256([]byte(password))
	err := bcrypt.CompareHashAndPassword([]byte(data), []byte(hex.EncodeToString(sum[:])))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, malformed("bcrypt_sha256", "the bcrypt part does not parse")
	}
}

// checkScrypt reads Django's "scrypt$<n>$<salt>$<r>$<p>$<base64 hash>".
func checkScrypt(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return false, malformed("scrypt", "want scrypt$<n>$<salt>$<r>$<p>$<hash>")
	}
	n, err1 := strconv.Atoi(parts[1])
	r, err2 := strconv.Atoi(parts[3])
	p, err3 := strconv.Atoi(parts[4])
	want, err4 := base64.StdEncoding.DecodeString(parts[5])
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(want) == 0 {
		return false, malformed("scrypt", "n, r and p must be numbers and the hash base64")
	}
	got, err := scrypt.Key([]byte(password), []byte(parts[2]), n, r, p, len(want))
	if err != nil {
		return false, malformed("scrypt", "parameters out of range")
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Equal compares two secrets in constant time (for secrets stored unhashed).
// Both are first reduced to an HMAC so their lengths leak nothing either.
func Equal(a, b string) bool {
	key := []byte("oauthkit constant-time compare")
	ma := hmac.New(sha256.New, key)
	ma.Write([]byte(a))
	mb := hmac.New(sha256.New, key)
	mb.Write([]byte(b))
	return hmac.Equal(ma.Sum(nil), mb.Sum(nil))
}

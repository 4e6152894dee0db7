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
	"regexp"
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
	// ErrOutOfRange: the hash asks for a cost beyond the bounds below. It
	// is refused before any work, so a stored string cannot make the
	// verifier run out of memory or spend minutes.
	ErrOutOfRange = errors.New("password hash parameters out of range")
)

// The cost bounds of a hash that Check verifies. Each is several times
// what Django makes by default, so every hash a Django deployment stores
// passes, and the costliest one allowed still verifies in about a second
// on one core.
const (
	// MaxPBKDF2Iterations is 3× Django 5.2's 1,000,000 (2.5× Django 6.0's
	// 1,200,000).
	MaxPBKDF2Iterations = 3_000_000
	// MaxArgon2MemoryKiB is 256 MiB; Django's Argon2PasswordHasher uses
	// 102,400 KiB (100 MiB).
	MaxArgon2MemoryKiB = 256 * 1024
	// MaxArgon2Time is the most passes; Django uses 2.
	MaxArgon2Time = 8
	// MaxArgon2WorkKiB bounds memory × passes, what one check costs in
	// time: 512 MiB·passes, about a second on one core of this kind of
	// machine (Django's default, 100 MiB × 2, is 200 MiB·passes, ~0.4 s;
	// 256 MiB × 8 took 3.8 s).
	MaxArgon2WorkKiB = 512 * 1024
	// MaxArgon2Parallelism is the most lanes; Django uses 8.
	MaxArgon2Parallelism = 16
	// MaxBcryptCost is 2^14 rounds; Django's BCryptSHA256PasswordHasher
	// uses 12.
	MaxBcryptCost = 14
	// MaxScryptMemory is OpenSSL's default limit of 32 MiB, which Django's
	// ScryptPasswordHasher works within (it makes N=2^14, r=8, p=1: 16 MiB):
	// 128·r·(N+2) + 128·r·p bytes.
	MaxScryptMemory = 32 << 20
	// MaxScryptParallelism bounds scrypt's CPU cost, which p multiplies
	// without using more memory; Django uses 1.
	MaxScryptParallelism = 16
	// maxEncodedLength bounds the whole string (DOT's column holds 255).
	maxEncodedLength = 512
	// maxHashBytes bounds the derived key a hash asks for.
	maxHashBytes = 128
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

// newSalt is a salt as Django makes one: SaltLength characters.
func newSalt() (string, error) { return RandomString(SaltLength) }

// RandomString is Django's get_random_string: n characters drawn
// uniformly from Alphabet with a cryptographic source (DOT's client_id and
// secret generators use it too).
func RandomString(n int) (string, error) {
	b := make([]byte, n)
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
	if iterations < 1 || iterations > MaxPBKDF2Iterations {
		return "", fmt.Errorf("pbkdf2_sha256: iterations %d must be between 1 and %d", iterations, MaxPBKDF2Iterations)
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
	h, size := pbkdf2Func(algorithm)
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

func pbkdf2Func(algorithm string) (func() hash.Hash, int) {
	switch algorithm {
	case "pbkdf2_sha256":
		return sha256.New, sha256.Size
	case "pbkdf2_sha1":
		return sha1.New, sha1.Size
	}
	return nil, 0
}

// Check reports whether password matches encoded, in constant time for a
// given encoded string. An error means encoded is not a hash it can check
// (ErrUnknownAlgorithm, ErrMalformed, or ErrOutOfRange, which it returns
// before doing any work); the error never holds the password or the hash.
func Check(password, encoded string) (bool, error) {
	h, err := parse(encoded)
	if err != nil {
		return false, err
	}
	return h.check(password)
}

// Validate reports whether Check could verify against encoded, without
// verifying anything: nil, or the error Check would return.
func Validate(encoded string) error {
	_, err := parse(encoded)
	return err
}

// parsed is a stored hash whose parameters are read and within bounds.
type parsed interface {
	check(password string) (bool, error)
	cost() Cost
}

// Cost is what checking a hash takes, as its parameters say.
type Cost struct {
	// Memory is the bytes a check holds at once (argon2, scrypt; 0 for
	// the others, whose memory is negligible).
	Memory int64
	// PBKDF2Iterations is the iteration count of a PBKDF2 hash (0 for
	// the others).
	PBKDF2Iterations int
}

// CostOf reads what checking encoded will take, without checking
// anything; an error is the one Check would return.
func CostOf(encoded string) (Cost, error) {
	h, err := parse(encoded)
	if err != nil {
		return Cost{}, err
	}
	return h.cost(), nil
}

func (h pbkdf2Hash) cost() Cost { return Cost{PBKDF2Iterations: h.iterations} }
func (h argon2Hash) cost() Cost { return Cost{Memory: int64(h.m) * 1024} }
func (h bcryptHash) cost() Cost { return Cost{} }
func (h scryptHash) cost() Cost {
	return Cost{Memory: int64(128*h.r*(h.n+2) + 128*h.r*h.p)}
}

func parse(encoded string) (parsed, error) {
	alg, known := Algorithm(encoded)
	if !known {
		return nil, fmt.Errorf("algorithm %q: %w", truncate(alg, 32), ErrUnknownAlgorithm)
	}
	if len(encoded) > maxEncodedLength {
		return nil, malformed(alg, fmt.Sprintf("longer than %d characters", maxEncodedLength))
	}
	switch alg {
	case "pbkdf2_sha256", "pbkdf2_sha1":
		return parsePBKDF2(alg, encoded)
	case "argon2":
		return parseArgon2(encoded)
	case "bcrypt_sha256":
		return parseBcryptSHA256(encoded)
	default: // scrypt
		return parseScrypt(encoded)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func malformed(alg, why string) error { return fmt.Errorf("%s: %s: %w", alg, why, ErrMalformed) }

func outOfRange(alg, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", alg, fmt.Sprintf(format, args...), ErrOutOfRange)
}

// number reads a decimal parameter strictly: digits only, no sign, no
// spaces, no trailing text, at most 10 digits.
var number = regexp.MustCompile(`^[0-9]{1,10}$`)

func atoi(s string) (int, bool) {
	if !number.MatchString(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

type pbkdf2Hash struct {
	alg        string
	iterations int
	salt       string
	want       []byte
}

func parsePBKDF2(alg, encoded string) (parsed, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return nil, malformed(alg, "want 4 fields separated by '$'")
	}
	iterations, ok := atoi(parts[1])
	if !ok || iterations < 1 {
		return nil, malformed(alg, "iterations is not a positive number")
	}
	if iterations > MaxPBKDF2Iterations {
		return nil, outOfRange(alg, "%d iterations, more than %d", iterations, MaxPBKDF2Iterations)
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(want) == 0 {
		return nil, malformed(alg, "hash is not base64")
	}
	return pbkdf2Hash{alg, iterations, parts[2], want}, nil
}

func (h pbkdf2Hash) check(password string) (bool, error) {
	hf, size := pbkdf2Func(h.alg)
	got, err := pbkdf2.Key(hf, password, []byte(h.salt), h.iterations, size)
	if err != nil {
		return false, malformed(h.alg, "cannot derive the key")
	}
	return subtle.ConstantTimeCompare(got, h.want) == 1, nil
}

type argon2Hash struct {
	variant    string
	m, t       uint32
	p          uint8
	salt, want []byte
}

var argon2Params = regexp.MustCompile(`^m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,3})$`)

// parseArgon2 reads Django's "argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>"
// (salt and hash in unpadded base64, as argon2-cffi writes them).
func parseArgon2(encoded string) (parsed, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return nil, malformed("argon2", "want argon2$<variant>$v=<version>$m=..,t=..,p=..$<salt>$<hash>")
	}
	variant := parts[1]
	if variant != "argon2id" && variant != "argon2i" {
		return nil, malformed("argon2", "variant must be argon2id or argon2i")
	}
	if parts[2] != "v=19" {
		return nil, malformed("argon2", "only version 19 is supported")
	}
	mm := argon2Params.FindStringSubmatch(parts[3])
	if mm == nil {
		return nil, malformed("argon2", "parameters must read m=<memory>,t=<time>,p=<parallelism>")
	}
	m, _ := strconv.ParseUint(mm[1], 10, 64)
	t, _ := strconv.ParseUint(mm[2], 10, 64)
	p, _ := strconv.ParseUint(mm[3], 10, 64)
	switch {
	case t < 1 || p < 1:
		return nil, malformed("argon2", "time and parallelism must be at least 1")
	case m > MaxArgon2MemoryKiB:
		return nil, outOfRange("argon2", "memory %d KiB, more than %d", m, MaxArgon2MemoryKiB)
	case t > MaxArgon2Time:
		return nil, outOfRange("argon2", "time %d, more than %d", t, MaxArgon2Time)
	case m*t > MaxArgon2WorkKiB:
		return nil, outOfRange("argon2", "memory × time %d KiB, more than %d", m*t, MaxArgon2WorkKiB)
	case p > MaxArgon2Parallelism:
		return nil, outOfRange("argon2", "parallelism %d, more than %d", p, MaxArgon2Parallelism)
	case m < 8*p:
		return nil, malformed("argon2", "memory must be at least 8 KiB per lane")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 4 || len(want) > maxHashBytes {
		return nil, malformed("argon2", "salt and hash must be unpadded base64, the hash 4 to 128 bytes")
	}
	return argon2Hash{variant, uint32(m), uint32(t), uint8(p), salt, want}, nil
}

func (h argon2Hash) check(password string) (bool, error) {
	var got []byte
	if h.variant == "argon2id" {
		got = argon2.IDKey([]byte(password), h.salt, h.t, h.m, h.p, uint32(len(h.want)))
	} else {
		got = argon2.Key([]byte(password), h.salt, h.t, h.m, h.p, uint32(len(h.want)))
	}
	return subtle.ConstantTimeCompare(got, h.want) == 1, nil
}

type bcryptHash struct{ data []byte }

var bcryptData = regexp.MustCompile(`^\$2[abxy]?\$([0-9]{2})\$[./A-Za-z0-9]{53}$`)

// parseBcryptSHA256 reads "bcrypt_sha256$$2b$12$<salt+hash>": Django runs
// bcrypt over the hex SHA-256 of the password, so long secrets are not cut
// at bcrypt's 72 bytes.
func parseBcryptSHA256(encoded string) (parsed, error) {
	data := strings.TrimPrefix(encoded, "bcrypt_sha256$")
	m := bcryptData.FindStringSubmatch(data)
	if m == nil {
		return nil, malformed("bcrypt_sha256", "want bcrypt_sha256$$2b$<cost>$<53 characters of salt and hash>")
	}
	cost, _ := strconv.Atoi(m[1])
	switch {
	case cost < bcrypt.MinCost:
		return nil, malformed("bcrypt_sha256", "cost below bcrypt's minimum of 4")
	case cost > MaxBcryptCost:
		return nil, outOfRange("bcrypt_sha256", "cost %d, more than %d", cost, MaxBcryptCost)
	}
	return bcryptHash{[]byte(data)}, nil
}

func (h bcryptHash) check(password string) (bool, error) {
	sum := sha256.Sum256([]byte(password))
	err := bcrypt.CompareHashAndPassword(h.data, []byte(hex.EncodeToString(sum[:])))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, malformed("bcrypt_sha256", "the bcrypt part does not parse")
	}
}

type scryptHash struct {
	n, r, p    int
	salt, want []byte
}

// parseScrypt reads Django's "scrypt$<n>$<salt>$<r>$<p>$<base64 hash>".
func parseScrypt(encoded string) (parsed, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return nil, malformed("scrypt", "want scrypt$<n>$<salt>$<r>$<p>$<hash>")
	}
	n, ok1 := atoi(parts[1])
	r, ok2 := atoi(parts[3])
	p, ok3 := atoi(parts[4])
	want, err := base64.StdEncoding.DecodeString(parts[5])
	if !ok1 || !ok2 || !ok3 || err != nil || len(want) == 0 || len(want) > maxHashBytes {
		return nil, malformed("scrypt", "n, r and p must be numbers and the hash base64 of at most 128 bytes")
	}
	switch {
	case n < 2 || n&(n-1) != 0:
		return nil, malformed("scrypt", "n must be a power of two greater than 1")
	case r < 1 || p < 1:
		return nil, malformed("scrypt", "r and p must be at least 1")
	case p > MaxScryptParallelism:
		return nil, outOfRange("scrypt", "parallelism %d, more than %d", p, MaxScryptParallelism)
	case uint64(128)*uint64(r)*(uint64(n)+2)+uint64(128)*uint64(r)*uint64(p) > MaxScryptMemory:
		return nil, outOfRange("scrypt", "n=%d, r=%d needs more than OpenSSL's 32 MiB", n, r)
	}
	return scryptHash{n, r, p, []byte(parts[2]), want}, nil
}

func (h scryptHash) check(password string) (bool, error) {
	got, err := scrypt.Key([]byte(password), h.salt, h.n, h.r, h.p, len(h.want))
	if err != nil {
		return false, malformed("scrypt", "parameters out of range")
	}
	return subtle.ConstantTimeCompare(got, h.want) == 1, nil
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

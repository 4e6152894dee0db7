package hasher_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthkit/oauthkit/application/hasher"
)

// FuzzCheck: any stored string is either checked or refused with one of
// the three sentinels (malformed, unknown algorithm, cost out of range), never a panic, and the error never holds the password.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"pbkdf2_sha256$1000$saltsaltsaltsaltsalt22$nG293oTpxzMGs5z0ORTAdN2jEFBA7VyV/x2crTiUywk=",
		"pbkdf2_sha1$1500$Kx0aTV4d2ZyUjhYQmN1cz$2lxnBKNC6pH3QHZ9BG/QMtE/6M8=",
		"argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
		"bcrypt_sha256$$2b$04$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
		"scrypt$16$salt$1$1$aGFzaA==", "scrypt$3$salt$8$1$aGFzaA==", "md5$a$b", "", "$$$", "pbkdf2_sha256$0$s$h",
		"bcrypt_sha256$$2$20$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG", // out of range, refused at once
		"bcrypt_sha256$$2$04$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
	} {
		f.Add("s3cretpass", s)
	}
	f.Fuzz(func(t *testing.T, password, encoded string) {
		if strings.HasPrefix(encoded, "pbkdf2") && len(encoded) > 16 {
			// Keep the fuzzer from spending its time in huge iteration counts.
			if parts := strings.Split(encoded, "$"); len(parts) > 1 && len(parts[1]) > 4 {
				return
			}
		}
		if strings.HasPrefix(encoded, "argon2") || strings.HasPrefix(encoded, "scrypt") {
			// Memory-hard parameters from random input can ask for gigabytes.
			if len(encoded) > 0 && strings.ContainsAny(encoded, "0123456789") && !fuzzSmallParams(encoded) {
				return
			}
		}
		if parts := strings.Split(encoded, "$"); strings.HasPrefix(encoded, "bcrypt_sha256$$2") && len(parts) > 3 {
			// "bcrypt_sha256$$2b$04$…" and "bcrypt_sha256$$2$04$…": the cost
			// is the fourth field either way.
			if cost, err := strconv.Atoi(parts[3]); err != nil || cost > 6 {
				return // a high bcrypt cost is slow by design
			}
		}
		ok, err := hasher.Check(password, encoded)
		if err != nil {
			if ok {
				t.Fatal("ok with an error")
			}
			if !errors.Is(err, hasher.ErrMalformed) && !errors.Is(err, hasher.ErrUnknownAlgorithm) && !errors.Is(err, hasher.ErrOutOfRange) {
				t.Fatalf("%q: unexpected error %v", encoded, err)
			}
			if len(password) >= 6 && !strings.Contains(encoded, password) && strings.Contains(err.Error(), password) {
				t.Fatalf("the error shows the password: %v", err)
			}
		}
		if hasher.IsHashed(encoded) != func() bool { _, k := hasher.Algorithm(encoded); return k }() {
			t.Fatal("IsHashed and Algorithm disagree")
		}
	})
}

// fuzzSmallParams accepts only argon2/scrypt strings whose numbers are all
// short, so that a fuzz run stays within memory.
func fuzzSmallParams(encoded string) bool {
	n := 0
	for _, c := range encoded {
		if c >= '0' && c <= '9' {
			if n++; n > 3 {
				return false
			}
		} else {
			n = 0
		}
	}
	return true
}

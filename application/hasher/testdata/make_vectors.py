#!/usr/bin/python3
"""Makes vectors.json: Django password hashes made by an implementation
independent of ours, for hasher's tests.

Run with Debian's Python and packages (as .ci/run installs them):
    apt-get install python3-django python3-argon2 python3-bcrypt
    /usr/bin/python3 hasher/testdata/make_vectors.py > hasher/testdata/vectors.json

pbkdf2_sha256, pbkdf2_sha1, argon2 (argon2id) and bcrypt_sha256 come from
Django's own make_password (Django 3.2 from Debian 12). argon2i comes from
argon2-cffi directly in Django's layout (hashes of Django < 3.2). scrypt comes
from Python's hashlib.scrypt in the layout of Django 4.0+'s
ScryptPasswordHasher: scrypt$<n>$<salt>$<r>$<p>$<base64 64-byte key>.
"""
import base64
import hashlib
import json

import argon2
import django
from django.conf import settings

settings.configure(PASSWORD_HASHERS=[
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
])
from django.contrib.auth.hashers import get_hasher, make_password  # noqa: E402

secrets = ["s3cret", "", "a" * 128, "ünïcødé secret with spaces"]
out = []
for pw in secrets:
    out.append({"algorithm": "pbkdf2_sha256", "password": pw,
                "encoded": get_hasher("pbkdf2_sha256").encode(pw, "saltsaltsaltsaltsalt22", 1000)})
    out.append({"algorithm": "pbkdf2_sha1", "password": pw,
                "encoded": get_hasher("pbkdf2_sha1").encode(pw, "Kx0aTV4d2ZyUjhYQmN1cz", 1500)})
    out.append({"algorithm": "argon2", "password": pw, "encoded": make_password(pw, hasher="argon2")})
    out.append({"algorithm": "bcrypt_sha256", "password": pw, "encoded": make_password(pw, hasher="bcrypt_sha256")})
    raw = argon2.low_level.hash_secret(pw.encode(), b"oldsaltoldsalt", time_cost=2, memory_cost=512,
                                       parallelism=2, hash_len=16, type=argon2.low_level.Type.I).decode()
    out.append({"algorithm": "argon2", "password": pw, "encoded": "argon2" + raw})
    salt = "Xy9scryptSaltAbcdefGh1"
    key = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=2 ** 14, r=8, p=1, dklen=64)
    out.append({"algorithm": "scrypt", "password": pw,
                "encoded": "scrypt$%d$%s$%d$%d$%s" % (2 ** 14, salt, 8, 1, base64.b64encode(key).decode())})
# One at Django 5.2's default work factor, the one createapplication uses.
out.append({"algorithm": "pbkdf2_sha256", "password": "s3cret",
            "encoded": get_hasher("pbkdf2_sha256").encode("s3cret", "DjangoDefaultSalt12345", 1000000)})
json.dump({"made_with": "Django " + django.get_version() + ", argon2-cffi, hashlib", "vectors": out},
          __import__("sys").stdout, indent=1, ensure_ascii=False)
print()

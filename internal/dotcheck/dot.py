#!/usr/bin/python3
"""Drives a real django-oauth-toolkit (Debian's python3-django-oauth-toolkit,
DOT 1.7 on Django 3.2) for oauthkit's differential test.

    dot.py seed  DATABASE BASE_ISO_TIME   # DOT's migrations, then a fixed mix of tokens
    dot.py clear DATABASE EXPIRE_SECONDS  # DOT's own clear_expired(), batch size 3
    dot.py check-app DATABASE ID:SECRET:NAME  # DOT loads and validates an application

DATABASE is a SQLite path, postgres://host:port/db?search_path=schema, or
mysql://user@host:port/db.
"""
import sys
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import django
from django.conf import settings

cmd, database, arg = sys.argv[1], sys.argv[2], sys.argv[3]
if database.startswith("postgres"):
    u = urlparse(database)
    q = parse_qs(u.query)
    db = {"ENGINE": "django.db.backends.postgresql", "NAME": u.path.lstrip("/"), "USER": u.username or "postgres",
          "HOST": u.hostname, "PORT": u.port or 5432,
          "OPTIONS": {"options": "-c search_path=" + q["search_path"][0]}}
elif database.startswith("mysql"):
    u = urlparse(database)
    db = {"ENGINE": "django.db.backends.mysql", "NAME": u.path.lstrip("/"), "USER": u.username or "root",
          "PASSWORD": u.password or "", "HOST": u.hostname, "PORT": u.port or 3306,
          "OPTIONS": {"charset": "utf8mb4"}}
else:
    db = {"ENGINE": "django.db.backends.sqlite3", "NAME": database}
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "oauth2_provider"],
    DATABASES={"default": db}, USE_TZ=True, SECRET_KEY="x",
    OAUTH2_PROVIDER={"REFRESH_TOKEN_EXPIRE_SECONDS": int(arg) if cmd == "clear" else None,
                     "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 3, "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": 0},
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oauth2_provider.models import (AccessToken, Application, Grant, IDToken,  # noqa: E402
                                    RefreshToken, clear_expired)

if cmd == "clear":
    clear_expired()
    sys.exit(0)
if cmd == "check-app":
    # arg is "CLIENT_ID:SECRET:NAME": DOT loads the row and its secret matches.
    client_id, secret, name = arg.split(":")
    app = Application.objects.get(client_id=client_id)
    app.full_clean()
    assert app.client_secret == secret, "DOT < 2.0 compares the secret in clear"
    assert app.name == name and app.client_type == "confidential" and app.user is None
    print("ok", app.authorization_grant_type, app.skip_authorization)
    sys.exit(0)

call_command("migrate", verbosity=0)
base = datetime.fromisoformat(arg)
hours = lambda n: timedelta(hours=n)  # noqa: E731
user = User.objects.create(username="u")
app = Application.objects.create(client_id="c", client_type="confidential",
                                 authorization_grant_type="client-credentials", user=user)
last_revoked = None
for i in range(1, 241):
    exp = base + hours(1) if i % 4 == 0 else base - hours(i % 72 + 1)
    idt = IDToken.objects.create(user=user, application=app, expires=exp, scope="openid") if i % 6 == 0 else None
    at = AccessToken.objects.create(user=user, application=app, token="at%d" % i, expires=exp, scope="read", id_token=idt)
    if i % 5 == 0:
        RefreshToken.objects.create(user=user, application=app, token="rt%d" % i, access_token=at)
    if i % 7 == 0:
        last_revoked = RefreshToken.objects.create(user=user, application=app, token="rv%d" % i,
                                                   revoked=base - hours(i % 96))
    if i % 11 == 0 and last_revoked is not None:
        at.source_refresh_token = last_revoked
        at.save()
        last_revoked = None
    if i % 13 == 0 and i % 5 != 0:
        # Revoked but still linked to its (long expired) access token: DOT's
        # two refresh steps both match it.
        RefreshToken.objects.create(user=user, application=app, token="rl%d" % i, access_token=at,
                                    revoked=base - hours(50))
    if i % 3 == 0:
        Grant.objects.create(user=user, application=app, code="g%d" % i, expires=base + hours(i % 48 - 24),
                             redirect_uri="https://example.com/cb", scope="read")
# An expired ID token nothing points at.
IDToken.objects.create(user=user, application=app, expires=base - hours(5), scope="openid")

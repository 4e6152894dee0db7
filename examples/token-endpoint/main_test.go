package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

func TestTokenEndpoint(t *testing.T) {
	ctx := context.Background()
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "db.sqlite3"))
	require.NoError(t, err)
	defer db.Close()
	st, err := sqlstore.New(db.DB)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	app, err := application.CreateApplication(ctx, application.Spec{Store: st, ClientType: "confidential",
		GrantType: "client-credentials", ClientID: "svc", Settings: application.Settings{HasherIterations: 1000}})
	require.NoError(t, err)

	srv := httptest.NewServer(newHandler(db, st))
	defer srv.Close()
	post := func(form url.Values, user, pass string) (*http.Response, map[string]any) {
		req, err := http.NewRequest("POST", srv.URL+"/token", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp, body
	}
	cc := url.Values{"grant_type": {"client_credentials"}}

	resp, body := post(cc, "svc", app.ClientSecret)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "Bearer", body["token_type"])
	assert.Len(t, body["access_token"], 48)
	var stored int
	require.NoError(t, db.Get(&stored, `SELECT count(*) FROM oauth2_provider_accesstoken WHERE token = ?`, body["access_token"]))
	assert.Equal(t, 1, stored, "the token is in DOT's table")

	resp, body = post(url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {app.ClientSecret}}, "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "credentials in the form work too")
	assert.NotEmpty(t, body["access_token"])

	// Clients DOT refuses are refused: an authorization-code client with
	// its right secret, a public client with its right secret.
	web, err := application.CreateApplication(ctx, application.Spec{Store: st, ClientType: "confidential",
		GrantType: "authorization-code", RedirectURIs: "https://web.example/cb", ClientID: "web", Settings: application.Settings{HasherIterations: 1000}})
	require.NoError(t, err)
	pub, err := application.CreateApplication(ctx, application.Spec{Store: st, ClientType: "public",
		GrantType: "client-credentials", ClientID: "pub", Settings: application.Settings{HasherIterations: 1000}})
	require.NoError(t, err)

	// A client whose stored hash cannot be checked answers as a wrong
	// secret would: a 500 would tell that the client exists.
	_, err = db.Exec(`INSERT INTO oauth2_provider_application (client_id, redirect_uris, client_type, authorization_grant_type, client_secret,
name, skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins, registration_source)
VALUES ('broken', '', 'confidential', 'client-credentials', 'pbkdf2_sha256$x$y$z', '', 0, ?, ?, '', '', 1, '', 'manual')`,
		st.TimeValue(time.Now()), st.TimeValue(time.Now()))
	require.NoError(t, err)

	for _, c := range []struct {
		name         string
		form         url.Values
		user, pass   string
		status       int
		code         string
		authenticate bool
	}{
		{"wrong secret", cc, "svc", "wrong", http.StatusUnauthorized, "invalid_client", true},
		{"unknown client", cc, "nobody", app.ClientSecret, http.StatusUnauthorized, "invalid_client", true},
		{"no credentials", cc, "", "", http.StatusUnauthorized, "invalid_client", true},
		{"public client", cc, "pub", pub.ClientSecret, http.StatusUnauthorized, "invalid_client", true},
		{"authorization-code client", cc, "web", web.ClientSecret, http.StatusBadRequest, "unauthorized_client", false},
		{"other grant", url.Values{"grant_type": {"password"}}, "svc", app.ClientSecret, http.StatusBadRequest, "unsupported_grant_type", false},
		{"no grant", url.Values{}, "svc", app.ClientSecret, http.StatusBadRequest, "invalid_request", false},
		{"two methods", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {app.ClientSecret}}, "svc", app.ClientSecret,
			http.StatusBadRequest, "invalid_request", false},
		{"repeated grant_type", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, "svc", app.ClientSecret,
			http.StatusBadRequest, "invalid_request", false},
		{"malformed stored hash", cc, "broken", "anything", http.StatusUnauthorized, "invalid_client", true},
	} {
		resp, body := post(c.form, c.user, c.pass)
		assert.Equal(t, c.status, resp.StatusCode, c.name)
		assert.Equal(t, c.code, body["error"], c.name)
		assert.Nil(t, body["access_token"], c.name)
		if c.authenticate {
			assert.Equal(t, `Basic realm="token"`, resp.Header.Get("WWW-Authenticate"), c.name)
		}
	}
	var issued int
	require.NoError(t, db.Get(&issued, `SELECT count(*) FROM oauth2_provider_accesstoken`))
	assert.Equal(t, 2, issued, "only the two good requests got a token")
}

// Other paths and methods get JSON errors, and the server has timeouts
// (a half-sent request does not hold its connection).
func TestEndpointEdges(t *testing.T) {
	srv := httptest.NewServer(newHandler(nil, nil))
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/token", http.StatusMethodNotAllowed}, {"GET", "/", http.StatusNotFound}, {"POST", "/other", http.StatusNotFound}} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body map[string]any
		assert.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "%s %s answers JSON", c.method, c.path)
		resp.Body.Close()
		assert.Equal(t, c.status, resp.StatusCode, c.path)
		assert.NotEmpty(t, body["error"])
	}
	s := newServer("127.0.0.1:0", newHandler(nil, nil))
	assert.Positive(t, s.ReadHeaderTimeout)
	assert.Positive(t, s.ReadTimeout)
	assert.Positive(t, s.WriteTimeout)
	assert.Positive(t, s.IdleTimeout)
}

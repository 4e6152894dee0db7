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

	resp, body = post(cc, "svc", "wrong")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "invalid_client", body["error"])
	resp, _ = post(cc, "nobody", app.ClientSecret)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, body = post(url.Values{"grant_type": {"password"}}, "svc", app.ClientSecret)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "unsupported_grant_type", body["error"])
}

// Command token-endpoint is a minimal OAuth2 token endpoint for the
// client-credentials grant that authenticates clients against a
// django-oauth-toolkit database with oauthkit's secret verifier: a Go
// service can take over token issuing from Django and keep DOT's clients,
// hashed secrets and tables. It issues a token only to a confidential
// client registered for the client-credentials grant, as DOT does, and
// answers everything else with RFC 6749's error codes.
//
//	DATABASE_URL=sqlite:db.sqlite3 go run ./examples/token-endpoint
//	curl -u CLIENT_ID:SECRET -d grant_type=client_credentials http://127.0.0.1:8090/token
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/store/sqlstore"

	// The databases this server takes: each package links one driver.
	_ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/postgres"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite"
)

const tokenLifetime = time.Hour

func main() {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		url = "sqlite:db.sqlite3"
	}
	// The server's own handle on the DOT database, shared with oauthkit.
	ds, err := sqlstore.ParseURL(url)
	if err != nil {
		log.Fatal(err)
	}
	db, err := sqlx.Open(string(ds.Dialect), ds.DSN)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	st, err := sqlstore.New(db.DB)
	if err != nil {
		log.Fatal(err)
	}
	if err := st.CheckSchema(context.Background()); err != nil {
		log.Fatal(err)
	}
	log.Fatal(newServer("127.0.0.1:8090", newHandler(db, st)).ListenAndServe())
}

// newServer bounds how long a client may take (a half-sent request does
// not hold a connection for ever) and how large its headers may be.
func newServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
}

// newHandler serves POST /token: the client-credentials grant of RFC 6749
// section 4.4, with its error responses (section 5.2).
func newHandler(db *sqlx.DB, st *sqlstore.Store) http.Handler {
	mux := http.NewServeMux()
	// Anything but POST /token gets a JSON error too, not Go's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		oauthError(w, http.StatusNotFound, "not_found", "this server answers POST /token")
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
			return
		}
		// RFC 6749 3.2: a parameter may appear at most once.
		for name, values := range r.PostForm {
			if len(values) > 1 {
				oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+strconv.Quote(name)+" is repeated")
				return
			}
		}
		switch grant := r.PostForm.Get("grant_type"); grant {
		case "":
			oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
			return
		case "client_credentials":
		default:
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
			return
		}
		clientID, secret, err := clientCredentials(r)
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		app, valid, err := application.VerifyClientSecret(r.Context(), st, clientID, secret)
		if err != nil && app == nil {
			log.Printf("verify client %q: %v", clientID, err) // never the secret
			oauthError(w, http.StatusInternalServerError, "server_error", "")
			return
		}
		if err != nil {
			// The client exists but its stored secret cannot be checked
			// (malformed, out of range): answered as a wrong secret, so
			// the answer does not tell that the client exists.
			log.Printf("verify client %q: %v", clientID, err)
			valid = false
		}
		// A public client has no secret it could keep: it cannot
		// authenticate, so it cannot use this grant (RFC 6749 4.4).
		if !valid || app.ClientType != application.ClientConfidential {
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "")
			return
		}
		if app.AuthorizationGrantType != application.GrantClientCredentials {
			oauthError(w, http.StatusBadRequest, "unauthorized_client", "this client may not use the client-credentials grant")
			return
		}
		token, err := issue(r.Context(), db, st, app.ClientID)
		if err != nil {
			log.Printf("issue a token for %q: %v", app.ClientID, err)
			oauthError(w, http.StatusInternalServerError, "server_error", "")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck
			"access_token": token, "token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds()),
		})
	})
	return mux
}

// clientCredentials reads the client's id and secret from HTTP Basic
// (each form-urlencoded first, RFC 6749 2.3.1) or from the form; a request
// that uses both methods is refused, as RFC 6749 2.3 asks.
func clientCredentials(r *http.Request) (id, secret string, err error) {
	user, pass, basic := r.BasicAuth()
	_, inForm := r.PostForm["client_secret"]
	switch {
	case basic && inForm:
		return "", "", errors.New("use one client authentication method, not two")
	case basic:
		if id, err = url.QueryUnescape(user); err == nil {
			secret, err = url.QueryUnescape(pass)
		}
		if err != nil {
			return "", "", errors.New("the Basic credentials are not form-urlencoded")
		}
		return id, secret, nil
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), nil
}

// issue stores an access token the way DOT does, so DOT (and cleartokens)
// see it: token, its SHA-256 checksum, expiry, the application.
func issue(ctx context.Context, db *sqlx.DB, st *sqlstore.Store, clientID string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	now := time.Now()
	// DOT 3.4.1's layout; on 3.0's, leave out the resource column.
	// TimeValue writes a time as DOT does in this database.
	q := db.Rebind(`INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, application_id, created, updated, resource)
SELECT ?, ?, ?, 'read', id, ?, ?, '[]' FROM oauth2_provider_application WHERE client_id = ?`)
	_, err := db.ExecContext(ctx, q, token, hex.EncodeToString(sum[:]), st.TimeValue(now.Add(tokenLifetime)), st.TimeValue(now), st.TimeValue(now), clientID)
	return token, err
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	body := map[string]string{"error": code}
	if description != "" {
		body["error_description"] = description
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body) //nolint:errcheck
}

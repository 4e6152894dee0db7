package application_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/oauthkit/oauthkit/application"
)

// FuzzValidateRedirectURI: whatever the input, an accepted redirect URI
// has an allowed scheme, no fragment, no whitespace, no credentials, and a
// host when its scheme needs one.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com/cb", "http://127.0.0.1:8080/cb?x=1", "https://*.example.com/cb", "https://example.com/cb#f",
		"com.example.app:/cb", "ftp://example.com", "https://u:p@example.com/", "https:///cb", "http://[::1]:80/", "https://exa mple.com",
		"https://example.com:99999/", "javascript:alert(1)", "HTTPS://EXAMPLE.COM/", "http://-bad-.com/", "", "http://%zz/",
		"https://*.com./", "https://*--site.netlify.app/", "com.example.app:cb", "com.example.app:///cb",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, uri string, wildcards bool) {
		rules := application.URIRules{AllowedSchemes: []string{"http", "https", "com.example.app"}, AllowWildcards: wildcards}
		if err := application.ValidateRedirectURI(uri, rules); err != nil {
			return
		}
		if strings.ContainsAny(uri, "# \t\r\n") {
			t.Fatalf("%q accepted with a fragment or whitespace", uri)
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("%q accepted but does not parse: %v", uri, err)
		}
		scheme := strings.ToLower(u.Scheme)
		if scheme != "http" && scheme != "https" && scheme != "com.example.app" {
			t.Fatalf("%q accepted with scheme %q", uri, u.Scheme)
		}
		if u.User != nil {
			t.Fatalf("%q accepted with credentials", uri)
		}
		if (scheme == "http" || scheme == "https") && u.Hostname() == "" {
			t.Fatalf("%q accepted without a host", uri)
		}
		if !wildcards && strings.Contains(u.Host, "*") {
			t.Fatalf("%q accepted a wildcard host without ALLOW_URI_WILDCARDS", uri)
		}
	})
}

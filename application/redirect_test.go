package application_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauthkit/oauthkit/application"
)

// Redirect URIs against DOT 3.4.1's AllowedURIValidator: what it refuses
// is refused, and a few things it lets through are refused too (a trailing
// dot that defeats the wildcard's two-label rule).
func TestValidateRedirectURI(t *testing.T) {
	wild := application.URIRules{AllowWildcards: true}
	custom := application.URIRules{AllowedSchemes: []string{"https", "com.example.app"}}
	for _, c := range []struct {
		uri   string
		rules application.URIRules
		ok    bool
	}{
		{"https://app.example.com/cb?x=1", application.URIRules{}, true},
		{"https://*.example.com/cb", wild, true},
		{"https://*.example.com./cb", wild, true},
		{"https://*--site.netlify.app/cb", wild, true},
		{"https://*-site.example.com/cb", wild, true},
		{"https://*.com/cb", wild, false},
		{"https://*.com./", wild, false}, // DOT 3.4.1 accepts this one
		{"https://*.co.", wild, false},
		{"https://*example.com/cb", wild, false},
		{"https://a.*.example.com/cb", wild, false},
		{"https://*.*.example.com/cb", wild, false},
		{"https://*---site.example.com/cb", wild, false},
		{"https://*.example.com/cb", application.URIRules{}, false},
		{"com.example.app:/oauth2redirect", custom, true},
		{"com.example.app:oauth2redirect", custom, false}, // no slash: DOT refuses
		{"com.example.app:///oauth2redirect", custom, false},
		{"com.example.app://host/cb", custom, true},
		{"https:/example.com/cb", custom, false}, // needs //host
	} {
		err := application.ValidateRedirectURI(c.uri, c.rules)
		if c.ok {
			assert.NoError(t, err, c.uri)
		} else {
			assert.Error(t, err, c.uri)
		}
	}
}

package contract

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// tokenEndpoint is an OAuth2 token endpoint for the client-credentials grant, standing in for
// the issuer (e.g. Cognito) in front of which the HTTP API's JWT authorizer sits.
//
// Locally nothing validates JWTs: that is API Gateway's job, and the evaluator only reads the
// claims the authorizer passes on. So the endpoint issues an opaque access token, the caller
// registry holds that token's SHA-256 as a bearer token, and the tests point the template's
// `evaluate-url` at the evaluator's bearer route. What is exercised is Argo's side: the
// client id and secret from the Secret, the scope, the token request and the
// `Authorization: Bearer <access token>` on the evaluation request.
type tokenEndpoint struct {
	clientID, clientSecret, accessToken string
	url                                 string

	mu       sync.Mutex
	requests []tokenRequest
}

type tokenRequest struct {
	clientID, grantType, scope string
	authorized                 bool
}

func newTokenEndpoint(clientID, clientSecret, accessToken string) *tokenEndpoint {
	return &tokenEndpoint{clientID: clientID, clientSecret: clientSecret, accessToken: accessToken}
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	// golang.org/x/oauth2 sends the client credentials as HTTP Basic first, and in the form
	// only if the endpoint rejected that; accept both as RFC 6749 §2.3.1 allows.
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	request := tokenRequest{
		clientID:   id,
		grantType:  r.PostForm.Get("grant_type"),
		scope:      r.PostForm.Get("scope"),
		authorized: id == e.clientID && secret == e.clientSecret,
	}
	e.mu.Lock()
	e.requests = append(e.requests, request)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !request.authorized || request.grantType != "client_credentials" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": e.accessToken, "token_type": "Bearer", "expires_in": 3600,
		"scope": strings.TrimSpace(request.scope),
	})
}

// lastRequest is the most recent token request (zero if none).
func (e *tokenEndpoint) lastRequest() tokenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.requests) == 0 {
		return tokenRequest{}
	}
	return e.requests[len(e.requests)-1]
}

// Package contract runs the AnalysisTemplates of infra/argo-rollouts through Argo Rollouts'
// own code (argo-rollouts v1.10.1: utils/analysis, metricproviders/webmetric,
// utils/evaluate) against the real evaluator and the Honeycomb emulator, both started here.
package contract

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The emulator's demo data (docs/design.md).
const (
	badCanaryHash  = "7d9f8b6c5" // ≈ 8 % errors, p99 ≈ 1200 ms
	goodCanaryHash = "5b7c6d8e9" // ≈ 0.4 % errors, p99 ≈ 280 ms
	stableHash     = "6f8d9c7b5"
	noDataHash     = "0000000000" // no events
	// sliceCanaryHash is the good canary except for enterprise users on /checkout/payment (about
	// 1 % of its traffic): 3x slower there, and 60 % of those requests fail.
	sliceCanaryHash = "2e4f6a8c0"
	// slowCanaryHash is TestErrorWhenHoneycombIsSlowThenResumes' own canary: 60 healthy
	// spans sent to the emulator before any test runs.
	slowCanaryHash = "1a2b3c4d5"
	// zeroErrorStableHash: a stable version that never failed (an error-rate baseline of 0):
	// 200 healthy spans sent in TestMain, for TestCanaryJudgementWithArgoController.
	zeroErrorStableHash = "9e8d7c6b5"
	// quietCanaryHash: a canary with 10 healthy spans a minute against stable's 600: too few for
	// a P99 per minute or an error rate to be shown either way (TestCanaryJudgementWithArgoController).
	quietCanaryHash = "4d5e6f7a8"
)

var (
	infra *cluster
	// healthy serves every test but the rate-limit one; rateLimited's emulator answers
	// every query-result creation with 429 (the evaluator then backs off for a minute,
	// which is why it has a stack of its own).
	healthy, rateLimited *stack
	// oauth plays the issuer's token endpoint for honeycomb-error-rate-oauth2.
	oauth *tokenEndpoint
	// suiteDir holds the caller registry callersFile and the servers' logs.
	suiteDir, callersFile string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	var err error
	if infra, err = loadCluster(); err != nil {
		fmt.Fprintln(os.Stderr, "load infra/argo-rollouts:", err)
		return 1
	}
	bearerToken := string(infra.secrets[bearerSecret][bearerSecretKey])
	oauthClient := infra.secrets[oauthSecret]
	if bearerToken == "" || len(oauthClient) == 0 {
		fmt.Fprintf(os.Stderr, "infra/argo-rollouts lacks the Secrets %s or %s\n", bearerSecret, oauthSecret)
		return 1
	}
	oauth = newTokenEndpoint(string(oauthClient["client-id"]), string(oauthClient["client-secret"]), randomToken())
	server := httptest.NewServer(oauth)
	defer server.Close()
	oauth.url = server.URL + "/oauth2/token"

	workDir, err := os.MkdirTemp("", "argo-contract-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	suiteDir = workDir
	callersFile = filepath.Join(workDir, "callers.json")
	if err := writeCallers(callersFile, bearerToken, oauth.accessToken); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	type started struct {
		stack *stack
		err   error
	}
	healthyCh, limitedCh := make(chan started, 1), make(chan started, 1)
	go func() { s, err := startStack("healthy", workDir, callersFile); healthyCh <- started{s, err} }()
	go func() { s, err := startStack("rate-limited", workDir, callersFile); limitedCh <- started{s, err} }()
	h, l := <-healthyCh, <-limitedCh
	healthy, rateLimited = h.stack, l.stack
	defer func() {
		for _, s := range []*stack{healthy, rateLimited} {
			if s != nil {
				s.stop()
			}
		}
	}()
	if h.err != nil || l.err != nil {
		fmt.Fprintln(os.Stderr, "start servers:", h.err, l.err)
		return 1
	}
	// Sent before any query runs: the emulator's store fails to flush events that arrive
	// after queries have run (500 "connection has an unfinished result", reported).
	if err := healthy.ingestSpans(slowCanaryHash, 60); err != nil {
		fmt.Fprintln(os.Stderr, "send the slow canary's spans:", err)
		return 1
	}
	if err := healthy.ingestSpans(zeroErrorStableHash, 200); err != nil {
		fmt.Fprintln(os.Stderr, "send the error-free stable version's spans:", err)
		return 1
	}
	if err := healthy.ingestSpans(quietCanaryHash, 60); err != nil {
		fmt.Fprintln(os.Stderr, "send the quiet canary's spans:", err)
		return 1
	}
	// Honeycomb answers 429 to every query-result creation on this stack, until it stops.
	if err := rateLimited.injectFault(map[string]any{
		"method": "POST", "path_prefix": "/1/query_results", "count": -1, "status": 429, "mode": "status",
	}); err != nil {
		fmt.Fprintln(os.Stderr, "inject 429 fault:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		for _, s := range []*stack{healthy, rateLimited} {
			for _, p := range s.processes {
				fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n%s\n", p.name, p.tail())
			}
		}
	}
	return code
}

// writeCallers writes the evaluator's caller registry: the bearer token of the Secret in
// infra/argo-rollouts, and the access token the test's OAuth2 token endpoint issues (see
// tokenEndpoint for why that one is a bearer token locally).
func writeCallers(path, bearerToken, oauthAccessToken string) error {
	registry := map[string]any{"callers": []map[string]any{
		{"name": "argo-rollouts-bearer", "token_sha256": sha256Hex(bearerToken), "datasets": []string{"checkout"}},
		{"name": "argo-rollouts-oauth2", "token_sha256": sha256Hex(oauthAccessToken), "datasets": []string{"checkout"}},
	}}
	content, err := json.Marshal(registry)
	if err != nil {
		return err
	}
	return os.WriteFile(path, content, 0o600)
}

func sha256Hex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	buffer := make([]byte, 24)
	if _, err := rand.Read(buffer); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buffer)
}

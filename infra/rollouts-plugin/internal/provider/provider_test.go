package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	log "github.com/sirupsen/logrus"
)

const requestBody = `{"dataset":"checkout","query":{"calculations":[{"op":"P99","column":"duration_ms"}],"time_range":600}}`

func newProvider() *Provider {
	logger := log.New()
	logger.SetOutput(io.Discard)
	return New(logger)
}

// metricWith builds a metric whose plugin block is cfg (a map, marshalled as the controller would).
func metricWith(t *testing.T, cfg map[string]any, success, failure string) v1alpha1.Metric {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v1alpha1.Metric{
		Name:             "p99",
		SuccessCondition: success,
		FailureCondition: failure,
		Provider:         v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{PluginName: raw}},
	}
}

func baseConfig(endpoint string) map[string]any {
	return map[string]any{"endpoint": endpoint, "auth": "none", "request": json.RawMessage(requestBody)}
}

// evaluatorStub answers every POST with status and body, and records the last request.
type evaluatorStub struct {
	mu      sync.Mutex
	headers http.Header
	body    []byte
}

func (s *evaluatorStub) serve(t *testing.T, status int, answer string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.headers, s.body = r.Header.Clone(), body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunJudgesValueWithArgoConditions(t *testing.T) {
	answer := `{"value": %s, "query_url": "http://ui/q/1", "cached": true, "window": {"start": "2026-11-25T16:40:00Z", "end": "2026-11-25T16:50:00Z"}}`
	cases := []struct {
		name, value, success, failure string
		phase                         v1alpha1.AnalysisPhase
		stored                        string
	}{
		{"below threshold", "280.5", "result < 500", "", v1alpha1.AnalysisPhaseSuccessful, "280.5"},
		{"above threshold", "1200", "result < 500", "", v1alpha1.AnalysisPhaseFailed, "1200"},
		{"neither condition", "700", "result < 500", "result > 1000", v1alpha1.AnalysisPhaseInconclusive, "700"},
		{"null with default", "null", "default(result, 0) < 500", "", v1alpha1.AnalysisPhaseSuccessful, "null"},
		{"null without default", "null", "result < 500", "", v1alpha1.AnalysisPhaseError, "null"},
		{"isNil", "null", "", "isNil(result)", v1alpha1.AnalysisPhaseFailed, "null"},
		{"no conditions", "3", "", "", v1alpha1.AnalysisPhaseSuccessful, "3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub := &evaluatorStub{}
			srv := stub.serve(t, 200, strings.Replace(answer, "%s", tc.value, 1))
			m := newProvider().Run(nil, metricWith(t, baseConfig(srv.URL+"/v1/evaluate"), tc.success, tc.failure))
			if m.Phase != tc.phase || m.Value != tc.stored {
				t.Fatalf("got phase %s value %q (message %q), want %s %q", m.Phase, m.Value, m.Message, tc.phase, tc.stored)
			}
			if m.StartedAt == nil || m.FinishedAt == nil {
				t.Fatalf("measurement not finished: %+v", m)
			}
			if m.Metadata["query_url"] != "http://ui/q/1" || m.Metadata["cached"] != "true" ||
				m.Metadata["window"] != "2026-11-25T16:40:00Z/2026-11-25T16:50:00Z" {
				t.Fatalf("metadata %v", m.Metadata)
			}
			if tc.phase == v1alpha1.AnalysisPhaseError && !strings.Contains(m.Message, "nil or empty") {
				t.Fatalf("message %q", m.Message)
			}
			if string(stub.body) != requestBody || stub.headers.Get("Content-Type") != "application/json" {
				t.Fatalf("sent %q with %v", stub.body, stub.headers)
			}
			if stub.headers.Get("Authorization") != "" {
				t.Fatalf("auth none sent Authorization %q", stub.headers.Get("Authorization"))
			}
		})
	}
}

func TestRunNon2xxIsErrorWithServerMessage(t *testing.T) {
	cases := []struct {
		status      int
		answer      string
		wantInOrder []string
	}{
		{401, `{"error": {"code": "unauthenticated", "message": "unknown bearer token"}}`,
			[]string{"401 unauthenticated", "unknown bearer token"}},
		{422, `{"error": {"code": "invalid_request", "message": "not a valid op", "field": "query.calculations.0.op"}}`,
			[]string{"422 invalid_request", "not a valid op", "field query.calculations.0.op"}},
		{503, `{"error": {"code": "rate_limited", "message": "budget spent", "retry_after_seconds": 12}}`,
			[]string{"503 rate_limited", "retry after 12s"}},
		{403, `{"Message":"Forbidden"}`, []string{"403", `{"Message":"Forbidden"}`}},
		{502, ``, []string{"502", "(empty body)"}},
	}
	for _, tc := range cases {
		srv := (&evaluatorStub{}).serve(t, tc.status, tc.answer)
		m := newProvider().Run(nil, metricWith(t, baseConfig(srv.URL), "result < 1", ""))
		if m.Phase != v1alpha1.AnalysisPhaseError || m.FinishedAt == nil {
			t.Fatalf("%d: phase %s", tc.status, m.Phase)
		}
		rest := m.Message
		for _, want := range tc.wantInOrder {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Fatalf("%d: message %q lacks %q", tc.status, m.Message, want)
			}
			rest = rest[i+len(want):]
		}
	}
}

func TestRunMalformedSuccessIsError(t *testing.T) {
	for answer, want := range map[string]string{
		`<html>`:                        "not an evaluation",
		`{"value": 1, "cached": "yes"}`: "not an evaluation",
		`{"query_url": "x"}`:            `without a "value" field`,
		`{"value": "nope"}`:             "could not evaluate",
		`{"value": [1, 2], "x":1}`:      "could not evaluate",
	} {
		srv := (&evaluatorStub{}).serve(t, 200, answer)
		m := newProvider().Run(nil, metricWith(t, baseConfig(srv.URL), "result < 1", ""))
		if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, want) {
			t.Fatalf("%s: phase %s message %q", answer, m.Phase, m.Message)
		}
	}
}

func TestRunUsesItsOwnTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cfg := baseConfig(srv.URL)
	cfg["timeoutSeconds"] = 0.2
	m := newProvider().Run(nil, metricWith(t, cfg, "result < 1", ""))
	if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, "did not answer within 200ms") {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
}

func TestRunEvaluatorDownIsError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	m := newProvider().Run(nil, metricWith(t, baseConfig(url), "result < 1", ""))
	if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, "connection refused") {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
}

func TestBearerTokenFromFileAndEnv(t *testing.T) {
	stub := &evaluatorStub{}
	srv := stub.serve(t, 200, `{"value": 1}`)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PLUGIN_TEST_TOKEN", "env-token")

	for source, want := range map[string]string{"tokenFile": "file-token", "tokenEnv": "env-token"} {
		cfg := baseConfig(srv.URL)
		cfg["auth"] = "bearer"
		cfg[source] = map[string]string{"tokenFile": tokenFile, "tokenEnv": "PLUGIN_TEST_TOKEN"}[source]
		m := newProvider().Run(nil, metricWith(t, cfg, "", ""))
		if m.Phase != v1alpha1.AnalysisPhaseSuccessful || stub.headers.Get("Authorization") != "Bearer "+want {
			t.Fatalf("%s: phase %s (%s), Authorization %q", source, m.Phase, m.Message, stub.headers.Get("Authorization"))
		}
	}

	cfg := baseConfig(srv.URL)
	cfg["auth"], cfg["tokenEnv"] = "bearer", "PLUGIN_TEST_UNSET_TOKEN"
	m := newProvider().Run(nil, metricWith(t, cfg, "", ""))
	if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, "PLUGIN_TEST_UNSET_TOKEN is empty or unset") {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
}

func TestSigV4HeadersAndRegion(t *testing.T) {
	stub := &evaluatorStub{}
	srv := stub.serve(t, 200, `{"value": 1}`)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "session-token")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	cfg := baseConfig(srv.URL)
	cfg["auth"], cfg["region"] = "sigv4", "eu-west-1"
	m := newProvider().Run(nil, metricWith(t, cfg, "", ""))
	if m.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
	digest := sha256.Sum256([]byte(requestBody))
	auth := stub.headers.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") ||
		!strings.Contains(auth, "/eu-west-1/lambda/aws4_request") ||
		!strings.Contains(auth, "x-amz-content-sha256") ||
		stub.headers.Get("X-Amz-Content-Sha256") != hex.EncodeToString(digest[:]) ||
		stub.headers.Get("X-Amz-Security-Token") != "session-token" {
		t.Fatalf("signed headers %v", stub.headers)
	}

	// Without a region anywhere the measurement says how to set one.
	delete(cfg, "region")
	m = newProvider().Run(nil, metricWith(t, cfg, "", ""))
	if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, "no region") {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
}

func TestRegionFromAWSHosts(t *testing.T) {
	for host, want := range map[string]string{
		"abcdefgh.lambda-url.eu-west-1.on.aws":         "eu-west-1",
		"a1b2c3.execute-api.us-east-2.amazonaws.com":   "us-east-2",
		"evaluator.example.com":                        "",
		"abc.lambda-url.eu-west-1.on.aws.evil.example": "",
	} {
		got := ""
		if m := awsRegionInHost.FindStringSubmatch(host); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: got %q want %q", host, got, want)
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]struct {
		mutate func(map[string]any)
		want   string
	}{
		"unknown field":    {func(c map[string]any) { c["endpiont"] = "x" }, `unknown field "endpiont"`},
		"no endpoint":      {func(c map[string]any) { delete(c, "endpoint") }, "endpoint must be"},
		"ftp endpoint":     {func(c map[string]any) { c["endpoint"] = "ftp://x/y" }, "endpoint must be"},
		"bad auth":         {func(c map[string]any) { c["auth"] = "iam" }, `auth must be one of sigv4, bearer, none (got "iam")`},
		"bearer no source": {func(c map[string]any) { c["auth"] = "bearer" }, "exactly one of tokenFile or tokenEnv"},
		"token with none":  {func(c map[string]any) { c["tokenEnv"] = "X" }, "only apply to auth"},
		"region w/ bearer": {func(c map[string]any) { c["auth"], c["tokenEnv"], c["region"] = "bearer", "X", "eu-west-1" }, "region/service only apply"},
		"timeout too long": {func(c map[string]any) { c["timeoutSeconds"] = 120 }, "timeoutSeconds must be"},
		"negative timeout": {func(c map[string]any) { c["timeoutSeconds"] = -1 }, "timeoutSeconds must be"},
		"no request":       {func(c map[string]any) { delete(c, "request") }, "request must be"},
		"array request":    {func(c map[string]any) { c["request"] = []int{1} }, "request must be"},
		"wrong type":       {func(c map[string]any) { c["timeoutSeconds"] = "10s" }, "timeoutSeconds"},
		"bad result":       {func(c map[string]any) { c["result"] = "ratio" }, `result must be "value" (default) or "verdict" (got "ratio")`},
	}
	for name, tc := range cases {
		cfg := baseConfig("http://127.0.0.1:1/v1/evaluate")
		tc.mutate(cfg)
		m := newProvider().Run(nil, metricWith(t, cfg, "", ""))
		if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, tc.want) {
			t.Errorf("%s: phase %s message %q, want %q", name, m.Phase, m.Message, tc.want)
		}
	}
	m := newProvider().Run(nil, v1alpha1.Metric{Name: "x"})
	if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, "no provider.plugin") {
		t.Errorf("missing block: %q", m.Message)
	}
}

func TestRenamedPluginEntryStillFindsItsConfig(t *testing.T) {
	srv := (&evaluatorStub{}).serve(t, 200, `{"value": 1}`)
	raw, _ := json.Marshal(baseConfig(srv.URL))
	metric := v1alpha1.Metric{Provider: v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{"acme/honeycomb": raw}}}
	if m := newProvider().Run(nil, metric); m.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
}

func TestResumeTerminateGarbageCollect(t *testing.T) {
	srv := (&evaluatorStub{}).serve(t, 200, `{"value": 1}`)
	metric := metricWith(t, baseConfig(srv.URL), "result == 1", "")
	p := newProvider()

	finished := p.Run(nil, metric)
	if got := p.Resume(nil, metric, finished); got.Phase != finished.Phase || got.FinishedAt != finished.FinishedAt {
		t.Fatalf("Resume changed a finished measurement: %+v", got)
	}
	if got := p.Terminate(nil, metric, finished); got.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("Terminate changed a finished measurement: %+v", got)
	}

	started := finished.StartedAt
	unfinished := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: started}
	if got := p.Resume(nil, metric, unfinished); got.Phase != v1alpha1.AnalysisPhaseSuccessful || got.FinishedAt == nil || got.StartedAt != started {
		t.Fatalf("Resume of an unfinished measurement: %+v", got)
	}
	if got := p.Terminate(nil, metric, unfinished); got.Phase != v1alpha1.AnalysisPhaseInconclusive || got.FinishedAt == nil {
		t.Fatalf("Terminate of an unfinished measurement: %+v", got)
	}
	if err := p.GarbageCollect(nil, metric, 10); err.HasError() {
		t.Fatalf("GarbageCollect: %v", err)
	}
	if p.Type() != "RPCPlugin" || p.InitPlugin().HasError() {
		t.Fatal("Type/InitPlugin")
	}
	if md := p.GetMetadata(metric); md["endpoint"] != srv.URL || md["auth"] != "none" {
		t.Fatalf("GetMetadata %v", md)
	}
	if md := p.GetMetadata(v1alpha1.Metric{}); !strings.Contains(md["error"], "no provider.plugin") {
		t.Fatalf("GetMetadata without config %v", md)
	}
}

func TestConcurrentRunsKeepTheirOwnConfig(t *testing.T) {
	// Each metric's endpoint answers its own value; a shared provider must not mix them up.
	p := newProvider()
	var wg sync.WaitGroup
	for i := range 16 {
		srv := (&evaluatorStub{}).serve(t, 200, `{"value": `+strings.Repeat("1", i%4+1)+`}`)
		want := strings.Repeat("1", i%4+1)
		metric := metricWith(t, baseConfig(srv.URL), "result == "+want, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m := p.Run(nil, metric); m.Phase != v1alpha1.AnalysisPhaseSuccessful || m.Value != want {
				t.Errorf("run %d: phase %s value %s", i, m.Phase, m.Value)
			}
		}()
	}
	wg.Wait()
}

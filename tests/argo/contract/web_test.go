package contract

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/defaults"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	log "github.com/sirupsen/logrus"
)

const (
	bearerSecret    = "honeycomb-evaluator"
	bearerSecretKey = "token"
	oauthSecret     = "honeycomb-evaluator-oauth2"
)

// expectation is what a template's measurement must be for each kind of canary.
type expectation struct {
	good, bad, noData v1alpha1.AnalysisPhase
	// noDataValue is the evaluator's `value` when nothing matched, which depends on the
	// template's `empty`: null for "null", 0 for "zero"; "nodata" for a verdict.
	noDataValue any
	// compares: the template judges canary against stable (compare/judge), so it runs a
	// comparison query of its own rather than the query the single-group templates share.
	compares bool
}

// expectations lists every web template in infra/argo-rollouts; a template without an entry
// fails TestEveryWebTemplateIsExercised, so none can be documentation only.
var expectations = map[string]expectation{
	"honeycomb-error-rate":              {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed, noData: v1alpha1.AnalysisPhaseError},
	"honeycomb-p99-latency":             {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed, noData: v1alpha1.AnalysisPhaseError},
	"honeycomb-error-count":             {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed, noData: v1alpha1.AnalysisPhaseSuccessful, noDataValue: 0.0},
	"honeycomb-error-rate-no-data-safe": {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed, noData: v1alpha1.AnalysisPhaseSuccessful},
	"honeycomb-error-rate-oauth2":       {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed, noData: v1alpha1.AnalysisPhaseError},
	// verdict nodata (and inconclusive) meets neither condition: an Inconclusive measurement; a
	// run that ends without a pass is Inconclusive, and the Rollout pauses.
	"honeycomb-canary-vs-stable": {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed,
		noData: v1alpha1.AnalysisPhaseInconclusive, noDataValue: "nodata", compares: true},
	"honeycomb-error-rate-in-cluster": {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed, noData: v1alpha1.AnalysisPhaseError},
	// The background slices template only ever fails a canary: nodata (like pass) is a Successful
	// measurement, and the step analysis beside it decides promotion.
	"honeycomb-canary-slices": {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseFailed,
		noData: v1alpha1.AnalysisPhaseSuccessful, noDataValue: "nodata", compares: true},
	// The SLO (rollout.yaml's StableAvail, about 75 % of its budget left) does not depend on the
	// canary; an SLO that counted no events answers null, which passes.
	"honeycomb-slo-budget": {good: v1alpha1.AnalysisPhaseSuccessful, bad: v1alpha1.AnalysisPhaseSuccessful, noData: v1alpha1.AnalysisPhaseSuccessful},
}

// singleGroup leaves out the measurements of templates that compare canary and stable.
func singleGroup(all []measurement) []measurement {
	var kept []measurement
	for _, m := range all {
		if !expectations[m.template].compares {
			kept = append(kept, m)
		}
	}
	return kept
}

// localArgs point the templates at the servers of a stack, as a user points them at the
// deployed evaluator: through Rollout args. The OAuth2 template's evaluate-url is the
// bearer route locally (see tokenEndpoint).
func localArgs(s *stack) []v1alpha1.AnalysisRunArgument {
	return []v1alpha1.AnalysisRunArgument{
		{Name: "evaluate-url", Value: s.evaluatorURL + "/v1/evaluate"},
		{Name: "slo-url", Value: s.evaluatorURL + "/v1/slo"},
		{Name: "token-url", Value: oauth.url},
	}
}

// measurement is one metric of one analysis block, ready to measure.
type measurement struct {
	name     string // rollout/block/metric, for subtest names
	template string
	block    analysisBlock
	run      *v1alpha1.AnalysisRun
	metric   string
}

// measurements builds, for every analysis block of every Rollout, the AnalysisRun of a
// canary with canaryHash and lists its metrics.
func measurements(t *testing.T, canaryHash string, overrides []v1alpha1.AnalysisRunArgument) []measurement {
	t.Helper()
	blocks, err := infra.analysisBlocks()
	if err != nil {
		t.Fatal(err)
	}
	var all []measurement
	for _, block := range blocks {
		run, err := block.newAnalysisRun(canaryHash, stableHash, overrides)
		if err != nil {
			t.Fatalf("rollout %s %s: NewAnalysisRunFromTemplates: %v", block.rollout.Name, block.where, err)
		}
		for _, metric := range run.Spec.Metrics {
			all = append(all, measurement{
				name:     fmt.Sprintf("%s/%s/%s", block.rollout.Name, block.where, metric.Name),
				template: block.templateOf(metric.Name),
				block:    block,
				run:      run,
				metric:   metric.Name,
			})
		}
	}
	return all
}

func TestEveryWebTemplateIsExercised(t *testing.T) {
	used := map[string]bool{}
	for _, m := range measurements(t, goodCanaryHash, localArgs(healthy)) {
		used[m.template] = true
	}
	webTemplates := infra.webTemplates()
	if len(webTemplates) == 0 {
		t.Fatal("no web AnalysisTemplates in infra/argo-rollouts")
	}
	for _, name := range webTemplates {
		if _, ok := expectations[name]; !ok {
			t.Errorf("template %s has no expectations in this suite", name)
		}
		if !used[name] {
			t.Errorf("template %s is used by no Rollout in infra/argo-rollouts, so the suite never runs it", name)
		}
	}
	for name := range expectations {
		if _, ok := infra.templates[name]; !ok {
			t.Errorf("expectations name %s, which is not in infra/argo-rollouts", name)
		}
	}
}

func TestCanaryVerdicts(t *testing.T) {
	cases := []struct {
		name  string
		hash  string
		phase func(expectation) v1alpha1.AnalysisPhase
	}{
		{"good-canary", goodCanaryHash, func(e expectation) v1alpha1.AnalysisPhase { return e.good }},
		{"bad-canary", badCanaryHash, func(e expectation) v1alpha1.AnalysisPhase { return e.bad }},
		{"no-data", noDataHash, func(e expectation) v1alpha1.AnalysisPhase { return e.noData }},
	}
	for _, c := range cases {
		for _, m := range measurements(t, c.hash, localArgs(healthy)) {
			t.Run(m.name+"/"+c.name, func(t *testing.T) {
				want := c.phase(expectations[m.template])
				got := measure(t, m.run, m.metric, infra.secrets)
				t.Logf("%s: phase=%s value=%s message=%q", m.template, got.Phase, got.Value, got.Message)
				if got.Phase != want {
					t.Fatalf("phase %s, want %s (value %s, message %q)", got.Phase, want, got.Value, got.Message)
				}
			})
		}
	}
}

// TestNoDataConditions checks the no-data rows of the expectations with Argo's condition
// evaluation alone: the template's conditions applied to the value the evaluator answers
// for no data.
func TestNoDataConditions(t *testing.T) {
	logger := log.New()
	logger.SetOutput(io.Discard)
	for name, want := range expectations {
		template, ok := infra.templates[name]
		if !ok {
			continue // reported by TestEveryWebTemplateIsExercised
		}
		for _, metric := range template.Spec.Metrics {
			phase, err := evaluate.EvaluateResult(want.noDataValue, metric, *logger.WithField("metric", metric.Name))
			if phase != want.noData {
				t.Errorf("%s/%s on %v: phase %s (err %v), want %s", name, metric.Name, want.noDataValue, phase, err, want.noData)
			}
		}
	}
}

// TestTemplatesLeaveTimeForTheEvaluator: the evaluator's deadline (jsonBody timeout_seconds)
// must end before Argo's HTTP client gives up (timeoutSeconds), so a slow Honeycomb yields
// the evaluator's 504 (whose retry resumes the same query) rather than a dropped request.
func TestTemplatesLeaveTimeForTheEvaluator(t *testing.T) {
	for _, name := range infra.webTemplates() {
		for _, metric := range infra.templates[name].Spec.Metrics {
			web := metric.Provider.Web
			var body struct {
				TimeoutSeconds *float64 `json:"timeout_seconds"`
			}
			if err := json.Unmarshal(web.JSONBody, &body); err != nil || body.TimeoutSeconds == nil {
				t.Errorf("%s/%s: jsonBody has no timeout_seconds (%v)", name, metric.Name, err)
				continue
			}
			if web.TimeoutSeconds == 0 || *body.TimeoutSeconds >= float64(web.TimeoutSeconds) {
				t.Errorf("%s/%s: timeout_seconds %v must be below timeoutSeconds %d", name, metric.Name, *body.TimeoutSeconds, web.TimeoutSeconds)
			}
		}
	}
}

func TestErrorWhenEvaluatorIsDown(t *testing.T) {
	port, err := freePort() // nothing listens there once freePort returns
	if err != nil {
		t.Fatal(err)
	}
	down := []v1alpha1.AnalysisRunArgument{
		{Name: "evaluate-url", Value: fmt.Sprintf("http://127.0.0.1:%d/v1/evaluate", port)},
		{Name: "slo-url", Value: fmt.Sprintf("http://127.0.0.1:%d/v1/slo", port)},
		{Name: "token-url", Value: oauth.url},
	}
	for _, m := range measurements(t, goodCanaryHash, down) {
		t.Run(m.name, func(t *testing.T) {
			expectError(t, measure(t, m.run, m.metric, infra.secrets), "connection refused")
		})
	}
}

func TestErrorWhenTokenIsWrong(t *testing.T) {
	wrong := withSecretValue(bearerSecret, bearerSecretKey, "not-the-registered-token")
	wrong = withSecretValueIn(wrong, oauthSecret, "client-secret", "not-the-client-secret")
	for _, m := range measurements(t, goodCanaryHash, localArgs(healthy)) {
		t.Run(m.name, func(t *testing.T) {
			got := measure(t, m.run, m.metric, wrong)
			if strings.HasSuffix(m.template, "-oauth2") {
				// The issuer refuses the client; Argo never reaches the evaluator.
				expectError(t, got, "oauth2")
				if last := oauth.lastRequest(); last.authorized {
					t.Fatalf("token endpoint authorized the wrong client secret: %+v", last)
				}
				return
			}
			expectError(t, got, "received non 2xx response code: 401")
		})
	}
}

// TestErrorWhenOAuthTokenIsUnknown: the issuer grants a token the evaluator does not know
// (locally: not in the registry; deployed: a client id missing from jwt_client_id).
func TestErrorWhenOAuthTokenIsUnknown(t *testing.T) {
	original := oauth.accessToken
	oauth.accessToken = "issued-but-unknown-to-the-evaluator"
	defer func() { oauth.accessToken = original }()
	ran := false
	for _, m := range measurements(t, goodCanaryHash, localArgs(healthy)) {
		if !strings.HasSuffix(m.template, "-oauth2") {
			continue
		}
		ran = true
		t.Run(m.name, func(t *testing.T) {
			expectError(t, measure(t, m.run, m.metric, infra.secrets), "received non 2xx response code: 401")
		})
	}
	if !ran {
		t.Fatal("no OAuth2 template in infra/argo-rollouts")
	}
}

// TestOAuthClientCredentials checks what Argo sent to the token endpoint for a successful
// measurement: the client from the Secret, the grant and the template's scope.
func TestOAuthClientCredentials(t *testing.T) {
	for _, m := range measurements(t, goodCanaryHash, localArgs(healthy)) {
		if !strings.HasSuffix(m.template, "-oauth2") {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			got := measure(t, m.run, m.metric, infra.secrets)
			if got.Phase != v1alpha1.AnalysisPhaseSuccessful {
				t.Fatalf("phase %s (message %q)", got.Phase, got.Message)
			}
			last := oauth.lastRequest()
			if !last.authorized || last.grantType != "client_credentials" || last.clientID != oauth.clientID || last.scope == "" {
				t.Fatalf("token request %+v, want client %s, client_credentials and a scope", last, oauth.clientID)
			}
		})
	}
}

func TestErrorWhenHoneycombIsRateLimited(t *testing.T) {
	for _, m := range measurements(t, goodCanaryHash, localArgs(rateLimited)) {
		t.Run(m.name, func(t *testing.T) {
			got := measure(t, m.run, m.metric, infra.secrets)
			if m.template == "honeycomb-slo-budget" {
				// SLO reporting reads spend none of the query-result budget: unaffected.
				if got.Phase != v1alpha1.AnalysisPhaseSuccessful {
					t.Fatalf("phase %s (message %q), want Successful: the SLO gate spends no query budget", got.Phase, got.Message)
				}
				return
			}
			expectError(t, got, "received non 2xx response code: 503")
		})
	}
	stats, err := rateLimited.emulatorStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rate-limited emulator: %v", stats)
	// The 503s must come from Honeycomb's 429s (the first one; the evaluator then holds
	// back for the minute Honeycomb's limit lasts), not from some other failure.
	if applied, _ := stats["faults_applied"].(float64); applied < 1 {
		t.Fatalf("the emulator never answered 429: %v", stats)
	}
}

func expectError(t *testing.T, got v1alpha1.Measurement, messageContains string) {
	t.Helper()
	t.Logf("phase=%s message=%q", got.Phase, got.Message)
	if got.Phase != v1alpha1.AnalysisPhaseError {
		t.Fatalf("phase %s, want Error (value %s, message %q)", got.Phase, got.Value, got.Message)
	}
	if !strings.Contains(got.Message, messageContains) {
		t.Fatalf("message %q does not contain %q", got.Message, messageContains)
	}
}

// withSecretValue copies the manifests' Secrets with one value replaced.
func withSecretValue(secret, key, value string) map[string]map[string][]byte {
	return withSecretValueIn(infra.secrets, secret, key, value)
}

func withSecretValueIn(secrets map[string]map[string][]byte, secret, key, value string) map[string]map[string][]byte {
	copied := map[string]map[string][]byte{}
	for name, data := range secrets {
		copied[name] = map[string][]byte{}
		for k, v := range data {
			copied[name][k] = v
		}
	}
	copied[secret][key] = []byte(value)
	return copied
}

// TestMetricsShareOneHoneycombQuery: all single-group templates send the same query and differ
// only in `select`, so measuring every metric of every Rollout for one canary costs at most one
// Honeycomb query result (the rate budget that matters: 10 per minute per key); none when the
// checks of other canaries this minute already ran their family's open query (query fusion). The
// canary-vs-stable templates share one comparison query of their own: TestJudgedMetricsShareOneQuery.
func TestMetricsShareOneHoneycombQuery(t *testing.T) {
	before := queryResultsCreated(t, healthy)
	all := singleGroup(measurements(t, stableHash, localArgs(healthy)))
	end := thisMinute() // all measurements in one window, whenever the minute turns
	for _, m := range all {
		pinWindow(t, m.run, end)
	}
	for _, m := range all {
		if got := measure(t, m.run, m.metric, infra.secrets); got.Phase != v1alpha1.AnalysisPhaseSuccessful {
			t.Fatalf("%s on the stable hash: phase %s (message %q)", m.name, got.Phase, got.Message)
		}
	}
	if created := queryResultsCreated(t, healthy) - before; created > 1 {
		t.Fatalf("%d measurements created %v Honeycomb query results, want at most 1", len(all), created)
	}
}

func queryResultsCreated(t *testing.T, s *stack) float64 {
	t.Helper()
	stats, err := s.emulatorStats()
	if err != nil {
		t.Fatal(err)
	}
	created, ok := stats["query_results_created"].(float64)
	if !ok {
		t.Fatalf("no query_results_created in the emulator's stats: %v", stats)
	}
	return created
}

// errorRetryInterval is argo-rollouts' analysis.DefaultErrorRetryInterval (v1.10.1,
// analysis/analysis.go): the wait before retrying a measurement that ended in Error. The
// analysis package itself is not imported: it pulls in every metric provider.
const errorRetryInterval = 10 * time.Second

// TestTemplatesOutlastARateLimitedMinute: when Honeycomb's budget is spent the evaluator
// may need up to a minute before a query can run again; the errors Argo tolerates in a row
// must span that minute, or a busy minute aborts the rollout (docs/argo-rollouts.md).
func TestTemplatesOutlastARateLimitedMinute(t *testing.T) {
	for _, name := range infra.webTemplates() {
		for _, metric := range infra.templates[name].Spec.Metrics {
			tolerated := defaults.GetConsecutiveErrorLimitOrDefault(&metric)
			if span := time.Duration(tolerated) * errorRetryInterval; span < time.Minute {
				t.Errorf("%s/%s: consecutiveErrorLimit %d lets errors span only %s", name, metric.Name, tolerated, span)
			}
		}
	}
}

// TestErrorWhenDatasetIsForbidden: the callers may use only "checkout"; a Rollout that
// points a template at another dataset gets 403.
func TestErrorWhenDatasetIsForbidden(t *testing.T) {
	overrides := append(localArgs(healthy), v1alpha1.AnalysisRunArgument{Name: "dataset", Value: "payments"})
	for _, m := range measurements(t, goodCanaryHash, overrides) {
		t.Run(m.name, func(t *testing.T) {
			expectError(t, measure(t, m.run, m.metric, infra.secrets), "received non 2xx response code: 403")
		})
	}
}

// TestErrorWhenHoneycombIsSlowThenResumes: a query result that does not complete within the
// evaluator's deadline (jsonBody timeout_seconds) gives Argo a 504 before Argo's own client
// timeout (timeoutSeconds), and Argo's retry gets the value. Takes one evaluator deadline
// (15 s), so it runs one metric only.
func TestErrorWhenHoneycombIsSlowThenResumes(t *testing.T) {
	// Parallel only with TestControllerRidesOutARateLimitedMinute, which has its own stack:
	// parallel tests start after every sequential one has finished with the healthy stack.
	t.Parallel()
	all := singleGroup(measurements(t, badCanaryHash, localArgs(healthy)))
	if len(all) == 0 {
		t.Fatal("no measurements")
	}
	m := all[0]
	if err := healthy.injectFault(map[string]any{
		"method": "GET", "path_prefix": "/1/query_results", "count": -1, "mode": "never_complete",
	}); err != nil {
		t.Fatal(err)
	}
	faultCleared := false
	defer func() {
		if !faultCleared {
			_ = healthy.clearFaults()
		}
	}()
	// A canary of this test's own (its spans are sent in TestMain), so no result for it
	// is cached.
	run, err := m.block.newAnalysisRun(slowCanaryHash, stableHash, localArgs(healthy))
	if err != nil {
		t.Fatal(err)
	}
	// Both tries ask for the same window, of a length no other test asks for: otherwise an open
	// query of the family that another test's canaries ran this minute answers this new canary.
	pinWidenedWindow(t, run, thisMinute(), time.Minute)
	createdBefore := queryResultsCreated(t, healthy)
	expectError(t, measure(t, run, m.metric, infra.secrets), "received non 2xx response code: 504")

	if err := healthy.clearFaults(); err != nil {
		t.Fatal(err)
	}
	faultCleared = true
	retry := measure(t, run, m.metric, infra.secrets)
	if retry.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("retry after the slow result: phase %s (value %s, message %q), want Successful", retry.Phase, retry.Value, retry.Message)
	}
	created := queryResultsCreated(t, healthy) - createdBefore
	t.Logf("retry: phase=%s value=%s; query results created for both tries: %v", retry.Phase, retry.Value, created)
	// Both tries are the same query: the retry must resume the result the first try created
	// rather than create another.
	if created != 1 {
		t.Fatalf("the retry created a new query result (%v in all) instead of resuming", created)
	}
}

package flagger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/fluxcd/flagger/pkg/controller"
	"sigs.k8s.io/yaml"
)

// The emulator's demo data (docs/design.md): pod template hashes of dataset checkout.
const (
	badCanaryHash  = "7d9f8b6c5" // ≈ 8 % errors
	goodCanaryHash = "5b7c6d8e9" // ≈ 0.4 % errors
)

var healthy *stack

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	canary, err := exampleCanary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "flagger-contract-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The caller registry knows the example's token, as it would after `hash-token`.
	sum := sha256.Sum256([]byte(metadataOf(canary.Spec.Analysis.Webhooks[0])["token"]))
	callers := fmt.Sprintf(`{"callers": [{"name": "flagger", "token_sha256": %q, "datasets": ["checkout"]}]}`,
		hex.EncodeToString(sum[:]))
	callersFile := filepath.Join(dir, "callers.json")
	if err := os.WriteFile(callersFile, []byte(callers), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	healthy, err = startStack(dir, []string{"EVALUATOR_CALLERS_FILE=" + callersFile})
	defer healthy.stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start servers:", err)
		return 1
	}
	// Sent before any query runs (the emulator's store does not take events after queries
	// have run; see tests/argo/contract). Namespace good: a healthy canary and its primary;
	// namespace bad: a canary with 10 % errors and 900 ms spans.
	for _, d := range []struct {
		namespace, deployment string
		errorEvery            int
		durationMs            float64
	}{{"good", "checkout", 0, 120}, {"good", "checkout-primary", 0, 120}, {"bad", "checkout", 10, 900}} {
		if err := healthy.ingestDeployment(d.namespace, d.deployment, 200, d.errorEvery, d.durationMs); err != nil {
			fmt.Fprintln(os.Stderr, "ingest:", err)
			return 1
		}
	}
	code := m.Run()
	if code != 0 {
		for _, log := range healthy.logs {
			content, _ := os.ReadFile(log)
			fmt.Fprintf(os.Stderr, "--- %s ---\n%s\n", log, content[max(0, len(content)-4000):])
		}
	}
	return code
}

// exampleCanary is infra/flagger/canary.yaml decoded into Flagger's own Canary type,
// rejecting any field Flagger's types do not have.
func exampleCanary() (flaggerv1.Canary, error) {
	var canary flaggerv1.Canary
	content, err := os.ReadFile(filepath.Join(repoRoot(), "infra", "flagger", "canary.yaml"))
	if err != nil {
		return canary, err
	}
	asJSON, err := yaml.YAMLToJSON(content)
	if err != nil {
		return canary, err
	}
	decoder := json.NewDecoder(bytes.NewReader(asJSON))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&canary); err != nil {
		return canary, fmt.Errorf("infra/flagger/canary.yaml: %w", err)
	}
	if canary.Spec.Analysis == nil || len(canary.Spec.Analysis.Webhooks) == 0 {
		return canary, fmt.Errorf("infra/flagger/canary.yaml has no analysis webhooks")
	}
	return canary, nil
}

func metadataOf(webhook flaggerv1.CanaryWebhook) map[string]string {
	if webhook.Metadata == nil {
		return nil
	}
	return *webhook.Metadata
}

// aimed is the webhook pointed at the test's evaluator (same path as in the example).
func aimed(t *testing.T, webhook flaggerv1.CanaryWebhook) flaggerv1.CanaryWebhook {
	t.Helper()
	const route = "/v1/flagger"
	if !strings.HasSuffix(webhook.URL, route) {
		t.Fatalf("webhook %s calls %s, not the evaluator's %s", webhook.Name, webhook.URL, route)
	}
	webhook.URL = healthy.evaluatorURL + route
	return webhook
}

// failure is the evaluator's JSON answer, which Flagger's callWebhook returns as the error
// text of any status above 202 (and logs).
type failure struct {
	Error struct {
		Code, Message, Field string
	}
	Passed bool
	Reason string
	Value  *float64
}

func readFailure(t *testing.T, err error) failure {
	t.Helper()
	if err == nil {
		t.Fatal("the webhook passed; want a failed check")
	}
	var body failure
	if jsonErr := json.Unmarshal([]byte(err.Error()), &body); jsonErr != nil {
		t.Fatalf("Flagger's error is not the evaluator's JSON answer: %q", err)
	}
	return body
}

// callAs calls the webhook through Flagger's own CallWebhook for the canary namespace/name.
func callAs(canary flaggerv1.Canary, namespace string, webhook flaggerv1.CanaryWebhook) error {
	canary.Namespace = namespace
	return controller.CallWebhook(canary, flaggerv1.CanaryPhaseProgressing, webhook)
}

func TestExampleWebhooksPassTheHealthyCanary(t *testing.T) {
	canary, err := exampleCanary()
	if err != nil {
		t.Fatal(err)
	}
	for _, webhook := range canary.Spec.Analysis.Webhooks {
		if err := callAs(canary, "good", aimed(t, webhook)); err != nil {
			t.Errorf("%s (%s): %v", webhook.Name, webhook.Type, err)
		}
	}
}

func TestExampleWebhooksFailTheBadCanaryWithTheReason(t *testing.T) {
	canary, err := exampleCanary()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"honeycomb-error-rate":           "bad/checkout (Progressing): AVG(is_error) = 0.1 is above max 0.02",
		"honeycomb-p99-before-promotion": "bad/checkout (Progressing): P99(duration_ms) = 900 is above max 500",
	}
	for _, webhook := range canary.Spec.Analysis.Webhooks {
		body := readFailure(t, callAs(canary, "bad", aimed(t, webhook)))
		if body.Error.Code != "check_failed" || body.Error.Message != want[webhook.Name] || body.Passed {
			t.Errorf("%s: got %+v, want check_failed %q", webhook.Name, body, want[webhook.Name])
		}
	}
}

// demoWebhook is a webhook over the emulator's demo data, which tells versions apart by pod
// template hash: the hash travels as a metadata variable.
func demoWebhook(t *testing.T, hash string) flaggerv1.CanaryWebhook {
	canary, err := exampleCanary()
	if err != nil {
		t.Fatal(err)
	}
	metadata := map[string]string{
		"token": metadataOf(canary.Spec.Analysis.Webhooks[0])["token"],
		"max":   "0.02",
		"hash":  hash,
		"request": `{"dataset": "checkout", "query": {
		    "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
		    "calculations": [{"op": "AVG", "column": "is_error"}],
		    "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": "{{ variables.hash }}"},
		                {"column": "service.name", "op": "=", "value": "{{ name }}"}],
		    "time_range": 600}}`,
	}
	return aimed(t, flaggerv1.CanaryWebhook{
		Type: flaggerv1.RolloutHook, Name: "demo", URL: "http://x/v1/flagger", Timeout: "20s", Metadata: &metadata,
	})
}

func TestDemoGoodCanaryPassesAndBadCanaryFails(t *testing.T) {
	canary, err := exampleCanary() // named checkout, like the demo's service
	if err != nil {
		t.Fatal(err)
	}
	if err := callAs(canary, "default", demoWebhook(t, goodCanaryHash)); err != nil {
		t.Errorf("good canary: %v", err)
	}
	body := readFailure(t, callAs(canary, "default", demoWebhook(t, badCanaryHash)))
	if body.Error.Code != "check_failed" || body.Value == nil || *body.Value != 0.08 {
		t.Errorf("bad canary: got %+v, want check_failed with value 0.08", body)
	}
	if want := "default/checkout (Progressing): AVG(is_error) = 0.08 is above max 0.02"; body.Error.Message != want {
		t.Errorf("bad canary reason %q, want %q", body.Error.Message, want)
	}
}

func TestAMistakeInTheMetadataNamesTheField(t *testing.T) {
	canary, _ := exampleCanary()
	webhook := demoWebhook(t, goodCanaryHash)
	(*webhook.Metadata)["max"] = "two percent"
	body := readFailure(t, callAs(canary, "default", webhook))
	if body.Error.Code != "invalid_request" || body.Error.Field != "metadata.max" {
		t.Errorf("got %+v, want invalid_request on metadata.max", body)
	}
}

// Flagger's HTTP client retries 5xx and 429 and then logs only "giving up after N attempt(s)";
// an undecided check (here Honeycomb never finishing the query) must reach its log with the
// reason, so it is not a 5xx.
func TestAnUndecidedCheckKeepsItsReasonInFlaggersLog(t *testing.T) {
	canary, _ := exampleCanary()
	if err := healthy.post("POST", "/_emulator/faults", map[string]any{
		"method": "GET", "path_prefix": "/1/query_results", "count": -1, "mode": "never_complete",
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = healthy.post("DELETE", "/_emulator/faults", nil) }()
	// A query no other test ran, in a family of its own: with another window length no result
	// is cached and no fused query of the demo family's first checks can answer it.
	webhook := demoWebhook(t, "0000000001")
	request := strings.Replace((*webhook.Metadata)["request"], `"time_range": 600}`, `"time_range": 660}, "timeout_seconds": 2`, 1)
	if request == (*webhook.Metadata)["request"] {
		t.Fatal("the demo webhook's request no longer ends with its time_range")
	}
	(*webhook.Metadata)["request"] = request
	body := readFailure(t, callAs(canary, "default", webhook))
	if body.Error.Code != "timeout" || body.Error.Message == "" {
		t.Errorf("got %+v, want the timeout answer", body)
	}
}

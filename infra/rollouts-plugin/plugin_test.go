package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/honeycomb-rollouts-evaluator/infra/rollouts-plugin/internal/provider"
)

// sigv4Metrics is the SigV4 template pointed at the verifier (our Function URL).
func sigv4Metrics(t *testing.T, canary string) map[string]v1alpha1.Metric {
	return templateMetrics(t, "plugin-analysistemplate.yaml", map[string]string{
		"canary-hash": canary, "evaluate-url": stack.verifierURL, "aws-region": testRegion,
	})
}

// bearerMetric is the bearer template's metric pointed at the evaluator.
func bearerMetric(t *testing.T, canary, tokenFile string) v1alpha1.Metric {
	return templateMetrics(t, "plugin-analysistemplate-bearer.yaml", map[string]string{
		"canary-hash": canary, "evaluate-url": stack.evaluatorURL, "token-file": tokenFile,
	})["error-rate"]
}

func requirePhase(t *testing.T, name string, m v1alpha1.Measurement, want v1alpha1.AnalysisPhase) {
	t.Helper()
	if m.Phase != want {
		t.Fatalf("%s: phase %s (value %q, message %q), want %s", name, m.Phase, m.Value, m.Message, want)
	}
	if m.StartedAt == nil || m.FinishedAt == nil {
		t.Fatalf("%s: measurement not finished: %+v", name, m)
	}
}

func TestSigV4TemplateGoodCanaryIsSuccessful(t *testing.T) {
	plugin, _ := startPlugin(t, sigv4Env(testSecretKey)...)
	metrics := sigv4Metrics(t, goodCanary)
	if len(metrics) != 2 {
		t.Fatalf("template metrics %v", metrics)
	}
	for name, metric := range metrics {
		m := plugin.Run(&v1alpha1.AnalysisRun{}, metric)
		requirePhase(t, name, m, v1alpha1.AnalysisPhaseSuccessful)
		if _, err := strconv.ParseFloat(m.Value, 64); err != nil {
			t.Fatalf("%s: value %q is not a number", name, m.Value)
		}
		if !strings.HasPrefix(m.Metadata["query_url"], stack.emulatorURL+"/ui/") || m.Metadata["cached"] == "" {
			t.Fatalf("%s: metadata %v", name, m.Metadata)
		}
	}
}

func TestSigV4TemplateBadCanaryFails(t *testing.T) {
	plugin, _ := startPlugin(t, sigv4Env(testSecretKey)...)
	for name, metric := range sigv4Metrics(t, badCanary) {
		requirePhase(t, name, plugin.Run(&v1alpha1.AnalysisRun{}, metric), v1alpha1.AnalysisPhaseFailed)
	}
}

func TestSigV4WrongSecretIsError(t *testing.T) {
	plugin, _ := startPlugin(t, sigv4Env("not-the-secret-key")...)
	m := plugin.Run(&v1alpha1.AnalysisRun{}, sigv4Metrics(t, goodCanary)["p99-latency"])
	requirePhase(t, "wrong secret", m, v1alpha1.AnalysisPhaseError)
	if !strings.Contains(m.Message, "failed to run via plugin: evaluator answered 403") ||
		!strings.Contains(m.Message, "signature does not match") {
		t.Fatalf("message %q", m.Message)
	}
}

func TestSigV4WrongRegionIsError(t *testing.T) {
	plugin, _ := startPlugin(t, sigv4Env(testSecretKey)...)
	metric := templateMetrics(t, "plugin-analysistemplate.yaml", map[string]string{
		"canary-hash": goodCanary, "evaluate-url": stack.verifierURL, "aws-region": "us-east-1",
	})["error-rate"]
	m := plugin.Run(&v1alpha1.AnalysisRun{}, metric)
	requirePhase(t, "wrong region", m, v1alpha1.AnalysisPhaseError)
	if !strings.Contains(m.Message, "evaluator answered 403") || !strings.Contains(m.Message, "us-east-1/lambda/aws4_request is not") {
		t.Fatalf("message %q", m.Message)
	}
}

func TestBearerTemplateGoodAndBadCanary(t *testing.T) {
	plugin, _ := startPlugin(t)
	requirePhase(t, "good", plugin.Run(&v1alpha1.AnalysisRun{}, bearerMetric(t, goodCanary, stack.tokenFile)),
		v1alpha1.AnalysisPhaseSuccessful)
	requirePhase(t, "bad", plugin.Run(&v1alpha1.AnalysisRun{}, bearerMetric(t, badCanary, stack.tokenFile)),
		v1alpha1.AnalysisPhaseFailed)
}

func TestWrongTokenIsErrorWithTheEvaluatorsMessage(t *testing.T) {
	plugin, _ := startPlugin(t)
	wrongToken := t.TempDir() + "/token"
	if err := os.WriteFile(wrongToken, []byte("not-a-registered-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := plugin.Run(&v1alpha1.AnalysisRun{}, bearerMetric(t, goodCanary, wrongToken))
	requirePhase(t, "wrong token", m, v1alpha1.AnalysisPhaseError)
	if !strings.HasPrefix(m.Message, "failed to run via plugin: evaluator answered 401 unauthenticated: ") ||
		!strings.Contains(m.Message, "caller registry") {
		t.Fatalf("message %q", m.Message)
	}
}

func TestEvaluatorDownIsError(t *testing.T) {
	plugin, _ := startPlugin(t)
	metric := templateMetrics(t, "plugin-analysistemplate-bearer.yaml", map[string]string{
		"canary-hash": goodCanary, "token-file": stack.tokenFile,
		"evaluate-url": "http://127.0.0.1:" + strconv.Itoa(freePort()) + "/v1/evaluate",
	})["error-rate"]
	m := plugin.Run(&v1alpha1.AnalysisRun{}, metric)
	requirePhase(t, "evaluator down", m, v1alpha1.AnalysisPhaseError)
	if !strings.Contains(m.Message, "calling evaluator") || !strings.Contains(m.Message, "connection refused") {
		t.Fatalf("message %q", m.Message)
	}
}

func TestNoDataIsNilForArgosConditions(t *testing.T) {
	plugin, _ := startPlugin(t)
	metric := bearerMetric(t, noDataCanary, stack.tokenFile)

	// As in the web provider: `result < 0.02` cannot judge null, so the measurement is an Error...
	m := plugin.Run(&v1alpha1.AnalysisRun{}, metric)
	requirePhase(t, "no data", m, v1alpha1.AnalysisPhaseError)
	if m.Value != "null" || !strings.Contains(m.Message, "metric result is nil or empty") {
		t.Fatalf("value %q message %q", m.Value, m.Message)
	}
	// ...and default() turns it into a verdict.
	metric.SuccessCondition = "default(result, 0) < 0.02"
	requirePhase(t, "no data with default", plugin.Run(&v1alpha1.AnalysisRun{}, metric), v1alpha1.AnalysisPhaseSuccessful)
	metric.SuccessCondition, metric.FailureCondition = "", "isNil(result)"
	requirePhase(t, "no data with isNil", plugin.Run(&v1alpha1.AnalysisRun{}, metric), v1alpha1.AnalysisPhaseFailed)
}

func TestEvaluatorValidationErrorNamesTheField(t *testing.T) {
	plugin, _ := startPlugin(t)
	metric := bearerMetric(t, goodCanary, stack.tokenFile)
	var cfg map[string]any
	if err := json.Unmarshal(metric.Provider.Plugin[provider.PluginName], &cfg); err != nil {
		t.Fatal(err)
	}
	request := cfg["request"].(map[string]any)
	request["query"].(map[string]any)["calculations"] = []any{map[string]any{"op": "P101", "column": "duration_ms"}}
	metric.Provider.Plugin[provider.PluginName], _ = json.Marshal(cfg)
	m := plugin.Run(&v1alpha1.AnalysisRun{}, metric)
	requirePhase(t, "invalid op", m, v1alpha1.AnalysisPhaseError)
	if !strings.Contains(m.Message, "422 invalid_request") || !strings.Contains(m.Message, "query.calculations.0.op") {
		t.Fatalf("message %q", m.Message)
	}
}

// One plugin process serves all AnalysisRuns in parallel, as in the controller.
func TestConcurrentMeasurementsThroughOneProcess(t *testing.T) {
	plugin, _ := startPlugin(t, sigv4Env(testSecretKey)...)
	cases := []struct {
		metric v1alpha1.Metric
		want   v1alpha1.AnalysisPhase
	}{
		{bearerMetric(t, goodCanary, stack.tokenFile), v1alpha1.AnalysisPhaseSuccessful},
		{bearerMetric(t, badCanary, stack.tokenFile), v1alpha1.AnalysisPhaseFailed},
		{sigv4Metrics(t, goodCanary)["p99-latency"], v1alpha1.AnalysisPhaseSuccessful},
		{sigv4Metrics(t, badCanary)["p99-latency"], v1alpha1.AnalysisPhaseFailed},
	}
	var wg sync.WaitGroup
	for i := range 12 {
		tc := cases[i%len(cases)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m := plugin.Run(&v1alpha1.AnalysisRun{}, tc.metric); m.Phase != tc.want {
				t.Errorf("run %d: phase %s (%s), want %s", i, m.Phase, m.Message, tc.want)
			}
		}()
	}
	wg.Wait()
}

func TestOtherRPCsThroughGoPlugin(t *testing.T) {
	plugin, _ := startPlugin(t)
	metric := bearerMetric(t, goodCanary, stack.tokenFile)
	run := &v1alpha1.AnalysisRun{}

	finished := plugin.Run(run, metric)
	requirePhase(t, "run", finished, v1alpha1.AnalysisPhaseSuccessful)
	if got := plugin.Resume(run, metric, finished); got.Phase != finished.Phase || got.Value != finished.Value {
		t.Fatalf("Resume changed a finished measurement: %+v", got)
	}
	if got := plugin.Terminate(run, metric, finished); got.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("Terminate changed a finished measurement: %+v", got)
	}
	unfinished := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: finished.StartedAt}
	requirePhase(t, "resume unfinished", plugin.Resume(run, metric, unfinished), v1alpha1.AnalysisPhaseSuccessful)
	requirePhase(t, "terminate unfinished", plugin.Terminate(run, metric, unfinished), v1alpha1.AnalysisPhaseInconclusive)
	if err := plugin.GarbageCollect(run, metric, 10); err.HasError() {
		t.Fatalf("GarbageCollect: %s", err.Error())
	}
	if got := plugin.Type(); got != "RPCPlugin" {
		t.Fatalf("Type %q", got)
	}
	if md := plugin.GetMetadata(metric); md["endpoint"] != stack.evaluatorURL || md["auth"] != "bearer" {
		t.Fatalf("GetMetadata %v", md)
	}
	bad := v1alpha1.Metric{Name: "no-config"}
	m := plugin.Run(run, bad)
	requirePhase(t, "no config", m, v1alpha1.AnalysisPhaseError)
	if !strings.Contains(m.Message, "no provider.plugin") {
		t.Fatalf("message %q", m.Message)
	}
}

// The controller's ConfigMap rules (utils/config: name regex, one list of PluginItem under
// metricProviderPlugins) and the names the other manifests rely on.
func TestReleaseManifestsAgree(t *testing.T) {
	var configMap corev1.ConfigMap
	readManifest(t, "plugin-configmap.yaml", &configMap)
	if configMap.Name != "argo-rollouts-config" {
		t.Fatalf("ConfigMap name %q", configMap.Name)
	}
	var plugins []types.PluginItem
	if err := yaml.UnmarshalStrict([]byte(configMap.Data["metricProviderPlugins"]), &plugins); err != nil {
		t.Fatal(err)
	}
	controllerName := regexp.MustCompile(`^([a-zA-Z0-9\-]+)\/{1}([a-zA-Z0-9_\-.]+)$`)
	if len(plugins) != 1 || plugins[0].Name != provider.PluginName || !controllerName.MatchString(plugins[0].Name) {
		t.Fatalf("plugins %+v", plugins)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(plugins[0].Sha256) ||
		!strings.HasPrefix(plugins[0].Location, "https://") {
		t.Fatalf("plugin location/sha256 %+v", plugins[0])
	}
	for _, file := range []string{"plugin-analysistemplate.yaml", "plugin-analysistemplate-bearer.yaml"} {
		for name, metric := range templateMetrics(t, file, map[string]string{"canary-hash": goodCanary}) {
			if _, ok := metric.Provider.Plugin[plugins[0].Name]; !ok || len(metric.Provider.Plugin) != 1 {
				t.Fatalf("%s/%s: provider.plugin keys %v", file, name, metric.Provider.Plugin)
			}
		}
	}
	var account corev1.ServiceAccount
	readManifest(t, "plugin-serviceaccount.yaml", &account)
	roleARN := account.Annotations["eks.amazonaws.com/role-arn"]
	if account.Name != "argo-rollouts" || account.Namespace != configMap.Namespace ||
		!regexp.MustCompile(`^arn:aws:iam::\d{12}:role/.+$`).MatchString(roleARN) {
		t.Fatalf("service account %s/%s role %q", account.Namespace, account.Name, roleARN)
	}
}

func readManifest(t *testing.T, file string, into any) {
	t.Helper()
	content, err := os.ReadFile(manifestsDir + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(content, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/honeycomb-rollouts-evaluator/infra/rollouts-plugin/internal/provider"
)

// judgedMetric is the bearer template's metric turned into a canary-vs-stable judgement of the
// error rate, with `result: verdict` so that Argo's conditions read the verdict.
func judgedMetric(t *testing.T, canary string) v1alpha1.Metric {
	t.Helper()
	metric := bearerMetric(t, canary, stack.tokenFile)
	var cfg map[string]any
	if err := json.Unmarshal(metric.Provider.Plugin[provider.PluginName], &cfg); err != nil {
		t.Fatal(err)
	}
	request := cfg["request"].(map[string]any)
	query := request["query"].(map[string]any)
	query["calculations"] = []any{map[string]any{"op": "AVG", "column": "is_error"}}
	query["filters"] = []any{} // compare adds the filter on the hash
	delete(request, "select")
	request["compare"] = map[string]any{"column": "rollouts_pod_template_hash", "canary": canary, "baseline": stableHash}
	request["judge"] = map[string]any{"harmful_increase": 2, "min_count": 50, "test": "proportions", "significance": 0.02}
	cfg["result"] = "verdict"
	metric.Provider.Plugin[provider.PluginName], _ = json.Marshal(cfg)
	metric.SuccessCondition, metric.FailureCondition = `result == "pass"`, `result == "high"`
	return metric
}

// TestJudgementThroughThePlugin: compare and judge go through the plugin to the real
// evaluator; the verdict decides the phase, the reason is the message, and the metadata holds
// both groups.
func TestJudgementThroughThePlugin(t *testing.T) {
	plugin, _ := startPlugin(t)
	cases := []struct {
		canary, verdict, reasonStart string
		phase                        v1alpha1.AnalysisPhase
	}{
		{badCanary, "high", "canary AVG(is_error) 8 % vs baseline 0.5 %: 16x (96 % CI", v1alpha1.AnalysisPhaseFailed},
		{goodCanary, "pass", "canary AVG(is_error) ", v1alpha1.AnalysisPhaseSuccessful},
		{noDataCanary, "nodata", "canary AVG(is_error) no value vs baseline", v1alpha1.AnalysisPhaseInconclusive},
	}
	for _, c := range cases {
		t.Run(c.verdict, func(t *testing.T) {
			m := plugin.Run(&v1alpha1.AnalysisRun{}, judgedMetric(t, c.canary))
			requirePhase(t, c.canary, m, c.phase)
			if m.Value != `"`+c.verdict+`"` || m.Metadata["verdict"] != c.verdict {
				t.Fatalf("value %q metadata %v", m.Value, m.Metadata)
			}
			if !strings.HasPrefix(m.Message, c.reasonStart) || m.Metadata["reason"] != m.Message {
				t.Fatalf("message %q, want the reason starting %q", m.Message, c.reasonStart)
			}
			if m.Metadata["baseline_count"] == "0" || m.Metadata["canary_count"] == "" ||
				m.Metadata["test"] != "proportions" || m.Metadata["ratio_ci"] == "" ||
				!strings.HasPrefix(m.Metadata["query_url"], stack.emulatorURL+"/ui/") {
				t.Fatalf("metadata %v", m.Metadata)
			}
		})
	}
}

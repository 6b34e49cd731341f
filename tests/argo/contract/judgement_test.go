package contract

import (
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// judgedRollout is rollout-canary-judgement.yaml: canary-vs-stable templates in its step analysis.
const judgedRollout = "checkout-judged"

func judgedStep(t *testing.T) *analysisBlock {
	t.Helper()
	blocks, err := infra.analysisBlocks()
	if err != nil {
		t.Fatal(err)
	}
	for i := range blocks {
		if blocks[i].rollout.Name == judgedRollout && blocks[i].where != "background" {
			return &blocks[i]
		}
	}
	t.Fatalf("rollout %s has no analysis step", judgedRollout)
	return nil
}

// TestCanaryJudgementWithArgoController runs the step analysis of rollout-canary-judgement.yaml
// (p99 latency and error rate, each judged against the stable version's in one query) through
// Argo's AnalysisRun controller, with the stable hash from `podTemplateHashValue: Stable`.
// A canary (or a stable version) without traffic gets the verdict nodata: Inconclusive, so the
// Rollout pauses. Against a stable version without a single error (a baseline of 0), the error
// rate neither passes nor fails every canary: the good one passes, the bad one fails.
func TestCanaryJudgementWithArgoController(t *testing.T) {
	step := judgedStep(t)
	const errorRate = "error-rate-vs-stable"
	cases := []struct {
		name, hash, stable string
		only               string // measure only this metric ("" = all)
		phase              v1alpha1.AnalysisPhase
		verdict            string // the last measurement's value (the evaluator's verdict)
		kubectl            string
		run                *v1alpha1.AnalysisRun
	}{
		{"good-canary", goodCanaryHash, stableHash, "", v1alpha1.AnalysisPhaseSuccessful, `"pass"`, "AnalysisRun  ✔ Successful", nil},
		{"bad-canary", badCanaryHash, stableHash, "", v1alpha1.AnalysisPhaseFailed, `"high"`, "AnalysisRun  ✖ Failed", nil},
		{"no-canary-traffic", noDataHash, stableHash, "", v1alpha1.AnalysisPhaseInconclusive, `"nodata"`, "? Inconclusive", nil},
		{"no-stable-traffic", goodCanaryHash, noDataHash, "", v1alpha1.AnalysisPhaseInconclusive, `"nodata"`, "? Inconclusive", nil},
		{"zero-baseline-good", goodCanaryHash, zeroErrorStableHash, errorRate, v1alpha1.AnalysisPhaseSuccessful, `"pass"`, "✔ Successful", nil},
		{"zero-baseline-bad", badCanaryHash, zeroErrorStableHash, errorRate, v1alpha1.AnalysisPhaseFailed, `"high"`, "✖ Failed", nil},
	}
	var runs []*v1alpha1.AnalysisRun
	for i := range cases {
		run, err := step.newAnalysisRun(cases[i].hash, cases[i].stable, localArgs(healthy))
		if err != nil {
			t.Fatal(err)
		}
		if got := argValue(run, "stable-hash"); got != cases[i].stable {
			t.Fatalf("stable-hash arg %q, want the stable ReplicaSet's hash %s", got, cases[i].stable)
		}
		run.Name += "-" + cases[i].name // two cases share a canary hash
		if only := cases[i].only; only != "" {
			metrics := run.Spec.Metrics[:0]
			for _, metric := range run.Spec.Metrics {
				if metric.Name == only {
					metrics = append(metrics, metric)
				}
			}
			run.Spec.Metrics = metrics
		}
		run.CreationTimestamp = metav1.Now()
		cases[i].run = withInterval(run, "1s")
		runs = append(runs, cases[i].run)
	}
	controller := startAnalysisController(t, runs...)
	defer controller.stop()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := controller.wait(t, c.run, 60*time.Second)
			line := kubectlLine(step.rollout, done)
			t.Logf("kubectl argo rollouts get rollout: %s", line)
			t.Logf("run: %s %q", done.Status.Phase, done.Status.Message)
			if done.Status.Phase != c.phase || !strings.Contains(line, c.kubectl) {
				t.Fatalf("AnalysisRun %s %q (kubectl %q), want %s", done.Status.Phase, done.Status.Message, line, c.phase)
			}
			for _, result := range done.Status.MetricResults {
				last := result.Measurements[len(result.Measurements)-1]
				t.Logf("%s: %s value=%s successful=%d failed=%d inconclusive=%d", result.Name, result.Phase, last.Value,
					result.Successful, result.Failed, result.Inconclusive)
				if last.Value != c.verdict {
					t.Errorf("%s: last measurement %q, want %s", result.Name, last.Value, c.verdict)
				}
			}
		})
	}
}

func argValue(run *v1alpha1.AnalysisRun, name string) string {
	for _, arg := range run.Spec.Args {
		if arg.Name == name && arg.Value != nil {
			return *arg.Value
		}
	}
	return ""
}

// TestJudgedMetricsShareOneQuery: both canary-vs-stable templates send the same query (only
// `select` and `judge` differ), so judging a canary's latency and error rate costs one
// Honeycomb query result. The slow canary's spans are used so that no other test has the
// result cached.
func TestJudgedMetricsShareOneQuery(t *testing.T) {
	step := judgedStep(t)
	run, err := step.newAnalysisRun(slowCanaryHash, stableHash, localArgs(healthy))
	if err != nil {
		t.Fatal(err)
	}
	pinWindow(t, run, thisMinute()) // both measurements in one window
	before := queryResultsCreated(t, healthy)
	for _, metric := range run.Spec.Metrics {
		got := measure(t, run, metric.Name, infra.secrets)
		t.Logf("%s: phase=%s value=%s", metric.Name, got.Phase, got.Value)
		if got.Phase == v1alpha1.AnalysisPhaseError {
			t.Fatalf("%s: Error %q", metric.Name, got.Message)
		}
	}
	if created := queryResultsCreated(t, healthy) - before; created != 1 {
		t.Fatalf("%d judged metrics created %v Honeycomb query results, want 1", len(run.Spec.Metrics), created)
	}
}

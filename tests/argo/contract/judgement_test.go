package contract

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// judgedRollout is rollout-canary-judgement.yaml: the canary-vs-stable scorecard in its step analysis.
const judgedRollout = "checkout-judged"

func judgedStep(t *testing.T) *analysisBlock {
	t.Helper()
	return analysisBlockOf(t, judgedRollout, false)
}

// analysisBlockOf is the rollout's background analysis, or its (first) analysis step.
func analysisBlockOf(t *testing.T, rollout string, background bool) *analysisBlock {
	t.Helper()
	blocks, err := infra.analysisBlocks()
	if err != nil {
		t.Fatal(err)
	}
	for i := range blocks {
		if blocks[i].rollout.Name == rollout && (blocks[i].where == "background") == background {
			return &blocks[i]
		}
	}
	t.Fatalf("rollout %s has no such analysis (background %v)", rollout, background)
	return nil
}

// TestCanaryJudgementWithArgoController runs the step analysis of rollout-canary-judgement.yaml
// (the scorecard: P99 latency and error rate judged against the stable version's in one query)
// through Argo's AnalysisRun controller, with the stable hash from `podTemplateHashValue:
// Stable`, and the template's own run settings (count 15, failureLimit 0,
// consecutiveSuccessLimit 1, inconclusiveLimit 15) with the interval shortened to 1 s:
//   - a bad canary fails the run at its first look;
//   - a good one is shown inside the harmful bounds and passes EARLY: one measurement, not 15;
//   - a quiet one (10 spans a minute), one without traffic, or a stable version without traffic
//     never shows either: 15 Inconclusive looks, and the run ends Inconclusive (the Rollout
//     pauses for a person);
//   - against a stable version without a single error (a baseline of 0) the error rate does not
//     fail every canary: only the bad one fails.
func TestCanaryJudgementWithArgoController(t *testing.T) {
	runThroughController(t, judgedStep(t), []judgedCase{
		{"good-canary", goodCanaryHash, stableHash, v1alpha1.AnalysisPhaseSuccessful, []string{`"pass"`}, 1, "AnalysisRun  ✔ Successful", nil},
		{"bad-canary", badCanaryHash, stableHash, v1alpha1.AnalysisPhaseFailed, []string{`"high"`}, 1, "AnalysisRun  ✖ Failed", nil},
		{"quiet-canary", quietCanaryHash, stableHash, v1alpha1.AnalysisPhaseInconclusive, []string{`"nodata"`, `"inconclusive"`}, 15, "? Inconclusive", nil},
		{"no-canary-traffic", noDataHash, stableHash, v1alpha1.AnalysisPhaseInconclusive, []string{`"nodata"`}, 15, "? Inconclusive", nil},
		{"no-stable-traffic", goodCanaryHash, noDataHash, v1alpha1.AnalysisPhaseInconclusive, []string{`"nodata"`}, 15, "? Inconclusive", nil},
		{"zero-baseline-good", goodCanaryHash, zeroErrorStableHash, v1alpha1.AnalysisPhaseInconclusive, []string{`"nodata"`, `"inconclusive"`}, 15, "? Inconclusive", nil},
		{"zero-baseline-bad", badCanaryHash, zeroErrorStableHash, v1alpha1.AnalysisPhaseFailed, []string{`"high"`}, 0, "✖ Failed", nil},
	})
}

// judgedCase is one AnalysisRun of a judged comparison through Argo's controller.
type judgedCase struct {
	name, hash, stable string
	phase              v1alpha1.AnalysisPhase
	verdicts           []string // the last measurement's value may be any of these
	looks              int      // measurements the run took (0: any)
	kubectl            string
	run                *v1alpha1.AnalysisRun
}

// runThroughController runs each case's AnalysisRun of the block (interval shortened to 1 s)
// through Argo's AnalysisRun controller and checks its phase, its kubectl line, its last
// measurement and how many it took.
func runThroughController(t *testing.T, block *analysisBlock, cases []judgedCase) {
	t.Helper()
	var runs []*v1alpha1.AnalysisRun
	for i := range cases {
		run, err := block.newAnalysisRun(cases[i].hash, cases[i].stable, localArgs(healthy))
		if err != nil {
			t.Fatal(err)
		}
		if got := argValue(run, "stable-hash"); got != cases[i].stable {
			t.Fatalf("stable-hash arg %q, want the stable ReplicaSet's hash %s", got, cases[i].stable)
		}
		run.Name += "-" + cases[i].name // two cases may share a canary hash
		run.CreationTimestamp = metav1.Now()
		cases[i].run = withInterval(run, "1s")
		runs = append(runs, cases[i].run)
	}
	controller := startAnalysisController(t, runs...)
	defer controller.stop()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := controller.wait(t, c.run, 120*time.Second)
			line := kubectlLine(block.rollout, done)
			t.Logf("kubectl argo rollouts get rollout: %s", line)
			t.Logf("run: %s %q", done.Status.Phase, done.Status.Message)
			if done.Status.Phase != c.phase || !strings.Contains(line, c.kubectl) {
				t.Fatalf("AnalysisRun %s %q (kubectl %q), want %s", done.Status.Phase, done.Status.Message, line, c.phase)
			}
			for _, result := range done.Status.MetricResults {
				last := result.Measurements[len(result.Measurements)-1]
				t.Logf("%s: %s value=%s measurements=%d successful=%d failed=%d inconclusive=%d message=%q", result.Name,
					result.Phase, last.Value, result.Count, result.Successful, result.Failed, result.Inconclusive, last.Message)
				if !slices.Contains(c.verdicts, last.Value) {
					t.Errorf("%s: last measurement %q, want one of %v", result.Name, last.Value, c.verdicts)
				}
				if c.looks != 0 && int(result.Count) != c.looks {
					t.Errorf("%s: %d measurements, want %d", result.Name, result.Count, c.looks)
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

// TestJudgedMetricsShareOneQuery: the scorecard judges a canary's latency and error rate from
// one Honeycomb query result. The slow canary's spans are used so that no other test has the
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

// slicedRollout is rollout-canary-slices.yaml: the slices template as its background analysis.
const slicedRollout = "checkout-sliced"

// TestSlicesWithArgoController runs the background analysis of rollout-canary-slices.yaml (the
// canary against stable as a whole and per route, plan and route x plan, one query a look)
// through Argo's AnalysisRun controller with the template's own settings (count 30,
// failureLimit 0) and the interval shortened to 1 s:
//   - the canary that regressed only for enterprise users on /checkout/payment (about 1 % of its
//     traffic) fails the run at its first look: the whole canary is not shown worse, the slice is;
//   - the good canary is never failed: after its 30 looks the run is Successful.
func TestSlicesWithArgoController(t *testing.T) {
	runThroughController(t, analysisBlockOf(t, slicedRollout, true), []judgedCase{
		{"slice-regressed-canary", sliceCanaryHash, stableHash, v1alpha1.AnalysisPhaseFailed, []string{`"high"`}, 1, "AnalysisRun  ✖ Failed", nil},
		{"good-canary", goodCanaryHash, stableHash, v1alpha1.AnalysisPhaseSuccessful, []string{`"pass"`, `"inconclusive"`}, 30, "AnalysisRun  ✔ Successful", nil},
	})
}

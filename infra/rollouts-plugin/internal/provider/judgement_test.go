package provider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// compareRequest is a comparison request; the plugin must send it byte for byte.
const compareRequest = `{"dataset":"checkout","query":{"calculations":[{"op":"P99","column":"duration_ms"}],"time_range":600},` +
	`"compare":{"column":"rollouts_pod_template_hash","canary":"7d9f8b6c5","baseline":"6f8d9c7b5"},` +
	`"judge":{"allowed_increase":1.05,"harmful_increase":1.3,"min_count":50}}`

const highAnswer = `{"value": 3.97, "verdict": "high", "critical": false,
 "reason": "high, decided by latency: canary P99(duration_ms) 1,188 ms vs baseline 299 ms: 3.98x (96 % CI 3.8-4.2) over 10 paired buckets, above the allowed 1.05x (p<0.0001); 2,400 vs 2,380 events; others: errors pass",
 "canary": {"key": "7d9f8b6c5", "value": 1188.2, "count": 2400},
 "baseline": {"key": "6f8d9c7b5", "value": 299.1, "count": 2380},
 "comparison": {"column": "rollouts_pod_template_hash", "value": "ratio", "ratio": 3.97, "difference": 889.1, "percent_change": 297.3},
 "test": "paired", "p_value": 0.0001, "estimate": 3.98, "ratio_ci": [3.8, 4.2], "confidence": 0.96, "mde": 1.12,
 "deciding_metric": "latency", "metrics": [{"name": "latency", "verdict": "high"}, {"name": "errors", "verdict": "pass"}],
 "query_url": "http://ui/q/2", "cached": false, "window": {"start": "a", "end": "b"}}`

const nodataAnswer = `{"value": null, "verdict": "nodata", "critical": false,
 "reason": "canary P99(duration_ms) no value vs baseline 299 ms: no data: fewer than min_count 50 events in a version; 0 vs 2,380 events",
 "canary": {"key": "0000000000", "value": null, "count": 0},
 "baseline": {"key": "6f8d9c7b5", "value": 299.1, "count": 2380},
 "test": null, "p_value": null, "estimate": null, "ratio_ci": [null, null], "mde": null,
 "query_url": "http://ui/q/3", "cached": false}`

func TestComparisonAnswersReachArgosConditionsAndMetadata(t *testing.T) {
	cases := []struct {
		name, answer, result, success, failure string
		phase                                  v1alpha1.AnalysisPhase
		stored                                 string
		metadata                               map[string]string
	}{
		{"verdict high fails", highAnswer, "verdict", `result == "pass"`, "", v1alpha1.AnalysisPhaseFailed, `"high"`,
			map[string]string{"verdict": "high", "canary_value": "1188.2", "canary_count": "2400",
				"baseline_value": "299.1", "baseline_count": "2380", "p_value": "0.0001", "test": "paired",
				"estimate": "3.98", "ratio_ci": "3.8-4.2", "mde": "1.12", "deciding_metric": "latency",
				"metrics": "latency=high errors=pass", "query_url": "http://ui/q/2"}},
		{"ratio by value", highAnswer, "", "result <= 1.2", "", v1alpha1.AnalysisPhaseFailed, "3.97",
			map[string]string{"verdict": "high"}},
		{"ratio by value passes", highAnswer, "value", "result <= 5", "", v1alpha1.AnalysisPhaseSuccessful, "3.97", nil},
		{"nodata is inconclusive", nodataAnswer, "verdict", `result == "pass"`, `result in ["high", "low"]`,
			v1alpha1.AnalysisPhaseInconclusive, `"nodata"`,
			map[string]string{"verdict": "nodata", "canary_value": "null", "canary_count": "0", "ratio_ci": "0-inf",
				"query_url": "http://ui/q/3"}},
		{"nodata value is nil", nodataAnswer, "", "default(result, 1) <= 1.2", "", v1alpha1.AnalysisPhaseSuccessful, "null", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub := &evaluatorStub{}
			srv := stub.serve(t, 200, tc.answer)
			cfg := baseConfig(srv.URL)
			cfg["request"] = json.RawMessage(compareRequest)
			if tc.result != "" {
				cfg["result"] = tc.result
			}
			m := newProvider().Run(nil, metricWith(t, cfg, tc.success, tc.failure))
			if m.Phase != tc.phase || m.Value != tc.stored {
				t.Fatalf("got phase %s value %q (message %q), want %s %q", m.Phase, m.Value, m.Message, tc.phase, tc.stored)
			}
			if string(stub.body) != compareRequest {
				t.Fatalf("compare/judge not passed through: sent %s", stub.body)
			}
			var answer map[string]any
			_ = json.Unmarshal([]byte(tc.answer), &answer)
			if m.Message != answer["reason"] || m.Metadata["reason"] != answer["reason"] {
				t.Fatalf("message %q metadata reason %q, want the answer's reason", m.Message, m.Metadata["reason"])
			}
			for key, want := range tc.metadata {
				if m.Metadata[key] != want {
					t.Errorf("metadata %s = %q, want %q (all: %v)", key, m.Metadata[key], want, m.Metadata)
				}
			}
			if _, ok := m.Metadata["p_value"]; ok && tc.answer == nodataAnswer {
				t.Errorf("a null p_value must not be stored: %v", m.Metadata)
			}
		})
	}
}

func TestVerdictResultWithoutJudgeIsError(t *testing.T) {
	srv := (&evaluatorStub{}).serve(t, 200, `{"value": 280.5, "query_url": "u"}`)
	cfg := baseConfig(srv.URL)
	cfg["result"] = "verdict"
	m := newProvider().Run(nil, metricWith(t, cfg, `result == "pass"`, ""))
	if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, `needs "compare" and "judge"`) {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
}

func TestSingleGroupAnswerKeepsItsMetadataOnly(t *testing.T) {
	srv := (&evaluatorStub{}).serve(t, 200, `{"value": 280.5, "query_url": "u", "cached": true}`)
	m := newProvider().Run(nil, metricWith(t, baseConfig(srv.URL), "result < 500", ""))
	if m.Phase != v1alpha1.AnalysisPhaseSuccessful || m.Message != "" {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
	want := map[string]string{"query_url": "u", "cached": "true"}
	if len(m.Metadata) != len(want) || m.Metadata["query_url"] != "u" || m.Metadata["cached"] != "true" {
		t.Fatalf("metadata %v, want %v", m.Metadata, want)
	}
}

const slicedAnswer = `{"value": 1.01, "verdict": "high", "critical": false,
 "reason": "high, decided by slice http.route=/checkout/payment, user.plan=enterprise (errors): canary AVG(is_error) 45.1 % vs baseline 0 %: unbounded (96 % CI 3.36-∞) over 10 buckets, above the allowed 1x (q=0.0018); 51 vs 65 events; whole comparison: inconclusive",
 "canary": {"key": "2e4f6a8c0", "value": 101.2, "count": 6000},
 "baseline": {"key": "6f8d9c7b5", "value": 100.1, "count": 6000},
 "test": "paired", "p_value": 0.5, "estimate": 1.01, "ratio_ci": [0.98, 1.04], "mde": 1.05,
 "deciding_metric": "latency", "metrics": [{"name": "latency", "verdict": "pass"}, {"name": "errors", "verdict": "inconclusive"}],
 "deciding_slice": "http.route=/checkout/payment, user.plan=enterprise",
 "slices": {"judged": 14, "regressed": 2, "significance": 0.015,
   "top": [{"label": "http.route=/checkout/payment, user.plan=enterprise", "metric": "errors", "verdict": "high",
            "estimate": null, "q_value": 0.0018, "canary": {"value": 0.451, "count": 51}, "baseline": {"value": 0, "count": 65}}],
   "new_errors": [{"type": "NullPointerException", "canary_count": 17, "baseline_count": 0, "verdict": "inconclusive"}],
   "coverage": {"truncated": true, "events_beyond_limit": 1234}},
 "query_url": "http://ui/q/4", "cached": false}`

// TestSlicedAnswerShowsWhereTheCanaryRegressed: with slices, the Metadata names the deciding
// slice, the top slices, the new error types and the events past Honeycomb's group limit.
func TestSlicedAnswerShowsWhereTheCanaryRegressed(t *testing.T) {
	srv := (&evaluatorStub{}).serve(t, 200, slicedAnswer)
	cfg := baseConfig(srv.URL)
	cfg["request"] = json.RawMessage(compareRequest)
	cfg["result"] = "verdict"
	m := newProvider().Run(nil, metricWith(t, cfg, `result == "pass"`, `result == "high"`))
	if m.Phase != v1alpha1.AnalysisPhaseFailed || !strings.HasPrefix(m.Message, "high, decided by slice ") {
		t.Fatalf("phase %s message %q", m.Phase, m.Message)
	}
	want := map[string]string{
		"deciding_slice":            "http.route=/checkout/payment, user.plan=enterprise",
		"slices":                    "judged=14 regressed=2 q=0.015",
		"top_slices":                "http.route=/checkout/payment, user.plan=enterprise errors high unbounded (51 vs 65 events, q=0.0018)",
		"new_errors":                "NullPointerException (17 vs 0 events, inconclusive)",
		"events_beyond_group_limit": "1234",
	}
	for key, value := range want {
		if m.Metadata[key] != value {
			t.Errorf("metadata %s = %q, want %q", key, m.Metadata[key], value)
		}
	}
}

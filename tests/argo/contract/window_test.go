package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// pinWindow makes every web metric of run ask for one absolute window: the one its relative
// `time_range` ends at `end`. Measurements taken seconds apart then ask for the same window,
// whichever minute they fall in, so a test that counts the query results they share does not
// have to wait for the start of a minute.
func pinWindow(t testing.TB, run *v1alpha1.AnalysisRun, end time.Time) {
	t.Helper()
	pinWidenedWindow(t, run, end, 0)
}

// pinWidenedWindow is pinWindow with each window `wider` longer: a query family of its own (the
// evaluator fuses checks of one family and window into one open query, so a canary whose query
// must not be answered by another test's would otherwise share it).
func pinWidenedWindow(t testing.TB, run *v1alpha1.AnalysisRun, end time.Time, wider time.Duration) {
	t.Helper()
	for i := range run.Spec.Metrics {
		web := run.Spec.Metrics[i].Provider.Web
		if web == nil || len(web.JSONBody) == 0 {
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(web.JSONBody, &body); err != nil {
			t.Fatalf("%s: jsonBody: %v", run.Spec.Metrics[i].Name, err)
		}
		query, _ := body["query"].(map[string]any)
		length, relative := query["time_range"].(float64)
		if !relative {
			continue
		}
		delete(query, "time_range")
		query["start_time"] = end.Unix() - int64(length) - int64(wider.Seconds())
		query["end_time"] = end.Unix()
		pinned, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		copied := *web
		copied.JSONBody = pinned
		run.Spec.Metrics[i].Provider.Web = &copied
	}
}

// thisMinute is the end of the window a relative query asked now resolves to.
func thisMinute() time.Time {
	return time.Now().Truncate(time.Minute)
}

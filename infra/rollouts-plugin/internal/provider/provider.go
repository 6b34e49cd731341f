// Package provider implements the Argo Rollouts metric plugin that forwards a
// measurement to the Honeycomb canary evaluator (POST /v1/evaluate).
package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/argoproj/argo-rollouts/metricproviders/plugin/rpc"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	metricutil "github.com/argoproj/argo-rollouts/utils/metric"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	timeutil "github.com/argoproj/argo-rollouts/utils/time"
	log "github.com/sirupsen/logrus"
)

// ProviderType is what every RPC metric plugin reports (metricproviders/plugin.ProviderType;
// that package is not imported because it drags the controller's Kubernetes client in).
const ProviderType = "RPCPlugin"

const maxResponseBytes = 1 << 20

// Provider holds only process-wide, concurrency-safe things: one pooled HTTP
// client and the AWS credential cache. The controller runs measurements of all
// AnalysisRuns in parallel through one plugin process, so nothing per metric
// lives here; each call reads its config from the metric it is given.
type Provider struct {
	client *http.Client
	aws    *awsCredentials
	logCtx log.Entry
}

var _ rpc.MetricProviderPlugin = (*Provider)(nil)

// New returns a provider that logs to logger (stderr: stdout belongs to go-plugin).
func New(logger *log.Logger) *Provider {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	return &Provider{
		// No client-wide timeout: each measurement sets its own from its config.
		client: &http.Client{Transport: transport},
		aws:    &awsCredentials{},
		logCtx: *log.NewEntry(logger).WithField("plugin", PluginName),
	}
}

// InitPlugin is called once per plugin process start. There is nothing to
// prepare: AWS credentials load on first use so that bearer-only setups never
// touch the AWS chain.
func (p *Provider) InitPlugin() types.RpcError {
	return types.RpcError{}
}

// Run performs one synchronous measurement and always returns it finished.
func (p *Provider) Run(_ *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement {
	startedAt := timeutil.MetaNow()
	return p.measure(v1alpha1.Measurement{StartedAt: &startedAt}, metric)
}

// Resume is only called for a measurement without FinishedAt. Run never returns
// one, so such a measurement did not come from this version: evaluate it now.
func (p *Provider) Resume(_ *v1alpha1.AnalysisRun, metric v1alpha1.Metric, measurement v1alpha1.Measurement) v1alpha1.Measurement {
	if measurement.FinishedAt != nil {
		return measurement
	}
	if measurement.StartedAt == nil {
		startedAt := timeutil.MetaNow()
		measurement.StartedAt = &startedAt
	}
	return p.measure(measurement, metric)
}

// Terminate ends an unfinished measurement without a verdict, as the job
// provider does; there is no in-flight work to cancel because Run is synchronous.
func (p *Provider) Terminate(_ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, measurement v1alpha1.Measurement) v1alpha1.Measurement {
	if measurement.FinishedAt != nil {
		return measurement
	}
	finishedAt := timeutil.MetaNow()
	measurement.FinishedAt = &finishedAt
	measurement.Phase = v1alpha1.AnalysisPhaseInconclusive
	return measurement
}

// GarbageCollect has nothing to do: measurements leave nothing behind.
func (p *Provider) GarbageCollect(*v1alpha1.AnalysisRun, v1alpha1.Metric, int) types.RpcError {
	return types.RpcError{}
}

func (p *Provider) Type() string { return ProviderType }

// GetMetadata is stored once per metric result in the AnalysisRun's status.
func (p *Provider) GetMetadata(metric v1alpha1.Metric) map[string]string {
	cfg, err := ParseConfig(metric)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	return map[string]string{"endpoint": cfg.Endpoint, "auth": cfg.Auth}
}

// evaluation is the part of the evaluator's 200 answer the plugin uses.
type evaluation struct {
	Value    json.RawMessage `json:"value"` // "null" when null, empty when absent
	QueryURL string          `json:"query_url"`
	Cached   bool            `json:"cached"`
	Window   struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"window"`
	// Present when the request has compare (and judge or scorecard): docs/canary-judgement.md.
	Verdict        *string         `json:"verdict"`
	Reason         string          `json:"reason"`
	Canary         *group          `json:"canary"`
	Baseline       *group          `json:"baseline"`
	Test           *string         `json:"test"`
	PValue         json.RawMessage `json:"p_value"`
	Estimate       json.RawMessage `json:"estimate"`
	RatioCI        []*float64      `json:"ratio_ci"`
	MDE            json.RawMessage `json:"mde"`
	DecidingMetric *string         `json:"deciding_metric"`
	Metrics        []metricVerdict `json:"metrics"`
	// Present when the request has slices: where the canary regressed.
	DecidingSlice *string      `json:"deciding_slice"`
	Slices        *slicesBlock `json:"slices"`
}

// slicesBlock is the part of the answer's `slices` the Metadata shows.
type slicesBlock struct {
	Judged    int          `json:"judged"`
	Regressed int          `json:"regressed"`
	Q         float64      `json:"significance"`
	Top       []sliceEntry `json:"top"`
	NewErrors []newError   `json:"new_errors"`
	Coverage  struct {
		Truncated         bool            `json:"truncated"`
		EventsBeyondLimit json.RawMessage `json:"events_beyond_limit"`
	} `json:"coverage"`
}

type sliceEntry struct {
	Label    string          `json:"label"`
	Metric   string          `json:"metric"`
	Verdict  string          `json:"verdict"`
	Estimate json.RawMessage `json:"estimate"`
	QValue   json.RawMessage `json:"q_value"`
	Canary   group           `json:"canary"`
	Baseline group           `json:"baseline"`
}

type newError struct {
	Type          string          `json:"type"`
	CanaryCount   json.RawMessage `json:"canary_count"`
	BaselineCount json.RawMessage `json:"baseline_count"`
	Verdict       string          `json:"verdict"`
}

// topSlicesShown is how many of the answer's top slices the Metadata keeps.
const topSlicesShown = 3

// metricVerdict is one metric of a scorecard, as the Metadata shows it.
type metricVerdict struct {
	Name    string `json:"name"`
	Verdict string `json:"verdict"`
}

// group is one side of a comparison; numbers stay JSON text for the Metadata.
type group struct {
	Value json.RawMessage `json:"value"`
	Count json.RawMessage `json:"count"`
}

// errorAnswer is the evaluator's JSON error body for every non-2xx status.
type errorAnswer struct {
	Error struct {
		Code              string   `json:"code"`
		Message           string   `json:"message"`
		Field             string   `json:"field"`
		RetryAfterSeconds *float64 `json:"retry_after_seconds"`
	} `json:"error"`
}

func (p *Provider) measure(measurement v1alpha1.Measurement, metric v1alpha1.Metric) v1alpha1.Measurement {
	cfg, err := ParseConfig(metric)
	if err != nil {
		return metricutil.MarkMeasurementError(measurement, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout())
	defer cancel()

	status, body, err := p.post(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("evaluator did not answer within %s (timeoutSeconds): %w", cfg.Timeout(), err)
		}
		return metricutil.MarkMeasurementError(measurement, err)
	}
	if status < 200 || status > 299 {
		return metricutil.MarkMeasurementError(measurement, describeFailure(status, body))
	}

	var answer evaluation
	if err := json.Unmarshal(body, &answer); err != nil {
		return metricutil.MarkMeasurementError(measurement, fmt.Errorf("evaluator answered %d with a body that is not an evaluation (%v): %s", status, err, snippet(body)))
	}
	if len(answer.Value) == 0 {
		return metricutil.MarkMeasurementError(measurement, fmt.Errorf("evaluator answered %d without a \"value\" field: %s", status, snippet(body)))
	}
	value, err := answer.result(cfg.Result)
	if err != nil {
		return metricutil.MarkMeasurementError(measurement, err)
	}
	stored, _ := json.Marshal(value)
	measurement.Value = string(stored)
	measurement.Metadata = answer.metadata()
	// The reason is the sentence a person reads in `kubectl argo rollouts get`.
	measurement.Message = answer.Reason

	phase, err := evaluate.EvaluateResult(value, metric, *p.logCtx.WithField("metric", metric.Name))
	if err != nil {
		return metricutil.MarkMeasurementError(measurement, err)
	}
	measurement.Phase = phase
	finishedAt := timeutil.MetaNow()
	measurement.FinishedAt = &finishedAt
	return measurement
}

// result is what Argo's conditions see: the value, or the verdict string with result "verdict".
// The value is decoded exactly as the web provider does (numbers become float64, null becomes
// nil) so default(), isNil() and isNaN() behave the same.
func (e evaluation) result(which string) (any, error) {
	if which == ResultVerdict {
		if e.Verdict == nil {
			return nil, errors.New(`plugin config: result "verdict" needs "compare" and "judge" in the request (the evaluator answered no verdict)`)
		}
		return *e.Verdict, nil
	}
	var value any
	if err := json.Unmarshal(e.Value, &value); err != nil {
		return nil, fmt.Errorf("evaluator value: %w", err)
	}
	return value, nil
}

// metadata is stored with the measurement: where to look (query_url) and, for a comparison,
// both groups, the verdict and the test, so the AnalysisRun shows why without a second query.
func (e evaluation) metadata() map[string]string {
	meta := map[string]string{"query_url": e.QueryURL, "cached": fmt.Sprint(e.Cached)}
	if e.Window.Start != "" {
		meta["window"] = e.Window.Start + "/" + e.Window.End
	}
	if e.Verdict != nil {
		meta["verdict"] = *e.Verdict
	}
	if e.Reason != "" {
		meta["reason"] = e.Reason
	}
	for name, g := range map[string]*group{"canary": e.Canary, "baseline": e.Baseline} {
		if g != nil {
			meta[name+"_value"] = jsonText(g.Value)
			meta[name+"_count"] = jsonText(g.Count)
		}
	}
	for name, raw := range map[string]json.RawMessage{"p_value": e.PValue, "estimate": e.Estimate, "mde": e.MDE} {
		if text := jsonText(raw); text != "null" {
			meta[name] = text
		}
	}
	if e.Test != nil {
		meta["test"] = *e.Test
	}
	if len(e.RatioCI) == 2 {
		meta["ratio_ci"] = bound(e.RatioCI[0], "0") + "-" + bound(e.RatioCI[1], "inf")
	}
	if e.DecidingMetric != nil {
		meta["deciding_metric"] = *e.DecidingMetric
	}
	if len(e.Metrics) > 0 {
		verdicts := make([]string, len(e.Metrics))
		for i, m := range e.Metrics {
			verdicts[i] = m.Name + "=" + m.Verdict
		}
		meta["metrics"] = strings.Join(verdicts, " ")
	}
	if e.Slices != nil {
		e.sliceMetadata(meta)
	}
	return meta
}

// sliceMetadata adds where the canary regressed: the deciding slice, the top slices, the new
// error types, and how many events Honeycomb's group limit left out.
func (e evaluation) sliceMetadata(meta map[string]string) {
	s := e.Slices
	if e.DecidingSlice != nil {
		meta["deciding_slice"] = *e.DecidingSlice
	}
	meta["slices"] = fmt.Sprintf("judged=%d regressed=%d q=%g", s.Judged, s.Regressed, s.Q)
	var top []string
	for i, entry := range s.Top {
		if i == topSlicesShown {
			break
		}
		estimate := "unbounded" // nothing in the baseline to be relative to
		if text := jsonText(entry.Estimate); text != "null" {
			estimate = text + "x"
		}
		top = append(top, fmt.Sprintf("%s %s %s %s (%s vs %s events, q=%s)", entry.Label, entry.Metric,
			entry.Verdict, estimate, jsonText(entry.Canary.Count), jsonText(entry.Baseline.Count),
			jsonText(entry.QValue)))
	}
	if len(top) > 0 {
		meta["top_slices"] = strings.Join(top, "; ")
	}
	var named []string
	for _, n := range s.NewErrors {
		named = append(named, fmt.Sprintf("%s (%s vs %s events, %s)", n.Type, jsonText(n.CanaryCount),
			jsonText(n.BaselineCount), n.Verdict))
	}
	if len(named) > 0 {
		meta["new_errors"] = strings.Join(named, "; ")
	}
	if s.Coverage.Truncated {
		meta["events_beyond_group_limit"] = jsonText(s.Coverage.EventsBeyondLimit)
	}
}

// bound is one end of the ratio's confidence interval (null: that side is unbounded).
func bound(value *float64, unbounded string) string {
	if value == nil {
		return unbounded
	}
	return strconv.FormatFloat(*value, 'g', 4, 64)
}

// jsonText is a JSON scalar as Metadata text: numbers as sent, absent or null as "null".
func jsonText(raw json.RawMessage) string {
	text := strings.TrimSpace(string(raw))
	if text == "" {
		return "null"
	}
	return text
}

func (p *Provider) post(ctx context.Context, cfg Config) (int, []byte, error) {
	body := []byte(cfg.Request)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	switch cfg.Auth {
	case AuthBearer:
		token, err := cfg.bearerToken()
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	case AuthSigV4:
		if err := p.aws.sign(ctx, req, body, cfg); err != nil {
			return 0, nil, err
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("calling evaluator: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, fmt.Errorf("reading evaluator answer (HTTP %d): %w", resp.StatusCode, err)
	}
	return resp.StatusCode, answer, nil
}

// describeFailure turns a non-2xx answer into the measurement's message: the
// evaluator's own code and message when it sent its JSON error, otherwise the
// start of the body (for example a Function URL's {"Message":"Forbidden"}).
func describeFailure(status int, body []byte) error {
	var answer errorAnswer
	if json.Unmarshal(body, &answer) != nil || answer.Error.Message == "" {
		return fmt.Errorf("evaluator answered %d: %s", status, snippet(body))
	}
	msg := fmt.Sprintf("evaluator answered %d %s: %s", status, answer.Error.Code, answer.Error.Message)
	if answer.Error.Field != "" {
		msg += fmt.Sprintf(" (field %s)", answer.Error.Field)
	}
	if answer.Error.RetryAfterSeconds != nil {
		msg += fmt.Sprintf(" (retry after %gs)", *answer.Error.RetryAfterSeconds)
	}
	return errors.New(msg)
}

func snippet(body []byte) string {
	text := strings.TrimSpace(string(body))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	if text == "" {
		return "(empty body)"
	}
	return text
}

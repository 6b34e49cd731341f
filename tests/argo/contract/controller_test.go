package contract

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/analysis"
	"github.com/argoproj/argo-rollouts/controller/metrics"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	argofake "github.com/argoproj/argo-rollouts/pkg/client/clientset/versioned/fake"
	argoinformers "github.com/argoproj/argo-rollouts/pkg/client/informers/externalversions"
	"github.com/argoproj/argo-rollouts/pkg/kubectl-argo-rollouts/cmd/get"
	"github.com/argoproj/argo-rollouts/pkg/kubectl-argo-rollouts/info"
	"github.com/argoproj/argo-rollouts/utils/queue"
	"github.com/argoproj/argo-rollouts/utils/record"
	"github.com/juju/ansiterm"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/workqueue"
)

// wrongTokenNamespace holds Secrets whose bearer token is not registered.
const wrongTokenNamespace = "wrong-token"

// analysisController is argo-rollouts' own AnalysisRun controller (package analysis) on fake
// clientsets holding the manifests' Secrets: it resolves secretKeyRef args, schedules
// measurements by count and interval, and applies failureLimit and consecutiveErrorLimit.
type analysisController struct {
	argo *argofake.Clientset
	stop context.CancelFunc
}

// The runs are created before the informers start: the fake clientset does not replay
// objects created while an informer's watch is being set up.
func startAnalysisController(t *testing.T, analysisRuns ...*v1alpha1.AnalysisRun) *analysisController {
	t.Helper()
	log.SetOutput(io.Discard) // the controller logs every reconcile through logrus' default logger
	var secrets []runtime.Object
	for name, data := range infra.secrets {
		secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Data: data})
	}
	// The same Secrets with a token the evaluator does not know, in a namespace of their own.
	for name, data := range withSecretValue(bearerSecret, bearerSecretKey, "not-the-registered-token") {
		secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: wrongTokenNamespace}, Data: data})
	}
	kubeClient := kubefake.NewSimpleClientset(secrets...)
	var initial []runtime.Object
	for _, run := range analysisRuns {
		initial = append(initial, run)
	}
	argoClient := argofake.NewSimpleClientset(initial...)
	argoFactory := argoinformers.NewSharedInformerFactory(argoClient, 0)
	kubeFactory := kubeinformers.NewSharedInformerFactory(kubeClient, 0)
	runs := argoFactory.Argoproj().V1alpha1().AnalysisRuns()
	templates := argoFactory.Argoproj().V1alpha1().AnalysisTemplates()
	clusterTemplates := argoFactory.Argoproj().V1alpha1().ClusterAnalysisTemplates()
	controller := analysis.NewController(analysis.ControllerConfig{
		KubeClientSet:        kubeClient,
		ArgoProjClientset:    argoClient,
		AnalysisRunInformer:  runs,
		JobInformer:          kubeFactory.Batch().V1().Jobs(),
		JobPodsInformer:      kubeFactory.Core().V1().Pods(),
		ResyncPeriod:         0,
		AnalysisRunWorkQueue: workqueue.NewNamedRateLimitingQueue(queue.DefaultArgoRolloutsRateLimiter(), "AnalysisRuns"),
		MetricsServer: metrics.NewMetricsServer(metrics.ServerConfig{
			AnalysisRunLister:             runs.Lister(),
			AnalysisTemplateLister:        templates.Lister(),
			ClusterAnalysisTemplateLister: clusterTemplates.Lister(),
			K8SRequestProvider:            &metrics.K8sRequestsCountProvider{},
		}),
		Recorder: record.NewFakeEventRecorder(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	argoFactory.Start(ctx.Done())
	kubeFactory.Start(ctx.Done())
	argoFactory.WaitForCacheSync(ctx.Done())
	kubeFactory.WaitForCacheSync(ctx.Done())
	go func() { _ = controller.Run(ctx, 4) }()
	return &analysisController{argo: argoClient, stop: cancel}
}

// wait returns the AnalysisRun once the controller has completed it.
func (c *analysisController) wait(t *testing.T, run *v1alpha1.AnalysisRun, limit time.Duration) *v1alpha1.AnalysisRun {
	t.Helper()
	runs := c.argo.ArgoprojV1alpha1().AnalysisRuns(run.Namespace)
	deadline := time.Now().Add(limit)
	for {
		got, err := runs.Get(context.Background(), run.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase.Completed() {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("AnalysisRun %s not completed after %s: %+v", run.Name, limit, got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withInterval shortens the metrics' interval so that count measurements take seconds, not
// minutes. Only the time scale changes: count, limits, conditions and requests stay.
func withInterval(run *v1alpha1.AnalysisRun, interval v1alpha1.DurationString) *v1alpha1.AnalysisRun {
	run = run.DeepCopy()
	for i := range run.Spec.Metrics {
		run.Spec.Metrics[i].Interval = interval
	}
	return run
}

// checkoutStep is the step analysis (not the background one) of rollout "checkout" in rollout.yaml.
func checkoutStep(t *testing.T) *analysisBlock {
	t.Helper()
	blocks, err := infra.analysisBlocks()
	if err != nil {
		t.Fatal(err)
	}
	var step *analysisBlock
	for i := range blocks {
		if blocks[i].rollout.Name == "checkout" && blocks[i].where != "background" {
			step = &blocks[i]
		}
	}
	if step == nil {
		t.Fatal("rollout checkout has no analysis step")
	}
	return step
}

// TestAnalysisRunsWithArgoController runs the step analysis of rollout.yaml (error rate,
// p99 and error count; count 5, failureLimit 1) through Argo's AnalysisRun controller,
// with the token read from the Secret by the controller itself.
func TestAnalysisRunsWithArgoController(t *testing.T) {
	step := checkoutStep(t)
	type controllerCase struct {
		name, hash string
		phase      v1alpha1.AnalysisPhase
		message    string
		kubectl    string // in the AnalysisRun's line of `kubectl argo rollouts get rollout`
		run        *v1alpha1.AnalysisRun
	}
	cases := []controllerCase{
		{"good-canary", goodCanaryHash, v1alpha1.AnalysisPhaseSuccessful, "", "AnalysisRun  ✔ Successful", nil},
		{"bad-canary", badCanaryHash, v1alpha1.AnalysisPhaseFailed, "assessed Failed due to failed (2) > failureLimit (1)", "AnalysisRun  ✖ Failed", nil},
	}
	var runs []*v1alpha1.AnalysisRun
	for i := range cases {
		run, err := step.newAnalysisRun(cases[i].hash, stableHash, localArgs(healthy))
		if err != nil {
			t.Fatal(err)
		}
		cases[i].run = withInterval(run, "1s")
		runs = append(runs, cases[i].run)
	}
	// A wrong token: every measurement is an Error. With the templates' consecutiveErrorLimit
	// (6) the run would take 7 tries 10 s apart; a limit of 0 shows the same path at once.
	wrong, err := step.newAnalysisRun(goodCanaryHash, stableHash, localArgs(healthy))
	if err != nil {
		t.Fatal(err)
	}
	wrong = withInterval(wrong, "1s")
	wrong.Name, wrong.Namespace = wrong.Name+"-wrong-token", wrongTokenNamespace
	for i := range wrong.Spec.Metrics {
		wrong.Spec.Metrics[i].ConsecutiveErrorLimit = ptrTo(intstr.FromInt32(0))
	}
	cases = append(cases, controllerCase{"wrong-token", goodCanaryHash, v1alpha1.AnalysisPhaseError,
		`assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0): "Error Message: received non 2xx response code: 401"`,
		"AnalysisRun  ⚠ Error", wrong})
	runs = append(runs, wrong)
	for _, run := range runs {
		run.CreationTimestamp = metav1.Now() // set by the API server on create
	}
	controller := startAnalysisController(t, runs...)
	defer controller.stop()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := controller.wait(t, c.run, 60*time.Second)
			line := kubectlLine(step.rollout, done)
			t.Logf("kubectl argo rollouts get rollout: %s", line)
			if !strings.Contains(line, c.kubectl) {
				t.Errorf("kubectl line %q does not contain %q", line, c.kubectl)
			}
			for _, result := range done.Status.MetricResults {
				t.Logf("%s: %s count=%d successful=%d failed=%d error=%d", result.Name, result.Phase, result.Count, result.Successful, result.Failed, result.Error)
			}
			t.Logf("run: %s %q", done.Status.Phase, done.Status.Message)
			if done.Status.Phase != c.phase || !strings.Contains(done.Status.Message, c.message) {
				t.Fatalf("AnalysisRun %s %q, want %s with a message containing %q", done.Status.Phase, done.Status.Message, c.phase, c.message)
			}
			if c.phase == v1alpha1.AnalysisPhaseSuccessful {
				for _, result := range done.Status.MetricResults {
					if result.Successful != 5 {
						t.Errorf("%s: %d successful measurements, want count 5", result.Name, result.Successful)
					}
				}
			}
		})
	}
}

func ptrTo[T any](value T) *T { return &value }

// kubectlLine is the AnalysisRun's line in `kubectl argo rollouts get rollout`, rendered by the
// kubectl plugin's own code (info.NewRolloutInfo, GetOptions.PrintAnalysisRunInfo) without color.
func kubectlLine(owner *v1alpha1.Rollout, run *v1alpha1.AnalysisRun) string {
	rollout := owner.DeepCopy()
	rollout.Namespace = run.Namespace
	roInfo := info.NewRolloutInfo(rollout, nil, nil, nil, []*v1alpha1.AnalysisRun{run}, nil)
	var out bytes.Buffer
	options := get.GetOptions{NoColor: true}
	writer := ansiterm.NewTabWriter(&out, 0, 0, 2, ' ', 0)
	for _, arInfo := range roInfo.AnalysisRuns {
		options.PrintAnalysisRunInfo(writer, *arInfo, "", "")
	}
	_ = writer.Flush()
	return strings.TrimSpace(out.String())
}

// TestControllerRidesOutARateLimitedMinute: Honeycomb answers one 429, after which the
// evaluator holds back for its one-minute window and answers 503 (Argo retries every 10 s).
// Run by Argo's controller, the step analysis with the templates' consecutiveErrorLimit (6)
// outlasts that minute and succeeds; the same analysis with Argo's default (4) errors out
// first. Takes a little over a minute, spent waiting.
func TestControllerRidesOutARateLimitedMinute(t *testing.T) {
	t.Parallel()
	budget, err := startStack("budget", suiteDir, callersFile)
	if err != nil {
		t.Fatal(err)
	}
	defer budget.stop()
	if err := budget.injectFault(map[string]any{
		"method": "POST", "path_prefix": "/1/query_results", "count": 1, "status": 429, "mode": "status",
	}); err != nil {
		t.Fatal(err)
	}
	step := checkoutStep(t)
	templateLimit, err := step.newAnalysisRun(goodCanaryHash, stableHash, localArgs(budget))
	if err != nil {
		t.Fatal(err)
	}
	templateLimit = withInterval(templateLimit, "1s")
	argoDefault := templateLimit.DeepCopy()
	argoDefault.Name += "-default-limit"
	for i := range argoDefault.Spec.Metrics {
		argoDefault.Spec.Metrics[i].ConsecutiveErrorLimit = nil // Argo's default, 4
	}
	for _, run := range []*v1alpha1.AnalysisRun{templateLimit, argoDefault} {
		run.CreationTimestamp = metav1.Now()
	}
	controller := startAnalysisController(t, templateLimit, argoDefault)
	defer controller.stop()

	rodeOut := controller.wait(t, templateLimit, 150*time.Second)
	gaveUp := controller.wait(t, argoDefault, 150*time.Second)
	for _, done := range []*v1alpha1.AnalysisRun{rodeOut, gaveUp} {
		t.Logf("%s: %s %q", kubectlLine(step.rollout, done), done.Status.Phase, done.Status.Message)
	}
	if rodeOut.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("with consecutiveErrorLimit 6: %s %q, want Successful", rodeOut.Status.Phase, rodeOut.Status.Message)
	}
	errorCount := int32(0)
	for _, result := range rodeOut.Status.MetricResults {
		errorCount += result.Error
	}
	if errorCount == 0 {
		t.Errorf("with consecutiveErrorLimit 6: no measurement was an Error, so the 429 was never seen")
	}
	want := `consecutiveErrorLimit (4): "Error Message: received non 2xx response code: 503"`
	if gaveUp.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(gaveUp.Status.Message, want) {
		t.Errorf("with Argo's default limit: %s %q, want Error containing %q", gaveUp.Status.Phase, gaveUp.Status.Message, want)
	}
}

// TestSloBudgetWithArgoController runs honeycomb-slo-budget as rollout.yaml's background
// analysis does, through Argo's AnalysisRun controller, on two of the emulator's demo SLOs
// (tests/support/demo_slos.yaml): one with budget left, one whose budget is spent.
func TestSloBudgetWithArgoController(t *testing.T) {
	var background *analysisBlock
	blocks, err := infra.analysisBlocks()
	if err != nil {
		t.Fatal(err)
	}
	for i := range blocks {
		if blocks[i].rollout.Name == "checkout" && blocks[i].where == "background" {
			background = &blocks[i]
		}
	}
	if background == nil || background.templateOf("slo-budget") != "honeycomb-slo-budget" {
		t.Fatal("rollout checkout's background analysis does not run honeycomb-slo-budget")
	}
	cases := []struct {
		slo     string
		phase   v1alpha1.AnalysisPhase
		message string
	}{
		{"StableAvail", v1alpha1.AnalysisPhaseSuccessful, ""},
		{"CheckoutOk1", v1alpha1.AnalysisPhaseFailed, "slo-budget"},
	}
	var runs []*v1alpha1.AnalysisRun
	for _, c := range cases {
		args := append(localArgs(healthy), v1alpha1.AnalysisRunArgument{Name: "slo-id", Value: c.slo})
		run, err := background.newAnalysisRun(goodCanaryHash, stableHash, args)
		if err != nil {
			t.Fatal(err)
		}
		// Only the SLO metric, measured twice 1 s apart (a background analysis has no count).
		var metrics []v1alpha1.Metric
		for _, metric := range run.Spec.Metrics {
			if metric.Name == "slo-budget" {
				metric.Count = ptrTo(intstr.FromInt32(2))
				metrics = append(metrics, metric)
			}
		}
		run.Spec.Metrics = metrics
		run = withInterval(run, "1s")
		run.Name += "-" + strings.ToLower(c.slo)
		run.CreationTimestamp = metav1.Now()
		runs = append(runs, run)
	}
	controller := startAnalysisController(t, runs...)
	defer controller.stop()
	for i, c := range cases {
		t.Run(c.slo, func(t *testing.T) {
			done := controller.wait(t, runs[i], 60*time.Second)
			for _, result := range done.Status.MetricResults {
				for _, m := range result.Measurements {
					t.Logf("%s: %s value=%s message=%q", result.Name, m.Phase, m.Value, m.Message)
				}
			}
			if done.Status.Phase != c.phase || !strings.Contains(done.Status.Message, c.message) {
				t.Fatalf("AnalysisRun %s %q, want %s with %q", done.Status.Phase, done.Status.Message, c.phase, c.message)
			}
		})
	}
}

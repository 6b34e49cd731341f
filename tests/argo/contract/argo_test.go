package contract

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/metricproviders/webmetric"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	"github.com/argoproj/argo-rollouts/utils/annotations"
	log "github.com/sirupsen/logrus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/apis/core"
	corev1conversion "k8s.io/kubernetes/pkg/apis/core/v1"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

const namespace = "checkout"

// cluster is what the suite reads from infra/argo-rollouts: the objects a `kubectl apply -f`
// of that directory would create.
type cluster struct {
	rollouts  []*v1alpha1.Rollout
	templates map[string]*v1alpha1.AnalysisTemplate
	// secrets holds each Secret's data as the API server stores it (stringData folded in).
	secrets map[string]map[string][]byte
}

func loadCluster() (*cluster, error) {
	documents, err := manifests.LoadDir(filepath.Join(manifests.RepoRoot(), "infra", "argo-rollouts"))
	if err != nil {
		return nil, err
	}
	c := &cluster{templates: map[string]*v1alpha1.AnalysisTemplate{}, secrets: map[string]map[string][]byte{}}
	for _, document := range documents {
		switch document.Header.Kind {
		case "Rollout":
			var rollout v1alpha1.Rollout
			if err := document.DecodeStrict(&rollout); err != nil {
				return nil, err
			}
			rollout.Namespace = namespace
			rollout.UID = types.UID("uid-" + rollout.Name) // what the API server would assign
			c.rollouts = append(c.rollouts, &rollout)
		case "AnalysisTemplate":
			var template v1alpha1.AnalysisTemplate
			if err := document.DecodeStrict(&template); err != nil {
				return nil, err
			}
			template.Namespace = namespace
			c.templates[template.Name] = &template
		case "Secret":
			var secret corev1.Secret
			if err := document.DecodeStrict(&secret); err != nil {
				return nil, err
			}
			// The API server's own v1 -> internal conversion merges stringData into data.
			var stored core.Secret
			if err := corev1conversion.Convert_v1_Secret_To_core_Secret(&secret, &stored, nil); err != nil {
				return nil, err
			}
			c.secrets[secret.Name] = stored.Data
		}
	}
	return c, nil
}

// webTemplates are the AnalysisTemplates whose metrics use the web provider (the plugin's
// templates in the same directory are exercised by infra/rollouts-plugin's suite).
func (c *cluster) webTemplates() []string {
	var names []string
	for name, template := range c.templates {
		for _, metric := range template.Spec.Metrics {
			if metric.Provider.Web != nil {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// analysisBlock is one place a Rollout asks for analysis: its background analysis or an
// analysis step.
type analysisBlock struct {
	rollout   *v1alpha1.Rollout
	where     string // "background" or "step<index>", for test names
	infix     string // "" or the step index, as the rollout controller names AnalysisRuns
	analysis  *v1alpha1.RolloutAnalysis
	templates []*v1alpha1.AnalysisTemplate
}

func (c *cluster) analysisBlocks() ([]analysisBlock, error) {
	var blocks []analysisBlock
	for _, rollout := range c.rollouts {
		canary := rollout.Spec.Strategy.Canary
		if canary == nil {
			continue
		}
		var found []analysisBlock
		if canary.Analysis != nil {
			found = append(found, analysisBlock{rollout: rollout, where: "background", analysis: &canary.Analysis.RolloutAnalysis})
		}
		for i, step := range canary.Steps {
			if step.Analysis != nil {
				found = append(found, analysisBlock{rollout: rollout, where: fmt.Sprintf("step%d", i), infix: strconv.Itoa(i), analysis: step.Analysis})
			}
		}
		for _, block := range found {
			for _, ref := range block.analysis.Templates {
				template, ok := c.templates[ref.TemplateName]
				if !ok || ref.IsClusterScope() {
					return nil, fmt.Errorf("rollout %s %s: AnalysisTemplate %q not in infra/argo-rollouts", rollout.Name, block.where, ref.TemplateName)
				}
				block.templates = append(block.templates, template.DeepCopy())
			}
			blocks = append(blocks, block)
		}
	}
	return blocks, nil
}

// templateOf names the template a metric of the block comes from.
func (b analysisBlock) templateOf(metricName string) string {
	for _, template := range b.templates {
		for _, metric := range template.Spec.Metrics {
			if metric.Name == metricName {
				return template.Name
			}
		}
	}
	return ""
}

// newAnalysisRun builds the AnalysisRun the rollout controller would create for the block
// when the canary ReplicaSet has canaryHash, with Argo's own functions
// (rollout/analysis.go newAnalysisRunFromRollout). overrides are appended to the block's
// args the way a user adds args to the Rollout; they point the templates at the local
// servers.
func (b analysisBlock) newAnalysisRun(canaryHash, stableHash string, overrides []v1alpha1.AnalysisRunArgument) (*v1alpha1.AnalysisRun, error) {
	stableRS := replicaSet(b.rollout.Name, stableHash)
	canaryRS := replicaSet(b.rollout.Name, canaryHash)
	rolloutArgs := append(append([]v1alpha1.AnalysisRunArgument{}, b.analysis.Args...), overrides...)
	args, err := analysisutil.BuildArgumentsForRolloutAnalysisRun(rolloutArgs, stableRS, canaryRS, b.rollout)
	if err != nil {
		return nil, err
	}
	templates := make([]*v1alpha1.AnalysisTemplate, len(b.templates))
	for i, template := range b.templates {
		templates[i] = template.DeepCopy()
	}
	// Named, annotated and owned as rollout/analysis.go newAnalysisRunFromRollout does, for
	// revision 2 of the Rollout.
	name := strings.Join([]string{b.rollout.Name, canaryHash, rolloutRevision}, "-")
	if b.infix != "" {
		name += "-" + b.infix
	}
	run, err := analysisutil.NewAnalysisRunFromTemplates(templates, nil, args, b.analysis.DryRun, b.analysis.MeasurementRetention,
		map[string]string{}, map[string]string{annotations.RevisionAnnotation: rolloutRevision}, name, "", b.rollout.Namespace)
	if err != nil {
		return nil, err
	}
	run.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(b.rollout, v1alpha1.SchemeGroupVersion.WithKind("Rollout"))}
	return run, nil
}

// rolloutRevision is the Rollout revision the suite's AnalysisRuns belong to.
const rolloutRevision = "2"

func replicaSet(rollout, hash string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name:   rollout + "-" + hash,
		Labels: map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash},
	}}
}

// resolveSecretArgs replaces args with `valueFrom.secretKeyRef` by the Secret's value. It
// mirrors the analysis controller's unexported resolveArgs (analysis/analysis.go in
// argo-rollouts v1.10.1), reading the Secrets of the manifests instead of the API server.
func resolveSecretArgs(args []v1alpha1.Argument, secrets map[string]map[string][]byte) ([]v1alpha1.Argument, error) {
	resolved := make([]v1alpha1.Argument, len(args))
	for i, arg := range args {
		if arg.ValueFrom != nil && arg.ValueFrom.SecretKeyRef != nil {
			name, key := arg.ValueFrom.SecretKeyRef.Name, arg.ValueFrom.SecretKeyRef.Key
			data, ok := secrets[name]
			if !ok {
				return nil, fmt.Errorf("secrets %q not found", name)
			}
			content, ok := data[key]
			if !ok {
				return nil, fmt.Errorf("key '%s' does not exist in secret '%s'", key, name)
			}
			value := string(content)
			arg = *arg.DeepCopy()
			arg.Value = &value
		}
		resolved[i] = arg
	}
	return resolved, nil
}

// measure takes one measurement of the run's metric the way the analysis controller does:
// resolve the run's args into the metric (utils/analysis.ResolveMetricArgs), build the web
// provider as metricproviders.ProviderFactory does for `web`, and Run it.
func measure(t testing.TB, run *v1alpha1.AnalysisRun, metricName string, secrets map[string]map[string][]byte) v1alpha1.Measurement {
	t.Helper()
	var metric *v1alpha1.Metric
	for i := range run.Spec.Metrics {
		if run.Spec.Metrics[i].Name == metricName {
			metric = &run.Spec.Metrics[i]
		}
	}
	if metric == nil {
		t.Fatalf("no metric %q in the AnalysisRun", metricName)
	}
	args, err := resolveSecretArgs(run.Spec.Args, secrets)
	if err != nil {
		t.Fatalf("resolve secret args: %v", err)
	}
	resolved, err := analysisutil.ResolveMetricArgs(*metric, args)
	if err != nil {
		t.Fatalf("ResolveMetricArgs: %v", err)
	}
	client, err := webmetric.NewWebMetricHttpClient(*resolved)
	if err != nil {
		t.Fatalf("NewWebMetricHttpClient: %v", err)
	}
	parser, err := webmetric.NewWebMetricJsonParser(*resolved)
	if err != nil {
		t.Fatalf("NewWebMetricJsonParser: %v", err)
	}
	logger := log.New()
	logger.SetOutput(io.Discard)
	provider := webmetric.NewWebMetricProvider(*logger.WithField("metric", metricName), client, parser)
	return provider.Run(run, *resolved)
}

// Package validate checks Kubernetes manifests with the validation code of the servers that
// would receive them: kube-apiserver's custom-resource validation against the Argo Rollouts,
// Flagger and prometheus-operator (ServiceMonitor) CRDs of the pinned releases, kube-apiserver's own validation for core/v1 kinds, and the
// Argo Rollouts controller's checks of AnalysisTemplates and Rollouts.
package validate

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutvalidation "github.com/argoproj/argo-rollouts/pkg/apis/rollouts/validation"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

// Validator validates manifests; build it once with New.
type Validator struct {
	customResources map[schema.GroupVersionKind]customResourceSchema
}

// New loads the CRDs from argo-rollouts' manifests/crds under argoRolloutsDir and from any
// further CRD files (Flagger's crd.yaml, prometheus-operator's ServiceMonitor CRD).
func New(argoRolloutsDir string, crdFiles ...string) (*Validator, error) {
	argoFiles, err := filepath.Glob(filepath.Join(argoRolloutsDir, "manifests", "crds", "*-crd.yaml"))
	if err != nil {
		return nil, err
	}
	if len(argoFiles) == 0 {
		return nil, fmt.Errorf("no *-crd.yaml files in %s/manifests/crds", argoRolloutsDir)
	}
	schemas, err := loadCRDs(append(argoFiles, crdFiles...))
	if err != nil {
		return nil, err
	}
	return &Validator{customResources: schemas}, nil
}

// Problem is everything wrong with one document.
type Problem struct {
	Document manifests.Document
	Errors   []string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:\n  - %s", p.Document, strings.Join(p.Errors, "\n  - "))
}

// Validate checks every Kubernetes object among documents, resolving a Rollout's template
// references against the AnalysisTemplates in the same set. Documents that are not
// Kubernetes objects (no apiVersion and no kind) are returned as skipped.
func (v *Validator) Validate(documents []manifests.Document) (problems []Problem, skipped []manifests.Document) {
	objects := indexObjects(documents)
	for _, document := range documents {
		if !document.IsKubernetesObject() {
			skipped = append(skipped, document)
			continue
		}
		errs, err := v.validateDocument(document, objects)
		var messages []string
		if err != nil {
			messages = append(messages, err.Error())
		}
		for _, e := range errs {
			messages = append(messages, e.Error())
		}
		if len(messages) > 0 {
			problems = append(problems, Problem{Document: document, Errors: messages})
		}
	}
	return problems, skipped
}

func (v *Validator) validateDocument(document manifests.Document, objects objectIndex) (field.ErrorList, error) {
	gv, err := schema.ParseGroupVersion(document.Header.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("apiVersion: %w", err)
	}
	if document.Header.Kind == "" {
		return nil, fmt.Errorf("kind: Required value")
	}
	gvk := gv.WithKind(document.Header.Kind)
	if validateWorkload, ok := workloadValidators[gvk]; ok {
		return validateWorkload(document)
	}
	if gvk.Group == "" && gvk.Version == "v1" {
		return validateCore(document)
	}
	crd, ok := v.customResources[gvk]
	if !ok {
		return nil, fmt.Errorf("no schema for %s (only core/v1 Secret, ConfigMap, ServiceAccount, Service, apps/v1 Deployment, policy/v1 PodDisruptionBudget, networking.k8s.io/v1 NetworkPolicy and the Argo Rollouts, Flagger and ServiceMonitor CRDs are known)", gvk)
	}
	object, err := document.Object()
	if err != nil {
		return nil, err
	}
	errs := crd.validateCustomResource(object)
	if len(errs) > 0 {
		// The controller's checks assume a schema-valid object.
		return errs, nil
	}
	return validateArgoSemantics(document, objects)
}

// validateArgoSemantics runs the checks the Argo Rollouts controller applies before it
// uses an object: metric validation for templates, rollout validation and the rollout's
// references to templates (args supplied, counts finite for step analysis).
func validateArgoSemantics(document manifests.Document, objects objectIndex) (field.ErrorList, error) {
	switch document.Header.Kind {
	case "AnalysisTemplate":
		var template v1alpha1.AnalysisTemplate
		if err := document.DecodeStrict(&template); err != nil {
			return nil, err
		}
		if err := analysisutil.ValidateMetrics(template.Spec.Metrics); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("spec", "metrics"), template.Name, err.Error())}, nil
		}
	case "ClusterAnalysisTemplate":
		var template v1alpha1.ClusterAnalysisTemplate
		if err := document.DecodeStrict(&template); err != nil {
			return nil, err
		}
		if err := analysisutil.ValidateMetrics(template.Spec.Metrics); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("spec", "metrics"), template.Name, err.Error())}, nil
		}
	case "Rollout":
		var rollout v1alpha1.Rollout
		if err := document.DecodeStrict(&rollout); err != nil {
			return nil, err
		}
		errs := rolloutvalidation.ValidateRollout(&rollout)
		references, referenceErrs := objects.analysisReferences(&rollout)
		errs = append(errs, referenceErrs...)
		errs = append(errs, rolloutvalidation.ValidateRolloutReferencedResources(&rollout, references)...)
		return errs, nil
	}
	return nil, nil
}

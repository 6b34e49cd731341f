package validate

import (
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutvalidation "github.com/argoproj/argo-rollouts/pkg/apis/rollouts/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

// objectIndex holds the templates among the manifests, by name, so a Rollout's references
// can be resolved as the controller resolves them from its listers.
type objectIndex struct {
	templates        map[string]manifests.Document
	clusterTemplates map[string]manifests.Document
}

func indexObjects(documents []manifests.Document) objectIndex {
	index := objectIndex{templates: map[string]manifests.Document{}, clusterTemplates: map[string]manifests.Document{}}
	for _, document := range documents {
		if document.Header.APIVersion != "argoproj.io/v1alpha1" {
			continue
		}
		switch document.Header.Kind {
		case "AnalysisTemplate":
			index.templates[document.Header.Metadata.Name] = document
		case "ClusterAnalysisTemplate":
			index.clusterTemplates[document.Header.Metadata.Name] = document
		}
	}
	return index
}

// analysisReferences collects the templates of a canary Rollout's background analysis and
// of each analysis step, as the controller does before validating a Rollout.
func (index objectIndex) analysisReferences(rollout *v1alpha1.Rollout) (rolloutvalidation.ReferencedResources, field.ErrorList) {
	var references rolloutvalidation.ReferencedResources
	var errs field.ErrorList
	canary := rollout.Spec.Strategy.Canary
	if canary == nil {
		return references, nil
	}
	collect := func(analysis *v1alpha1.RolloutAnalysis, kind rolloutvalidation.AnalysisTemplateType, step int, path *field.Path) {
		withType := rolloutvalidation.AnalysisTemplatesWithType{TemplateType: kind, CanaryStepIndex: step, Args: analysis.Args}
		for i, ref := range analysis.Templates {
			refPath := path.Child("templates").Index(i).Child("templateName")
			if ref.IsClusterScope() {
				var template v1alpha1.ClusterAnalysisTemplate
				if !index.decode(index.clusterTemplates, ref.TemplateName, &template, refPath, &errs) {
					continue
				}
				withType.ClusterAnalysisTemplates = append(withType.ClusterAnalysisTemplates, &template)
			} else {
				var template v1alpha1.AnalysisTemplate
				if !index.decode(index.templates, ref.TemplateName, &template, refPath, &errs) {
					continue
				}
				withType.AnalysisTemplates = append(withType.AnalysisTemplates, &template)
			}
		}
		references.AnalysisTemplatesWithType = append(references.AnalysisTemplatesWithType, withType)
	}
	canaryPath := field.NewPath("spec", "strategy", "canary")
	if canary.Analysis != nil {
		collect(&canary.Analysis.RolloutAnalysis, rolloutvalidation.BackgroundAnalysis, 0, canaryPath.Child("analysis"))
	}
	for i, step := range canary.Steps {
		if step.Analysis != nil {
			collect(step.Analysis, rolloutvalidation.InlineAnalysis, i, canaryPath.Child("steps").Index(i).Child("analysis"))
		}
	}
	return references, errs
}

// decode finds a template by name and decodes a fresh copy (the controller's validation
// mutates the args it is given).
func (index objectIndex) decode(byName map[string]manifests.Document, name string, into any, path *field.Path, errs *field.ErrorList) bool {
	document, ok := byName[name]
	if !ok {
		*errs = append(*errs, field.NotFound(path, name))
		return false
	}
	if err := document.DecodeStrict(into); err != nil {
		*errs = append(*errs, field.Invalid(path, name, err.Error()))
		return false
	}
	return true
}

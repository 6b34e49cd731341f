package validate

import (
	"encoding/json"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

// customResourceSchema is one served version of a CRD, prepared the way the API server
// prepares it: an OpenAPI validator for values and a structural schema for pruning.
type customResourceSchema struct {
	namespaced bool
	validator  apiextensionsvalidation.SchemaValidator
	structural *structuralschema.Structural
}

// loadCRDs reads every CustomResourceDefinition in files (argo-rollouts' manifests/crds/*-crd.yaml,
// Flagger's artifacts/flagger/crd.yaml, which holds several).
func loadCRDs(files []string) (map[schema.GroupVersionKind]customResourceSchema, error) {
	schemas := map[schema.GroupVersionKind]customResourceSchema{}
	for _, file := range files {
		documents, err := manifests.LoadFile(file)
		if err != nil {
			return nil, err
		}
		for _, document := range documents {
			if document.Header.Kind != "CustomResourceDefinition" {
				continue
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := json.Unmarshal(document.JSON, &crd); err != nil {
				return nil, fmt.Errorf("%s: %w", document, err)
			}
			if err := addCRD(schemas, &crd); err != nil {
				return nil, fmt.Errorf("%s: %w", document, err)
			}
		}
	}
	if len(schemas) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinitions in %v", files)
	}
	return schemas, nil
}

func addCRD(schemas map[schema.GroupVersionKind]customResourceSchema, crd *apiextensionsv1.CustomResourceDefinition) error {
	for _, version := range crd.Spec.Versions {
		if !version.Served || version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
			continue
		}
		prepared, err := prepareSchema(version.Schema.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: %w", version.Name, err)
		}
		prepared.namespaced = crd.Spec.Scope == apiextensionsv1.NamespaceScoped
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}
		schemas[gvk] = prepared
	}
	return nil
}

func prepareSchema(external *apiextensionsv1.JSONSchemaProps) (customResourceSchema, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(external, &internal, nil); err != nil {
		return customResourceSchema{}, err
	}
	validator, _, err := apiextensionsvalidation.NewSchemaValidator(&internal)
	if err != nil {
		return customResourceSchema{}, err
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return customResourceSchema{}, err
	}
	return customResourceSchema{validator: validator, structural: structural}, nil
}

// validateCustomResource runs the checks the API server runs when a custom resource is
// created: object metadata, the OpenAPI schema of the version, and (as server-side strict
// field validation does) unknown fields, which the server would otherwise prune silently.
func (s customResourceSchema) validateCustomResource(object map[string]any) field.ErrorList {
	resource := &unstructured.Unstructured{Object: object}
	if s.namespaced && resource.GetNamespace() == "" {
		// kubectl fills in the namespace of the context; the manifests are namespace-agnostic.
		resource.SetNamespace("default")
	}
	errs := validation.ValidateObjectMetaAccessor(resource, s.namespaced, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, apiextensionsvalidation.ValidateCustomResource(nil, resource.UnstructuredContent(), s.validator)...)

	pruned := resource.DeepCopy().UnstructuredContent()
	unknown := pruning.PruneWithOptions(pruned, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		errs = append(errs, field.Forbidden(field.NewPath(path), "unknown field (the API server would drop it; strict field validation rejects it)"))
	}
	return errs
}

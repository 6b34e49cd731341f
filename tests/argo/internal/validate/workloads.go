package validate

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/apps"
	appsv1conversion "k8s.io/kubernetes/pkg/apis/apps/v1"
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	"k8s.io/kubernetes/pkg/apis/core"
	corev1conversion "k8s.io/kubernetes/pkg/apis/core/v1"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/apis/networking"
	networkingv1conversion "k8s.io/kubernetes/pkg/apis/networking/v1"
	networkingvalidation "k8s.io/kubernetes/pkg/apis/networking/validation"
	"k8s.io/kubernetes/pkg/apis/policy"
	policyv1conversion "k8s.io/kubernetes/pkg/apis/policy/v1"
	policyvalidation "k8s.io/kubernetes/pkg/apis/policy/validation"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

// workloadValidators covers the built-in kinds a Helm chart of a small service renders besides
// the core/v1 ones in core.go. Each follows kube-apiserver's create path: strict decoding into
// the versioned type, defaulting, conversion to the internal type, and the registry strategy's
// Validate (with the generic metadata check where the strategy leaves it to the registry).
var workloadValidators = map[schema.GroupVersionKind]func(manifests.Document) (field.ErrorList, error){
	appsv1.SchemeGroupVersion.WithKind("Deployment"):            validateDeployment,
	policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"): validatePodDisruptionBudget,
	networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):   validateNetworkPolicy,
	corev1.SchemeGroupVersion.WithKind("Service"):               validateService,
}

func validateDeployment(document manifests.Document) (field.ErrorList, error) {
	var deployment appsv1.Deployment
	if err := document.DecodeStrict(&deployment); err != nil {
		return nil, err
	}
	defaultNamespace(&deployment.Namespace)
	appsv1conversion.SetObjectDefaults_Deployment(&deployment)
	var internal apps.Deployment
	if err := appsv1conversion.Convert_v1_Deployment_To_apps_Deployment(&deployment, &internal, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", document, err)
	}
	options := podutil.GetValidationOptionsFromPodTemplate(&internal.Spec.Template, nil)
	return appsvalidation.ValidateDeployment(&internal, options), nil
}

func validatePodDisruptionBudget(document manifests.Document) (field.ErrorList, error) {
	var budget policyv1.PodDisruptionBudget
	if err := document.DecodeStrict(&budget); err != nil {
		return nil, err
	}
	defaultNamespace(&budget.Namespace)
	var internal policy.PodDisruptionBudget
	if err := policyv1conversion.Convert_v1_PodDisruptionBudget_To_policy_PodDisruptionBudget(&budget, &internal, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", document, err)
	}
	errs := apimachineryvalidation.ValidateObjectMeta(&internal.ObjectMeta, true,
		apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	options := policyvalidation.PodDisruptionBudgetValidationOptions{AllowInvalidLabelValueInSelector: false}
	return append(errs, policyvalidation.ValidatePodDisruptionBudget(&internal, options)...), nil
}

func validateNetworkPolicy(document manifests.Document) (field.ErrorList, error) {
	var policy networkingv1.NetworkPolicy
	if err := document.DecodeStrict(&policy); err != nil {
		return nil, err
	}
	defaultNamespace(&policy.Namespace)
	networkingv1conversion.SetObjectDefaults_NetworkPolicy(&policy)
	var internal networking.NetworkPolicy
	if err := networkingv1conversion.Convert_v1_NetworkPolicy_To_networking_NetworkPolicy(&policy, &internal, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", document, err)
	}
	options := networkingvalidation.ValidationOptionsForNetworking(&internal, nil)
	return networkingvalidation.ValidateNetworkPolicy(&internal, options), nil
}

func validateService(document manifests.Document) (field.ErrorList, error) {
	var service corev1.Service
	if err := document.DecodeStrict(&service); err != nil {
		return nil, err
	}
	defaultNamespace(&service.Namespace)
	corev1conversion.SetObjectDefaults_Service(&service)
	var internal core.Service
	if err := corev1conversion.Convert_v1_Service_To_core_Service(&service, &internal, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", document, err)
	}
	return corevalidation.ValidateServiceCreate(&internal), nil
}

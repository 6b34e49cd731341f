package validate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/apis/core"
	corev1conversion "k8s.io/kubernetes/pkg/apis/core/v1"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

// validateCore checks the core/v1 kinds the manifests use the way kube-apiserver does on
// create: strict decoding into the v1 type (unknown fields rejected), defaulting, conversion
// to the internal type (which folds Secret.stringData into data) and the registry's
// validation function from k8s.io/kubernetes.
func validateCore(document manifests.Document) (field.ErrorList, error) {
	switch document.Header.Kind {
	case "Secret":
		var secret corev1.Secret
		if err := document.DecodeStrict(&secret); err != nil {
			return nil, err
		}
		defaultNamespace(&secret.Namespace)
		corev1conversion.SetObjectDefaults_Secret(&secret)
		var internal core.Secret
		if err := corev1conversion.Convert_v1_Secret_To_core_Secret(&secret, &internal, nil); err != nil {
			return nil, err
		}
		return corevalidation.ValidateSecret(&internal), nil
	case "ConfigMap":
		var configMap corev1.ConfigMap
		if err := document.DecodeStrict(&configMap); err != nil {
			return nil, err
		}
		defaultNamespace(&configMap.Namespace)
		corev1conversion.SetObjectDefaults_ConfigMap(&configMap)
		var internal core.ConfigMap
		if err := corev1conversion.Convert_v1_ConfigMap_To_core_ConfigMap(&configMap, &internal, nil); err != nil {
			return nil, err
		}
		return corevalidation.ValidateConfigMap(&internal), nil
	case "ServiceAccount":
		var serviceAccount corev1.ServiceAccount
		if err := document.DecodeStrict(&serviceAccount); err != nil {
			return nil, err
		}
		defaultNamespace(&serviceAccount.Namespace)
		var internal core.ServiceAccount
		if err := corev1conversion.Convert_v1_ServiceAccount_To_core_ServiceAccount(&serviceAccount, &internal, nil); err != nil {
			return nil, err
		}
		return corevalidation.ValidateServiceAccount(&internal), nil
	}
	return nil, fmt.Errorf("%s: no validation for core kind %q", document, document.Header.Kind)
}

// defaultNamespace stands in for the namespace kubectl takes from its context.
func defaultNamespace(namespace *string) {
	if *namespace == "" {
		*namespace = "default"
	}
}

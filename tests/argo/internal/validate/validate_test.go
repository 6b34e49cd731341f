package validate

import (
	"strings"
	"sync"
	"testing"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

var (
	sharedValidator *Validator
	sharedErr       error
	once            sync.Once
)

func validator(t *testing.T) *Validator {
	t.Helper()
	once.Do(func() {
		dir, err := manifests.ArgoRolloutsDir()
		if err != nil {
			sharedErr = err
			return
		}
		crdFiles, err := manifests.CRDFiles()
		if err != nil {
			sharedErr = err
			return
		}
		sharedValidator, sharedErr = New(dir, crdFiles...)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedValidator
}

const validTemplate = `
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: ok
spec:
  args:
  - name: hash
  metrics:
  - name: m
    interval: 1m
    count: 2
    successCondition: result < 1
    provider:
      web:
        method: POST
        url: http://example.com/{{args.hash}}
        timeoutSeconds: 20
        jsonBody: {a: {b: [1, "{{args.hash}}"]}}
`

const validRollout = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: r
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i}]
  strategy:
    canary:
      steps:
      - analysis:
          templates: [{templateName: ok}]
          args: [{name: hash, valueFrom: {podTemplateHashValue: Latest}}]
`

// A Flagger Canary with one webhook, checked against Flagger's own CRD.
const validCanary = `
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: c
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: c}
  service: {port: 8080}
  analysis:
    interval: 1m
    threshold: 3
    maxWeight: 50
    stepWeight: 10
    webhooks:
    - name: w
      type: rollout
      url: http://example.com/v1/flagger
      metadata: {max: "0.02", request: "{}"}
`

// A ServiceMonitor as the chart renders it, checked against prometheus-operator's CRD.
const validServiceMonitor = `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: m}
spec:
  selector: {matchLabels: {a: b}}
  namespaceSelector: {matchNames: [monitoring]}
  endpoints:
  - port: http
    path: /metrics
    interval: 30s
`

func TestValidManifestsPass(t *testing.T) {
	content := validTemplate + "---" + validRollout + "---" + validCanary + "---" + validServiceMonitor + `---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {token: x}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argo-rollouts-config}
data: {metricProviderPlugins: "- name: a/b"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/x"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: 2
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 10001}
      containers:
      - name: c
        image: i
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}}
        securityContext: {readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: d}
spec:
  selector: {a: b}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: d}
spec: {maxUnavailable: 1, selector: {matchLabels: {a: b}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: d}
spec:
  podSelector: {matchLabels: {a: b}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: argo-rollouts}}}]
    ports: [{port: http}]
---
# a comment-only document is skipped
---
not: a kubernetes object
`
	documents, err := manifests.Parse("valid.yaml", []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	problems, skipped := validator(t).Validate(documents)
	for _, problem := range problems {
		t.Error(problem)
	}
	if len(skipped) != 1 {
		t.Errorf("skipped %d documents, want the 1 that is not a Kubernetes object", len(skipped))
	}
}

func TestInvalidManifestsAreRejected(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"misspelled field", strings.Replace(validTemplate, "successCondition", "sucessCondition", 1), "spec.metrics[0].sucessCondition: Forbidden: unknown field"},
		{"wrong type", strings.Replace(validTemplate, "timeoutSeconds: 20", `timeoutSeconds: "20"`, 1), "timeoutSeconds in body must be of type integer"},
		{"missing required field", strings.Replace(validTemplate, "url: http://example.com/{{args.hash}}", "", 1), "spec.metrics[0].provider.web.url: Required value"},
		{"bad name", strings.Replace(validTemplate, "name: ok", "name: Not_OK", 1), "metadata.name: Invalid value"},
		{"count without interval (Argo's metric validation)", strings.Replace(validTemplate, "interval: 1m", "", 1), "interval must be specified when count > 1"},
		{"rollout references a missing template", strings.Replace(validRollout, "templateName: ok", "templateName: missing", 1), `templateName: Not found: "missing"`},
		{"rollout misses an arg the template needs", strings.Replace(validRollout, "args: [{name: hash, valueFrom: {podTemplateHashValue: Latest}}]", "", 1), `args.hash was not resolved`},
		{"secret with a misspelled field", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringdata: {token: x}\n", `unknown field "stringdata"`},
		{"secret with an invalid key", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {\"bad key\": x}\n", "data[bad key]: Invalid value"},
		{"secret data not base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {token: \"not base64!\"}\n", "illegal base64"},
		{"unknown kind", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: d}\n", "no schema for batch/v1, Kind=CronJob"},
		{"deployment whose selector misses the pod labels", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: i}]}}}\n", "`selector` does not match template `labels`"},
		{"deployment probe on port 0", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i, readinessProbe: {httpGet: {path: /, port: 0}}}]}}}\n", "readinessProbe.httpGet.port: Invalid value: 0"},
		{"service without ports", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {a: b}}\n", "spec.ports: Required value"},
		{"budget with both limits", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1, maxUnavailable: 1}\n", "minAvailable and maxUnavailable cannot be both set"},
		{"network policy with a bad namespace label", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: \"not ok!\"}}}]}]}\n", "Invalid value: \"not ok!\""},
		{"canary webhook with a field Flagger lacks", strings.Replace(validCanary, "type: rollout", "type: rollout\n      headers: {a: b}", 1), "spec.analysis.webhooks[0].headers: Forbidden: unknown field"},
		{"canary webhook metadata value not a string", strings.Replace(validCanary, `max: "0.02"`, "max: 0.02", 1), "metadata.max in body must be of type string"},
		{"service monitor with a misspelled endpoint field", strings.Replace(validServiceMonitor, "path: /metrics", "pth: /metrics", 1), "spec.endpoints[0].pth: Forbidden: unknown field"},
		{"service monitor with a bad interval", strings.Replace(validServiceMonitor, "interval: 30s", "interval: 30 seconds", 1), "spec.endpoints[0].interval in body should match"},
		{"kind without apiVersion", "kind: Secret\nmetadata: {name: s}\n", "apiVersion"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content := c.yaml
			if strings.Contains(c.yaml, "kind: Rollout") {
				content = validTemplate + "---" + c.yaml
			}
			documents, err := manifests.Parse(c.name, []byte(content))
			if err != nil {
				t.Fatal(err)
			}
			problems, _ := validator(t).Validate(documents)
			var all []string
			for _, problem := range problems {
				all = append(all, problem.String())
			}
			joined := strings.Join(all, "\n")
			if !strings.Contains(joined, c.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", c.want, joined)
			}
		})
	}
}

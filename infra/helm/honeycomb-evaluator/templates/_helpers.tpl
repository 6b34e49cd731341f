{{/* Every object is named after the release, so the Service is <release>.<namespace>.svc. */}}
{{- define "evaluator.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "evaluator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "evaluator.labels" -}}
{{ include "evaluator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: honeycomb-rollouts-evaluator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "evaluator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "evaluator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "evaluator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "evaluator.redisEnabled" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret -}}true{{- end -}}
{{- end -}}

{{/*
Without Redis every replica keeps its own query budget, so each gets an equal slice of the
Deployment's (at least 1 per minute).
*/}}
{{- define "evaluator.rateLimitPerReplica" -}}
{{- if include "evaluator.redisEnabled" . -}}
{{- .Values.honeycomb.rateLimitPerMinute -}}
{{- else -}}
{{- max 1 (div (int .Values.honeycomb.rateLimitPerMinute) (max 1 (int .Values.replicaCount))) -}}
{{- end -}}
{{- end -}}

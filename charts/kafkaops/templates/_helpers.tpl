{{- define "kafkaops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kafkaops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "kafkaops.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "kafkaops.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "kafkaops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kafkaops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kafkaops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kafkaops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The leader Lease: one per release, so two releases in one namespace never share it. */}}
{{- define "kafkaops.leaseName" -}}
{{- printf "%s-leader" (include "kafkaops.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kafkaops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kafkaops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The namespaced rules: what the operator does to the objects it serves, in one namespace or all.
kopf lists and watches the custom resources and patches their annotations and finalizers; status
goes through the status subresource; owned Deployments are written by server-side apply (a PATCH,
which needs "create" too when the Deployment does not exist yet), read back, and watched (a
hand-edited or deleted Deployment is restored); the scaler changes only replicas, through the scale subresource; Events are posted.
*/}}
{{- define "kafkaops.namespacedRules" -}}
- apiGroups: ["kafkaops.io"]
  resources: ["kafkatopics", "consumerapps"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["kafkaops.io"]
  resources: ["kafkatopics/status", "consumerapps/status"]
  verbs: ["patch"]
- apiGroups: ["kafkaops.io"]
  resources: ["kafkaaccesspolicies"]
  verbs: ["list", "watch"]
- apiGroups: ["kafkaops.io"]
  resources: ["kafkausers"]
  verbs: ["list", "watch", "create", "patch"]  # create: a ConsumerApp's own KafkaUser (credentials.user: auto)
- apiGroups: ["kafkaops.io"]
  resources: ["kafkausers/status"]
  verbs: ["patch"]
{{- if .Values.kafkaUsers.enabled }}
# KafkaUsers' passwords: read a Secret a KafkaUser names, create and replace the one it owns. By name
# only (no list or watch): the operator never enumerates a namespace's Secrets.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "update"]
{{- end }}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments/scale"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]                 # patch: a repeated Event's count
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Cluster-scoped: kopf discovers its resources by listing and watching CustomResourceDefinitions.
No "get" anywhere it is not used: kopf lists and watches, it never reads one object. */}}
{{- define "kafkaops.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: ["kafkaops.io"]
  resources: ["kafkaclusters"]
  verbs: ["list", "watch"]
- apiGroups: ["kafkaops.io"]
  resources: ["kafkaclusters/status"]
  verbs: ["patch"]
{{- end }}

{{- define "kafkaops.kafkaEnvName" -}}
{{- printf "KAFKAOPS_KAFKA_%s" (. | upper | replace "." "_") }}
{{- end }}

{{/* Names, labels and shared snippets. */}}

{{- define "nil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nil.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: minimal and stable. Call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "nil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nil.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nil.labels" -}}
helm.sh/chart: {{ include "nil.chart" .ctx }}
{{ include "nil.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: nil
{{- end -}}

{{/* An image reference pinned to the chart's appVersion (or image.tag). */}}
{{- define "nil.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .ctx.Values.image.tag -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag must not be 'latest': pin a version" -}}
{{- end -}}
{{- if .ctx.Values.image.registry -}}
{{- printf "%s/nil-%s:%s" (trimSuffix "/" .ctx.Values.image.registry) .component $tag -}}
{{- else -}}
{{- printf "nil-%s:%s" .component $tag -}}
{{- end -}}
{{- end -}}

{{- define "nil.databaseSecretName" -}}
{{- if .Values.database.existingSecret -}}
{{- .Values.database.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "nil.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "nil.secretsKeySecretName" -}}
{{- if .Values.secretsKey.existingSecret -}}
{{- .Values.secretsKey.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets-key" (include "nil.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The secrets key (and decrypt-only old keys) for the services that seal or open
functions' secrets: gateway, invoker, consumer. Never the runners or the builder. */}}
{{- define "nil.secretsKeyEnv" -}}
- name: NIL_SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "nil.secretsKeySecretName" . }}
      key: NIL_SECRETS_KEY
- name: NIL_SECRETS_OLD_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "nil.secretsKeySecretName" . }}
      key: NIL_SECRETS_OLD_KEYS
      optional: true
{{- end -}}

{{- define "nil.apiKeysSecretName" -}}
{{- if .Values.apiKeys.existingSecret -}}
{{- .Values.apiKeys.existingSecret -}}
{{- else -}}
{{- printf "%s-api-keys" (include "nil.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Refuse contradictory values early. */}}
{{- define "nil.validate" -}}
{{- if and .Values.database.bundled.enabled (or .Values.database.url .Values.database.existingSecret) -}}
{{- fail "database: set either database.url/existingSecret (external) or database.bundled.enabled, not both" -}}
{{- end -}}
{{- if not (or .Values.database.bundled.enabled .Values.database.url .Values.database.existingSecret) -}}
{{- fail "database: set database.url, database.existingSecret, or database.bundled.enabled=true" -}}
{{- end -}}
{{- if and .Values.apiKeys.keys .Values.apiKeys.existingSecret -}}
{{- fail "apiKeys: set either apiKeys.keys or apiKeys.existingSecret, not both" -}}
{{- end -}}
{{- end -}}

{{/* Environment every Nil container shares. */}}
{{- define "nil.commonEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "nil.databaseSecretName" . }}
      key: {{ if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}DATABASE_URL{{ end }}
- name: NIL_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/* Pod-level security: non-root, seccomp RuntimeDefault, no service-account token. */}}
{{- define "nil.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container-level security: read-only root, no privilege escalation, no capabilities. */}}
{{- define "nil.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{/* Proxies in front of the gateway whose X-Forwarded-For is trusted: as set, else 1
with the chart's ingress (its controller adds the client's address), else 0. */}}
{{- define "nil.gatewayProxyHops" -}}
{{- if kindIs "invalid" .Values.gateway.proxyHops -}}
{{- if .Values.ingress.enabled }}1{{ else }}0{{ end -}}
{{- else -}}
{{- .Values.gateway.proxyHops -}}
{{- end -}}
{{- end -}}

{{/*
How long a runner may drain (finish its call in flight) after SIGTERM: the longest
function timeout plus a margin for the watchdog and the reply.
*/}}
{{- define "nil.runnerGracefulSeconds" -}}
{{- add (div .Values.limits.maxTimeoutMs 1000) .Values.runner.drainMarginSeconds -}}
{{- end }}

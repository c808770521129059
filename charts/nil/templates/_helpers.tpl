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

{{/* Whether the bundled PostgreSQL is installed: on unless an external database is given. */}}
{{- define "nil.bundledDatabase" -}}
{{- if and .Values.database.bundled.enabled (not .Values.database.url) (not .Values.database.existingSecret) -}}
true
{{- end -}}
{{- end -}}

{{/* The bundled PostgreSQL's fully qualified host name (KEDA's operator runs in
another namespace and must resolve it too). */}}
{{- define "nil.postgresHost" -}}
{{- printf "%s-postgres.%s.svc.%s" (include "nil.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* The key of DATABASE_URL in the database Secret. */}}
{{- define "nil.databaseSecretKey" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecretKey }}{{- else -}}DATABASE_URL{{- end -}}
{{- end -}}

{{/* Refuse contradictory values early. */}}
{{- define "nil.validate" -}}
{{- if not (or (include "nil.bundledDatabase" .) .Values.database.url .Values.database.existingSecret) -}}
{{- fail "database: set database.url, database.existingSecret, or database.bundled.enabled=true" -}}
{{- end -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "database: set either database.url or database.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.apiKeys.keys .Values.apiKeys.existingSecret -}}
{{- fail "apiKeys: set either apiKeys.keys or apiKeys.existingSecret, not both" -}}
{{- end -}}
{{- end -}}

{{/*
The migrations, as the first initContainer of every pod that uses the database (not a
Helm hook): they run whatever `helm install --wait/--atomic` or Argo CD does, and a
pod starts only on a schema it knows. `python -m db` waits for the database with
backoff (the bundled one may still be starting) and applies what is pending under an
advisory lock: the first pod applies, the others find nothing to do.
*/}}
{{- define "nil.migrateInitContainer" -}}
- name: migrate
  image: {{ include "nil.image" (dict "ctx" . "component" "gateway") }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["python", "-m", "db"]
  env:
    - name: DATABASE_URL
      valueFrom:
        secretKeyRef:
          name: {{ include "nil.databaseSecretName" . }}
          key: {{ include "nil.databaseSecretKey" . }}
    - name: NIL_LOG_LEVEL
      value: {{ .Values.logLevel | quote }}
  {{- include "nil.containerSecurity" . | nindent 2 }}
  resources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {cpu: 500m, memory: 256Mi}
{{- end -}}

{{/* Where a component's pods run. Call with (dict "ctx" $ "v" .Values.<component>). */}}
{{- define "nil.scheduling" -}}
{{- with .v.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A PodDisruptionBudget only where more than one pod runs (one pod with
minAvailable: 1 would block every node drain). */}}
{{- define "nil.pdbWanted" -}}
{{- if .v.pdb.enabled -}}
{{- $min := ternary .v.autoscaling.minReplicas .v.replicas .v.autoscaling.enabled -}}
{{- if gt (int $min) 1 -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Environment every Nil container shares. */}}
{{- define "nil.commonEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "nil.databaseSecretName" . }}
      key: {{ include "nil.databaseSecretKey" . }}
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

{{/* The gateway's graceful timeout: the longest call plus a margin. */}}
{{- define "nil.gatewayGracefulSeconds" -}}
{{- add (div .Values.limits.maxTimeoutMs 1000) .Values.gateway.drainMarginSeconds -}}
{{- end }}

{{/* The runners' headless Service, as the pods of this namespace resolve it. */}}
{{- define "nil.runnerService" -}}
{{- printf "%s-runner:%v" (include "nil.fullname" .) .Values.runner.port -}}
{{- end }}

{{/* The runners' artifacts emptyDir: the store's prune threshold plus room for the
artifacts written before a prune (a Python component's is ~30 MB) — 25 %, at least 256 MiB. */}}
{{- define "nil.runnerArtifactVolumeMb" -}}
{{- $cache := int .Values.runner.artifactCacheMb -}}
{{- add $cache (max 256 (div $cache 4)) -}}
{{- end }}

{{/* A runner pod's ephemeral storage: the artifacts volume, /tmp (64 MiB) and logs. */}}
{{- define "nil.runnerDiskMb" -}}
{{- add (include "nil.runnerArtifactVolumeMb" . | int) 64 128 -}}
{{- end }}

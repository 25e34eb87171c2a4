{{/* Names, labels, images and the Secrets' names and values, shared by every template. */}}

{{- define "jobchannel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-jobchannel", or the release name alone when it already holds the chart name. */}}
{{- define "jobchannel.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "jobchannel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; call with (dict "ctx" $ "component" "relay"). */}}
{{- define "jobchannel.labels" -}}
helm.sh/chart: {{ include "jobchannel.chart" .ctx }}
{{ include "jobchannel.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: jobchannel
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/* The labels a Deployment or StatefulSet selects its pods by (immutable after install). */}}
{{- define "jobchannel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jobchannel.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* registry/repository:tag, the tag defaulting to appVersion; call with (dict "image" ... "ctx" $). */}}
{{- define "jobchannel.image" -}}
{{- $tag := .image.tag | default .ctx.Chart.AppVersion | toString -}}
{{- if .image.registry -}}
{{- printf "%s/%s:%s" .image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "jobchannel.operatorName" -}}{{ include "jobchannel.fullname" . }}-operator{{- end -}}
{{- define "jobchannel.relayName" -}}{{ include "jobchannel.fullname" . }}-relay{{- end -}}
{{- define "jobchannel.redisName" -}}{{ include "jobchannel.fullname" . }}-redis{{- end -}}

{{/* The relay ConfigMap: written by the operator (channels.json), watched by the relay; never by the chart. */}}
{{- define "jobchannel.relayConfigMap" -}}{{ include "jobchannel.fullname" . }}-relay{{- end -}}

{{/* The Secret with RELAY_JWT_SECRET. */}}
{{- define "jobchannel.authSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-relay-auth" (include "jobchannel.fullname" .)) -}}
{{- end -}}

{{- define "jobchannel.authSecretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}RELAY_JWT_SECRET{{ end -}}
{{- end -}}

{{/* The Secret with REDIS_URL, in the release namespace and each JobChannel namespace (JOBCHANNEL_REDIS_SECRET). */}}
{{- define "jobchannel.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "jobchannel.fullname" .)) -}}
{{- end -}}

{{/* Refuses contradictory values with a message naming them. */}}
{{- define "jobchannel.validate" -}}
{{- $redis := 0 -}}
{{- if .Values.redis.enabled }}{{ $redis = add1 $redis }}{{ end -}}
{{- if .Values.redis.url }}{{ $redis = add1 $redis }}{{ end -}}
{{- if .Values.redis.existingSecret }}{{ $redis = add1 $redis }}{{ end -}}
{{- if .Values.redis.cluster.nodes }}{{ $redis = add1 $redis }}{{ end -}}
{{- if ne $redis 1 -}}
{{- fail "set exactly one of redis.enabled=true, redis.url, redis.cluster.nodes or redis.existingSecret" -}}
{{- end -}}
{{- if and .Values.redis.existingSecret .Values.jobChannelNamespaces -}}
{{- fail "jobChannelNamespaces needs a Redis Secret the chart writes (redis.enabled, redis.url or redis.cluster.nodes): with redis.existingSecret, create that Secret in each JobChannel namespace yourself" -}}
{{- end -}}
{{- $window := add .Values.relay.preStopSeconds .Values.relay.drainSeconds -}}
{{- if le (int .Values.relay.terminationGracePeriodSeconds) (int $window) -}}
{{- fail (printf "relay.terminationGracePeriodSeconds (%v) must be larger than relay.preStopSeconds + relay.drainSeconds (%v), or the kubelet kills relays mid-drain" .Values.relay.terminationGracePeriodSeconds $window) -}}
{{- end -}}
{{- $a := .Values.relay.autoscaling -}}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- fail (printf "relay.autoscaling.minReplicas (%v) must not exceed relay.autoscaling.maxReplicas (%v)" $a.minReplicas $a.maxReplicas) -}}
{{- end -}}
{{- if and $a.connections.enabled (not $a.enabled) -}}
{{- fail "relay.autoscaling.connections.enabled needs relay.autoscaling.enabled=true (the connections metric is one of the HPA's)" -}}
{{- end -}}
{{- if and .Values.auth.jwtSecret (lt (len .Values.auth.jwtSecret) 32) -}}
{{- fail "auth.jwtSecret must be at least 32 characters (HS256)" -}}
{{- end -}}
{{- end -}}

{{/* The bundled Redis password: the value, else the live Secret's, else a new random one. */}}
{{- define "jobchannel.redisPassword" -}}
{{- if .Values.redis.auth.password -}}
{{- .Values.redis.auth.password -}}
{{- else -}}
{{- $live := lookup "v1" "Secret" .Release.Namespace (include "jobchannel.redisSecretName" .) -}}
{{- if and $live $live.data (hasKey $live.data "REDIS_PASSWORD") -}}
{{- index $live.data "REDIS_PASSWORD" | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* REDIS_URL: the external URL, the external Redis Cluster, or the bundled Redis Service; call with (dict "ctx" $ "password" $pw). */}}
{{- define "jobchannel.redisUrl" -}}
{{- $v := .ctx.Values -}}
{{- if $v.redis.url -}}
{{- $v.redis.url -}}
{{- else if $v.redis.cluster.nodes -}}
{{- $c := $v.redis.cluster -}}
{{- printf "%s://%s%s" (ternary "rediss+cluster" "redis+cluster" $c.tls) (ternary (printf ":%s@" $c.password) "" (ne $c.password "")) (join "," $c.nodes) -}}
{{- else -}}
{{- $host := printf "%s.%s.svc.%s" (include "jobchannel.redisName" .ctx) .ctx.Release.Namespace $v.clusterDomain -}}
{{- if $v.redis.auth.enabled -}}
{{- printf "redis://:%s@%s:6379" .password $host -}}
{{- else -}}
{{- printf "redis://%s:6379" $host -}}
{{- end -}}
{{- end -}}
{{- end -}}

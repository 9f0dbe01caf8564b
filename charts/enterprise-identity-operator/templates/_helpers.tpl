{{- define "eio.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "eio.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "eio.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eio.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "eio.labels" -}}
{{ include "eio.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "eio.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "eio.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Refuse values that cannot work, with a reason. */}}
{{- define "eio.validate" -}}
{{- if not .Values.externalURL -}}
{{- fail "externalURL is required: the public base of the data plane, for example https://scim.example.com" -}}
{{- end -}}
{{- if not (has .Values.store.type (list "sqlite" "postgres")) -}}
{{- fail (printf "store.type must be sqlite or postgres, not %q" .Values.store.type) -}}
{{- end -}}
{{- if and (eq .Values.store.type "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "store.type=sqlite runs exactly one replica (SQLite has one writer); use store.type=postgres to scale out" -}}
{{- end -}}
{{- if and (eq .Values.store.type "postgres") (not .Values.store.postgres.existingSecret) -}}
{{- fail "store.type=postgres needs store.postgres.existingSecret: a Secret holding the connection URL" -}}
{{- end -}}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.create=false needs serviceAccount.name: the manager's rights must not land on the namespace's default ServiceAccount" -}}
{{- end -}}
{{- if and .Values.trustProxyHeaders (not .Values.networkPolicy.enabled) -}}
{{- fail "trustProxyHeaders=true lets whoever reaches the data plane name a user: set networkPolicy.enabled=true with networkPolicy.allowFrom naming only your authenticating proxy and your ingress controller" -}}
{{- end -}}
{{- if and .Values.trustProxyHeaders (not .Values.trustedProxyCIDRs) -}}
{{- fail "trustProxyHeaders=true needs trustedProxyCIDRs: the addresses your authenticating proxy connects from (127.0.0.1/32 for a sidecar), never the ingress controller's, since any tenant can route an Ingress to the data plane" -}}
{{- end -}}
{{- range .Values.trustedProxyCIDRs -}}
{{- if or (not (contains "/" .)) (has . (list "0.0.0.0/0" "::/0")) -}}
{{- fail (printf "trustedProxyCIDRs: %q must be a CIDR naming only your proxy, such as 10.8.3.17/32" .) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.allowFrom) -}}
{{- fail "networkPolicy.enabled=true needs networkPolicy.allowFrom: the peers (your proxy, your ingress controller) that may reach the data plane" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object and pod template; never on selectors, which cannot change once deployed. */}}
{{- define "c360.labels" -}}
app.kubernetes.io/part-of: c360-ingest
{{- if not .Values.kustomizeBase }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- end }}

{{- define "c360.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "c360.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" .Release.Name) }}
{{- end }}

{{- define "c360.collectorSecretName" -}}
{{ .Values.collector.existingSecret | default (printf "%s-collector" .Release.Name) }}
{{- end }}

{{/* The environment of every c360 container: the ConfigMap, the secrets, and the private CA's file. */}}
{{- define "c360.env" -}}
envFrom:
  - configMapRef:
      name: {{ .Release.Name }}-config
  - secretRef:
      name: {{ include "c360.secretName" . }}
{{- end }}

{{- define "c360.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end }}

{{- define "c360.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{- define "c360.caMount" -}}
{{- if .Values.kafkaCa.existingSecret }}
- name: kafka-ca
  mountPath: /etc/c360/kafka-ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "c360.caVolume" -}}
{{- if .Values.kafkaCa.existingSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafkaCa.existingSecret }}
{{- end }}
{{- end }}

{{/*
A long-running worker: its Deployment and the headless Service Prometheus scrapes its ops port
through. Takes a dict: root (the chart's context), name, component, args, memoryMb, resources,
grace (seconds), and optionally replicas (omitted: KEDA's to set), spread, recreate, comment,
ports (more container ports), service (a Service of its own instead of the headless one), mounts
and volumes (YAML lists as text).
*/}}
{{- define "c360.worker" -}}
{{- $root := .root -}}
{{- if .comment }}
# {{ .comment }}
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $root.Release.Name }}-{{ .name }}
  labels:
    {{- include "c360.labels" $root | nindent 4 }}
    app.kubernetes.io/name: {{ $root.Release.Name }}-{{ .name }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if hasKey . "replicas" }}
  replicas: {{ .replicas }}
  {{- end }}
  {{- if .recreate }}
  # One at a time: two would work on the same position.
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ $root.Release.Name }}-{{ .name }}
  template:
    metadata:
      labels:
        {{- include "c360.labels" $root | nindent 8 }}
        app.kubernetes.io/name: {{ $root.Release.Name }}-{{ .name }}
        app.kubernetes.io/component: {{ .component }}
    spec:
      # Time for the graceful stop on SIGTERM.
      terminationGracePeriodSeconds: {{ .grace }}
      serviceAccountName: {{ $root.Release.Name }}-ingest
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .spread }}
      # Spread over zones and nodes, so one failure takes few of them; never blocks scheduling.
      topologySpreadConstraints:
        {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {{ $root.Release.Name }}-{{ $.name }}
        {{- end }}
      {{- end }}
      {{- include "c360.podSecurity" $root | nindent 6 }}
      containers:
        - name: c360
          image: {{ include "c360.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: {{ toJson .args }}
          {{- include "c360.env" $root | nindent 10 }}
          env:
            # Three quarters of the memory limit: V8's heap limits, fetch and cache sizes follow it (docs/benchmarks.md: Memory budget).
            - name: C360_MEMORY_MB
              value: {{ .memoryMb | quote }}
          ports:
            {{- with .ports }}
            {{- . | nindent 12 }}
            {{- end }}
            - name: ops
              containerPort: 9464
          # Start-up registers schemas and joins the group: up to two minutes before liveness counts.
          startupProbe:
            httpGet:
              path: /healthz
              port: ops
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet:
              path: /healthz
              port: ops
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: ops
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml .resources | nindent 12 }}
          {{- include "c360.containerSecurity" $root | nindent 10 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- include "c360.caMount" $root | nindent 12 }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- include "c360.caVolume" $root | nindent 8 }}
{{- if not .service }}
---
# The ops port, for Prometheus; no traffic is served here.
apiVersion: v1
kind: Service
metadata:
  name: {{ $root.Release.Name }}-{{ .name }}-ops
  labels:
    {{- include "c360.labels" $root | nindent 4 }}
    app.kubernetes.io/name: {{ $root.Release.Name }}-{{ .name }}
    c360.io/metrics: "true"
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: {{ $root.Release.Name }}-{{ .name }}
  ports:
    - name: ops
      port: 9464
      targetPort: ops
{{- end }}
{{- end }}

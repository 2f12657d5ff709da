package target

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rrguard/rrguard/gateway/signal"
	"github.com/rrguard/rrguard/test/golden"
)

type labels = map[string]string

// with is base with extra added.
func with(base labels, extra labels) labels {
	out := labels{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// without is l without keys (a rule's ignoring(...) or by(...)).
func without(l labels, keys ...string) labels {
	out := with(l, nil)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// The scrape labels series carry, as kube-prometheus-stack's
// ServiceMonitors and kube-prometheus' jsonnet set them.
var (
	// kube-state-metrics (kube-prometheus-stack: honorLabels: true): a
	// series without a namespace or pod of its own gets the exporter's.
	ksmTarget = labels{
		"job": "kube-state-metrics", "instance": "10.244.1.17:8080", "endpoint": "http", "container": "kube-state-metrics",
		"service": ksm, "namespace": "monitoring", "pod": ksmPod, "prometheus": "monitoring/kube-prometheus-stack-prometheus",
	}
	// kube-prometheus' jsonnet drops the target's pod, service, endpoint
	// and namespace labels of kube-state-metrics, which is scraped through
	// kube-rbac-proxy.
	ksmJsonnet = labels{"job": "kube-state-metrics", "instance": "10.244.2.9:8443", "container": "kube-rbac-proxy-main"}
	// node-exporter (kube-prometheus-stack relabels instance to the node's
	// name).
	nodeExporterTarget = func(i int, instance string) labels {
		return labels{
			"job": "node-exporter", "instance": instance, "endpoint": "http-metrics", "container": "node-exporter",
			"service": nodeExporter, "namespace": "monitoring", "pod": nodeExporterPod(i),
		}
	}
	// the kubelet (honorLabels: true), scraped on its Node's address; the
	// Prometheus Operator labels its series with the node.
	kubeletTarget = func(i int, path string) labels {
		return labels{
			"job": "kubelet", "instance": "10.0.1." + string(rune('0'+i)) + ":10250", "endpoint": "https-metrics",
			"service": kubeletSvc, "namespace": "kube-system", "metrics_path": path, "node": "worker-" + string(rune('0'+i)),
		}
	}
)

// ksmSeries is a kube-state-metrics series' labels with the scrape
// target's: with honorLabels true the series' own namespace and pod win;
// with honorLabels false they are kept as exported_*.
func ksmSeries(own labels, honor bool) labels {
	out := with(ksmTarget, nil)
	for k, v := range own {
		if _, clash := ksmTarget[k]; clash && !honor {
			out["exported_"+k] = v
			continue
		}
		out[k] = v
	}
	return out
}

// resolveCase is one signal and the incident an SRE names for it.
type resolveCase struct {
	name string
	// alert's labels (alertname included), or event as JSON.
	alert labels
	event string
	// incident is what an SRE names: "Kind namespace/name", "Kind name"
	// for a cluster-scoped kind, "ignored".
	incident string
	// why the SRE names it.
	why string
}

var alertCases = []resolveCase{
	// Nodes: the kube-state-metrics Pod that reports them is not their
	// subject.
	{name: "KubeNodeNotReady worker-1", alert: ksmSeries(labels{"alertname": "KubeNodeNotReady", "severity": "warning", "node": "worker-1", "condition": "Ready", "status": "true"}, true),
		incident: "Node worker-1", why: "the node is not ready; kube-state-metrics only reports it"},
	{name: "KubeNodeNotReady worker-2", alert: ksmSeries(labels{"alertname": "KubeNodeNotReady", "severity": "warning", "node": "worker-2", "condition": "Ready", "status": "true"}, true),
		incident: "Node worker-2", why: "another node's outage is another incident"},
	{name: "KubeNodeUnreachable worker-3", alert: ksmSeries(labels{"alertname": "KubeNodeUnreachable", "severity": "warning", "node": "worker-3", "key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}, true),
		incident: "Node worker-3", why: "the node is unreachable"},
	{name: "KubeNodeNotReady worker-1, kube-prometheus jsonnet", alert: with(ksmJsonnet, labels{"alertname": "KubeNodeNotReady", "severity": "warning", "node": "worker-1", "condition": "Ready", "status": "true"}),
		incident: "Node worker-1", why: "the same node's outage, with jsonnet's label drops"},
	{name: "KubeNodeReadinessFlapping worker-1", alert: labels{"alertname": "KubeNodeReadinessFlapping", "severity": "warning", "node": "worker-1"},
		incident: "Node worker-1", why: "the rule keeps only node: the same node"},
	{name: "KubeletTooManyPods worker-2", alert: labels{"alertname": "KubeletTooManyPods", "severity": "info", "node": "worker-2"},
		incident: "Node worker-2", why: "the node runs too many pods"},
	// Pods and their workloads.
	{name: "KubePodCrashLooping, honorLabels true", alert: ksmSeries(labels{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "shop", "pod": webRS + "-abcde", "container": "web", "reason": "CrashLoopBackOff", "uid": "1f2e"}, true),
		incident: "Deployment shop/web", why: "a Pod of Deployment web crash-loops: the Deployment is what a remediation changes"},
	{name: "KubePodCrashLooping, honorLabels false", alert: ksmSeries(labels{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "shop", "pod": webRS + "-fghij", "container": "web", "reason": "CrashLoopBackOff"}, false),
		incident: "Deployment shop/web", why: "exported_pod and exported_namespace name the Pod; pod and namespace are the exporter's"},
	{name: "KubePodNotReady", alert: labels{"alertname": "KubePodNotReady", "severity": "warning", "namespace": "shop", "pod": webRS + "-abcde"},
		incident: "Deployment shop/web", why: "a Pod of web is not ready"},
	{name: "KubeContainerWaiting", alert: labels{"alertname": "KubeContainerWaiting", "severity": "warning", "namespace": "shop", "pod": webRS + "-fghij", "container": "web", "reason": "ContainerCreating"},
		incident: "Deployment shop/web", why: "a container of web waits"},
	{name: "KubeDeploymentReplicasMismatch, honorLabels true", alert: ksmSeries(labels{"alertname": "KubeDeploymentReplicasMismatch", "severity": "warning", "namespace": "shop", "deployment": "web"}, true),
		incident: "Deployment shop/web", why: "the Deployment lacks replicas; pod is the exporter's"},
	{name: "KubeDeploymentReplicasMismatch, honorLabels false", alert: ksmSeries(labels{"alertname": "KubeDeploymentReplicasMismatch", "severity": "warning", "namespace": "shop", "deployment": "web"}, false),
		incident: "Deployment shop/web", why: "exported_namespace scopes the deployment label"},
	{name: "KubeDeploymentRolloutStuck, kube-prometheus jsonnet", alert: with(ksmJsonnet, labels{"alertname": "KubeDeploymentRolloutStuck", "severity": "warning", "namespace": "shop", "deployment": "web", "condition": "Progressing", "status": "false"}),
		incident: "Deployment shop/web", why: "the rollout of web is stuck"},
	{name: "CPUThrottlingHigh, cAdvisor", alert: labels{"alertname": "CPUThrottlingHigh", "severity": "info", "namespace": "shop", "pod": webRS + "-abcde", "container": "web", "instance": "10.0.1.1:10250", "service": kubeletSvc},
		incident: "Deployment shop/web", why: "the kubelet's cAdvisor reports a container of web; the kubelet is only the exporter"},
	{name: "TargetDown of the application", alert: labels{"alertname": "TargetDown", "severity": "warning", "job": "web", "namespace": "shop", "service": "web"},
		incident: "Deployment shop/web", why: "the Service's Pods are web's: one outage, one remediation"},
	{name: "an application's own alert", alert: labels{"alertname": "HighErrorRate", "severity": "critical", "job": "web", "namespace": "shop", "service": "web", "endpoint": "http", "pod": webRS + "-abcde", "instance": "10.244.1.30:8080", "container": "web"},
		incident: "Deployment shop/web", why: "the application exports its own metrics: its scrape target is the subject"},
	{name: "a deleted Pod whose ReplicaSet remains", alert: labels{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "shop", "pod": webRS + "-zzzzz", "container": "web"},
		incident: "Deployment shop/web", why: "the Pod was replaced; its ReplicaSet, named by the pod-template-hash, still stands for it"},
	{name: "a deleted Pod of a gone Deployment", alert: labels{"alertname": "KubePodNotReady", "severity": "warning", "namespace": "shop", "pod": "old-5f6b7c8d9-qqqqq"},
		incident: "ignored", why: "nothing left to remediate"},
	{name: "KubeHpaMaxedOut", alert: ksmSeries(labels{"alertname": "KubeHpaMaxedOut", "severity": "warning", "namespace": "shop", "horizontalpodautoscaler": "web"}, true),
		incident: "HorizontalPodAutoscaler shop/web", why: "the autoscaler is at its maximum"},
	{name: "KubeJobFailed", alert: ksmSeries(labels{"alertname": "KubeJobFailed", "severity": "warning", "namespace": "shop", "job_name": "backup-29012345", "condition": "true"}, true),
		incident: "CronJob shop/backup", why: "job_name names the Job; its CronJob makes the next one"},
	{name: "KubeJobNotCompleted", alert: labels{"alertname": "KubeJobNotCompleted", "severity": "warning", "namespace": "shop", "job_name": "backup-29012345"},
		incident: "CronJob shop/backup", why: "the same Job"},
	// Other kinds.
	{name: "KubeQuotaAlmostFull, honorLabels true", alert: without(ksmSeries(labels{"alertname": "KubeQuotaAlmostFull", "severity": "info", "namespace": "shop", "resourcequota": "compute-resources", "resource": "requests.cpu"}, true), "instance", "job"),
		incident: "ResourceQuota shop/compute-resources", why: "the quota is almost used up; discovery knows the resourcequota label"},
	{name: "KubeQuotaExceeded, honorLabels false", alert: ksmSeries(labels{"alertname": "KubeQuotaExceeded", "severity": "warning", "namespace": "shop", "resourcequota": "compute-resources", "resource": "requests.cpu"}, false),
		incident: "ResourceQuota shop/compute-resources", why: "the same quota"},
	{name: "KubePersistentVolumeFillingUp", alert: with(kubeletTarget(2, "/metrics"), labels{"alertname": "KubePersistentVolumeFillingUp", "severity": "critical", "namespace": "shop", "persistentvolumeclaim": "uploads"}),
		incident: "PersistentVolumeClaim shop/uploads", why: "the claim fills up; the node is where the kubelet measured it"},
	{name: "KubePersistentVolumeErrors", alert: ksmSeries(labels{"alertname": "KubePersistentVolumeErrors", "severity": "critical", "persistentvolume": "pvc-5f0c2a", "phase": "Failed"}, true),
		incident: "PersistentVolume pvc-5f0c2a", why: "a cluster-scoped volume: no namespace"},
	{name: "KubeDaemonSetRolloutStuck of node-exporter", alert: ksmSeries(labels{"alertname": "KubeDaemonSetRolloutStuck", "severity": "warning", "namespace": "monitoring", "daemonset": nodeExporter}, true),
		incident: "DaemonSet monitoring/" + nodeExporter, why: "the DaemonSet lives in the exporter's own namespace"},
	{name: "KubePodCrashLooping of kube-state-metrics itself", alert: ksmSeries(labels{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "monitoring", "pod": ksmPod, "container": "kube-state-metrics", "reason": "CrashLoopBackOff"}, true),
		incident: "Deployment monitoring/" + ksm, why: "the exporter is the subject when it reports itself"},
	// The operator's database.
	{name: "KubeStatefulSetReplicasMismatch of an operator's StatefulSet", alert: ksmSeries(labels{"alertname": "KubeStatefulSetReplicasMismatch", "severity": "warning", "namespace": "data", "statefulset": "orders-db"}, true),
		incident: "Database data/orders", why: "the operator owns the StatefulSet and reverts changes to it"},
	{name: "KubePodCrashLooping of the database's Pod", alert: ksmSeries(labels{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "data", "pod": "orders-db-1", "container": "db"}, true),
		incident: "Database data/orders", why: "Pod, StatefulSet, Database"},
	{name: "a deleted Pod of the StatefulSet", alert: labels{"alertname": "KubePodNotReady", "severity": "warning", "namespace": "data", "pod": "orders-db-2"},
		incident: "Database data/orders", why: "the ordinal names the StatefulSet"},
	// Node agents.
	{name: "NodeFilesystemSpaceFillingUp worker-1", alert: with(nodeExporterTarget(1, "worker-1"), labels{"alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning", "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}),
		incident: "Node worker-1", why: "node-exporter measures its node"},
	{name: "NodeFilesystemSpaceFillingUp worker-2, instance an address", alert: with(nodeExporterTarget(2, "10.0.1.2:9100"), labels{"alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning", "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}),
		incident: "Node worker-2", why: "node-exporter on the host network serves its node's address"},
	{name: "NodeNetworkReceiveErrs worker-3", alert: with(nodeExporterTarget(3, "worker-3"), labels{"alertname": "NodeNetworkReceiveErrs", "severity": "warning", "device": "eth0"}),
		incident: "Node worker-3", why: "the node's network"},
	{name: "NodeClockNotSynchronising worker-2", alert: with(nodeExporterTarget(2, "worker-2"), labels{"alertname": "NodeClockNotSynchronising", "severity": "warning"}),
		incident: "Node worker-2", why: "the node's clock"},
	{name: "TargetDown of node-exporter", alert: labels{"alertname": "TargetDown", "severity": "warning", "job": "node-exporter", "namespace": "monitoring", "service": nodeExporter},
		incident: "DaemonSet monitoring/" + nodeExporter, why: "the exporter itself is down: its DaemonSet"},
	{name: "KubeletClientCertificateExpiration worker-3", alert: with(kubeletTarget(3, "/metrics"), labels{"alertname": "KubeletClientCertificateExpiration", "severity": "warning"}),
		incident: "Node worker-3", why: "the kubelet's certificate is the node's"},
	{name: "KubeletPlegDurationHigh worker-1", alert: labels{"alertname": "KubeletPlegDurationHigh", "severity": "warning", "instance": "10.0.1.1:10250", "node": "worker-1", "quantile": "0.99"},
		incident: "Node worker-1", why: "the kubelet's relisting is slow on its node"},
	// Services.
	{name: "TargetDown of a Service without a selector", alert: labels{"alertname": "TargetDown", "severity": "warning", "job": "legacy-db", "namespace": "shop", "service": "legacy-db"},
		incident: "Service shop/legacy-db", why: "a Service that selects nothing is its own subject"},
	{name: "TargetDown of a Service selecting no Pod", alert: labels{"alertname": "TargetDown", "severity": "warning", "job": "promo", "namespace": "shop", "service": "promo"},
		incident: "Service shop/promo", why: "no workload behind it"},
	// No subject.
	{name: "KubeletDown", alert: labels{"alertname": "KubeletDown", "severity": "critical", "job": "kubelet", "metrics_path": "/metrics"},
		incident: "Unknown KubeletDown", why: "absent(): no object, the alert is its own incident"},
	{name: "KubeAPIDown", alert: labels{"alertname": "KubeAPIDown", "severity": "critical", "job": "apiserver"},
		incident: "Unknown KubeAPIDown", why: "another absent() alert: another incident"},
	{name: "KubeStateMetricsListErrors", alert: labels{"alertname": "KubeStateMetricsListErrors", "severity": "critical"},
		incident: "Unknown KubeStateMetricsListErrors", why: "aggregated to the cluster"},
	{name: "an absent() alert scoped to a namespace", alert: labels{"alertname": "PaymentsAbsent", "severity": "critical", "job": "payments", "namespace": "shop"},
		incident: "Unknown shop/PaymentsAbsent", why: "only job and namespace: its own incident in its namespace"},
}

// coreEvent is a core/v1 Warning event about an object.
func coreEvent(reason, source, kind, ns, name string) string {
	b, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": reason,
		"metadata":       map[string]any{"namespace": map[bool]string{true: "default", false: ns}[ns == ""], "name": name + ".1877"},
		"source":         map[string]any{"component": source},
		"involvedObject": map[string]any{"kind": kind, "namespace": ns, "name": name, "apiVersion": "v1"},
		"message":        reason, "firstTimestamp": "2026-11-26T04:58:00Z", "count": 1,
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

var eventCases = []resolveCase{
	{name: "kubelet BackOff", event: coreEvent("BackOff", "kubelet", "Pod", "shop", webRS+"-abcde"),
		incident: "Deployment shop/web", why: "the same crash loop as KubePodCrashLooping: one incident"},
	{name: "kubelet FailedMount", event: coreEvent("FailedMount", "kubelet", "Pod", "shop", webRS+"-fghij"),
		incident: "Deployment shop/web", why: "another Pod of web"},
	{name: "kubelet Unhealthy of the database", event: coreEvent("Unhealthy", "kubelet", "Pod", "data", "orders-db-0"),
		incident: "Database data/orders", why: "the operator's Database"},
	{name: "kubelet BackOff of a Job's Pod", event: coreEvent("BackOff", "kubelet", "Pod", "shop", "backup-29012345-xkq2m"),
		incident: "CronJob shop/backup", why: "Pod, Job, CronJob"},
	{name: "kubelet BackOff of a Pod that is gone", event: coreEvent("BackOff", "kubelet", "Pod", "shop", "old-5f6b7c8d9-qqqqq"),
		incident: "ignored", why: "nothing left to remediate"},
	{name: "kubelet Rebooted", event: coreEvent("Rebooted", "kubelet", "Node", "", "worker-3"),
		incident: "Node worker-3", why: "the same node as KubeNodeUnreachable"},
	{name: "kubelet EvictionThresholdMet", event: coreEvent("EvictionThresholdMet", "kubelet", "Node", "", "worker-1"),
		incident: "Node worker-1", why: "the node's pressure"},
	{name: "node-problem-detector KernelOops", event: coreEvent("KernelOops", "kernel-monitor", "Node", "", "worker-1"),
		incident: "Node worker-1", why: "the same node as KubeNodeNotReady worker-1: one incident"},
	{name: "node-problem-detector OOMKilling", event: coreEvent("OOMKilling", "kernel-monitor", "Node", "", "worker-2"),
		incident: "Node worker-2", why: "worker-2"},
	{name: "node-problem-detector TaskHung, events.k8s.io/v1", event: `{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"namespace":"default","name":"worker-2.1878"},"type":"Warning","reason":"TaskHung","note":"task hung","reportingController":"kernel-monitor","regarding":{"kind":"Node","name":"worker-2","apiVersion":"v1"},"eventTime":"2026-11-26T04:58:00.000000Z","reportingInstance":"worker-2","action":"Monitor"}`,
		incident: "Node worker-2", why: "the node event names no namespace: the same incident as its alerts"},
}

// goldenCase is what the golden file records of one case.
type goldenCase struct {
	Name        string `json:"name"`
	Input       any    `json:"input"`
	Incident    string `json:"incident"`
	Why         string `json:"why"`
	Resolved    string `json:"resolved"`
	Reason      string `json:"reason"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// The incident of each alert and event, as an SRE names it, on a seeded
// cluster: signals about one object share one fingerprint, signals about
// different objects never do. The golden files record each resolution's
// reason.
func TestResolveNamesTheIncidentAnSREWould(t *testing.T) {
	r := newTestResolver(t)
	var all []goldenCase
	for _, set := range []struct {
		file  string
		cases []resolveCase
	}{{"alerts.yaml", alertCases}, {"events.yaml", eventCases}} {
		var got []goldenCase
		for _, tc := range set.cases {
			g := resolveOne(t, r, tc)
			if g.Resolved != tc.incident {
				t.Errorf("%s: resolved to %s (%s), want %s (%s)", tc.name, g.Resolved, g.Reason, tc.incident, tc.why)
			}
			got = append(got, g)
		}
		out, err := yaml.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		golden.Compare(t, filepath.Join("testdata", "golden", set.file), out)
		all = append(all, got...)
	}
	if len(alertCases) < 30 {
		t.Errorf("%d alerts, want at least 30", len(alertCases))
	}
	checkFingerprints(t, all)
}

// checkFingerprints holds one fingerprint per incident and one incident
// per fingerprint.
func checkFingerprints(t *testing.T, all []goldenCase) {
	t.Helper()
	byIncident, byFP := map[string]string{}, map[string]string{}
	for _, g := range all {
		if g.Incident == "ignored" {
			continue
		}
		if fp, ok := byIncident[g.Incident]; ok && fp != g.Fingerprint {
			t.Errorf("%s: fingerprint %s, but another signal about %s has %s", g.Name, g.Fingerprint, g.Incident, fp)
		}
		if inc, ok := byFP[g.Fingerprint]; ok && inc != g.Incident {
			t.Errorf("%s: %s shares fingerprint %s with %s", g.Name, g.Incident, g.Fingerprint, inc)
		}
		byIncident[g.Incident], byFP[g.Fingerprint] = g.Fingerprint, g.Incident
	}
}

func resolveOne(t *testing.T, r *Resolver, tc resolveCase) goldenCase {
	t.Helper()
	g := goldenCase{Name: tc.name, Incident: tc.incident, Why: tc.why}
	var sig *signal.Signal
	if tc.alert != nil {
		g.Input = tc.alert
		sig = &signal.Signal{Name: tc.alert["alertname"], Labels: tc.alert, Source: signal.SourcePrometheus}
	} else {
		it, err := signal.Parser{}.KubernetesEvent([]byte(tc.event))
		if err != nil || it.Signal == nil {
			t.Fatalf("%s: parse: %+v %v", tc.name, it, err)
		}
		sig = it.Signal
		g.Input = sig.Target
	}
	res, err := r.Resolve(context.Background(), sig)
	if err != nil {
		t.Fatalf("%s: %v", tc.name, err)
	}
	g.Reason = res.Reason
	if res.Ignored != "" {
		g.Resolved = "ignored"
		return g
	}
	g.Resolved = incidentName(res)
	sig.Target = res.Target
	if g.Fingerprint, err = sig.Fingerprint(); err != nil {
		t.Fatalf("%s: fingerprint %+v: %v", tc.name, res.Target, err)
	}
	return g
}

func incidentName(res Resolution) string {
	t := res.Target
	if t.Namespace == "" {
		return t.Kind + " " + t.Name
	}
	return t.Kind + " " + t.Namespace + "/" + t.Name
}

// Labels that cannot name an object name nothing, as kubernaut skips
// them; an alert left without a subject is its own incident, unless its
// alertname cannot name one either (a 4xx: Prometheus never sends one).
func TestLabelsThatCannotNameAnObjectNameNothing(t *testing.T) {
	r := newTestResolver(t)
	tests := map[string]struct {
		alert   labels
		want    string
		invalid bool
	}{
		"a deployment name with a path":           {alert: labels{"alertname": "A", "namespace": "shop", "deployment": "web/../x", "node": "worker-1"}, want: "Node worker-1"},
		"a pod named '..'":                        {alert: labels{"alertname": "A", "namespace": "shop", "pod": ".."}, want: "Unknown shop/A"},
		"a namespace that is no DNS label":        {alert: labels{"alertname": "A", "namespace": "Sh/op", "deployment": "web"}, want: "Unknown A"},
		"a node name over 253":                    {alert: labels{"alertname": "A", "node": strings.Repeat("n", 254)}, want: "Unknown A"},
		"an empty label value":                    {alert: labels{"alertname": "A", "namespace": "shop", "deployment": ""}, want: "Unknown shop/A"},
		"an alertname that cannot name an object": {alert: labels{"alertname": "a/b", "job": "x"}, invalid: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := r.Resolve(context.Background(), &signal.Signal{Name: tc.alert["alertname"], Labels: tc.alert})
			if tc.invalid {
				if !errors.Is(err, signal.ErrInvalid) {
					t.Fatalf("Resolve = %+v, %v; want an ErrInvalid", res, err)
				}
				return
			}
			if err != nil || incidentName(res) != tc.want {
				t.Errorf("Resolve = %s (%s), %v; want %s", incidentName(res), res.Reason, err, tc.want)
			}
		})
	}
}

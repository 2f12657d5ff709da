package target

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/signal"
)

// scrapeLabels describe the scrape target, the exporter, never the
// subject: Prometheus and the Prometheus Operator set them on every
// series (job, instance, endpoint, service, container; metrics_path from
// kube-prometheus' relabelling).
var scrapeLabels = map[string]bool{
	"job": true, "instance": true, "endpoint": true, "service": true, "container": true, "metrics_path": true,
}

// notSubjects are labels that name no object even where a kind of the same
// name is served: the alert's own, the cluster (Cluster API serves a
// Cluster kind), the Prometheus that evaluated the rule (the Prometheus
// Operator serves a Prometheus kind), and the namespace, which scopes the
// subject rather than being it.
var notSubjects = map[string]bool{
	"alertname": true, "severity": true, signal.ClusterLabel: true, "prometheus": true, "namespace": true,
}

// labelAliases are kube-state-metrics label names that are not a
// resource's singular name: its Job series name the Job job_name, since
// job is Prometheus' own.
var labelAliases = map[string]string{"job_name": "job"}

// exportedPrefix marks a label of the series that Prometheus renamed
// because the scrape target's label of the same name took its place
// (honor_labels: false).
const exportedPrefix = "exported_"

// subjectLabels are an alert's labels that may name its subject: every
// exported_X as X, every other label unless the scrape target's or the
// alert's own. ns is the subject's namespace: exported_namespace, else
// namespace, if valid.
func subjectLabels(labels map[string]string) (cands map[string]string, ns string) {
	cands = map[string]string{}
	for k, v := range labels {
		if base, ok := strings.CutPrefix(k, exportedPrefix); ok && v != "" {
			cands[base] = v
		}
	}
	for k, v := range labels {
		if _, exported := cands[k]; exported || strings.HasPrefix(k, exportedPrefix) || scrapeLabels[k] || v == "" {
			continue
		}
		cands[k] = v
	}
	ns = cands["namespace"]
	if len(dedup.ValidateNamespace(ns)) > 0 {
		// A namespace Kubernetes would refuse scopes nothing.
		ns = ""
	}
	for k := range notSubjects {
		delete(cands, k)
	}
	for k := range scrapeLabels {
		delete(cands, k)
	}
	return cands, ns
}

// candidate is a label naming an object of a kind.
type candidate struct {
	label string
	obj   *object
}

// tier ranks a kind as kubernaut does: workload controllers first, Pods
// after every other kind, and Nodes last, since a Pod's series carry the
// node it runs on (kubernaut ranks Pod and Node alike, alphabetically, so
// that a series naming both is the Node's).
func tier(k Kind) int {
	switch {
	case k.Group == "apps" && (k.Kind == "Deployment" || k.Kind == "StatefulSet" || k.Kind == "DaemonSet"),
		k.Group == "batch" && k.Kind == "CronJob",
		k.Group == "apps.openshift.io" && k.Kind == "DeploymentConfig":
		return 1
	case k.Group == "" && k.Kind == "Pod":
		return 3
	case k.Group == "" && k.Kind == "Node":
		return 4
	}
	return 2
}

// candidates are the objects cands name, ranked. A label whose value is
// not a valid name, or that names a namespaced kind when the alert has no
// namespace, names nothing.
func (r *Resolver) candidates(cands map[string]string, ns string) ([]candidate, error) {
	var out []candidate
	for label, value := range cands {
		name := label
		if alias, ok := labelAliases[label]; ok {
			name = alias
		}
		k, ok, err := r.kinds.ForLabel(name)
		if err != nil {
			return nil, err
		}
		if !ok || len(dedup.ValidateName(value)) > 0 || (k.Namespaced && ns == "") {
			continue
		}
		out = append(out, candidate{label: label, obj: newObject(k, ns, value)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ta, tb := tier(a.obj.kind), tier(b.obj.kind); ta != tb {
			return ta < tb
		}
		if a.obj.kind.Kind != b.obj.kind.Kind {
			return a.obj.kind.Kind < b.obj.kind.Kind
		}
		return a.label < b.label
	})
	return out, nil
}

// alertSubject chooses the object an alert's labels name (rules 1 and 2 of
// docs/design.md §3): the exporter's labels set aside, the best-ranked
// candidate that exists, else the best-ranked one; an alert whose
// candidates are all set aside falls back on its scrape target.
func (r *Resolver) alertSubject(ctx context.Context, labels map[string]string) (choice, error) {
	cands, ns := subjectLabels(labels)
	// An alert without a subject is scoped to its namespace unless that
	// is the exporter's; candidates are still looked up in it, since a
	// series' own namespace (honorLabels) may be the exporter's too.
	scope := ns
	var why []string
	exp, err := r.exporter(ctx, labels)
	if err != nil {
		return choice{}, err
	}
	if pod, ok := cands["pod"]; ok && labels[exportedPrefix+"pod"] == "" && exp.isPod(pod) {
		delete(cands, "pod")
		why = append(why, fmt.Sprintf("pod=%s is the exporter's own Pod", pod))
		if labels[exportedPrefix+"namespace"] == "" && exp.namespace == ns {
			scope = ""
		}
	}
	list, err := r.candidates(cands, ns)
	if err != nil {
		return choice{}, err
	}
	for _, c := range list {
		if err := r.read(ctx, c.obj); err != nil {
			return choice{}, err
		}
		if c.obj.known() {
			return choice{subject: c.obj, why: append(why, fmt.Sprintf("%s=%s names %s", c.label, c.obj.name, c.obj))}, nil
		}
		if isKind(c.obj.kind, "", "Pod") {
			// A Pod that is gone is still the subject: settle finds
			// its owner through its name.
			return choice{subject: c.obj, why: append(why, fmt.Sprintf("%s=%s names %s", c.label, c.obj.name, c.obj))}, nil
		}
	}
	if len(list) > 0 {
		c := list[0]
		return choice{subject: c.obj, why: append(why, fmt.Sprintf("%s=%s names %s, which does not exist; no other label names an object that does", c.label, c.obj.name, c.obj))}, nil
	}
	return r.scrapeTarget(ctx, labels, exp, scope, why)
}

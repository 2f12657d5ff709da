package signal

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
)

// targetLabel maps a kube-state-metrics label naming an object to that
// object's kind.
type targetLabel struct {
	label      string
	kind       string
	apiVersion string
	// clusterScoped kinds take no namespace.
	clusterScoped bool
}

// targetLabels is the order in which alert labels are tried. Workload
// controllers come before the Pods they own (kube_pod_* series of a
// Deployment carry only pod, but a series carrying both means the
// controller), and node comes last because Pod series carry the node they
// run on as well. job and instance are Prometheus' scrape labels and never
// name a target.
var targetLabels = []targetLabel{
	{label: "deployment", kind: "Deployment", apiVersion: "apps/v1"},
	{label: "statefulset", kind: "StatefulSet", apiVersion: "apps/v1"},
	{label: "daemonset", kind: "DaemonSet", apiVersion: "apps/v1"},
	{label: "cronjob", kind: "CronJob", apiVersion: "batch/v1"},
	{label: "job_name", kind: "Job", apiVersion: "batch/v1"},
	{label: "replicaset", kind: "ReplicaSet", apiVersion: "apps/v1"},
	{label: "horizontalpodautoscaler", kind: "HorizontalPodAutoscaler", apiVersion: "autoscaling/v2"},
	{label: "persistentvolumeclaim", kind: "PersistentVolumeClaim", apiVersion: "v1"},
	{label: "pod", kind: "Pod", apiVersion: "v1"},
	{label: "service", kind: "Service", apiVersion: "v1"},
	{label: "persistentvolume", kind: "PersistentVolume", apiVersion: "v1", clusterScoped: true},
	{label: "node", kind: "Node", apiVersion: "v1", clusterScoped: true},
}

// namespaceLabels are tried in order: exported_namespace is where
// Prometheus keeps the object's namespace when the scrape target's own
// namespace label took its place.
var namespaceLabels = []string{"exported_namespace", "namespace"}

// targetFromLabels names the resource an alert is about from its labels, as
// kube-state-metrics names them. It fails, wrapping ErrInvalid, when no label
// names a target, a namespaced target has no namespace, or the name or
// namespace is one Kubernetes would refuse (the error names the label).
func targetFromLabels(labels map[string]string) (v1alpha1.ResourceIdentifier, error) {
	for _, tl := range targetLabels {
		name := labels[tl.label]
		if name == "" {
			continue
		}
		if err := checkLabel(tl.label, name, dedup.ValidateName); err != nil {
			return v1alpha1.ResourceIdentifier{}, err
		}
		id := v1alpha1.ResourceIdentifier{Kind: tl.kind, Name: name, APIVersion: tl.apiVersion}
		if tl.clusterScoped {
			return id, nil
		}
		for _, nl := range namespaceLabels {
			if ns := labels[nl]; ns != "" {
				if err := checkLabel(nl, ns, dedup.ValidateNamespace); err != nil {
					return v1alpha1.ResourceIdentifier{}, err
				}
				id.Namespace = ns
				return id, nil
			}
		}
		return v1alpha1.ResourceIdentifier{}, fmt.Errorf("%w: label %s=%q names a namespaced %s but neither exported_namespace nor namespace is set",
			ErrInvalid, tl.label, name, tl.kind)
	}
	return v1alpha1.ResourceIdentifier{}, fmt.Errorf("%w: no label names a target resource (one of %s)", ErrInvalid, labelList())
}

// checkLabel returns an ErrInvalid naming label when validate finds fault
// with its value.
func checkLabel(label, value string, validate func(string) []string) error {
	return invalid(labelErrors(label, value, validate))
}

// labelErrors are validate's findings on label's value, as field errors.
func labelErrors(label, value string, validate func(string) []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validate(value) {
		errs = append(errs, field.Invalid(field.NewPath("labels").Key(label), value, msg))
	}
	return errs
}

// invalid is errs as an ErrInvalid; nil when there are none.
func invalid(errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
}

func labelList() string {
	s := ""
	for i, tl := range targetLabels {
		if i > 0 {
			s += ", "
		}
		s += tl.label
	}
	return s
}

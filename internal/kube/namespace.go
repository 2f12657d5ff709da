package kube

import "strings"

// ServiceAccountNamespaceFile holds the pod's namespace inside a pod.
const ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// PodNamespace returns the namespace the process runs in, as far as it can
// tell: $POD_NAMESPACE (the downward API), else the service account's
// namespace file, else fallback. getenv and readFile are os.Getenv and
// os.ReadFile outside tests.
func PodNamespace(getenv func(string) string, readFile func(string) ([]byte, error), fallback string) string {
	if ns := getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := readFile(ServiceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return fallback
}

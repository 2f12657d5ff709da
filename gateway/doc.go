// Package gateway assembles rrguard's signal gateway on a controller-runtime
// manager: the counting pipeline reading through the manager's APIReader
// (and, with --webhook-guarded, its informer index of the namespace's
// requests), the HTTP signal API served over TLS (a cert directory filled
// by package certs, reloaded on change) as a manager runnable with graceful
// shutdown, its authentication (tokens bound to the gateway's audience),
// its bounds on requests and token reviews, metrics and audit log, and
// readiness checks that pass once the API server answers an uncached read
// and the index has synced.
//
// The gateway's service account needs, in RBAC terms:
//
//   - kubernaut.ai remediationrequests: get, list, watch, create; and
//     remediationrequests/status: patch (its count, nothing else) — in its
//     namespace;
//   - coordination.k8s.io leases: get — in its namespace (it reads the
//     webhook's claims, never writes them);
//   - pods, apps replicasets, batch jobs: get — cluster-wide, to climb a Pod
//     to its controller, and with --require-managed-label the kinds whose
//     kubernaut.ai/managed label it reads (scope.ObjectKinds: also
//     services, namespaces, nodes, persistentvolumes, deployments,
//     statefulsets, daemonsets, cronjobs) — RBAC grants the whole object;
//     the gateway asks for its metadata only;
//   - authentication.k8s.io tokenreviews and authorization.k8s.io
//     subjectaccessreviews: create — for --auth=tokenreview;
//   - in self-signed mode, secrets: create, and get and update of its own
//     (rrguard-gateway-server-cert); in cert-manager mode, get of its own
//     Certificate.
//
// A sender needs nonResourceURLs ["/api/v1/signals/*"] with verb post, and
// a token issued for the audience rrguard-gateway (a projected
// ServiceAccount token).
package gateway

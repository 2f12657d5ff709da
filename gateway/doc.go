// Package gateway assembles rrguard's signal gateway on a controller-runtime
// manager: the counting pipeline reading through the manager's APIReader
// (and, with --webhook-guarded, its informer index of the namespace's
// requests), the HTTP signal API served as a manager runnable with graceful
// shutdown, its authentication, metrics and audit log, and readiness checks
// that pass once the API server answers an uncached read and the index has
// synced.
//
// The gateway's service account needs, in RBAC terms:
//
//   - kubernaut.ai remediationrequests: get, list, watch, create; and
//     remediationrequests/status: patch (its count, nothing else) — in its
//     namespace;
//   - coordination.k8s.io leases: get — in its namespace (it reads the
//     webhook's claims, never writes them);
//   - pods, apps replicasets, batch jobs: get — cluster-wide, metadata only,
//     to climb a Pod to its controller;
//   - authentication.k8s.io tokenreviews and authorization.k8s.io
//     subjectaccessreviews: create — for --auth=tokenreview.
//
// A sender needs nonResourceURLs ["/api/v1/signals/*"] with verb post.
package gateway

// Package gateway assembles rrguard's signal gateway on a controller-runtime
// manager: the counting pipeline reading through the manager's APIReader,
// the HTTP signal API served as a manager runnable with graceful shutdown,
// its authentication, metrics and audit log, and a readiness check that
// passes once the API server answers an uncached read.
//
// The gateway's service account needs, in RBAC terms:
//
//   - kubernaut.ai remediationrequests: get, list, create; and
//     remediationrequests/status: update — in its namespace;
//   - coordination.k8s.io leases: get — in its namespace (it reads the
//     webhook's claims, never writes them);
//   - pods, apps replicasets, batch jobs: get — cluster-wide, metadata only,
//     to climb a Pod to its controller;
//   - authentication.k8s.io tokenreviews and authorization.k8s.io
//     subjectaccessreviews: create — for --auth=tokenreview.
//
// A sender needs nonResourceURLs ["/api/v1/signals/*"] with verb post.
package gateway

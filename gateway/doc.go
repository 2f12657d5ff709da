// Package gateway assembles rrguard's signal gateway on a controller-runtime
// manager: the counting pipeline reading through the manager's APIReader,
// the HTTP signal API served as a manager runnable with graceful shutdown,
// its authentication, metrics and audit log, and a readiness check that
// passes once the API server answers an uncached read.
package gateway

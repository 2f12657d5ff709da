// Package gatewaytest runs rrguard's real gateway in-process for tests and
// benchmarks outside package gateway: each Instance has its own manager,
// rest.Config, clients and connections, as a separate replica would, and
// serves the signal API and the manager's health probes on local ports. It
// can count the API requests the gateway makes, and be killed (its manager
// stopped) while others carry on.
package gatewaytest

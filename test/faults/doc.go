// Package faults holds rrguard's fault tests: storms of signals through
// real gateways, on a real kube-apiserver and etcd with rrguard's admission
// webhook registered, while a part fails — the webhook stops, the API
// server restarts, a gateway replica is killed, an admission crashes after
// taking its claim. Each test asserts that no fingerprint ever has two
// active RemediationRequests and that no count exceeds the signals answered
// 2xx; signals that were not answered 2xx are re-sent, as Alertmanager
// would, and must then be counted exactly once. It has no code, only tests.
package faults

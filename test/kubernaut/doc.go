// Package kubernaut holds no code: its tests run rrguard's gateway, with
// rrguard's admission webhook, on kubernaut's own RemediationRequest schema
// (testenv.KubernautCRDPath), whose status has fields rrguard's types do not
// declare, beside an orchestrator stand-in that writes them. They hold the
// gateway to what a kubernaut cluster needs: repeats counted exactly without
// a byte of the orchestrator's status lost, and kubernaut's suppression
// rules (dedup.Suppresses).
package kubernaut

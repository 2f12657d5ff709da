// Package certs provides the serving certificates of rrguard's two TLS
// servers, the admission webhook and the signal gateway, in one of three
// modes chosen with --cert-mode:
//
//   - files (the default): nothing to do; the certificate and key are files
//     in the cert directory that something else keeps up to date (a mounted
//     Secret, envtest, an operator's own tooling). The server's certwatcher
//     reloads them when they change.
//   - cert-manager: cert-manager issues the certificate into a Secret that
//     the Deployment mounts as the cert directory, and (for the webhook)
//     injects its CA into the ValidatingWebhookConfiguration. At start the
//     server reads its Certificate with the cert-manager clientset and
//     reports not ready on /readyz, with a log line saying why, until the
//     Certificate is Ready.
//   - self-signed: the server is its own CA. It generates a CA and a
//     serving certificate for its Service's DNS names, keeps them in a
//     Secret, writes the CA bundle into every webhook of its
//     ValidatingWebhookConfiguration (the webhook; the gateway has none), the
//     serving pair and the CA bundle (ca.crt, for senders) into the cert
//     directory, and renews them before they expire.
//
// Self-signed mode is safe with any number of replicas. Every replica runs
// the same loop; the Secret is the single source of truth and changes only by
// create (AlreadyExists) or by an update that carries the resourceVersion just
// read (Conflict), so exactly one replica's certificate wins each change and
// the others adopt it on their next read. A renewed CA is published in the CA
// bundle beside the old one, and no serving certificate is signed by it until
// every replica has had time to publish it, so whatever certificate a replica
// serves during a rotation, the API server (or a sender) trusts it.
//
// Setup wires the chosen mode into a controller-runtime manager and returns
// the readiness check to add with AddReadyzCheck; Options.BindFlags binds the
// certificate details (names, extra SANs, validities) to --cert-* flags;
// ServingConfig serves a cert directory from a server that is not
// controller-runtime's webhook server, with the same TLSOptions.
package certs

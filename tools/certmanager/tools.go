//go:build tools

// Package certmanager pins the cert-manager that `make e2e-cluster` installs:
// its controller, cainjector and webhook, built from source.
package certmanager

import (
	_ "github.com/cert-manager/cert-manager/cmd/cainjector"
	_ "github.com/cert-manager/cert-manager/cmd/controller"
	_ "github.com/cert-manager/cert-manager/cmd/webhook"
)

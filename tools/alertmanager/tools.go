//go:build tools

// Package alertmanager pins the Alertmanager commands the end-to-end test
// builds.
package alertmanager

import (
	_ "github.com/prometheus/alertmanager/cmd/alertmanager"
	_ "github.com/prometheus/alertmanager/cmd/amtool"
)

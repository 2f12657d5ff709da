//go:build tools

// Package promtool pins the promtool that tests the alerting rules.
package promtool

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)

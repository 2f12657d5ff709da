//go:build tools

// Package etcd pins the etcd command that `make testbin` builds.
package etcd

import _ "go.etcd.io/etcd/server/v3"

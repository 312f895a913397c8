//go:build tools

// Package tools records the main package built by ../build.sh so that
// `go mod tidy` keeps its dependencies in go.mod/go.sum. It is never
// compiled (build tag "tools"). In etcd 3.5 the `etcd` binary's main
// package is the root of go.etcd.io/etcd/server/v3 (server/main.go).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)

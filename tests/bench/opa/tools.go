//go:build tools

// Build-only module: pins the Open Policy Agent release that tests/bench/bench.sh
// runs as a comparison server. Nothing here is imported by poolguard itself.
package tools

import _ "github.com/open-policy-agent/opa"

// helpers_test.go: helpers of the master's tests.

package master

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/urlx"
)

// testLogger logs to the test's output at warn level and above.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// newAllowAll returns a scope that admits every URL (regex ".").
func newAllowAll() (*urlx.Scope, error) { return urlx.NewScope([]string{"."}, nil) }

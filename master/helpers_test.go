package master

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
)

// testLogger logs to the test's output at warn level and above.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// newAllowAll returns a scope that admits every URL (regex ".").
func newAllowAll() (*frontier.Scope, error) { return frontier.NewScope([]string{"."}, nil) }

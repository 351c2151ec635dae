// Package spyder is the spyder command line as a library: Main is the whole
// `spyder` binary (master, worker, node, the operator's commands). A
// program that registers its own processors (worker/processor.Register),
// sinks (master.RegisterSink) or seeding callbacks (master.RegisterCallback)
// from init functions and then calls Main is spyder with those parts in
// it; examples/custom is one.
package spyder

import (
	"os"

	"github.com/spyder-crawl/spyder/internal/cli"
)

// Main runs the spyder command named by os.Args and exits with its code:
// 0 clean, 1 failure, 2 bad usage or configuration.
func Main() {
	os.Exit(cli.Run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// Command spyder is the distributed crawl coordinator: `spyder master` owns
// the frontier and feeds URLs to workers over ZeroMQ, `spyder worker`
// fetches them. Run `spyder help` for the commands. The commands live in
// the module's root package (spyder.Main), so that a user's own binary can
// have them all.
package main

import "github.com/spyder-crawl/spyder"

func main() { spyder.Main() }

// Command spyder-custom is spyder with two parts of its own: a processor
// that takes each page's <title> (title.go) and a sink that writes url,
// status and title as CSV (csvsink.go). Both register from init functions;
// main is spyder.Main, so every spyder command is here too:
//
//	spyder-custom node --workers 2 --until-done --config spyder.yaml
//
// and the settings name the parts: the processor in
// spyder_extractor_pipeline, the sink in master_sinks, its file in extra.
package main

import "github.com/spyder-crawl/spyder"

func main() { spyder.Main() }

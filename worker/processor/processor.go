// Package processor holds the worker's processing pipeline: processors run in
// order on every fetched CrawlUri (spyder_extractor_pipeline, then
// spyder_scoper_pipeline), each reading and writing its fields and
// optional_vars. Processors register by name from init functions.
package processor

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/registry"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

// Processor works on one fetched CrawlUri in place.
type Processor interface {
	Process(ctx context.Context, curi *crawluri.CrawlUri) error
}

// Func adapts a function to Processor.
type Func func(ctx context.Context, curi *crawluri.CrawlUri) error

// Process implements Processor.
func (f Func) Process(ctx context.Context, curi *crawluri.CrawlUri) error { return f(ctx, curi) }

// Factory builds a processor from the worker's settings.
type Factory func(s *settings.Settings) (Processor, error)

var processors = registry.New[Factory]("processor")

// Register makes a processor available under name for the pipeline
// settings. It panics on a duplicate name or a nil factory.
func Register(name string, f Factory) { processors.Register(name, f) }

// Names lists the registered processors, sorted.
func Names() []string { return processors.Names() }

// Registered reports whether name is a registered processor.
func Registered(name string) bool {
	_, ok := processors.Lookup(name)
	return ok
}

type stage struct {
	name string
	p    Processor
}

// Pipeline runs processors in order.
type Pipeline struct{ stages []stage }

// Build constructs the pipeline named by names.
func Build(names []string, s *settings.Settings) (*Pipeline, error) {
	p := &Pipeline{}
	for _, n := range names {
		f, err := processors.Get(n)
		if err != nil {
			return nil, err
		}
		proc, err := f(s)
		if err != nil {
			return nil, fmt.Errorf("building processor %q: %w", n, err)
		}
		p.stages = append(p.stages, stage{name: n, p: proc})
	}
	return p, nil
}

// Run applies every processor to curi. A processor that fails or panics
// stops the pipeline; the error names it. The CrawlUri keeps whatever the
// earlier processors did, so the result can still go back to the master.
func (p *Pipeline) Run(ctx context.Context, curi *crawluri.CrawlUri) (err error) {
	for _, st := range p.stages {
		if err := runOne(ctx, st, curi); err != nil {
			return err
		}
	}
	return nil
}

// DistinctLinks replaces curi's links with urlx.Distinct of them. The
// worker applies it to every result after the pipeline, so the links that
// leave it are canonical (as the master keys them) and distinct: a page
// repeats its links (the Python docs' contents.html has 13,945 links, 489
// distinct), and the master's max_links_per_page must not cut distinct
// links behind the repeats.
func DistinctLinks(curi *crawluri.CrawlUri, canon urlx.Canonicalization) {
	if links := curi.ExtractedURLs(); len(links) > 0 {
		curi.SetExtractedURLs(urlx.Distinct(links, canon))
	}
}

func runOne(ctx context.Context, st stage, curi *crawluri.CrawlUri) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("processor %s panicked: %v\n%s", st.name, r, debug.Stack())
		}
	}()
	if err := st.p.Process(ctx, curi); err != nil {
		return fmt.Errorf("processor %s: %w", st.name, err)
	}
	return nil
}

// check.go: the checks of a worker's settings that need the processor
// registry.

package worker

import (
	"fmt"

	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/worker/processor"
)

// CheckSettings checks what the settings' own validation cannot: the
// processor names only the registry knows, the link tags, and the
// addresses a worker connects to. New calls it; a command calls it first,
// so that a mistake is exit 2 with its fix.
func CheckSettings(s *settings.Settings) error {
	for key, list := range map[string][]string{"spyder_extractor_pipeline": s.SpyderExtractorPipeline, "spyder_scoper_pipeline": s.SpyderScoperPipeline} {
		for _, name := range list {
			if !processor.Registered(name) {
				return fmt.Errorf("%w: %s: processor %q is not registered (known: %v)", settings.ErrInvalid, key, name, processor.Names())
			}
		}
	}
	if _, err := processor.ParseLinkTags(s.HTMLLinkExtractorTags); err != nil {
		return fmt.Errorf("%w: html_link_extractor_tags: %v", settings.ErrInvalid, err)
	}
	for key, ep := range map[string]string{
		"zeromq_worker_proc_fetcher_pull":  s.ZeromqWorkerProcFetcherPull,
		"zeromq_worker_proc_extractor_pub": s.ZeromqWorkerProcExtractorPub,
		"zeromq_mgmt_master":               s.ZeromqMgmtMaster,
		"zeromq_mgmt_worker":               s.ZeromqMgmtWorker,
	} {
		if err := settings.CheckConnectable(key, ep, s.DerivedFrom(key)); err != nil {
			return err
		}
	}
	return nil
}

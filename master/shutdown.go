// shutdown.go: the end of a crawl: the drain (no dispatch, quit to every
// worker, results still applied) and the final log and summary.

package master

import (
	"context"
	"fmt"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/mgmt"
	"github.com/spyder-crawl/spyder/urlx"
)

// nothingToCrawl says why a master run --until-done stops before it
// starts: the crawl of its state_dir is finished (run again with the same
// command, as spyder init's README says) or it has no URL at all. Neither
// is a failure; a person needs to know what to do next.
func (m *Master) nothingToCrawl(fs frontier.Stats) {
	ev := m.log.Info().Stringer("event", events.NothingToCrawl).Str("state_dir", m.s.StateDir).
		Int64("urls", fs.Seen).Int64("done", fs.Done).Int64("failed", fs.Failed).Int64("disallowed", fs.Disallowed).
		Int64("scheduled", fs.Scheduled)
	where := "state_dir " + m.s.StateDir
	switch {
	case m.s.FrontierStore == "redis":
		where = fmt.Sprintf("the crawl %q in Redis", m.s.FrontierRedisCrawl)
	case m.s.StateDir == "":
		where = "the state (in memory: state_dir is empty)"
	}
	if fs.Seen == 0 {
		ev.Msg("nothing to crawl: no seeds and no URLs in " + where + "; give seeds with --seeds FILE (seeds_file) or spyder frontier inject")
		return
	}
	msg := fmt.Sprintf("this crawl is already done: all %d URLs in %s have their result (%d done, %d failed, %d disallowed by robots.txt)",
		fs.Seen, where, fs.Done, fs.Failed, fs.Disallowed)
	if fs.Scheduled > 0 {
		msg += fmt.Sprintf("; %d are due for a revisit later (run without --until-done to wait for them)", fs.Scheduled)
	}
	ev.Msg(msg + ". To crawl again from the start, use a new state_dir (or delete this one); to crawl more, add seeds (new ones are crawled) or spyder inject URLs into a running master")
}

// checkStop begins the drain on a signal (ctx cancelled), with
// --until-done once nothing is queued or in flight, or at the page or time
// limit of this run (Scrapy's CLOSESPIDER_PAGECOUNT and _TIMEOUT); the
// URLs in flight then still come back, and the reason is the summary's.
func (m *Master) checkStop(ctx context.Context, now time.Time) {
	switch {
	case m.mode == modeDraining:
	case ctx.Err() != nil:
		m.beginDrain(now, "signal")
	case m.opts.UntilDone && !m.store.down() && m.frontier.Stats().Idle():
		m.beginDrain(now, crawlFinished)
	case m.s.StopAfterPages > 0 && m.stats.results >= m.s.StopAfterPages:
		m.beginDrain(now, fmt.Sprintf("page limit: %d pages (stop_after_pages %d)", m.stats.results, m.s.StopAfterPages))
	case m.s.StopAfterTime > 0 && now.Sub(m.started) >= m.s.StopAfterTime:
		m.beginDrain(now, fmt.Sprintf("time limit: stop_after_time %v", m.s.StopAfterTime))
	}
}

// crawlFinished is the reason of a drain that ends the whole crawl.
const crawlFinished = "crawl finished (--until-done)"

// beginDrain stops dispatch and starts telling workers to quit.
func (m *Master) beginDrain(now time.Time, reason string) {
	m.mode, m.endReason = modeDraining, reason
	m.drainEnd = now.Add(m.s.MasterShutdownGrace)
	if m.quits != nil {
		m.quits.next = now
	}
	if rs := m.shared(); rs != nil && reason != crawlFinished && !strings.HasPrefix(reason, crawlStopped) && rs.Masters() > 1 {
		// Other masters go on with the crawl, and with the workers.
		m.leaving = true
		m.log.Info().Stringer("event", events.MasterShutdownRequested).Str("reason", reason).
			Int("in_flight", m.inFlight()).Dur("grace", m.s.MasterShutdownGrace).Int("masters", rs.Masters()).
			Msg("shutting down: dispatch stopped; the crawl's other masters go on with the workers, and take over this one's partitions")
		return
	}
	m.log.Info().Stringer("event", events.MasterShutdownRequested).Str("reason", reason).
		Int("workers", m.registry.Live()).Int("in_flight", m.inFlight()).Dur("grace", m.s.MasterShutdownGrace).
		Msg("shutting down: dispatch stopped, workers told to quit")
}

// drained reports whether the drain is over: every worker gone and nothing
// in flight (clean), or the grace period ran out. With the store down,
// nothing in flight can be applied: its URLs wait in the store for the
// next run.
func (m *Master) drained(now time.Time) (done, clean bool) {
	if (m.leaving || m.registry.Live() == 0) && (m.inFlight() == 0 || m.store.down()) {
		return true, true
	}
	return now.After(m.drainEnd), false
}

// endsCrawl reports whether the master is draining and the workers are to
// quit: always, but for a master that leaves a crawl others go on with.
func (m *Master) endsCrawl() bool { return m.mode == modeDraining && !m.leaving }

// sendQuits tells the workers to quit: every one while draining, else
// those an operator asked to (quit-worker) until they acknowledge.
func (m *Master) sendQuits(mpub *zmq.Socket) {
	if m.mode == modeDraining {
		if m.endsCrawl() {
			m.publish(mpub, mgmt.New(mgmt.TopicWorker, m.id, mgmt.VerbQuit, nil))
		}
		return
	}
	for id := range m.quitting {
		if w, _ := m.registry.Get(id); w.State != workerActive {
			delete(m.quitting, id) // acknowledged, or lost
			continue
		}
		m.publish(mpub, mgmt.New(mgmt.TopicTo+id, m.id, mgmt.VerbQuit, nil))
	}
}

// finish ends the run: the last output and commit, the final log line
// and summary.
func (m *Master) finish(clean bool) error {
	if err := m.flushSinks(); err != nil {
		m.log.Error().Err(err).Msg("writing the output at shutdown failed")
		clean = false
	}
	if m.store.down() {
		m.log.Error().Err(m.store.err).Msg("stopping with the frontier store down: it keeps its last commit; the next run goes on from there")
		clean = false
	} else if err := m.frontier.Commit(); err != nil {
		m.log.Error().Err(err).Msg("committing frontier state at shutdown failed")
		clean = false
	}
	fs := m.frontierStats()
	var waiting []string
	for _, w := range m.registry.Workers() {
		if w.State == workerActive {
			waiting = append(waiting, w.ID)
		}
	}
	m.log.Info().Stringer("event", events.MasterDown).Bool("clean", clean).
		Int64("dispatched", m.stats.dispatched).Int64("results", m.stats.results).
		Int64("done", fs.Done).Int64("failed", fs.Failed).Int64("queued", fs.Queued).
		Int64("scheduled", fs.Scheduled).Int64("retried", fs.Retried).Int64("disallowed", fs.Disallowed).
		Int("in_flight", m.inFlight()).Int64("returned", m.stats.returned).Int64("expired", m.stats.expired).Int64("released", m.stats.released).Int64("unclaimed", m.stats.unclaimed).
		Interface("results_by_class", m.stats.classes()).Int64("sink_errors", m.stats.sinkErrors).
		Int64("bad_seeds", m.badSeeds).Int64("links_new", m.stats.linksNew).
		Int64("links_out_of_scope", m.stats.linksLeftOut[urlx.ReasonOutOfScope]).Int64("links_invalid", m.stats.linksLeftOut[urlx.ReasonInvalid]).
		Int64("links_too_long", m.stats.linksLeftOut[urlx.ReasonTooLong]).Int64("links_denied_extension", m.stats.linksLeftOut[urlx.ReasonDenied]).Int64("links_too_deep", fs.TooDeep).Int64("links_over_host_cap", fs.TooMany).Int64("links_over_page_cap", m.stats.linksCut).
		Int64("sitemap_errors", m.stats.sitemapErrors).Int64("revisits_advanced", m.stats.revisitsAdvanced).Interface("drops", m.stats.drops).
		Strs("quit_acks", m.quitAcks).Strs("unacknowledged", waiting).
		Msg("master stopped")
	m.summarize(time.Now(), fs)
	if !clean {
		return fmt.Errorf("%w: %d worker(s) did not acknowledge quit %v, %d URL(s) still in flight after %v",
			ErrUncleanShutdown, len(waiting), waiting, m.inFlight(), m.s.MasterShutdownGrace)
	}
	return nil
}

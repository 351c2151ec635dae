// revisits.go: bringing a revisit forward when a site says a page changed
// (frontier.RevisitAdvancer), one sp_advance call per partition, pipelined.

package redisstore

import (
	"fmt"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// AdvanceRevisits implements frontier.RevisitAdvancer. The times compared
// are Redis's: a change's time is moved onto its clock as the history's
// events were.
func (s *Store) AdvanceRevisits(changes []frontier.Change, now time.Time) (int, error) {
	if len(changes) == 0 || s.opts.CrawlDelta <= 0 {
		return 0, nil // (nothing is scheduled for a revisit)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	byPart := map[int][]any{}
	for _, c := range changes {
		host := urlx.Host(c.URL)
		k := urlx.KeyOf(c.URL)
		p := s.partitionOf(host)
		byPart[p] = append(byPart[p], host, string(k[:fpLen]), c.At.UnixMilli()+s.skew)
	}
	moved := 0
	for _, c := range s.callPartitions(ctx, "sp_advance", byPart, 3*maxPerCall, s.bkts, s.opts.CrawlDelta.Milliseconds()) {
		r, err := c.cmd.Int64Slice()
		if err != nil || len(r) != 3 {
			return moved, fmt.Errorf("redis store: advancing revisits in partition %d: %w", c.p, errOr(err, r))
		}
		moved += int(r[0])
		s.sawClock(r[1], time.Now())
		s.learnDue(c.p, r[2])
	}
	if moved > 0 {
		s.wrote()
	}
	return moved, nil
}

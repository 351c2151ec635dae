// admit.go: URLs entering the frontier (seeds and links): dedup against
// the seen set, depth and per-host caps, their records and queue entries.

package frontier

import (
	"bytes"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/urlx"
)

// AddSeeds implements Frontier.
func (f *Durable) AddSeeds(urls []string, now time.Time) (int, error) {
	hosts := map[string]struct{}{}
	for _, u := range urls {
		if h := urlx.Host(u); h != "" {
			hosts[h] = struct{}{}
		}
	}
	for h := range hosts {
		if err := f.b.Set(append([]byte{pfxSeed}, h...), nil, nil); err != nil {
			return 0, err
		}
	}
	return f.addURLs(urls, now, "seed", Discovery{})
}

// SeedHosts implements Frontier.
func (f *Durable) SeedHosts() ([]string, error) {
	it, err := f.b.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxSeed}, UpperBound: []byte{pfxSeed + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var hosts []string
	for it.First(); it.Valid(); it.Next() {
		h := it.Key()[1:]
		// A seed host's queue is usually named after it: share the name
		// (a million seed hosts held twice were 21 MB).
		if q := f.queues.get(queueID(string(h))); q != nil && q.name == string(h) {
			hosts = append(hosts, q.name)
		} else {
			hosts = append(hosts, string(h))
		}
	}
	return hosts, it.Error()
}

// Admit implements Store.
func (f *Durable) Admit(urls []string, d Discovery, now time.Time) (int, error) {
	return f.addURLs(urls, now, "link", d)
}

// addURLs admits urls found as d says (d.Depth links away from a seed);
// deeper than Options.MaxDepth they are left out (and counted).
func (f *Durable) addURLs(urls []string, now time.Time, kind string, d Discovery) (int, error) {
	depth := d.Depth
	if len(urls) == 0 {
		return 0, nil
	}
	if f.opts.MaxDepth > 0 && depth > f.opts.MaxDepth {
		f.stats.TooDeep += int64(len(urls))
		return 0, nil
	}
	// Most links are known, and most of those the seen cache knows; most
	// new ones the seen filter knows to be new. The others are looked up
	// through an iterator with Bloom filters on every level: a point Get
	// skips the filters of the bottom level, where most of the seen set
	// lives, and reads a data block for every link never seen. The
	// iterator sees the batch as it is now, and the cache has every URL
	// admitted into it, so a URL repeated within this call is known the
	// second time.
	var it *pebble.Iterator
	added := 0
	touched := map[*queueState]bool{}

	var uk []byte
	f.filter.ready(f, now)
	for _, u := range urls {
		k := urlx.KeyOf(u)
		if f.seen.has(k) {
			continue
		}
		if !f.filter.neverSeen(&k) {
			if it == nil {
				var err error
				if it, err = f.seenIter(); err != nil {
					return added, fmt.Errorf("frontier store: %w", err)
				}
			}
			f.filter.seeks++
			uk = append(append(uk[:0], pfxURL), k[:]...)
			if it.SeekPrefixGE(uk) && bytes.Equal(it.Key(), uk) {
				f.seen.add(k)
				continue
			}
			if err := it.Error(); err != nil {
				return added, fmt.Errorf("frontier store: %w", err)
			}
		}
		host := urlx.Host(u)
		if f.opts.MaxURLsPerHost > 0 {
			ok, err := f.countHostURL(host)
			if err != nil {
				return added, err
			}
			if !ok {
				continue
			}
		}
		q := f.queue(f.cfg.queueOf(host), now)
		rec := newRecord(u, q.id, now, kind)
		rec.depth = uint16(min(depth, 1<<16-1))
		rec.via, rec.hopPath = d.Via, d.HopPath
		if err := f.b.Set(urlKey(k), rec.encode(), nil); err != nil {
			return added, err
		}
		f.seen.add(k)
		f.filter.add(&k)
		if err := f.enqueue(k, &rec, q); err != nil {
			return added, err
		}
		touched[q] = true
		f.stats.Seen++
		added++
	}
	for q := range touched {
		f.dirty[q] = struct{}{}
		f.touch(q, now)
	}
	return added, nil
}

// newRecord is the record of a URL just admitted to q.
func newRecord(u string, queue uint64, now time.Time, kind string) urlRecord {
	rec := urlRecord{state: stateQueued, priority: 1, due: now.UnixNano(), queue: queue, url: u}
	kindCode := evAddedLink
	if kind == "seed" {
		kindCode = evAddedSeed
	}
	rec.note(now, kindCode, 0)
	return rec
}

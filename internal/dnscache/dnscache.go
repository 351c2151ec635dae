// Package dnscache resolves host names once and remembers the answer: static
// mappings first (spyder's STATIC_DNS_MAPPINGS), then a bounded LRU of
// lookups with a time to live, failures included so that a dead name is not
// asked for again on every URL.
//
// Lookup blocks; LookupAsync hands the lookup to a small pool of goroutines
// and calls back, for an event loop that must never wait on DNS (spyder's
// cache blocked the master, a TODO it never did).
package dnscache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Options configures a Cache.
type Options struct {
	// Static maps a host name to an IP address; it wins over DNS. Keys are
	// lower-case host names.
	Static map[string]string
	// Size bounds the cached answers (default 1000, spyder's SIZE_DNS_CACHE).
	Size int
	// TTL is how long an answer is kept (default 10 minutes).
	TTL time.Duration
	// Timeout bounds one lookup (default 10 s).
	Timeout time.Duration
	// Workers is how many asynchronous lookups run at once (default 16).
	Workers int
	// Resolver does the lookups (default net.DefaultResolver).
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// Cache is a DNS cache, safe for concurrent use.
type Cache struct {
	opts    Options
	answers *expirable.LRU[string, answer]

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []request            // asynchronous lookups waiting for a worker
	waiting map[string][]request // lookups in progress, by host: one query for all
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context // ends with Close, and the lookups in progress with it
	cancel  context.CancelFunc
}

type answer struct {
	ip  string
	err error
}

type request struct {
	host string
	done func(ip string, err error)
}

// ErrNoAddress is wrapped by lookups that found no address.
var ErrNoAddress = errors.New("no address")

// ParseStatic reads static mappings written as "host=ip" (a port on either
// side, as in spyder's "host:port" keys, is accepted and ignored).
func ParseStatic(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		name, ip, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("static DNS mapping %q: want host=ip", e)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		ip = strings.TrimSpace(ip)
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h
		}
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		addr, err := netip.ParseAddr(ip)
		if err != nil || name == "" {
			return nil, fmt.Errorf("static DNS mapping %q: want host=ip with an IP address", e)
		}
		out[name] = addr.String()
	}
	return out, nil
}

// New returns a cache. Close stops its asynchronous workers.
func New(opts Options) *Cache {
	if opts.Size <= 0 {
		opts.Size = 1000
	}
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	c := &Cache{
		opts:    opts,
		answers: expirable.NewLRU[string, answer](opts.Size, nil, opts.TTL),
		waiting: map[string][]request{},
	}
	c.cond = sync.NewCond(&c.mu)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(opts.Workers)
	for range opts.Workers {
		go c.work()
	}
	return c
}

// cached returns the answer for host if it is static or cached.
func (c *Cache) cached(host string) (ip string, found bool, err error) {
	host = strings.ToLower(host)
	if ip, ok := c.opts.Static[host]; ok {
		return ip, true, nil
	}
	if addr, perr := netip.ParseAddr(strings.Trim(host, "[]")); perr == nil {
		return addr.String(), true, nil
	}
	if a, ok := c.answers.Get(host); ok {
		return a.ip, true, a.err
	}
	return "", false, nil
}

// Lookup returns host's address, an IPv4 one when there is one (as spyder
// did), resolving it if it is not cached.
func (c *Cache) Lookup(ctx context.Context, host string) (string, error) {
	if ip, ok, err := c.cached(host); ok {
		return ip, err
	}
	host = strings.ToLower(host)
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	addrs, err := c.opts.Resolver.LookupNetIP(ctx, "ip", host)
	a := answer{}
	switch {
	case ctx.Err() != nil && err != nil && errors.Is(ctx.Err(), context.Canceled):
		return "", fmt.Errorf("resolving %s: %w", host, ctx.Err()) // not cached: the caller gave up
	case err != nil:
		a.err = fmt.Errorf("resolving %s: %w", host, err)
	case len(addrs) == 0:
		a.err = fmt.Errorf("resolving %s: %w", host, ErrNoAddress)
	default:
		best := addrs[0]
		for _, ad := range addrs {
			if ad.Unmap().Is4() {
				best = ad
				break
			}
		}
		a.ip = best.Unmap().String()
	}
	c.answers.Add(host, a)
	return a.ip, a.err
}

// LookupAsync calls done with host's address, at once if it is cached,
// otherwise from another goroutine once resolved. Concurrent requests for
// one host share a single query.
func (c *Cache) LookupAsync(host string, done func(ip string, err error)) {
	if ip, ok, err := c.cached(host); ok {
		done(ip, err)
		return
	}
	host = strings.ToLower(host)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done("", fmt.Errorf("resolving %s: %w", host, net.ErrClosed))
		return
	}
	if reqs, busy := c.waiting[host]; busy {
		c.waiting[host] = append(reqs, request{host, done})
		c.mu.Unlock()
		return
	}
	c.waiting[host] = []request{{host, done}}
	c.queue = append(c.queue, request{host: host})
	c.mu.Unlock()
	c.cond.Signal()
}

func (c *Cache) work() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		r := c.queue[0]
		c.queue[0] = request{}
		c.queue = c.queue[1:]
		c.mu.Unlock()

		ip, err := c.Lookup(c.ctx, r.host)

		c.mu.Lock()
		reqs := c.waiting[r.host]
		delete(c.waiting, r.host)
		c.mu.Unlock()
		for _, w := range reqs {
			w.done(ip, err)
		}
	}
}

// Close stops the asynchronous workers; lookups still queued are dropped
// without a call back (their owner is shutting down too).
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.queue = nil
	c.mu.Unlock()
	c.cancel()
	c.cond.Broadcast()
	c.wg.Wait()
}

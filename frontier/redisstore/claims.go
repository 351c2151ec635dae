// claims.go: which master dispatches which partition. Every second each
// master renews its entry in the crawl's directory, computes the
// rendezvous-hash winner of every partition over the masters alive, claims
// the ones it wins that nobody holds (a new epoch: the fencing token),
// renews the ones it holds, and hands back one it no longer wins once the
// winner has been alive for two scans. A master that dies loses its
// partitions when their ownership lapses; the winner then takes them and
// queues again what the dead master had in flight.

package redisstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ownership is the partitions this master holds, kept by a goroutine of
// its own; the loop reads a snapshot.
type ownership struct {
	s    *Store
	ttl  time.Duration
	scan time.Duration

	mu     sync.Mutex
	held   map[int]*claim
	losing map[int]int // scans in a row another master won a partition held
	// reclaim lists partitions just taken over, whose leases of masters no
	// longer alive the loop queues again (alive: the masters then).
	reclaim map[int]struct{}
	alive   []string
	// directory is every master alive with the endpoints it published;
	// endpoints are this master's own.
	directory []Master
	endpoints string
	// report is this master's figures for the others' status (JSON);
	// control is the crawl's control hash as last read.
	report  string
	control map[string]string

	unreplicatedAt time.Time
	unreplicatedN  int64

	stopCh   chan struct{}
	haltOnce sync.Once
	done     chan struct{}
}

type claim struct {
	epoch   int64
	renewed time.Time // monotonic: the last successful renewal
}

func newOwnership(s *Store) *ownership {
	return &ownership{s: s, ttl: s.cfg.OwnershipTTL, scan: s.cfg.OwnershipTTL / 6, endpoints: s.cfg.Endpoints,
		held: map[int]*claim{}, losing: map[int]int{}, reclaim: map[int]struct{}{},
		stopCh: make(chan struct{}), done: make(chan struct{})}
}

// start claims this master's first share, then keeps it in a goroutine.
func (o *ownership) start() error {
	if err := o.scanOnce(); err != nil {
		return err
	}
	go func() {
		defer close(o.done)
		t := time.NewTicker(o.scan)
		defer t.Stop()
		for {
			select {
			case <-o.stopCh:
				return
			case <-t.C:
				if err := o.scanOnce(); err != nil {
					if o.s.unavailable(err) {
						o.s.log.Warn().Err(err).Msg("redis store: cannot renew partitions (Redis failing over?); dispatch stops on those not renewed in time")
					} else {
						o.s.log.Error().Err(err).Msg("redis store: claiming partitions failed")
					}
				}
			}
		}
	}()
	return nil
}

// snapshot returns the partitions this master may dispatch now, with
// their epochs: those renewed within two thirds of the ownership TTL, so
// that a master that was paused stops before Redis would fence it.
func (o *ownership) snapshot() map[int]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int]int64, len(o.held))
	for p, c := range o.held {
		if time.Since(c.renewed) < o.ttl*2/3 {
			out[p] = c.epoch
		}
	}
	return out
}

// owned lists the partitions held, sorted.
func (o *ownership) owned() []int {
	snap := o.snapshot()
	out := make([]int, 0, len(snap))
	for p := range o.s.parts {
		if _, ok := snap[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// takenOver returns, and forgets, the partitions taken over since the last
// call, and the masters alive then.
func (o *ownership) takenOver() (map[int]int64, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.reclaim) == 0 {
		return nil, nil
	}
	out := map[int]int64{}
	for p := range o.reclaim {
		if c := o.held[p]; c != nil {
			out[p] = c.epoch
		}
	}
	clear(o.reclaim)
	return out, append([]string(nil), o.alive...)
}

// fenced forgets a partition Redis refused this master: another took it.
func (o *ownership) fenced(p int, err error) {
	o.mu.Lock()
	delete(o.held, p)
	o.mu.Unlock()
	o.s.log.Warn().Str("event", "partition.fenced").Int("partition", p).Err(err).
		Msg("redis store: another master owns this partition now (this one was paused or cut off past its lease); its dispatches there are refused")
}

// unreplicated counts a dispatch that no replica confirmed in time.
func (o *ownership) unreplicated(addr string, got int64, err error) {
	o.mu.Lock()
	o.unreplicatedN++
	logIt := time.Since(o.unreplicatedAt) > time.Minute
	if logIt {
		o.unreplicatedAt = time.Now()
	}
	n := o.unreplicatedN
	o.mu.Unlock()
	if logIt {
		o.s.log.Warn().Str("node", addr).Int64("replicas", got).Int("want", o.s.cfg.WaitReplicas).Int64("total", n).Err(err).
			Msg("redis store: dispatched URLs were not confirmed by a replica in time (WAIT): a failover of this primary now could let a host be asked again early; set frontier_redis_wait_replicas: 0 for a Redis without replicas")
	}
}

// Unreplicated is how many dispatches no replica confirmed in time.
func (s *Store) Unreplicated() int64 {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	return s.own.unreplicatedN
}

// Master is a master of the crawl as the directory has it.
type Master struct {
	ID        string
	Endpoints string // as the master published them (JSON: push, sub, mgmt_pub, mgmt_sub)
	Report    string // its figures (JSON), as it last reported them (SetReport)
}

// SetReport replaces this master's figures the others show in their
// status (written at the next scan).
func (s *Store) SetReport(report string) {
	s.own.mu.Lock()
	s.own.report = report
	s.own.mu.Unlock()
}

// Control returns the crawl's control settings (pause, stop) as last read,
// with this master's own changes.
func (s *Store) Control() map[string]string {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	out := make(map[string]string, len(s.own.control))
	for k, v := range s.own.control {
		out[k] = v
	}
	return out
}

// SetControl sets one of the crawl's control settings, for every master
// (they read them every scan); an empty value removes it.
func (s *Store) SetControl(field, value string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	var err error
	if value == "" {
		err = s.rdb.HDel(ctx, s.ctlKey("control"), field).Err()
	} else {
		err = s.rdb.HSet(ctx, s.ctlKey("control"), field, value).Err()
	}
	if err != nil {
		return fmt.Errorf("redis store: setting the crawl's %s: %w", field, err)
	}
	s.own.mu.Lock()
	if s.own.control == nil {
		s.own.control = map[string]string{}
	}
	if value == "" {
		delete(s.own.control, field)
	} else {
		s.own.control[field] = value
	}
	s.own.mu.Unlock()
	return nil
}

// Directory lists the masters alive at the last scan (this one included).
func (s *Store) Directory() []Master {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	return append([]Master(nil), s.own.directory...)
}

// Masters is how many masters were alive at the last scan (this one
// included); cheaper than Directory on a hot path.
func (s *Store) Masters() int {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	return len(s.own.directory)
}

// SetEndpoints replaces what this master publishes in the directory (the
// master knows its endpoints once its sockets are bound).
func (s *Store) SetEndpoints(endpoints string) {
	s.own.mu.Lock()
	s.own.endpoints = endpoints
	s.own.mu.Unlock()
}

// score is the rendezvous-hash weight of master for partition p.
func score(master string, p int) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(master))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(strconv.Itoa(p)))
	// FNV's last bytes mix weakly into its high bits: finish with a
	// multiply-xorshift so that winners spread evenly.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// Winner is the master of alive that partition p belongs to (rendezvous
// hashing): a master's share is the partitions it wins.
func Winner(alive []string, p int) string {
	best, bestScore := "", uint64(0)
	for _, m := range alive {
		if sc := score(m, p); best == "" || sc > bestScore {
			best, bestScore = m, sc
		}
	}
	return best
}

// scanOnce is one round of the protocol.
func (o *ownership) scanOnce() error {
	s := o.s
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
	defer cancel()
	o.mu.Lock()
	endpoints, report := o.endpoints, o.report
	o.mu.Unlock()
	head := s.rdb.Pipeline()
	aliveCmd := head.FCall(ctx, "sp_alive", []string{s.ctlPrefix()}, s.cfg.Master, (o.ttl * 5 / 6).Milliseconds(), endpoints)
	if report != "" {
		head.HSet(ctx, s.ctlKey("reports"), s.cfg.Master, report)
	}
	reports := head.HGetAll(ctx, s.ctlKey("reports"))
	control := head.HGetAll(ctx, s.ctlKey("control"))
	_, _ = head.Exec(ctx)
	// The directory lives in one slot: while its primary fails over, the
	// partitions are renewed among the masters alive as last seen (else
	// the whole crawl would stop with one primary).
	r, aliveErr := aliveCmd.Slice()
	o.mu.Lock()
	if aliveErr == nil {
		var names []string
		var directory []Master
		for i := 1; i+1 < len(r); i += 2 {
			if m, ok := r[i].(string); ok {
				names = append(names, m)
				ep, _ := r[i+1].(string)
				directory = append(directory, Master{ID: m, Endpoints: ep, Report: reports.Val()[m]})
			}
		}
		o.alive, o.directory = names, directory
	}
	if control.Err() == nil {
		o.control = control.Val()
	}
	alive := o.alive
	if len(alive) == 0 {
		o.mu.Unlock()
		return aliveErr // not in the directory yet: nothing to claim by
	}
	type call struct {
		p     int
		claim bool // else: hand back
		epoch int64
		cmd   *redis.Cmd
	}
	var calls []call
	pipe := s.rdb.Pipeline()
	for p := range s.parts {
		c, holds := o.held[p]
		wins := Winner(alive, p) == s.cfg.Master
		switch {
		case holds && !wins:
			o.losing[p]++
			if o.losing[p] >= 2 {
				calls = append(calls, call{p: p, epoch: c.epoch, cmd: pipe.FCall(ctx, "sp_unclaim", []string{s.prefix(p)}, s.cfg.Master, c.epoch)})
				continue
			}
			calls = append(calls, call{p: p, claim: true, cmd: pipe.FCall(ctx, "sp_claim", []string{s.prefix(p)}, s.cfg.Master, o.ttl.Milliseconds())})
		case holds || wins:
			delete(o.losing, p)
			calls = append(calls, call{p: p, claim: true, cmd: pipe.FCall(ctx, "sp_claim", []string{s.prefix(p)}, s.cfg.Master, o.ttl.Milliseconds())})
		}
	}
	o.mu.Unlock()
	_, _ = pipe.Exec(ctx)
	now := time.Now()
	var gained, lost, fenced []int
	var epochs []int64
	firstErr := aliveErr
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range calls {
		if !c.claim {
			if c.cmd.Err() == nil {
				delete(o.held, c.p)
				delete(o.losing, c.p)
				lost = append(lost, c.p)
			}
			continue
		}
		rep, err := c.cmd.Slice()
		if err != nil || len(rep) < 2 {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		epoch, _ := rep[0].(int64)
		mine, _ := rep[1].(int64)
		prev, had := o.held[c.p]
		switch {
		case mine == 1:
			if !had || prev.epoch != epoch {
				gained = append(gained, c.p)
				epochs = append(epochs, epoch)
				o.reclaim[c.p] = struct{}{}
			}
			o.held[c.p] = &claim{epoch: epoch, renewed: now}
		case had:
			delete(o.held, c.p)
			lost = append(lost, c.p)
			// Not handed back: another master holds it now, so this one
			// was paused or cut off past its ownership.
			fenced = append(fenced, c.p)
		}
	}
	if len(gained) > 0 || len(lost) > 0 {
		s.log.Info().Str("event", "partitions.changed").Ints("gained", gained).Ints64("epochs", epochs).Ints("lost", lost).Int("held", len(o.held)).
			Strs("masters", alive).Msg("redis store: partitions this master dispatches changed")
	}
	if len(fenced) > 0 {
		s.log.Warn().Str("event", "partition.fenced").Ints("partitions", fenced).
			Msg("redis store: this master's ownership of these partitions lapsed (was it paused or cut off?) and other masters own them now; nothing it does there is applied")
	}
	return firstErr
}

// halt ends the goroutine: no more renewals.
func (o *ownership) halt() {
	o.haltOnce.Do(func() { close(o.stopCh) })
	select {
	case <-o.done:
	case <-time.After(o.s.cfg.OpTimeout + time.Second):
	}
}

// stop ends the goroutine, hands every partition back and leaves the
// directory, so that the other masters take over at once.
func (o *ownership) stop() {
	o.halt()
	s := o.s
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
	defer cancel()
	o.mu.Lock()
	pipe := s.rdb.Pipeline()
	for p, c := range o.held {
		pipe.FCall(ctx, "sp_unclaim", []string{s.prefix(p)}, s.cfg.Master, c.epoch)
	}
	clear(o.held)
	o.mu.Unlock()
	pipe.FCall(ctx, "sp_alive", []string{s.ctlPrefix()}, s.cfg.Master, 0, "")
	pipe.HDel(ctx, s.ctlKey("reports"), s.cfg.Master)
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn().Err(err).Msg("redis store: could not hand the partitions back; the other masters take them when their ownership lapses")
	}
}

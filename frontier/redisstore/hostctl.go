// hostctl.go: an operator's controls of a host: its least delay and a
// block, both kept in the host's partition.

package redisstore

import (
	"fmt"
	"time"
)

// SetHostDelay implements frontier.Store.
func (s *Store) SetHostDelay(host string, d time.Duration, now time.Time) error {
	ms := int64(-1)
	if d >= 0 {
		ms = d.Milliseconds()
	}
	return s.hostctl(host, ms, -1)
}

// BlockHost implements frontier.Store.
func (s *Store) BlockHost(host string, until, now time.Time) error {
	if !until.After(now) {
		return nil // lifts nothing: politeness still applies
	}
	return s.hostctl(host, -2, offset(until, now))
}

func (s *Store) hostctl(host string, delayMS, blockMS int64) error {
	p := s.partitionOf(host)
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.rdb.FCall(ctx, "sp_hostctl", []string{s.prefix(p)}, host, delayMS, blockMS).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis store: setting the controls of %s: %w", host, err)
	}
	if len(r) == 3 {
		s.learnDue(p, r[2])
	}
	s.wrote()
	return nil
}

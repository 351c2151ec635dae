// pebblelog.go: Pebble's log, passed to the frontier's logger with repeats
// of background errors summarized.

package frontier

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// pebbleLogger passes Pebble's errors to the frontier's logger and keeps
// its informational chatter out of the crawl log. An error that repeats
// (a flush retried while the disk is full) is logged once every
// pebbleLogEvery, with the count of the ones left out.
type pebbleLogger struct {
	log zerolog.Logger
	mu  *sync.Mutex
	// last is when each error's text (without its digits: file numbers
	// change) was logged, and how many were left out since.
	last map[string]*pebbleRepeat
}

type pebbleRepeat struct {
	at      time.Time
	skipped int
}

const pebbleLogEvery = 30 * time.Second

func newPebbleLogger(log zerolog.Logger) pebbleLogger {
	return pebbleLogger{log: log, mu: &sync.Mutex{}, last: map[string]*pebbleRepeat{}}
}

func (l pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	key := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, msg[:min(len(msg), 300)])
	now := time.Now()
	l.mu.Lock()
	r := l.last[key]
	if r != nil && now.Sub(r.at) < pebbleLogEvery {
		r.skipped++
		l.mu.Unlock()
		return
	}
	skipped := 0
	if r != nil {
		skipped = r.skipped
	}
	if len(l.last) > 1000 {
		clear(l.last)
	}
	l.last[key] = &pebbleRepeat{at: now}
	l.mu.Unlock()
	ev := l.log.Error().Str("component", "pebble")
	if skipped > 0 {
		ev = ev.Int("repeats_left_out", skipped)
	}
	ev.Msg(msg)
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error().Str("component", "pebble").Msgf(format, args...)
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// log.go: a process's log records as they come (JSON lines), searched and
// waited on by tests: the same for a process of the binary and for a
// master or worker started in the test's own process.

package spydertest

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
)

// Record is one JSON log record.
type Record = map[string]any

// Match selects records.
type Match func(Record) bool

// Event matches the records of a lifecycle event.
func Event(name events.Name) Match {
	return func(r Record) bool { return r["event"] == string(name) }
}

// Log collects a process's output: every line, and the lines that are JSON
// records. It is an io.Writer (a zerolog writer, or a pipe's reader copies
// into it).
type Log struct {
	name string
	mu   sync.Mutex
	raw  bytes.Buffer
	part []byte // a line not ended yet
	recs []Record
	// notify is signalled after each line; done closes when the process
	// ended (Ended).
	notify chan struct{}
	done   chan struct{}
}

func newLog(name string) *Log {
	return &Log{name: name, notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// Name is the process's name in the test.
func (l *Log) Name() string { return l.name }

// Write implements io.Writer: complete lines are recorded.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.line(l.part[:i])
		l.part = l.part[i+1:]
	}
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *Log) line(b []byte) {
	l.raw.Write(b)
	l.raw.WriteByte('\n')
	var r Record
	if json.Unmarshal(b, &r) == nil && r != nil {
		l.recs = append(l.recs, r)
	}
}

// ended marks the process as ended: waits stop waiting.
func (l *Log) ended() {
	l.mu.Lock()
	if len(l.part) > 0 {
		l.line(l.part)
		l.part = nil
	}
	l.mu.Unlock()
	close(l.done)
}

// Done is closed when the process has ended.
func (l *Log) Done() <-chan struct{} { return l.done }

// Text is everything the process wrote.
func (l *Log) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

// Find returns the records that match.
func (l *Log) Find(match Match) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Record
	for _, r := range l.recs {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// WaitFor waits until a record matches and returns the first that does;
// it fails the test when the process ends first or timeout passes.
func (l *Log) WaitFor(t testing.TB, what string, timeout time.Duration, match Match) Record {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := l.Find(match); len(got) > 0 {
			return got[0]
		}
		select {
		case <-l.notify:
		case <-l.done:
			if got := l.Find(match); len(got) > 0 {
				return got[0]
			}
			t.Fatalf("%s ended before %s", l.name, what)
		case <-deadline:
			t.Fatalf("%s: no %s within %v", l.name, what, timeout)
		}
	}
}

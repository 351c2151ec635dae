// Package events names the lifecycle events spyder's processes log (the
// "event" field of a record): what a supervisor, an operator's script or
// a test waits for. One list, used by the code that logs them and by the
// test harness (internal/spydertest) that waits for them.
package events

import "github.com/spyder-crawl/spyder/crawluri"

// Name is an event's name, as logged.
type Name string

// String implements fmt.Stringer (zerolog's Stringer field).
func (n Name) String() string { return string(n) }

const (
	// The master.
	MasterReady             Name = "SPYDER:MASTER_READY"
	MasterShutdownRequested Name = "SPYDER:MASTER_SHUTDOWN_REQUESTED"
	MasterDown              Name = "SPYDER:MASTER_DOWN"
	CrawlSummary            Name = "SPYDER:CRAWL_SUMMARY"
	NothingToCrawl          Name = "SPYDER:NOTHING_TO_CRAWL"
	StoreFailed             Name = "SPYDER:STORE_FAILED"
	StoreResumed            Name = "SPYDER:STORE_RESUMED"

	// A worker.
	WorkerStarted           Name = "SPYDER:WORKER_STARTED"
	WorkerReady             Name = "SPYDER:WORKER_READY"
	WorkerShutdownRequested Name = "SPYDER:WORKER_SHUTDOWN_REQUESTED"
	WorkerDown              Name = "SPYDER:WORKER_DOWN"

	// spyder node.
	NodeReady             Name = "SPYDER:NODE_READY"
	NodeShutdownRequested Name = "SPYDER:NODE_SHUTDOWN_REQUESTED"
	NodeDown              Name = "SPYDER:NODE_DOWN"

	// spyder logsink.
	LogsinkReady Name = "SPYDER:LOGSINK_READY"
	LogsinkDown  Name = "SPYDER:LOGSINK_DOWN"
)

// ReadyOf is the event that says a process of role ("master", "worker") is
// ready: what spyder node waits for before it counts a child as started.
func ReadyOf(role string) Name {
	switch role {
	case crawluri.RoleMaster:
		return MasterReady
	case crawluri.RoleWorker:
		return WorkerReady
	}
	return ""
}

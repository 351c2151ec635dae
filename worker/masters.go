// masters.go: the masters a worker works for. Its settings name one (the
// four zeromq_* endpoints); when several masters share one frontier,
// each publishes their directory (verb "masters") and the worker connects
// to every one: its result socket to each master's, then, once that
// master has subscribed, its PULL socket to the master's URLs, and its
// management sockets both ways. Each master acknowledges it; each result
// goes back to the master that sent its URL (its identity is the topic
// that master subscribes to). A master that falls silent is dropped.

package worker

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/mgmt"
)

// masterLink is one master the worker knows.
type masterLink struct {
	id      string
	ep      mgmt.Endpoints // from the directory; zero for the master of the settings
	dialled bool           // the worker connected to ep (a master of the directory)
	pulling bool           // its PULL socket is connected to ep.Push
	acked   bool
	heardAt time.Time // its last heartbeat or acknowledgement
}

// forgetAfter is how many heartbeat timeouts a master of the directory may
// be silent before the worker disconnects from it.
const forgetAfter = 3

// link returns the master called id, known from now on.
func (w *Worker) link(id string, now time.Time) *masterLink {
	l := w.masters[id]
	if l == nil {
		l = &masterLink{id: id, heardAt: now}
		w.masters[id] = l
	}
	return l
}

// allAcked reports whether every master known has acknowledged the worker
// (and one at least).
func (w *Worker) allAcked() bool {
	if len(w.masters) == 0 {
		return false
	}
	for _, l := range w.masters {
		if !l.acked {
			return false
		}
	}
	return true
}

// anyAcked reports whether a master has acknowledged the worker.
func (w *Worker) anyAcked() bool {
	for _, l := range w.masters {
		if l.acked {
			return true
		}
	}
	return false
}

// subscribed handles a master's subscription to the worker's results: its
// topic is the master's identity (or empty: a master alone). The worker
// then takes URLs from that master: from the master of its settings when
// the identity is not one of the directory.
func (w *Worker) subscribed(socks *sockets, topic string) error {
	if l := w.masters[topic]; topic != "" && l != nil && l.dialled {
		if l.pulling {
			return nil
		}
		if err := socks.pull.Connect(l.ep.Push); err != nil {
			return fmt.Errorf("connecting PULL socket to %s (master %s): %w", l.ep.Push, l.id, err)
		}
		l.pulling = true
		w.log.Info().Str("master", l.id).Str("pull", l.ep.Push).Msg("master's result socket connected; taking its work")
		return nil
	}
	if w.dataReady {
		return nil
	}
	if topic != "" {
		w.own = topic // the master of the settings, by its identity
	}
	w.dataReady = true
	if err := socks.pull.Connect(w.s.ZeromqWorkerProcFetcherPull); err != nil {
		return fmt.Errorf("connecting PULL socket to %s: %w", w.s.ZeromqWorkerProcFetcherPull, err)
	}
	w.log.Info().Str("pull", w.s.ZeromqWorkerProcFetcherPull).Msg("master's result socket connected; taking work")
	w.heartbeat(socks.mpub, time.Now())
	return nil
}

// directory connects the worker to the masters of a directory it does
// not know yet (not the master of its settings: it is connected to that
// one already).
func (w *Worker) directory(socks *sockets, from string, body []byte, now time.Time) {
	var d mgmt.Directory
	if err := json.Unmarshal(body, &d); err != nil {
		w.drop("undecodable_directory", err)
		return
	}
	for _, e := range d.Masters {
		if e.ID == "" || e.Push == "" || e.Sub == "" || e.MgmtPub == "" || e.MgmtSub == "" {
			w.drop("undecodable_directory", fmt.Errorf("directory entry without endpoints from %s: %+v", from, e))
			continue
		}
		if _, known := w.masters[e.ID]; known || e.ID == w.own || w.isOwnMaster(e.Endpoints) {
			continue
		}
		if old := w.dialledAt(e.Endpoints); old != nil {
			// A master restarted where one was: the connections are
			// there already (connecting again would double them).
			w.log.Info().Str("event", "master.replaced").Str("master", e.ID).Str("previous", old.id).Str("push", e.Push).
				Msg("a master of the directory restarted where another was: keeping the connections")
			delete(w.masters, old.id)
			old.id, old.acked, old.heardAt = e.ID, false, now
			w.masters[e.ID] = old
			continue
		}
		l := w.link(e.ID, now)
		l.ep = e.Endpoints
		for _, c := range w.dials(socks, l) {
			if err := c.so.Connect(c.ep); err != nil {
				w.log.Warn().Err(err).Str("master", e.ID).Str("endpoint", c.ep).Msg("cannot connect to a master of the directory")
			}
		}
		l.dialled = true
		w.log.Info().Str("event", "master.joined").Str("master", e.ID).Str("push", e.Push).Str("sub", e.Sub).
			Msg("a master of the crawl's directory: connecting")
	}
}

// dial is one of the worker's sockets and a master's endpoint for it.
type dial struct {
	so *zmq.Socket
	ep string
}

// dials are the connections the worker makes to a master of the
// directory, and drops when it forgets it: its result and management
// sockets (but a worker_masters endpoint, listened to from the start),
// and its PULL socket once that master subscribed.
func (w *Worker) dials(socks *sockets, l *masterLink) []dial {
	out := []dial{{socks.pub, l.ep.Sub}, {socks.mpub, l.ep.MgmtSub}}
	if !slices.Contains(w.s.WorkerMasters, l.ep.MgmtPub) {
		out = append(out, dial{socks.msub, l.ep.MgmtPub})
	}
	if l.pulling {
		out = append(out, dial{socks.pull, l.ep.Push})
	}
	return out
}

// listenToMasters connects the management SUB to the further masters of
// worker_masters, where the directory is heard when the master of the
// settings is down.
func (w *Worker) listenToMasters(socks *sockets) error {
	for _, ep := range w.s.WorkerMasters {
		if ep == w.s.ZeromqMgmtMaster {
			continue
		}
		if err := socks.msub.Connect(ep); err != nil {
			return fmt.Errorf("worker_masters: connecting to %s: %w", ep, err)
		}
	}
	return nil
}

// dialledAt is the master of the directory the worker is connected to at
// endpoints e, or nil.
func (w *Worker) dialledAt(e mgmt.Endpoints) *masterLink {
	for _, l := range w.masters {
		if l.dialled && l.ep == e {
			return l
		}
	}
	return nil
}

// isOwnMaster reports whether e are the endpoints of the master of the
// settings.
func (w *Worker) isOwnMaster(e mgmt.Endpoints) bool {
	return e.Push == w.s.ZeromqWorkerProcFetcherPull && e.Sub == w.s.ZeromqWorkerProcExtractorPub
}

// checkMasters, every heartbeat: a master silent past the heartbeat
// timeout is announced to again; one of the directory silent for longer
// is disconnected and forgotten (its URLs the worker holds are still
// fetched and answered; their leases tell the other masters what to do).
func (w *Worker) checkMasters(socks *sockets, now time.Time) {
	timeout := w.s.HeartbeatTimeout()
	for id, l := range w.masters {
		silent := now.Sub(l.heardAt)
		if l.acked && silent > timeout {
			w.log.Warn().Str("master", id).Dur("silent", silent).Msg("master silent; announcing again")
			l.acked = false
		}
		if silent <= forgetAfter*timeout {
			continue
		}
		if l.dialled {
			for _, c := range w.dials(socks, l) {
				_ = c.so.Disconnect(c.ep) // gone already, or never there
			}
		}
		delete(w.masters, id)
		w.log.Info().Str("event", "master.gone").Str("master", id).Dur("silent", silent).Msg("master gone: forgotten")
	}
}

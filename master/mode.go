// mode.go: what the master does with its loop turns. One value, changed by
// operators' control requests (pause, resume, stop) and by the shutdown; the
// store's health (store.go) is apart from it, since the store can fail and
// come back in any mode.

package master

// mode is the master's mode.
type mode int

const (
	// modeRunning dispatches (while the store is up).
	modeRunning mode = iota
	// modePaused dispatches nothing until a resume; results of URLs in
	// flight are still applied, workers still come and go.
	modePaused
	// modeDraining is the shutdown: no dispatch, quit to every worker,
	// results still applied until nothing is in flight or the grace
	// period ran out. There is no way back.
	modeDraining
)

// canDispatch reports whether URLs may go out this turn.
func (m *Master) canDispatch() bool { return m.mode == modeRunning && !m.store.down() }

// stateName is the state operators see (spyder status, progress lines).
func (m *Master) stateName() string {
	switch {
	case m.mode == modeDraining:
		return "stopping"
	case m.store.down():
		return "store_failed"
	case m.mode == modePaused:
		return "paused"
	}
	return "running"
}

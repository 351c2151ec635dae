// open.go: opening a process's set of sockets from a table, the same way
// for the master (which binds) and the worker (which connects).

package zsock

import (
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Spec is one socket of a process's set.
type Spec struct {
	Dst    **zmq.Socket // where the socket goes
	Type   zmq.Type
	Linger time.Duration
	// Name is the setting the endpoint comes from (zeromq_master_push),
	// for errors and for CURVE.
	Name     string
	Endpoint string // "" leaves the socket unattached (attached later)
	Bind     bool   // bind Endpoint; otherwise connect to it
	// Setup sets the socket's options before it is attached (nil: none).
	Setup func(*zmq.Socket) error
}

// OpenAll makes the sockets of specs in order: each is created, set up,
// secured (secure, when not nil: CURVE), then bound or connected. On an
// error every socket made so far is closed and its Dst reset to nil.
func OpenAll(ctx *zmq.Context, specs []Spec, secure func(so *zmq.Socket, name string) error) error {
	for _, sp := range specs {
		if err := open(ctx, sp, secure); err != nil {
			CloseAll(specs)
			return err
		}
	}
	return nil
}

func open(ctx *zmq.Context, sp Spec, secure func(*zmq.Socket, string) error) error {
	so, err := New(ctx, sp.Type, sp.Linger)
	if err != nil {
		return fmt.Errorf("%s: %w", sp.Name, err)
	}
	*sp.Dst = so
	if sp.Setup != nil {
		if err := sp.Setup(so); err != nil {
			return fmt.Errorf("configuring the %s socket: %w", sp.Name, err)
		}
	}
	if secure != nil {
		if err := secure(so, sp.Name); err != nil {
			return err
		}
	}
	switch {
	case sp.Endpoint == "":
	case sp.Bind:
		if err := so.Bind(sp.Endpoint); err != nil {
			return fmt.Errorf("binding %s to %s: %w", sp.Name, sp.Endpoint, err)
		}
	default:
		if err := so.Connect(sp.Endpoint); err != nil {
			return fmt.Errorf("connecting %s to %s: %w", sp.Name, sp.Endpoint, err)
		}
	}
	return nil
}

// CloseAll closes the sockets of specs that are open and resets their Dst.
func CloseAll(specs []Spec) {
	for _, sp := range specs {
		if *sp.Dst != nil {
			(*sp.Dst).Close()
			*sp.Dst = nil
		}
	}
}

// InContext runs fn with a new zmq context and terminates the context when
// fn returns (fn must have closed its sockets by then, or Term waits for
// them); a failure to terminate is the error when fn had none.
func InContext(fn func(*zmq.Context) error) (err error) {
	ctx, err := zmq.NewContext()
	if err != nil {
		return fmt.Errorf("creating zmq context: %w", err)
	}
	defer func() {
		if terr := ctx.Term(); terr != nil && err == nil {
			err = fmt.Errorf("terminating zmq context: %w", terr)
		}
	}()
	return fn(ctx)
}

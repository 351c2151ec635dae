// Package registry is the one init-time name registry behind
// frontier.Register, processor.Register and master.RegisterCallback: plugins
// register under a name from init functions, and settings name them.
package registry

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Registry maps names to values of one kind of plugin.
type Registry[T any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]T
}

// New returns an empty registry; kind names the plugins in messages.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, m: map[string]T{}}
}

// Register adds v under name. It panics on a duplicate name or a nil value:
// both are programming errors, found when the program starts.
func (r *Registry[T]) Register(name string, v T) {
	if rv := reflect.ValueOf(v); !rv.IsValid() || (rv.Kind() == reflect.Func && rv.IsNil()) {
		panic(fmt.Sprintf("%s %q registered as nil", r.kind, name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("%s %q registered twice", r.kind, name))
	}
	r.m[name] = v
}

// Lookup returns the value registered as name.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Get is Lookup with an error naming the known names.
func (r *Registry[T]) Get(name string) (T, error) {
	v, ok := r.Lookup(name)
	if !ok {
		return v, fmt.Errorf("%s %q is not registered (known: %v)", r.kind, name, r.Names())
	}
	return v, nil
}

// Names lists the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

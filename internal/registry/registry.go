// Package registry owns the one pattern the plug-in points of wsbench share:
// a set of named things (servers, drivers, scenarios) filled at init time and
// looked up by name from the command line.
package registry

import (
	"fmt"
	"sort"
	"strings"
)

// Named is anything with a command-line name.
type Named interface{ Name() string }

// Registry holds the registered things of one kind.
type Registry[T Named] struct {
	kind  string
	items map[string]T
}

// New returns an empty registry; kind names the things in errors ("driver").
func New[T Named](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, items: map[string]T{}}
}

// Register adds x; a duplicate name is a programming error and panics at init.
func (r *Registry[T]) Register(x T) {
	if _, dup := r.items[x.Name()]; dup {
		panic(fmt.Sprintf("duplicate %s %q", r.kind, x.Name()))
	}
	r.items[x.Name()] = x
}

// Names lists the registered names in alphabetical order.
func (r *Registry[T]) Names() []string {
	names := make([]string, 0, len(r.items))
	for n := range r.items {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the named thing, or an error that lists the known ones.
func (r *Registry[T]) Lookup(name string) (T, error) {
	x, ok := r.items[name]
	if !ok {
		return x, fmt.Errorf("unknown %s %q (known: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	return x, nil
}

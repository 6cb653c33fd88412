package registry

import (
	"strings"
	"testing"
)

type thing string

func (t thing) Name() string { return string(t) }

func TestRegistry(t *testing.T) {
	r := New[thing]("widget")
	r.Register("b")
	r.Register("a")
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Fatalf("Names = %s", got)
	}
	if x, err := r.Lookup("a"); err != nil || x != "a" {
		t.Fatalf("Lookup(a) = %v, %v", x, err)
	}
	if _, err := r.Lookup("z"); err == nil || err.Error() != `unknown widget "z" (known: a, b)` {
		t.Fatalf("Lookup(z) error = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a duplicate name must panic")
		}
	}()
	r.Register("a")
}
